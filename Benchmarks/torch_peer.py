#!/usr/bin/env python3
"""PyTorch figures on this machine, for side-by-side comparison with `resnet bench train|infer`.

Needs PyTorch in a virtual environment outside the repository, e.g.
  python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch torchvision
  /tmp/torch/bin/python Benchmarks/torch_peer.py --what train20
Models: train20 / train56 (CIFAR ResNet, 3x32x32, projection shortcuts), train20gray (1x28x28),
infer18 / train18 / infer50 (torchvision ResNet-18/50 at 3x224x224).

Usage: python Benchmarks/torch_peer.py [--threads N] [--what train20|train20gray|infer18|infer50|train18] [--batch B] [--steps S]
                                         [--autocast none|bf16] [--compile]
--autocast bf16 is PyTorch's CPU mixed precision (the one line a performance-minded user turns on);
--compile runs the model through torch.compile (inductor; needs a C++ compiler, first steps are slow).
Prints one JSON line: images/s and ms/step (median of the steps after warm-up), peak RSS.
"""
import argparse, time, statistics
import torch, torch.nn as nn, torch.nn.functional as F
import torchvision

class Basic(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(cout)
        s.down = None
        if stride != 1 or cin != cout:
            s.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(s, x):
        y = F.relu(s.bn1(s.conv1(x))); y = s.bn2(s.conv2(y))
        return F.relu(y + (x if s.down is None else s.down(x)))

class CifarResNet(nn.Module):
    """He et al. 2016 CIFAR ResNet (6n+2 layers, widths 16/32/64), projection shortcuts."""
    def __init__(s, depth=20, cin=3, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        s.conv = nn.Conv2d(cin, 16, 3, 1, 1, bias=False); s.bn = nn.BatchNorm2d(16)
        layers, c = [], 16
        for i, w in enumerate([16, 32, 64]):
            for j in range(n):
                layers.append(Basic(c, w, 2 if (i > 0 and j == 0) else 1)); c = w
        s.layers = nn.Sequential(*layers); s.fc = nn.Linear(64, classes)
    def forward(s, x):
        x = F.relu(s.bn(s.conv(x))); x = s.layers(x)
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

def run(model, x, y, train, steps, warm=3, bf16=False, compiled=False):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4) if train else None
    model.train(train)
    f = torch.compile(model) if compiled else model
    warm = warm + (2 if compiled else 0)
    times = []
    for i in range(warm + steps):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            if train:
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(f(x), y); loss.backward(); opt.step()
            else:
                with torch.inference_mode(): f(x)
        if i >= warm: times.append(time.perf_counter() - t)
    return statistics.median(times)

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--what", default="train20")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--autocast", choices=["none", "bf16"], default="none",
                   help="bf16: torch.autocast('cpu', dtype=torch.bfloat16), PyTorch's mixed precision on CPU")
    p.add_argument("--compile", action="store_true", help="torch.compile (inductor) the model first")
    a = p.parse_args()
    torch.set_num_threads(a.threads); torch.manual_seed(0)
    if a.what == "train20":   m, shape = CifarResNet(20, 3), (3, 32, 32)
    elif a.what == "train20gray": m, shape = CifarResNet(20, 1), (1, 28, 28)
    elif a.what == "train56": m, shape = CifarResNet(56, 3), (3, 32, 32)
    elif a.what in ("infer18", "train18"): m, shape = torchvision.models.resnet18(), (3, 224, 224)
    elif a.what == "infer50": m, shape = torchvision.models.resnet50(), (3, 224, 224)
    else: raise SystemExit("unknown --what")
    x = torch.randn(a.batch, *shape); y = torch.randint(0, 10, (a.batch,))
    if a.what in ("infer18", "infer50"): y = torch.randint(0, 1000, (a.batch,))
    train = a.what.startswith("train")
    t = run(m, x, y, train, a.steps, bf16=a.autocast == "bf16", compiled=a.compile)
    import json, resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    impl = "torch " + torch.__version__ + (" autocast-bf16" if a.autocast == "bf16" else "") + (" compiled" if a.compile else "")
    print(json.dumps({"impl": impl, "what": a.what, "batch": a.batch, "threads": a.threads,
                      "images_per_s": round(a.batch / t, 1), "ms_per_step": round(t * 1000, 2), "peak_rss_mb": round(rss, 1)}))
