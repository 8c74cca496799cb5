"""CIFAR-style ResNets (He et al., Deep Residual Learning, 2016, §4.2) for 1-D signals and 2-D images.

ResNet-d (d = 6n + 2: resnet8, resnet20, resnet44): a 3×3 (or 3) convolution to 16 channels with batch norm
and ReLU, three stages of n post-activation basic blocks (conv-BN-ReLU-conv-BN, add, ReLU) with 16, 32, 64
channels and strides 1, 2, 2, a 1×1 convolution with batch norm on the shortcut where the shape changes
(RepDistiller's choice; the paper's CIFAR nets pad with zeros instead), global average pooling and a linear
classifier. The 1-D version is the same net with kernel-3 convolutions along time. ``members`` fuse as every
family does (:mod:`gafkd.models.layers`).
"""

from __future__ import annotations

import torch
from torch import nn

from . import STRIDES, WIDTHS, args
from ..layers import FusedNet, classifier, fused_layers, residual_stages


class BasicBlock(nn.Module):
    def __init__(self, dims: int, in_ch: int, out_ch: int, stride: int, members: int = 1):
        super().__init__()
        conv, norm = fused_layers(dims, members)
        self.conv1 = conv(in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn1 = norm(out_ch)
        self.conv2 = conv(out_ch, out_ch, 3, stride=1, padding=1)
        self.bn2 = norm(out_ch)
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(conv(in_ch, out_ch, 1, stride=stride), norm(out_ch))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class ResNet(FusedNet):
    """ResNet-depth over ``dims``-dimensional inputs (``members`` fused)."""

    def __init__(self, depth: int, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1):
        super().__init__(num_classes, in_channels, dims, members)
        conv, norm = fused_layers(dims, members)
        n = (depth - 2) // 6
        self.depth = depth
        self.stem = nn.Sequential(conv(in_channels, 16, 3, padding=1), norm(16), nn.ReLU())
        self.stages, in_ch = residual_stages(lambda i, o, s: BasicBlock(dims, i, o, s, members), WIDTHS, STRIDES,
                                             n, 16)
        self.fc = classifier(members, in_ch, num_classes)
        self.init_weights()


def build(arch: str, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1) -> ResNet:
    return ResNet(args(arch)["depth"], num_classes, in_channels, dims, members)
