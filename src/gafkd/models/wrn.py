"""Wide ResNets (Zagoruyko & Komodakis) for 1-D signals and 2-D GAF images, as in protocol.md.

WRN-d-k: a 3×3 (or 3) stem convolution to 16 channels, three stages of n = (d − 4)/6 pre-activation
basic blocks (BN-ReLU-conv-BN-ReLU-conv) with 16k, 32k, 64k channels and strides 1, 2, 2, a 1×1
convolution on the shortcut where the shape changes, final BN-ReLU, global average pooling (so any
window length or image size works) and a linear classifier. No dropout.

``members=M`` builds M such networks fused into one (horizontally fused training, as in HFTA): every
convolution is one grouped convolution over M·C channels, every batch norm keeps M·C statistics
(per channel, so per member) and the classifier is one batched matmul. Member m owns the m-th block
of every tensor's first dimension, so :mod:`gafkd.models.fused` stacks and unstacks state dicts by
slicing. Inputs are [B, M·C_in, ...] with member m's batch in channel block m; logits are [M, B, K].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .families import arch_args


class Conv1d(nn.Conv1d):
    """``nn.Conv1d`` that also takes [B, C, 1, L]: the NWC fast path (see :meth:`WideResNet.to_channels_last`).

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


class FusedLinear(nn.Module):
    """M linear layers in one: weight [M·K, C] (member m: rows m·K … (m+1)·K), input [B, M·C] → [M, B, K]."""

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members * out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(members * out_features))

    def forward(self, x):
        m, c, k = self.members, self.in_features, self.out_features
        x = x.view(x.shape[0], m, c).transpose(0, 1)  # [M, B, C]
        weight = self.weight.view(m, k, c).transpose(1, 2)  # [M, C, K]
        return torch.baddbmm(self.bias.view(m, 1, k), x, weight)


def _layers(dims: int, members: int):
    """(conv, norm) factories over ``members`` fused networks: channel counts are per member."""
    conv_type, norm_type = LAYERS[dims]

    def conv(in_ch, out_ch, kernel, stride=1, padding=0):
        return conv_type(in_ch * members, out_ch * members, kernel, stride=stride, padding=padding, bias=False,
                         groups=members)

    return conv, (lambda channels: norm_type(channels * members))


class PreActBlock(nn.Module):
    def __init__(self, dims: int, in_ch: int, out_ch: int, stride: int, members: int = 1):
        super().__init__()
        conv, norm = _layers(dims, members)
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


class WideResNet(nn.Module):
    """WRN-depth-width over ``dims``-dimensional inputs [B, C, L] or [B, C, H, W] (``members`` fused: above)."""

    def __init__(self, depth: int, width: int, num_classes: int, in_channels: int = 3, dims: int = 2,
                 members: int = 1):
        super().__init__()
        if (depth - 4) % 6 or depth < 10:
            raise ValueError(f"WRN depth must be 6n+4 ≥ 10, got {depth}")
        conv, norm = _layers(dims, members)
        n = (depth - 4) // 6
        widths = [16 * width, 32 * width, 64 * width]
        self.depth, self.width, self.dims, self.members = depth, width, dims, members
        self.num_classes, self.in_channels = num_classes, in_channels
        self.channels_last = False
        self.stem = conv(in_channels, 16, 3, padding=1)
        stages, in_ch = [], 16
        for out_ch, stride in zip(widths, (1, 2, 2)):
            blocks = []
            for i in range(n):
                blocks.append(PreActBlock(dims, in_ch, out_ch, stride if i == 0 else 1, members))
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.bn = norm(in_ch)
        # one member keeps nn.Linear, so a pack of one is exactly the plain model
        self.fc = nn.Linear(in_ch, num_classes) if members == 1 else FusedLinear(members, in_ch, num_classes)
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def to_channels_last(self) -> "WideResNet":
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
        """Logits; with ``features`` also the three stages' outputs, each [B, M·C, …] (member m's channels in
        block m), and the pooled embedding [B, M·C] the classifier reads (feature-level distillation). Without,
        none is kept past its stage (evaluation memory stays one block's tensors)."""
        nwc = self.dims == 1 and self.channels_last
        if nwc:
            x = x.unsqueeze(2).contiguous(memory_format=torch.channels_last)
        out = self.stem(x)
        stages = []
        for stage in self.stages:
            out = stage(out)
            if features:
                stages.append(out)
        out = torch.relu(self.bn(out))
        # global average pooling as a mean: adaptive average pooling has no deterministic CUDA backward,
        # so strict determinism would refuse every model
        embedding = out.mean(dim=tuple(range(2, out.dim())))
        logits = self.fc(embedding)
        return (logits, stages, embedding) if features else logits


def build_wrn(arch: str, num_classes: int, in_channels: int = 3, dims: int = 2, members: int = 1) -> WideResNet:
    args = arch_args(arch)
    return WideResNet(args["depth"], args["width"], num_classes, in_channels, dims, members)
