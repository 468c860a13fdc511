"""Writes the PyTorch parity fixtures for ResNetTests (run once, outside CI, in a venv with torch):

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch torchvision safetensors
    /tmp/torch/bin/python Tests/ResNetTests/Fixtures/make_fixtures.py

Each <name>.safetensors holds, for one small ResNet built from torchvision's BasicBlock/Bottleneck with
torchvision's state_dict names (for the "_plain" ones, the same blocks without their shortcuts; for the
"_rezero" ones, with ReZero's alpha scaling the residual branch; for the "_unnormalized" ones, without
BatchNorm and with biased convolutions; for the "_preact" ones, He et al. 2016's pre-activation blocks,
alone or combined with the other variants):
  state.<name>         the weights and BN buffers before the step (randomized, BN stats included)
  input, labels        a batch (labels as I64)
  eval.logits          logits in inference mode (running statistics)
  train.logits         logits in training mode (batch statistics), then
  train.loss           cross-entropy with label smoothing 0.1 (shape [1])
  grad.input           d loss / d input
  grad.<name>          d loss / d parameter
  after.<name>         BN running_mean / running_var / num_batches_tracked after the training forward
__metadata__ carries resnet.config as the Swift side expects it.

finetune_source.safetensors is a torchvision-named network saved as `safetensors.torch.save_file` saves a
state_dict (no metadata); finetune_<part>.safetensors hold two fine-tuning steps from it with a new
3-class head, `part` frozen (requires_grad off, its modules in eval mode, as Keras's `trainable = False`)
and the rest trained by torch.optim.SGD, the backbone's parameter group at a scaled rate:
  head.fc.weight, head.fc.bias     the new head before the steps
  input.<k>, labels.<k>            the batch of step k (1, 2)
  logits.<k>, loss.<k>             step k's training-mode logits and loss (label smoothing 0.1)
  after.<name>                     every state tensor after both steps

`python3 make_fixtures.py [NAME…]` writes only the named fixtures (all when none is named).
"""
import json
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file
from torchvision.models.resnet import BasicBlock, Bottleneck

HERE = os.path.dirname(os.path.abspath(__file__))


class PlainBasicBlock(BasicBlock):
    """torchvision's BasicBlock without its shortcut (He et al. 2015's plain networks)."""

    def forward(self, x):
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))


class ReZeroBasicBlock(BasicBlock):
    """torchvision's BasicBlock with ReZero's learned scale on the residual branch: relu(s + alpha·F(x))."""

    def __init__(self, *args):
        super().__init__(*args)
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(self.alpha * out + identity)


class ReZeroBottleneck(Bottleneck):
    """torchvision's Bottleneck with ReZero's learned scale on the residual branch."""

    def __init__(self, *args):
        super().__init__(*args)
        self.alpha = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self.alpha * out + identity)


class UnnormalizedBasicBlock(nn.Module):
    """A BasicBlock without BatchNorm ("norm": "none"): biased convs, relu(conv2(relu(conv1(x))) + s)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=True)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.relu(self.conv1(x))) + identity)


class UnnormalizedBottleneck(nn.Module):
    """A v1.5 Bottleneck without BatchNorm: biased convs."""
    expansion = 4

    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=True)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=True)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.conv2(self.relu(self.conv1(x))))
        return self.relu(self.conv3(out) + identity)


class PlainBottleneck(Bottleneck):
    """torchvision's Bottleneck without its shortcut."""

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))


