"""CIFAR ResNets (``resnet{depth}``, depth = 6n + 2): the name's grammar, the shape walk and the parameter count,
without torch. The network is :mod:`gafkd.models.resnet.net`."""

from __future__ import annotations

import math
import re

from ..shapes import Activations, downsample

WIDTHS, STRIDES = (16, 32, 64), (1, 2, 2)


def args(name: str) -> dict:
    depth = int(re.fullmatch(r"resnet(\d+)", name).group(1))
    if depth < 8 or (depth - 2) % 6:
        raise ValueError("a CIFAR ResNet has depth = 6n+2 ≥ 8 (resnet8, resnet20, resnet44, …)")
    return {"depth": depth}


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """The stem's input, convolution output and ReLU output; per post-activation block its two convolutions'
    outputs (batch norm), the first ReLU's output, the shortcut convolution's output (where there is one) and the
    block's ReLU output; the pooled embedding."""
    n = (args(arch)["depth"] - 2) // 6
    size = math.prod(positions)
    saved = in_channels * size + 2 * 16 * size
    largest, eval_peak = 16 * size, (in_channels + 2 * 16) * size
    channels, features = 16, 0
    for out_channels, stride in zip(WIDTHS, STRIDES):
        for block in range(n):
            out_positions = downsample(positions, stride if block == 0 else 1)
            before, after = channels * math.prod(positions), out_channels * math.prod(out_positions)
            shortcut = block == 0 and (stride != 1 or channels != out_channels)
            saved += (4 + shortcut) * after
            largest = max(largest, before, after)
            eval_peak = max(eval_peak, before + (2 + shortcut) * after)
            channels, positions = out_channels, out_positions
        features += channels * math.prod(positions)
    return Activations(saved + channels, largest, eval_peak, features + channels)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    n = (args(arch)["depth"] - 2) // 6
    kernel = 3 ** dims
    total, channels = in_channels * 16 * kernel + 2 * 16, 16
    for out_channels, stride in zip(WIDTHS, STRIDES):
        for block in range(n):
            total += channels * out_channels * kernel + out_channels * out_channels * kernel + 4 * out_channels
            if block == 0 and (stride != 1 or channels != out_channels):
                total += channels * out_channels + 2 * out_channels  # the 1×1 shortcut and its batch norm
            channels = out_channels
    return total + channels * num_classes + num_classes
