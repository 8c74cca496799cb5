"""Wide ResNets (``wrn{depth}-{width}``): the name's grammar, the shape walk and the parameter count, without torch.

The network is :mod:`gafkd.models.wrn.net`, imported only when a model is built.
"""

from __future__ import annotations

import math
import re

from ..shapes import Activations, downsample


def args(name: str) -> dict:
    depth, width = (int(v) for v in re.fullmatch(r"wrn(\d+)-(\d+)", name).groups())
    if depth < 10 or (depth - 4) % 6 or width < 1:
        raise ValueError("a Wide ResNet has depth = 6n+4 ≥ 10 and width ≥ 1")
    return {"depth": depth, "width": width}


STRIDES = (1, 2, 2)  # of the three stages


def widths(width: int) -> tuple[int, int, int]:
    """The three stages' channels of a WRN of ``width`` k: 16k, 32k, 64k."""
    return 16 * width, 32 * width, 64 * width


def _stages(arch: str):
    a = args(arch)
    return (a["depth"] - 4) // 6, widths(a["width"]), STRIDES


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """Per pre-activation block: its input (batch norm), the ReLU output (also what the convolution and the
    shortcut read), the first convolution's output (batch norm) and the second ReLU's output:
    2·C_in·P_in + 2·C_out·P_out elements (P: positions, L or H·W)."""
    n, widths, strides = _stages(arch)
    size = math.prod(positions)
    saved = in_channels * size  # the stem convolution's input (the channels-last copy)
    largest, eval_peak = 16 * size, (in_channels + 16) * size
    channels, features = 16, 0
    for out_channels, stride in zip(widths, strides):
        for block in range(n):
            out_positions = downsample(positions, stride if block == 0 else 1)
            before, after = channels * math.prod(positions), out_channels * math.prod(out_positions)
            saved += 2 * before + 2 * after
            largest = max(largest, before, after)
            eval_peak = max(eval_peak, 2 * before + 2 * after)
            channels, positions = out_channels, out_positions
        features += channels * math.prod(positions)  # the stage's output
    last = channels * math.prod(positions)
    saved += 2 * last + channels  # final batch norm's input, its ReLU output (the pool's input), pooled
    return Activations(saved, largest, eval_peak, features + channels)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    """Convolutions, batch norm and the classifier."""
    n, widths, strides = _stages(arch)
    kernel = 3 ** dims
    total = in_channels * 16 * kernel
    channels = 16
    for out_channels, stride in zip(widths, strides):
        for block in range(n):
            total += 2 * channels + channels * out_channels * kernel  # bn1, conv1
            total += 2 * out_channels + out_channels * out_channels * kernel  # bn2, conv2
            if block == 0 and (stride != 1 or channels != out_channels):
                total += channels * out_channels  # the 1×1 shortcut
            channels = out_channels
    return total + 2 * channels + channels * num_classes + num_classes
