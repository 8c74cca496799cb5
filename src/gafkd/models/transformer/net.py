"""A patch Transformer for signals, in the usual design of time-series patch Transformers (PatchTST, Nie et al.
2023), 1-D only.

``transformer{layers}-{dim}`` (optionally ``-p{patch}s{stride}``; default patches of 16 samples every 8): a
patch embedding (a convolution with kernel = patch and stride = stride, over all channels at once — PatchTST
embeds each channel on its own), learned positions (for at most 256 patches: :data:`gafkd.models.transformer.MAX_PATCHES`), ``layers``
pre-norm encoder layers (multi-head self-attention with ``dim // 16`` heads, a GELU MLP of ``2·dim``), a final
layer norm, mean pooling over the patches and a linear classifier. No dropout, as every family here.

Fused (``members`` M): tokens are [M, B·N, dim]; every linear layer is one batched matmul with a member axis
(:class:`TokenLinear`), layer norms keep per-member affine parameters, and attention runs with the members
folded into the batch. Member m owns block m of every parameter's first dimension, as in every family, so
packs stack and unstack by slicing. Feature losses read the last three layers' outputs as [B, M·dim, N].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import HEAD_DIM, args
from ..layers import TokenLinear, classifier

class TokenLayerNorm(nn.Module):
    """Layer norm over the last axis of [M, T, dim] with each member's own scale and shift."""

    def __init__(self, members: int, dim: int):
        super().__init__()
        self.members, self.dim = members, dim
        self.weight = nn.Parameter(torch.ones(members * dim))
        self.bias = nn.Parameter(torch.zeros(members * dim))

    def forward(self, x):
        shape = (self.members, 1, self.dim)
        return torch.addcmul(self.bias.view(shape), F.layer_norm(x, (self.dim,)), self.weight.view(shape))


class EncoderLayer(nn.Module):
    def __init__(self, members: int, dim: int, heads: int, hidden: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.qkv, self.proj = TokenLayerNorm(members, dim), TokenLinear(members, dim, 3 * dim), \
            TokenLinear(members, dim, dim)
        self.norm2, self.fc1, self.fc2 = TokenLayerNorm(members, dim), TokenLinear(members, dim, hidden), \
            TokenLinear(members, hidden, dim)

    def forward(self, x, batch: int):
        m, tokens, dim = x.shape
        n, h = tokens // batch, self.heads
        # [M, B·N, 3·dim] → q, k, v [M·B, heads, N, dim/heads]: the members folded into the batch
        qkv = self.qkv(self.norm1(x)).view(m, batch, n, 3, h, dim // h).permute(3, 0, 1, 4, 2, 5)
        q, k, v = qkv.reshape(3, m * batch, h, n, dim // h)
        attention = torch.softmax(q @ k.transpose(-2, -1) * (1 / math.sqrt(dim // h)), dim=-1)
        out = (attention @ v).view(m, batch, h, n, dim // h).permute(0, 1, 3, 2, 4).reshape(m, tokens, dim)
        x = x + self.proj(out)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class PatchTransformer(nn.Module):
    def __init__(self, layers: int, dim: int, patch: int, stride: int, max_patches: int, num_classes: int,
                 in_channels: int = 3, members: int = 1):
        super().__init__()
        self.max_patches = max_patches
        self.num_classes, self.in_channels, self.dims, self.members = num_classes, in_channels, 1, members
        self.dim, self.patch, self.stride, self.channels_last = dim, patch, stride, False
        self.embed = nn.Conv1d(in_channels * members, dim * members, patch, stride=stride, groups=members)
        self.positions = nn.Parameter(torch.empty(members * max_patches, dim))
        self.layers = nn.ModuleList(EncoderLayer(members, dim, max(1, dim // HEAD_DIM), 2 * dim)
                                    for _ in range(layers))
        self.norm = TokenLayerNorm(members, dim)
        self.fc = classifier(members, dim, num_classes)
        for module in self.modules():
            if isinstance(module, (TokenLinear, nn.Linear)):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.positions, std=0.02)

    def to_channels_last(self) -> "PatchTransformer":
        """Tokens have one layout; the switch is accepted so that a Transformer trains like every family."""
        self.channels_last = True
        return self

    def forward(self, x, features: bool = False):
        """Logits [M, B, K] (a plain model's [B, K]); with ``features`` also the last three layers' outputs as
        [B, M·dim, N], the pooled embedding [B, M·dim] and the normalised tokens it pools [B, M·dim, N]."""
        if x.dim() == 4:  # [B, C, 1, L]: a channels-last 1-D batch
            x = x.squeeze(2)
        batch, m = x.shape[0], self.members
        tokens = self.embed(x)  # [B, M·dim, N]
        n = tokens.shape[-1]
        if n > self.max_patches:
            raise ValueError(f"{n} patches: the learned positions cover {self.max_patches}; use a longer patch stride")
        tokens = tokens.view(batch, m, self.dim, n).permute(1, 0, 3, 2)  # [M, B, N, dim]
        x = (tokens + self.positions.view(m, self.max_patches, self.dim)[:, None, :n]).reshape(m, batch * n, self.dim)
        stages = []
        for layer in self.layers:
            x = layer(x, batch)
            if features:
                stages.append(x.view(m, batch, n, self.dim).permute(1, 0, 3, 2).reshape(batch, m * self.dim, n))
        normed = self.norm(x).view(m, batch, n, self.dim)
        pooled = normed.mean(dim=2)  # [M, B, dim]
        embedding = pooled.transpose(0, 1).reshape(batch, m * self.dim)
        logits = self.fc(embedding)
        if not features:
            return logits
        return logits, stages[-3:], embedding, normed.permute(1, 0, 3, 2).reshape(batch, m * self.dim, n)


def build(arch: str, num_classes: int, in_channels: int = 3, dims: int = 1, members: int = 1) -> PatchTransformer:
    if dims != 1:
        raise ValueError(f"{arch}: the patch Transformer is for signals (1-D) only")
    a = args(arch)
    return PatchTransformer(a["layers"], a["dim"], a["patch"], a["stride"], a["max_patches"],
                            num_classes, in_channels, members)
