"""Writes the ONNX import fixtures (run once, outside CI, in a venv with torch, torchvision, onnx and
onnxscript):

    python3 -m venv /tmp/torch && /tmp/torch/bin/pip install torch torchvision onnx onnxscript safetensors
    /tmp/torch/bin/python Tests/ResNetTests/Fixtures/onnx/make_onnx_fixtures.py

Each <name>.onnx is a network exported by `torch.onnx.export`; <name>.safetensors holds `input` (a batch)
and `logits` (PyTorch's eval-mode logits for it). Networks, all with randomized BatchNorm statistics:
  torchvision_basic      torchvision's own ResNet class and BasicBlock (its forward, its module names), layers
                         [2, 1, 1, 1], stage widths 8/16/32/64 instead of resnet18's 64…512 to keep the file
                         small; input 3×40×40
  torchvision_bottleneck the same with Bottleneck (resnet50's block), layers [1, 2, 1, 1], widths 4/8/16/32
  cifar_basic            a CIFAR ResNet (3×3 stem, no max pool, three stages 4/8/16) from torchvision's
                         BasicBlock, input 3×12×12
and for each, three exports:
  _torchscript           the TorchScript exporter (dynamo=False, opset 17): BatchNorm folded into biased
                         convolutions, Identity copies of shared constants, GlobalAveragePool + Flatten
  _dynamo                the dynamo exporter (torch's default since 2.9, opset 18, IR 10): BatchNorm folded,
                         ReduceMean + Reshape before the classifier
  _unfolded              the TorchScript exporter with training=TrainingMode.PRESERVE in eval mode and no
                         constant folding: BatchNormalization nodes kept
The full-size torchvision models (resnet18…152) are checked by Tests/ONNX/check_torchvision.py.
"""
import os
import sys

import torch
import torch.nn as nn
from safetensors.torch import save_file
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from make_fixtures import randomize  # noqa: E402  (the parity fixtures' BatchNorm randomization)


class SmallTorchvisionResNet(ResNet):
    """torchvision's ResNet with its layers rebuilt at smaller widths (its forward is torchvision's)."""

    def __init__(self, block, layers, widths, num_classes):
        super().__init__(block, [1, 1, 1, 1], num_classes=num_classes)
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        for s, (count, width) in enumerate(zip(layers, widths)):
            setattr(self, f"layer{s + 1}", self._make_layer(block, width, count, stride=1 if s == 0 else 2))
        self.fc = nn.Linear(widths[-1] * block.expansion, num_classes)


class CifarResNet(nn.Module):
    """He et al.'s CIFAR ResNet with torchvision's BasicBlock and 1×1 projection shortcuts."""

    def __init__(self, layers, widths, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        inplanes = widths[0]
        stages = []
        for s, (count, width) in enumerate(zip(layers, widths)):
            blocks = []
            for b in range(count):
                stride = 2 if s > 0 and b == 0 else 1
                down = None
                if stride != 1 or inplanes != width:
                    down = nn.Sequential(nn.Conv2d(inplanes, width, 1, stride, bias=False), nn.BatchNorm2d(width))
                blocks.append(BasicBlock(inplanes, width, stride, down))
                inplanes = width
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make(name, net, input_shape, seed):
    torch.manual_seed(seed)
    randomize(net)
    net.eval()
    x = torch.randn(*input_shape)
    with torch.no_grad():
        logits = net(x)
    save_file({"input": x.contiguous(), "logits": logits.contiguous()}, os.path.join(HERE, f"{name}.safetensors"))
    names = dict(input_names=["input"], output_names=["logits"])
    torch.onnx.export(net, (x,), os.path.join(HERE, f"{name}_torchscript.onnx"), dynamo=False, opset_version=17,
                      **names)
    torch.onnx.export(net, (x,), os.path.join(HERE, f"{name}_dynamo.onnx"), dynamo=True, external_data=False,
                      **names)
    torch.onnx.export(net, (x,), os.path.join(HERE, f"{name}_unfolded.onnx"), dynamo=False, opset_version=17,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False, **names)


if __name__ == "__main__":
    torch.manual_seed(0)
    make("torchvision_basic", SmallTorchvisionResNet(BasicBlock, [2, 1, 1, 1], [8, 16, 32, 64], 7), (2, 3, 40, 40), 1)
    torch.manual_seed(0)
    make("torchvision_bottleneck", SmallTorchvisionResNet(Bottleneck, [1, 2, 1, 1], [4, 8, 16, 32], 5),
         (2, 3, 36, 36), 2)
    torch.manual_seed(0)
    make("cifar_basic", CifarResNet([2, 1, 1], [4, 8, 16], 10), (3, 3, 12, 12), 3)
