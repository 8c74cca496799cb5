"""CA-MKD's feature term (Zhang, Chen & Wang, ICASSP 2022; its repository Rorozhl/CA-MKD): the ``camkd_features``
entry, part of the ``camkd`` variant's authors' recipe.

The student's final map (before pooling) is resized to each teacher's final map and passed through a learned
adapter per teacher (a 1×1 convolution to the teacher's channels, batch norm, ReLU: the repository's ``Embed``
without ``--convs``). The teacher's own classifier (global average pooling and its linear layer, frozen) reads
the adapted map; its cross-entropy on the true label gives per-sample confidence weights
w_k = (1 − softmax_k(CE_k)) / (K − 1) (CAMKD's rule, :mod:`.camkd`, on the adapted features), and

    L = Σ_k Σ_b w_kb · mean((A_k(s_b) − t_kb)²) / (B · K),

the mean over the teacher map's channels and positions. The repository weighs it by β = 50 and leaves it out
of the first epoch (``train_distill_multi_teacher``: ``epoch == 1``); :data:`START_EPOCH` is that rule.

The repository's models are all 2-D; here the student is 1-D. Resizing follows the repository where it can
(adaptive average pooling when the student's map is at least as long as the target, else linear interpolation:
its bilinear) and, for a 2-D teacher map of H × W positions, resizes the student's positions to H·W and lays
them out row by row. Both are fixed linear maps applied as a matrix product (adaptive pooling has no
deterministic CUDA backward). Each member owns one adapter per teacher slot, initialised under its own seed,
trained with the student and dropped after (like the projector's parameters).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .camkd import camkd_weights

NAME = "camkd_features"
START_EPOCH = 1  # 0-based: the repository's epochs 2, 3, … (it skips the term in its epoch 1)


def resize_matrix(length: int, target: int, dtype=torch.float64) -> torch.Tensor:
    """[length, target]: adaptive average pooling (target ≤ length: torch's bins, floor(i·L/P) to ceil((i+1)·L/P))
    or linear interpolation (align_corners False, as F.interpolate) from ``length`` positions to ``target``."""
    matrix = torch.zeros(length, target, dtype=dtype)
    if target <= length:
        for i in range(target):
            start, end = (i * length) // target, math.ceil((i + 1) * length / target)
            matrix[start:end, i] = 1.0 / (end - start)
        return matrix
    for i in range(target):
        source = max((i + 0.5) * length / target - 0.5, 0.0)
        low = min(int(math.floor(source)), length - 1)
        high = min(low + 1, length - 1)
        fraction = source - low
        matrix[low, i] += 1.0 - fraction
        matrix[high, i] += fraction
    return matrix


class Adapter(nn.Module):
    """The repository's ``Embed``: 1×1 convolution (with bias), batch norm, ReLU, in the teacher map's dimensions."""

    def __init__(self, dims: int, in_channels: int, out_channels: int):
        super().__init__()
        conv, norm = (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)
        self.conv, self.bn = conv(in_channels, out_channels, 1), norm(out_channels)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class CAMKDFeatureTerm(nn.Module):
    def __init__(self, specs, device="cpu", *, seeds=(), student_dim: int = 0, teacher_heads=(), **_):
        """``teacher_heads[m][t]``: member m's teacher t's classifier (weight [K, D], bias [K]) and final-map shape
        (D, *positions) (:meth:`gafkd.training.targets.LiveTeachers.heads`); ``seeds[m]`` initialises its adapters."""
        super().__init__()
        self.adapters = nn.ModuleDict()
        self.shapes: dict[str, tuple] = {}
        for m, spec in enumerate(specs):
            if not spec.coefficient(NAME):
                continue
            for t, (weight, bias, shape) in enumerate(teacher_heads[m]):
                key = f"{m}_{t}"
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(seeds[m]) * 1_000 + 500 + t)
                    self.adapters[key] = Adapter(len(shape) - 1, student_dim, shape[0]).to(device)
                self.register_buffer(f"head_weight_{key}", weight.to(device))
                self.register_buffer(f"head_bias_{key}", bias.to(device))
                self.shapes[key] = tuple(shape)
        self.epoch = START_EPOCH
        self._resize: dict = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _resized(self, student_map: torch.Tensor, positions: tuple) -> torch.Tensor:
        """[B, C, L] → [B, C, *positions] (a 2-D target laid out row by row)."""
        length, target = student_map.shape[-1], math.prod(positions)
        key = (length, target, student_map.device, student_map.dtype)
        if key not in self._resize:
            self._resize[key] = resize_matrix(length, target).to(student_map.device, student_map.dtype)
        return (student_map @ self._resize[key]).reshape(*student_map.shape[:2], *positions)

    def forward(self, student, teachers, weights, labels=None) -> torch.Tensor:
        members = student.logits.shape[0]
        zero = student.logits.new_zeros(())
        if self.epoch < START_EPOCH:
            return zero.expand(members)
        per_member = []
        for m in range(members):
            slots = [t for t in range(teachers.entry.shape[1]) if f"{m}_{t}" in self.adapters]
            if not slots:
                per_member.append(zero)
                continue
            errors, logits = [], []
            for t in slots:
                key = f"{m}_{t}"
                target = teachers.maps[int(teachers.entry[m, t])]
                adapted = self.adapters[key](self._resized(student.map[m], self.shapes[key][1:]))
                errors.append((adapted - target).pow(2).flatten(1).mean(1))  # [B]
                pooled = adapted.mean(dim=tuple(range(2, adapted.dim())))
                logits.append(F.linear(pooled, getattr(self, f"head_weight_{key}"), getattr(self, f"head_bias_{key}")))
            count = len(slots)
            present = torch.ones(1, count, dtype=torch.bool, device=zero.device)
            w = camkd_weights(torch.stack(logits).unsqueeze(0), labels[m].unsqueeze(0), present.float(), present)[0]
            per_member.append((w * torch.stack(errors)).sum() / (labels.shape[-1] * count))
        return torch.stack(per_member)
