"""The study's loss for every member of a pack at once (members: see gafkd.training.pack).

Member m's loss is the one its :class:`~gafkd.distillation.spec.LossSpec` defines, with its own teacher
weights, ``lam`` and temperature, held here as tensors over the pack's members:

    L_m = (1 − lam_m) · CE(z_m, y_m) + lam_m · Σ_t w_mt · τ_m² · KL(softmax(z_Tmt/τ_m) ‖ softmax(z_m/τ_m)).

A member with fewer teachers than the pack's widest has weight 0 in its spare slots; a member with no
teacher (a teacher run, or the cross-entropy baseline) has lam 0, so its loss is its cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .kd import kd_loss
from .spec import LossSpec


class PackLoss:
    """Callable ``loss(logits [M, B, K], labels [M, B], teacher_logits [M, T, B, K] | None) → [M]``."""

    def __init__(self, losses: list[LossSpec], device="cpu"):
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
        kd = kd_loss(logits.unsqueeze(1), teacher_logits, self.temperature.view(members, 1))  # [M, T]
        return (1 - self.lam) * ce + self.lam * (self.weights * kd).sum(1)
