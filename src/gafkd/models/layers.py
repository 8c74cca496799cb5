"""Fused layers every model family is built from, and the base class they share.

``members=M`` fuses M networks into one (horizontally fused training, as in HFTA): every convolution is one
grouped convolution over M·C channels, every batch norm keeps M·C statistics (per channel, so per member),
pooling is per channel anyway, and the classifier is one batched matmul (:class:`FusedLinear`). Member m
owns the m-th block of every tensor's first dimension, so :mod:`gafkd.models.fused` stacks and unstacks
state dicts by slicing. Inputs are [B, M·C_in, ...] with member m's batch in channel block m; logits are
[M, B, K] (a plain model's [B, K]).

1-D models also run channels-last: [B, C, 1, L] in NHWC (that is, NWC), through the same 1-D weights
(:class:`Conv1d`, :class:`BatchNorm1d`), because oneDNN's NWC convolutions are faster on CPU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` that also takes [B, C, 1, L]: the NWC fast path (see :meth:`FusedNet.to_channels_last`).

    The weight keeps its 1-D shape, so state dicts are the same in both layouts.
    """

    def forward(self, x):
        if x.dim() == 3:
            return super().forward(x)
        return F.conv2d(x, self.weight.unsqueeze(2), self.bias, (1, self.stride[0]), (0, self.padding[0]),
                        (1, self.dilation[0]), self.groups)


class BatchNorm1d(nn.BatchNorm1d):
    """``nn.BatchNorm1d`` that also takes [B, C, 1, L] (per-channel statistics either way)."""

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3, 4):
            raise ValueError(f"expected 2-D, 3-D or [B, C, 1, L] input (got {input.dim()}-D input)")


LAYERS = {1: (Conv1d, BatchNorm1d), 2: (nn.Conv2d, nn.BatchNorm2d)}


class TokenLinear(nn.Module):
    """M linear layers in one, on a member axis: weight [M·K, C] (member m: rows m·K … (m+1)·K), input
    [M, T, C] → [M, T, K], one batched matmul."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members * out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(members * out_features))

    def forward(self, x):
        m, c, k = self.members, self.in_features, self.out_features
        return torch.baddbmm(self.bias.view(m, 1, k), x, self.weight.view(m, k, c).transpose(1, 2))


class FusedLinear(TokenLinear):
    """The fused classifier: input [B, M·C] (member m's features in block m) → [M, B, K]."""

    def forward(self, x):
        return super().forward(x.view(x.shape[0], self.members, self.in_features).transpose(0, 1))


def residual_stages(block, widths, strides, blocks_per_stage: int, in_channels: int) -> tuple[nn.ModuleList, int]:
    """Stages of ``blocks_per_stage`` blocks each, ``block(in, out, stride)`` (the stride on a stage's first
    block), in order; and the channels they end with."""
    stages = []
    for out_channels, stride in zip(widths, strides):
        blocks = []
        for i in range(blocks_per_stage):
            blocks.append(block(in_channels, out_channels, stride if i == 0 else 1))
            in_channels = out_channels
        stages.append(nn.Sequential(*blocks))
    return nn.ModuleList(stages), in_channels


def fused_layers(dims: int, members: int):
    """(conv, norm) factories over ``members`` fused networks: channel counts and ``groups`` (a depthwise
    convolution: as many as its channels) are per member, so a fused depthwise convolution has groups ×
    members groups."""
    conv_type, norm_type = LAYERS[dims]

    def conv(in_ch, out_ch, kernel, stride=1, padding=0, groups=1):
        return conv_type(in_ch * members, out_ch * members, kernel, stride=stride, padding=padding, bias=False,
                         groups=groups * members)

    return conv, (lambda channels: norm_type(channels * members))


def classifier(members: int, in_features: int, num_classes: int) -> nn.Module:
    """One member keeps ``nn.Linear``, so a pack of one is exactly the plain model."""
    return nn.Linear(in_features, num_classes) if members == 1 else FusedLinear(members, in_features, num_classes)


class MaxPool(nn.Module):
    """Max pooling by 2 along every position axis (ceil mode: an odd length keeps its last sample); 1-D models
    in the NWC layout ([B, C, 1, L]) pool along L only."""

    def __init__(self, dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        kernel = 2 if self.dims == 2 or x.dim() == 3 else (1, 2)
        pool = F.max_pool1d if x.dim() == 3 else F.max_pool2d
        return pool(x, kernel, kernel, ceil_mode=True)


class FusedNet(nn.Module):
    """What every family's model is: a stem, stages, an optional head before global average pooling, and a
    (fused) classifier. Subclasses set ``stem``, ``stages`` (an ``nn.ModuleList``), ``fc`` and, if any,
    ``head``; ``forward`` and the channels-last switch are shared."""

    def __init__(self, num_classes: int, in_channels: int, dims: int, members: int):
        super().__init__()
        self.num_classes, self.in_channels, self.dims, self.members = num_classes, in_channels, dims, members
        self.channels_last = False

    def head(self, out):
        return out

    def init_weights(self):
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def to_channels_last(self) -> "FusedNet":
        """Channels-last activations: NHWC for 2-D; for 1-D, [B, C, 1, L] in NHWC (that is, NWC).

        Same parameters and state dict, different kernels: oneDNN's NWC convolutions train the 1-D
        WRN16-1 faster than its NCW ones on CPU (``gafkd bench``: ``channels_last_speedup``; numbers in
        docs/performance.md).
        """
        if self.dims == 2:
            self.to(memory_format=torch.channels_last)
        self.channels_last = True
        return self

    def forward(self, x, features: bool = False):
        """Logits; with ``features`` also the last three stages' outputs, each [B, M·C, …] (member m's channels in
        block m), the pooled embedding [B, M·C] the classifier reads and the final map it pools [B, M·C, …]
        (after the head; a 1-D model's [B, M·C, L] in any layout) (feature-level distillation). Without, none is
        kept past its stage (evaluation memory stays one block's tensors)."""
        if self.dims == 1 and self.channels_last:
            x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        out = self.stem(x)
        stages = []
        for stage in self.stages:
            out = stage(out)
            if features:
                stages.append(out)
        out = self.head(out)
        # global average pooling as a mean: adaptive average pooling has no deterministic CUDA backward,
        # so strict determinism would refuse every model
        embedding = out.mean(dim=tuple(range(2, out.dim())))
        logits = self.fc(embedding)
        if not features:
            return logits
        return logits, stages[-3:], embedding, out.squeeze(2) if self.dims == 1 and out.dim() == 4 else out
