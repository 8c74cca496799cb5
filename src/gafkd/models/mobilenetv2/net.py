"""MobileNetV2 (Sandler et al. 2018) as RepDistiller sizes it for CIFAR, for 1-D signals and 2-D images.

``mobilenetv2-W``: width multiplier W (RepDistiller's ``mobile_half`` is ``mobilenetv2-0.5``). A 3×3 (or 3)
convolution at stride 2, seven groups of inverted residual blocks (1×1 expansion by T, a depthwise 3×3, a
linear 1×1 projection; a residual where the shape allows), a 1×1 convolution to 1280 channels, global average
pooling and a linear classifier (:func:`gafkd.models.mobilenetv2.plan`). ReLU, as RepDistiller
uses, not the paper's ReLU6. Fused, a depthwise convolution is one grouped convolution with channels ×
members groups. The stages are the seven groups; feature losses read the last three.
"""

from __future__ import annotations

from torch import nn

from . import args, plan
from ..layers import FusedNet, classifier, fused_layers


class InvertedResidual(nn.Module):
    def __init__(self, dims: int, in_ch: int, out_ch: int, stride: int, expansion: int, members: int = 1):
        super().__init__()
        conv, norm = fused_layers(dims, members)
        hidden = in_ch * expansion
        self.residual = stride == 1 and in_ch == out_ch
        self.layers = nn.Sequential(
            conv(in_ch, hidden, 1), norm(hidden), nn.ReLU(),
            conv(hidden, hidden, 3, stride=stride, padding=1, groups=hidden), norm(hidden), nn.ReLU(),
            conv(hidden, out_ch, 1), norm(out_ch))

    def forward(self, x):
        out = self.layers(x)
        return x + out if self.residual else out


class MobileNetV2(FusedNet):
    def __init__(self, width: float, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1):
        super().__init__(num_classes, in_channels, dims, members)
        conv, norm = fused_layers(dims, members)
        stem, groups, head = plan(width)
        self.width = width
        self.stem = nn.Sequential(conv(in_channels, stem, 3, stride=2, padding=1), norm(stem), nn.ReLU())
        stages, in_ch = [], stem
        for group in groups:
            blocks = []
            for expansion, out_ch, stride in group:
                blocks.append(InvertedResidual(dims, in_ch, out_ch, stride, expansion, members))
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.last = nn.Sequential(conv(in_ch, head, 1), norm(head), nn.ReLU())
        self.fc = classifier(members, head, num_classes)
        self.init_weights()

    def head(self, out):
        return self.last(out)


def build(arch: str, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1) -> MobileNetV2:
    return MobileNetV2(args(arch)["width"], num_classes, in_channels, dims, members)
