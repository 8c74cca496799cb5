"""MobileNetV2 (``mobilenetv2-{width}``): the name's grammar, the layout, the shape walk and the parameter count,
without torch. The network is :mod:`gafkd.models.mobilenetv2.net`."""

from __future__ import annotations

import math
import re

from ..shapes import Activations, downsample


def args(name: str) -> dict:
    width = float(re.fullmatch(r"mobilenetv2-(\d+(?:\.\d+)?)", name).group(1))
    if not 0 < width <= 4:
        raise ValueError("a MobileNetV2's width multiplier is in (0, 4], e.g. mobilenetv2-0.5")
    return {"width": width}


def plan(width: float) -> tuple[int, list[list[tuple[int, int, int]]], int]:
    """(stem channels, per group of inverted residual blocks [(expansion, out channels, stride), …], head channels)
    of a MobileNetV2 with width multiplier ``width`` (RepDistiller's CIFAR layout: T = 6, the stem at stride 2,
    the second group at stride 1)."""
    groups = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
              (6, 320, 1, 1)]
    blocks = [[(t, int(c * width), s if i == 0 else 1) for i in range(n)] for t, c, n, s in groups]
    return int(32 * width), blocks, int(1280 * width) if width > 1 else 1280


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """The stem's input, convolution output and ReLU output; per inverted residual block its input (where no ReLU
    saved it: every block but the first), the expansion's output and ReLU output, the depthwise convolution's
    output and ReLU output and the projection's output; the head's input, convolution output and ReLU output;
    the pooled embedding."""
    stem, groups, head = plan(args(arch)["width"])
    size = math.prod(positions)
    positions = downsample(positions, 2)
    saved = in_channels * size + 2 * stem * math.prod(positions)
    largest = eval_peak = stem * math.prod(positions)
    channels, first, stage_outputs = stem, True, []
    for group in groups:
        for expansion, out_channels, stride in group:
            hidden, before = channels * expansion, math.prod(positions)
            out_positions = downsample(positions, stride)
            after = math.prod(out_positions)
            saved += (0 if first else channels * before) + 2 * hidden * before + 2 * hidden * after \
                + out_channels * after
            largest = max(largest, hidden * before)
            eval_peak = max(eval_peak, channels * before + 2 * hidden * before)
            channels, positions, first = out_channels, out_positions, False
        stage_outputs.append(channels * math.prod(positions))
    last = math.prod(positions)
    saved += channels * last + 2 * head * last + head
    largest, eval_peak = max(largest, head * last), max(eval_peak, (channels + 2 * head) * last)
    return Activations(saved, largest, eval_peak, sum(stage_outputs[-3:]) + head)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    stem, groups, head = plan(args(arch)["width"])
    kernel = 3 ** dims
    total, channels = in_channels * stem * kernel + 2 * stem, stem
    for group in groups:
        for expansion, out_channels, _ in group:
            hidden = channels * expansion
            total += channels * hidden + 2 * hidden + hidden * kernel + 2 * hidden + hidden * out_channels \
                + 2 * out_channels
            channels = out_channels
    return total + channels * head + 2 * head + head * num_classes + num_classes
