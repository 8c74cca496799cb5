"""Similarity-preserving KD (Tung & Mori, ICCV 2019) on the three stage outputs, for every member of a pack.

For a batch of b samples and a stage output A (reshaped to b × (c·h·w) — a 2-D teacher's and a 1-D
student's maps differ in shape, their Gram matrices do not), G = A·Aᵀ with each row L2-normalised;
a teacher's term is (1/b²)·‖G_T − G_S‖²_F summed over the stages, the teachers' terms weighted by
their weights wₖ, the whole scaled by β (700 for GENEActiv; 200 for PAMAP2) and added to the logit
loss (:class:`~gafkd.distillation.pack.PackLoss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram(activations: torch.Tensor) -> torch.Tensor:
    """[..., b, d] → [..., b, b]: A·Aᵀ, rows L2-normalised (float32)."""
    a = activations.float()
    return F.normalize(a @ a.transpose(-1, -2), p=2, dim=-1)


def member_stage_grams(stage_outputs: list[torch.Tensor], members: int) -> torch.Tensor:
    """Each member's Gram matrix of each stage of a fused model: [M, S, B, B] from S outputs [B, M·C, …]."""
    grams = []
    for out in stage_outputs:
        batch = out.shape[0]
        per_member = out.reshape(batch, members, -1).transpose(0, 1)  # [M, B, C·…] (channel block m)
        grams.append(gram(per_member))
    return torch.stack(grams, dim=1)


def sp_loss(student: torch.Tensor, teachers: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """[M]: Σₖ wₖ Σ_stages (1/b²)‖G_Tk − G_S‖²_F from ``student`` [M, S, B, B], ``teachers`` [M, T, S, B, B]
    and ``weights`` [M, T] (0 for a member's spare slots)."""
    per_teacher = (teachers - student.unsqueeze(1)).pow(2).mean(dim=(-1, -2)).sum(dim=2)  # [M, T]
    return (weights * per_teacher).sum(dim=1)
