#!/usr/bin/env python3
"""Full-size check of ONNX import: torchvision's resnet18, 34, 50, 101 and 152 exported by PyTorch, read by
this tool, against PyTorch's own logits. Too big for CI's fixtures (45–230 MB per file) and it needs torch,
so it runs by hand (a few minutes) in a venv with torch, torchvision, onnx, onnxscript and safetensors:

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch torchvision onnx onnxscript safetensors
    /tmp/torch/bin/python Tests/ONNX/check_torchvision.py [--out DIR] [MODEL...]

Each model gets random weights and randomized BatchNorm statistics (the pretrained ones are on
download.pytorch.org, which not every machine reaches) and is exported twice, by the TorchScript exporter
(opset 17) and by the dynamo exporter (torch's default). DIR/<model>.safetensors holds the input batch
(2×3×224×224) and PyTorch's logits. Then `swift test -c release --filter torchvisionFullSize` runs with
RESNET_TORCHVISION_ONNX=DIR: the test reads every file, compares the training graph's and the inference
engine's logits with PyTorch's (max |difference| / max |logit| ≤ 1e-4) and writes the errors it measured
to DIR/errors.txt, which this script prints.
"""
import argparse
import os
import subprocess

import torch
import torchvision
from safetensors.torch import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/resnet-torchvision-onnx")
    parser.add_argument("models", nargs="*", default=["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"])
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.models:
        torch.manual_seed(0)
        net = getattr(torchvision.models, name)().eval()
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.3, 0.3)
                    m.running_mean.uniform_(-0.2, 0.2)
                    m.running_var.uniform_(0.5, 2.0)
            x = torch.randn(2, 3, 224, 224)
            logits = net(x)
        save_file({"input": x, "logits": logits.contiguous()}, os.path.join(args.out, f"{name}.safetensors"))
        names = dict(input_names=["input"], output_names=["logits"])
        torch.onnx.export(net, (x,), os.path.join(args.out, f"{name}_torchscript.onnx"), dynamo=False,
                          opset_version=17, **names)
        torch.onnx.export(net, (x,), os.path.join(args.out, f"{name}_dynamo.onnx"), dynamo=True,
                          external_data=False, **names)
        print(f"{name}: exported")
    env = dict(os.environ, RESNET_TORCHVISION_ONNX=args.out)
    subprocess.run(["swift", "test", "-c", "release", "--filter", "torchvisionFullSize"], cwd=ROOT, env=env,
                   check=True)
    with open(os.path.join(args.out, "errors.txt")) as f:
        print(f.read(), end="")


if __name__ == "__main__":
    main()