class PreActBlock(nn.Module):
    """He et al. 2016's pre-activation block, basic or bottleneck: a = relu(bn1(x)), then BN-ReLU-conv
    pairs, y = F + s with s = x or downsample.0(a) (the 1x1 conv alone); plain: y = F; ReZero:
    y = s + alpha*F. Without normalization, the BatchNorms are identities and the convs have biases."""

    def __init__(self, inplanes, planes, stride, downsample, bottleneck, plain, rezero, normalized):
        super().__init__()
        self.expansion = 4 if bottleneck else 1
        norm = (lambda c: nn.BatchNorm2d(c)) if normalized else (lambda c: nn.Identity())
        if rezero:
            self.alpha = nn.Parameter(torch.zeros(1))
        self.rezero = rezero
        self.plain = plain
        if bottleneck:
            shapes = [(inplanes, planes, 1, 1), (planes, planes, 3, stride), (planes, planes * 4, 1, 1)]
        else:
            shapes = [(inplanes, planes, 3, stride), (planes, planes, 3, 1)]
        self.count = len(shapes)
        for i, (cin, cout, k, st) in enumerate(shapes, 1):
            setattr(self, f"bn{i}", norm(cin))
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, k, st, k // 2, bias=not normalized))
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        a = self.relu(self.bn1(x))
        identity = x if self.downsample is None else self.downsample(a)
        out = self.conv1(a)
        for i in range(2, self.count + 1):
            out = getattr(self, f"conv{i}")(self.relu(getattr(self, f"bn{i}")(out)))
        if self.plain:
            return out
        return self.alpha * out + identity if self.rezero else out + identity


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        plain = cfg.get("shortcut") == "none"
        rezero = cfg.get("residual_scale") == "rezero"
        normalized = cfg.get("norm", "batch") == "batch"
        preact = cfg.get("preact", False)
        if preact:
            bottleneck = cfg["block"] == "bottleneck"

            def block(inplanes, planes, stride, downsample):
                return PreActBlock(inplanes, planes, stride, downsample, bottleneck, plain, rezero, normalized)
            block.expansion = 4 if bottleneck else 1
        elif not normalized:
            block = UnnormalizedBasicBlock if cfg["block"] == "basic" else UnnormalizedBottleneck
        elif cfg["block"] == "basic":
            block = PlainBasicBlock if plain else ReZeroBasicBlock if rezero else BasicBlock
        else:
            block = PlainBottleneck if plain else ReZeroBottleneck if rezero else Bottleneck
        w0 = cfg["widths"][0]
        if cfg["stem"] == "imagenet":
            self.conv1 = nn.Conv2d(cfg["in_channels"], w0, 7, 2, 3, bias=not normalized)
        else:
            self.conv1 = nn.Conv2d(cfg["in_channels"], w0, 3, 1, 1, bias=not normalized)
        stem_norm = normalized and not (preact and cfg["stem"] == "cifar")
        self.bn1 = nn.BatchNorm2d(w0) if stem_norm else nn.Identity()
        # A pre-activation CIFAR stem is the conv alone: the first block normalizes.
        self.stem_relu = not (preact and cfg["stem"] == "cifar")
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if cfg["stem"] == "imagenet" else nn.Identity()
        inplanes = w0
        for s, (count, width) in enumerate(zip(cfg["layers"], cfg["widths"])):
            blocks = []
            for b in range(count):
                stride = 2 if s > 0 and b == 0 else 1
                down = None
                if not plain and (stride != 1 or inplanes != width * block.expansion):
                    down = nn.Sequential(
                        nn.Conv2d(inplanes, width * block.expansion, 1, stride, bias=not normalized),
                        *([nn.BatchNorm2d(width * block.expansion)] if normalized and not preact else []))
                blocks.append(block(inplanes, width, stride, down))
                inplanes = width * block.expansion
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.stages = len(cfg["layers"])
        self.preact = preact
        if preact:
            self.bn_final = nn.BatchNorm2d(inplanes) if normalized else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, cfg["num_classes"])

    def forward(self, x):
        x = self.conv1(x)
        if self.stem_relu:
            x = self.maxpool(self.relu(self.bn1(x)))
        for s in range(self.stages):
            x = getattr(self, f"layer{s + 1}")(x)
        if self.preact:
            x = self.relu(self.bn_final(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def randomize(net):
    """Non-trivial BN parameters and running statistics, and ReZero scales away from 0."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(3)
            if isinstance(m, (ReZeroBasicBlock, ReZeroBottleneck)) or getattr(m, "rezero", False):  # away from 0, so F's gradients count
                m.alpha.uniform_(0.3, 1.2)


def make(name, cfg, batch, seed):
    torch.manual_seed(seed)
    net = Net(cfg)
    randomize(net)
    x = torch.randn(batch, cfg["in_channels"], cfg["input_height"], cfg["input_width"])
    labels = torch.randint(0, cfg["num_classes"], (batch,))
    out = {f"state.{k}": v.clone() for k, v in net.state_dict().items()}
    net.eval()
    with torch.no_grad():
        out["eval.logits"] = net(x)
    net.train()
    xg = x.clone().requires_grad_(True)
    logits = net(xg)
    loss = nn.CrossEntropyLoss(label_smoothing=0.1)(logits, labels)
    loss.backward()
    out["input"] = x
    out["labels"] = labels.to(torch.int64)
    out["train.logits"] = logits.detach()
    out["train.loss"] = loss.detach().reshape(1)
    out["grad.input"] = xg.grad
    for k, p in net.named_parameters():
        out[f"grad.{k}"] = p.grad
    for k, v in net.state_dict().items():
        if "running" in k or "num_batches" in k:
            out[f"after.{k}"] = v.clone()
    out = {k: v.contiguous() for k, v in out.items()}
    save_file(out, os.path.join(HERE, f"{name}.safetensors"), metadata={"resnet.config": json.dumps(cfg)})


def make_finetune(source_cfg, seed, frozen, backbone_scale):
    """The fine-tuning fixtures (see the docstring); `frozen` names the last frozen part."""
    torch.manual_seed(seed)
    net = Net(source_cfg)
    randomize(net)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(HERE, "finetune_source.safetensors"))
    net.fc = nn.Linear(net.fc.in_features, 3)
    out = {"head.fc.weight": net.fc.weight.detach().clone(), "head.fc.bias": net.fc.bias.detach().clone()}
    parts = ["stem"] + [f"layer{s + 1}" for s in range(net.stages)]
    last = len(parts) - 1 if frozen == "backbone" else parts.index(frozen)
    frozen_modules = [net.conv1, net.bn1] + [getattr(net, f"layer{s + 1}") for s in range(last)]
    if frozen == "backbone" and net.preact:
        frozen_modules.append(net.bn_final)
    for m in frozen_modules:
        for p in m.parameters():
            p.requires_grad_(False)
    head = [net.fc.weight, net.fc.bias]
    backbone = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("fc.")]
    groups = [{"params": head}] + ([{"params": backbone, "lr": 0.1 * backbone_scale}] if backbone else [])
    sgd = torch.optim.SGD(groups, lr=0.1, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    for k in (1, 2):
        net.train()
        for m in frozen_modules:
            m.eval()
        x = torch.randn(4, source_cfg["in_channels"], source_cfg["input_height"], source_cfg["input_width"])
        labels = torch.randint(0, 3, (4,))
        sgd.zero_grad()
        logits = net(x)
        loss = loss_fn(logits, labels)
        loss.backward()
        sgd.step()
        out[f"input.{k}"], out[f"labels.{k}"] = x, labels.to(torch.int64)
        out[f"logits.{k}"], out[f"loss.{k}"] = logits.detach(), loss.detach().reshape(1)
    for k, v in net.state_dict().items():
        out[f"after.{k}"] = v.clone()
    out = {k: v.contiguous() for k, v in out.items()}
    save_file(out, os.path.join(HERE, f"finetune_{frozen}.safetensors"),
              metadata={"backbone_lr_scale": str(backbone_scale)})


if __name__ == "__main__":
    import sys
    wanted = set(sys.argv[1:])
    if not wanted or "finetune" in wanted:
        finetune = {"stem": "imagenet", "block": "bottleneck", "layers": [1, 2], "widths": [3, 5], "in_channels": 3,
                    "num_classes": 6, "input_height": 19, "input_width": 17}
        make_finetune(finetune, seed=20, frozen="backbone", backbone_scale=1.0)
        make_finetune(finetune, seed=20, frozen="layer1", backbone_scale=0.1)
    if wanted:
        sys.exit(0)
    make("cifar_basic", {"stem": "cifar", "block": "basic", "layers": [2, 1, 1], "widths": [4, 8, 8],
                         "in_channels": 3, "num_classes": 5, "input_height": 9, "input_width": 8}, batch=6, seed=1)
    make("imagenet_bottleneck", {"stem": "imagenet", "block": "bottleneck", "layers": [1, 2], "widths": [3, 5],
                                 "in_channels": 1, "num_classes": 4, "input_height": 19, "input_width": 17}, batch=3,
         seed=2)
    make("cifar_basic_plain", {"stem": "cifar", "block": "basic", "layers": [2, 1, 1], "widths": [4, 8, 8],
                               "in_channels": 3, "num_classes": 5, "input_height": 9, "input_width": 8,
                               "shortcut": "none"}, batch=6, seed=3)
    make("imagenet_bottleneck_plain", {"stem": "imagenet", "block": "bottleneck", "layers": [1, 2], "widths": [3, 5],
                                       "in_channels": 1, "num_classes": 4, "input_height": 19, "input_width": 17,
                                       "shortcut": "none"}, batch=3, seed=4)
    make("cifar_basic_rezero", {"stem": "cifar", "block": "basic", "layers": [2, 1, 1], "widths": [4, 8, 8],
                                "in_channels": 3, "num_classes": 5, "input_height": 9, "input_width": 8,
                                "residual_scale": "rezero"}, batch=6, seed=5)
    make("imagenet_bottleneck_rezero", {"stem": "imagenet", "block": "bottleneck", "layers": [1, 2],
                                        "widths": [3, 5], "in_channels": 1, "num_classes": 4, "input_height": 19,
                                        "input_width": 17, "residual_scale": "rezero"}, batch=3, seed=6)
    make("cifar_basic_unnormalized", {"stem": "cifar", "block": "basic", "layers": [2, 1, 1], "widths": [4, 8, 8],
                                      "in_channels": 3, "num_classes": 5, "input_height": 9, "input_width": 8,
                                      "norm": "none"}, batch=6, seed=7)
    make("imagenet_bottleneck_unnormalized", {"stem": "imagenet", "block": "bottleneck", "layers": [1, 2],
                                              "widths": [3, 5], "in_channels": 1, "num_classes": 4,
                                              "input_height": 19, "input_width": 17, "norm": "none"}, batch=3,
         seed=8)
    cifar = {"stem": "cifar", "block": "basic", "layers": [2, 1, 1], "widths": [4, 8, 8], "in_channels": 3,
             "num_classes": 5, "input_height": 9, "input_width": 8, "preact": True}
    imagenet = {"stem": "imagenet", "block": "bottleneck", "layers": [1, 2], "widths": [3, 5], "in_channels": 1,
                "num_classes": 4, "input_height": 19, "input_width": 17, "preact": True}
    make("cifar_basic_preact", cifar, batch=6, seed=9)
    make("imagenet_bottleneck_preact", imagenet, batch=3, seed=10)
    make("cifar_basic_preact_plain", {**cifar, "shortcut": "none"}, batch=6, seed=11)
    make("imagenet_bottleneck_preact_rezero", {**imagenet, "residual_scale": "rezero"}, batch=3, seed=12)
    make("cifar_basic_preact_unnormalized", {**cifar, "norm": "none"}, batch=6, seed=13)
    make("imagenet_basic_preact", {**imagenet, "block": "basic"}, batch=3, seed=14)
