"""VGG with batch norm (``vgg8``, ``vgg11``, ``vgg13``): the name's grammar, the blocks, the shape walk and the
parameter count, without torch. The network is :mod:`gafkd.models.vgg.net`."""

from __future__ import annotations

import math
import re

from ..shapes import Activations, downsample

# convolutions per block, by depth (RepDistiller's cfg S, A, B): five blocks, pooling between them
BLOCKS = {8: ((64,), (128,), (256,), (512,), (512,)),
          11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
          13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512))}
INDEX = 2  # max pooling saves its argmax as int64: two float32s an element


def args(name: str) -> dict:
    depth = int(re.fullmatch(r"vgg(\d+)", name).group(1))
    if depth not in BLOCKS:
        raise ValueError(f"VGG depth is one of {', '.join(map(str, BLOCKS))}")
    return {"depth": depth, "blocks": BLOCKS[depth]}


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """Each convolution's input (the first: the model's input; then a ReLU's or pooling's output), its output
    (batch norm) and its ReLU's output; each pooling's argmax; the pooled embedding."""
    blocks = args(arch)["blocks"]
    size = math.prod(positions)
    saved, largest, eval_peak = in_channels * size, 0, 0
    channels, stage_outputs = in_channels, []
    for index, widths in enumerate(blocks):
        if index:  # max pooling by 2 (ceil mode): its input is the last ReLU's output, saved already
            pooled = downsample(positions, 2)
            saved += (1 + INDEX) * channels * math.prod(pooled)  # its output (the next conv's input), argmax
            positions = pooled
        for out_channels in widths:
            before, after = channels * math.prod(positions), out_channels * math.prod(positions)
            saved += 2 * after
            largest = max(largest, after)
            eval_peak = max(eval_peak, before + 2 * after)
            channels = out_channels
        stage_outputs.append(channels * math.prod(positions))
    features = sum(stage_outputs[-3:])
    return Activations(saved + channels, largest, eval_peak, features + channels)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    kernel = 3 ** dims
    total, channels = 0, in_channels
    for widths in args(arch)["blocks"]:
        for out_channels in widths:
            total += channels * out_channels * kernel + 2 * out_channels
            channels = out_channels
    return total + channels * num_classes + num_classes
