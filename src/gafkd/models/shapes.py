"""What a family's shape walk returns (pure Python: the Snakefile plans memory with it, :mod:`gafkd.models.memory`).

Each family's package (:class:`gafkd.models.families.Family`) walks its own layers with these;
``tests/test_gpu_readiness.py`` checks every walk against the tensors autograd really saves.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Activations:
    """Elements per sample and member: saved for backward, the largest tensor, the no-grad peak."""

    saved: int
    largest: int
    eval_peak: int
    features: int = 0  # the three stages' outputs and the pooled embedding (feature-level distillation)


def downsample(positions: tuple[int, ...], stride: int) -> tuple[int, ...]:
    """Positions after a kernel-3, padding-1 convolution (or a 1×1 shortcut, or ceil-mode pooling) at ``stride``:
    ceil(n / stride) per axis."""
    return tuple(-(-n // stride) for n in positions)
