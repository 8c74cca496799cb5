"""Patch Transformers for signals (``transformer{layers}-{dim}[-p{patch}s{stride}]``): the name's grammar, the
shape walk and the parameter count, without torch. The network is :mod:`gafkd.models.transformer.net`."""

from __future__ import annotations

import re

from ..shapes import Activations

HEAD_DIM = 16  # dim // 16 heads
MAX_PATCHES = 256  # learned positions: windows of up to 16 + 255·8 = 2,056 samples by default


def args(name: str) -> dict:
    layers, dim, patch, stride = re.fullmatch(r"transformer(\d+)-(\d+)(?:-p(\d+)s(\d+))?", name).groups()
    a = {"layers": int(layers), "dim": int(dim), "patch": int(patch or 16), "stride": int(stride or 8),
         "max_patches": MAX_PATCHES}
    if a["layers"] < 1 or a["dim"] < HEAD_DIM or a["dim"] % HEAD_DIM or a["patch"] < 1 or a["stride"] < 1:
        raise ValueError("a patch Transformer has ≥ 1 layer and a width that is a multiple of 16 (16 per head), "
                         "e.g. transformer3-64 or transformer3-64-p16s8")
    return a


def patches(arch: str, positions: tuple[int, ...]) -> int:
    a = args(arch)
    (length,) = positions
    return (length - a["patch"]) // a["stride"] + 1


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """Per layer: each layer norm's input, normalised input, output (its affine step's) and statistics; q, k and v
    (members folded into the batch); the attention weights; the attention's output (a copy, token-major again);
    the MLP's hidden activations (GELU input and output). Then the embedding's input, the final norm's input,
    normalised input and statistics, and the pooled embedding."""
    a = args(arch)
    n, dim, heads, hidden = patches(arch, positions), a["dim"], max(1, a["dim"] // HEAD_DIM), 2 * a["dim"]
    tokens = n * dim
    norm = 3 * tokens + 2 * n
    per_layer = 2 * norm + 3 * tokens + heads * n * n + tokens + 2 * hidden * n
    saved = in_channels * positions[0] + a["layers"] * per_layer + 2 * tokens + 2 * n + dim
    largest = max(heads * n * n, hidden * n, 3 * tokens)
    eval_peak = 2 * heads * n * n + 6 * tokens + hidden * n
    return Activations(saved, largest, eval_peak, min(3, a["layers"]) * tokens + dim)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    a = args(arch)
    dim, hidden = a["dim"], 2 * a["dim"]
    layer = 4 * dim + 3 * dim * dim + 3 * dim + dim * dim + dim + dim * hidden + hidden + hidden * dim + dim
    return in_channels * dim * a["patch"] + dim + a["max_patches"] * dim + a["layers"] * layer + 2 * dim \
        + dim * num_classes + num_classes
