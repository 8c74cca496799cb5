"""Similarity-preserving KD (Tung & Mori, ICCV 2019) on the three stage outputs: the ``sp`` entry.

For a batch of b samples and a stage output A (reshaped to b × (c·h·w) — a 2-D teacher's and a 1-D
student's maps differ in shape, their Gram matrices do not), G = A·Aᵀ with each row L2-normalised;
a teacher's term is (1/b²)·‖G_T − G_S‖²_F summed over the stages, the teachers' terms weighted by
their weights wₖ (a per-sample rule's batch mean), the whole scaled by β (``students.sp_beta``: 700 for
GENEActiv; 200 for PAMAP2) and added to the logit loss (:class:`~gafkd.distillation.pack.PackLoss`).

A teacher's Gram matrices are computed once per feature entry (a teacher on one set of rows), however
many members share it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .signals import wide


def gram(activations: torch.Tensor) -> torch.Tensor:
    """[..., b, d] → [..., b, b]: A·Aᵀ, rows L2-normalised (at least float32)."""
    a = wide(activations)
    return F.normalize(a @ a.transpose(-1, -2), p=2, dim=-1)


def sp_loss(student: torch.Tensor, teachers: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[M]: Σₖ wₖ Σ_stages (1/b²)‖G_Tk − G_S‖²_F from ``student`` [M, S, B, B], ``teachers`` [M, T, S, B, B]
    and ``weights`` [M, T] (0 for a member's spare slots)."""
    per_teacher = (teachers - student.unsqueeze(1)).pow(2).mean(dim=(-1, -2)).sum(dim=2)  # [M, T]
    return (weights * per_teacher).sum(dim=1)


class SPTerm(nn.Module):
    def __init__(self, specs, device="cpu", **_):
        super().__init__()

    def forward(self, student, teachers, weights, labels=None) -> torch.Tensor:
        student_grams = torch.stack([gram(s) for s in student.stages], dim=1)  # [M, S, B, B]
        entries = torch.stack([torch.stack([gram(f) for f in stages]) for stages in teachers.stages])  # [U, S, B, B]
        entries = torch.cat([entries, torch.zeros_like(entries[:1])])  # spare slots (-1): zeros, weight 0
        return sp_loss(student_grams, entries[teachers.entry], weights.per_run)
