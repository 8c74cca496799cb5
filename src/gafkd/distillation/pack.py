"""The study's loss for every member of a pack at once (members: see gafkd.training.pack).

Member m's loss is exactly :class:`~gafkd.distillation.multi.DistillationLoss` with its own teacher
weights, ``lam`` and temperature, held here as tensors over the pack's members:

    L_m = (1 − lam_m) · CE(z_m, y_m) + lam_m · Σ_t w_mt · τ_m² · KL(softmax(z_Tmt/τ_m) ‖ softmax(z_m/τ_m)).

A member with fewer teachers than the pack's widest has weight 0 in its spare slots; a member with no
teacher (a teacher run, or the cross-entropy baseline) has lam 0, so its loss is its cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .multi import DistillationLoss


class PackLoss:
    """Callable ``loss(logits [M, B, K], labels [M, B], teacher_logits [M, T, B, K] | None) → [M]``."""

    def __init__(self, losses: list[DistillationLoss], device="cpu"):
        slots = max(len(loss.weights) for loss in losses)
        self.slots = slots
        weights = torch.zeros(len(losses), slots, dtype=torch.float64)
        for m, loss in enumerate(losses):
            weights[m, :len(loss.weights)] = torch.tensor(loss.weights, dtype=torch.float64)
        self.weights = weights.float().to(device)
        self.lam = torch.tensor([loss.lam for loss in losses], device=device)
        self.temperature = torch.tensor([loss.temperature for loss in losses], device=device)

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, teacher_logits=None) -> torch.Tensor:
        members, batch, classes = logits.shape
        ce = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="none").view(members, batch)
        ce = ce.mean(1)
        if self.slots == 0 or teacher_logits is None:
            return ce
        tau = self.temperature.view(members, 1, 1, 1)
        log_student = F.log_softmax(logits.unsqueeze(1) / tau, dim=-1)  # [M, 1, B, K]
        log_teacher = F.log_softmax(teacher_logits / tau, dim=-1)  # [M, T, B, K]
        kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1).mean(-1)  # [M, T]: batchmean KL
        kd = (self.weights * kl).sum(1) * self.temperature**2
        return (1 - self.lam) * ce + self.lam * kd
