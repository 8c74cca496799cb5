"""The ``fixed`` weighting rule: each teacher's configured weight (α and 1 − α, or a weight per teacher)."""

from __future__ import annotations

import torch


def fixed_weights(teacher_logits: torch.Tensor, labels: torch.Tensor, fixed: torch.Tensor,
                  present: torch.Tensor) -> torch.Tensor:
    """[M, T, B]: the configured weights [M, T], the same for every sample."""
    return fixed.unsqueeze(-1).expand(*fixed.shape, labels.shape[-1])
