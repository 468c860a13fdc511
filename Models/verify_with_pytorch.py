"""Checks a shipped checkpoint from the Python side: Python's `safetensors` opens it, a torchvision-built
ResNet (torchvision's BasicBlock/Bottleneck and state_dict names, the net of the parity fixtures) takes
its tensors with `load_state_dict(strict=True)`, and that PyTorch model's accuracy on the Fashion-MNIST
test set matches the one in the model card.

    /tmp/torch/bin/pip install torch torchvision safetensors
    /tmp/torch/bin/python Models/verify_with_pytorch.py Models/fashion-mnist.safetensors \
        [--data /usr/share/datasets/fashion-mnist]
"""
import argparse
import gzip
import importlib.util
import json
import os

import numpy as np
import torch
from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "ResNetTests", "Fixtures", "make_fixtures.py")


def load_net_class():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Net


def read_idx(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    raise SystemExit(f"{folder}: no {stem}[.gz]")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    with safe_open(args.checkpoint, framework="pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys() if not k.startswith("optimizer.")}
    config = json.loads(meta["resnet.config"])
    preprocess = json.loads(meta["resnet.preprocess"])
    classes = json.loads(meta["resnet.classes"])
    net = load_net_class()(config)
    net.load_state_dict(state, strict=True)
    net.eval()
    images = read_idx(find(args.data, "t10k-images-idx3-ubyte"))
    labels = read_idx(find(args.data, "t10k-labels-idx1-ubyte"))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    x = (x - preprocess["mean"][0]) / preprocess["std"][0]
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x), 500):
            correct += (net(x[i:i + 500]).argmax(1).numpy() == labels[i:i + 500]).sum()
    print(f"{args.checkpoint}: {len(state)} tensors loaded strictly into torchvision's modules; "
          f"{len(classes)} classes; PyTorch test accuracy {100 * correct / len(x):.2f}% on {len(x)} images")


if __name__ == "__main__":
    main()
