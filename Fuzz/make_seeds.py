#!/usr/bin/env python3
"""Writes the seed corpora of Fuzz/corpus (standard library only; run from the repository root after
`swift build -c release`, whose `resnet export` writes two of the ONNX seeds).

Images, IDX and CIFAR seeds are copies of the test fixtures; the safetensors seeds are three tiny but
complete checkpoints written here byte by byte, so the fuzzer starts from files the loader accepts:
a CIFAR-stem basic-block net with this tool's metadata, an ImageNet-stem bottleneck net with a
projection shortcut, and the same bottleneck net as a bare torchvision state_dict (no metadata).
The ONNX seeds are the two tiny checkpoints exported by `resnet export` and the CIFAR ResNet of the
import fixtures as torch.onnx.export writes it (TorchScript exporter, dynamo exporter, BatchNorm kept).
"""
import json
import os
import shutil
import struct
import subprocess

ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(ROOT, "..", "Tests", "ResNetTests", "Fixtures")


def bn(prefix, channels):
    return [
        (prefix + "weight", "F32", [channels], [1.0] * channels),
        (prefix + "bias", "F32", [channels], [0.0] * channels),
        (prefix + "running_mean", "F32", [channels], [0.0] * channels),
        (prefix + "running_var", "F32", [channels], [1.0] * channels),
        (prefix + "num_batches_tracked", "I64", [], [0]),
    ]


def conv(name, out_c, in_c, k):
    count = out_c * in_c * k * k
    return [(name, "F32", [out_c, in_c, k, k], [((i * 7) % 11 - 5) / 10 for i in range(count)])]


def safetensors(tensors, metadata):
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        blob = struct.pack("<%d%s" % (len(values), "f" if dtype == "F32" else "q"), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def basic_cifar():
    config = {"stem": "cifar", "block": "basic", "layers": [1], "widths": [2], "in_channels": 1,
              "num_classes": 2, "input_height": 4, "input_width": 4}
    tensors = conv("conv1.weight", 2, 1, 3) + bn("bn1.", 2)
    tensors += conv("layer1.0.conv1.weight", 2, 2, 3) + bn("layer1.0.bn1.", 2)
    tensors += conv("layer1.0.conv2.weight", 2, 2, 3) + bn("layer1.0.bn2.", 2)
    tensors += [("fc.weight", "F32", [2, 2], [0.5, -0.5, 0.25, 0.75]), ("fc.bias", "F32", [2], [0.0, 0.1])]
    metadata = {"resnet.config": json.dumps(config), "resnet.classes": json.dumps(["a", "b"]),
                "resnet.preprocess": json.dumps({"color": "gray", "mean": [0.5], "std": [0.25]})}
    return tensors, metadata


def bottleneck_imagenet():
    config = {"stem": "imagenet", "block": "bottleneck", "layers": [1], "widths": [1], "in_channels": 3,
              "num_classes": 2, "input_height": 8, "input_width": 8}
    tensors = conv("conv1.weight", 1, 3, 7) + bn("bn1.", 1)
    tensors += conv("layer1.0.conv1.weight", 1, 1, 1) + bn("layer1.0.bn1.", 1)
    tensors += conv("layer1.0.conv2.weight", 1, 1, 3) + bn("layer1.0.bn2.", 1)
    tensors += conv("layer1.0.conv3.weight", 4, 1, 1) + bn("layer1.0.bn3.", 4)
    tensors += conv("layer1.0.downsample.0.weight", 4, 1, 1) + bn("layer1.0.downsample.1.", 4)
    tensors += [("fc.weight", "F32", [2, 4], [0.1] * 8), ("fc.bias", "F32", [2], [0.0, 0.0])]
    metadata = {"resnet.config": json.dumps(config), "resnet.classes": json.dumps(["x", "y"]),
                "resnet.preprocess": json.dumps({"color": "rgb", "resize": 9, "mean": [0.4, 0.5, 0.6],
                                                 "std": [0.2, 0.2, 0.2]})}
    return tensors, metadata


def copy(target, paths):
    folder = os.path.join(ROOT, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for path in paths:
        shutil.copy(path, os.path.join(folder, os.path.basename(path)))


def main():
    images = os.path.join(FIXTURES, "images")
    names = sorted(os.listdir(images))
    copy("png", [os.path.join(images, n) for n in names if n.startswith("png_") and n.endswith(".png")])
    copy("jpeg", [os.path.join(images, n) for n in names if n.startswith("jpeg_") and n.endswith(".jpg")])
    idx = os.path.join(FIXTURES, "datasets", "idx")
    copy("idx", [os.path.join(idx, n) for n in sorted(os.listdir(idx))])
    cifar = os.path.join(FIXTURES, "datasets")
    copy("cifar", [os.path.join(cifar, "cifar10", "data_batch_2.bin"), os.path.join(cifar, "cifar100", "test.bin")])
    folder = os.path.join(ROOT, "corpus", "safetensors")
    os.makedirs(folder, exist_ok=True)
    seeds = {"basic_cifar": basic_cifar(), "bottleneck_imagenet": bottleneck_imagenet()}
    seeds["bottleneck_state_dict"] = (seeds["bottleneck_imagenet"][0], None)
    for name, (tensors, metadata) in seeds.items():
        with open(os.path.join(folder, name + ".safetensors"), "wb") as f:
            f.write(safetensors(tensors, metadata))
    onnx = os.path.join(FIXTURES, "onnx")
    copy("onnx", [os.path.join(onnx, f"cifar_basic_{kind}.onnx") for kind in ("torchscript", "dynamo", "unfolded")])
    resnet = os.path.join(ROOT, "..", ".build", "release", "resnet")
    for name in ("basic_cifar", "bottleneck_imagenet"):
        subprocess.run([resnet, "export", os.path.join(folder, name + ".safetensors"), "--to",
                        os.path.join(ROOT, "corpus", "onnx", name + ".onnx")], check=True)


if __name__ == "__main__":
    main()
