"""Wide ResNets (Zagoruyko & Komodakis) for 1-D signals and 2-D GAF images, as in protocol.md.

WRN-d-k: a 3×3 (or 3) stem convolution to 16 channels, three stages of n = (d − 4)/6 pre-activation
basic blocks (BN-ReLU-conv-BN-ReLU-conv) with 16k, 32k, 64k channels and strides 1, 2, 2, a 1×1
convolution on the shortcut where the shape changes, final BN-ReLU, global average pooling (so any
window length or image size works) and a linear classifier. No dropout.

``members=M`` builds M such networks fused into one (:mod:`gafkd.models.layers`).
"""

from __future__ import annotations

import torch
from torch import nn

from . import STRIDES, args, widths
from ..layers import FusedNet, classifier, fused_layers, residual_stages


class PreActBlock(nn.Module):
    def __init__(self, dims: int, in_ch: int, out_ch: int, stride: int, members: int = 1):
        super().__init__()
        conv, norm = fused_layers(dims, members)
        self.bn1 = norm(in_ch)
        self.conv1 = conv(in_ch, out_ch, 3, stride=stride, padding=1)
        self.bn2 = norm(out_ch)
        self.conv2 = conv(out_ch, out_ch, 3, stride=1, padding=1)
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = conv(in_ch, out_ch, 1, stride=stride)

    def forward(self, x):
        pre = torch.relu(self.bn1(x))
        # where the shape changes the shortcut sees the pre-activated input (standard pre-act WRN)
        residual = x if self.shortcut is None else self.shortcut(pre)
        out = self.conv1(pre)
        out = self.conv2(torch.relu(self.bn2(out)))
        return out + residual


class WideResNet(FusedNet):
    """WRN-depth-width over ``dims``-dimensional inputs [B, C, L] or [B, C, H, W] (``members`` fused:
    :mod:`gafkd.models.layers`)."""

    def __init__(self, depth: int, width: int, num_classes: int, in_channels: int = 3, dims: int = 2,
                 members: int = 1):
        super().__init__(num_classes, in_channels, dims, members)
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WRN depth must be 6n+4 ≥ 10, got {depth}")
        conv, norm = fused_layers(dims, members)
        n = (depth - 4) // 6
        self.depth, self.width = depth, width
        self.stem = conv(in_channels, 16, 3, padding=1)
        self.stages, in_ch = residual_stages(lambda i, o, s: PreActBlock(dims, i, o, s, members), widths(width),
                                             STRIDES, n, 16)
        self.bn = norm(in_ch)
        self.fc = classifier(members, in_ch, num_classes)
        self.init_weights()

    def head(self, out):
        return torch.relu(self.bn(out))  # pre-activation: the last block's output is not yet normalised


def build(arch: str, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1) -> WideResNet:
    a = args(arch)
    return WideResNet(a["depth"], a["width"], num_classes, in_channels, dims, members)
