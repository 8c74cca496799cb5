"""The study's loss for every member of a pack at once (members: see gafkd.training.pack).

Member m's loss is the one its :class:`~gafkd.distillation.spec.LossSpec` defines, with its own teacher
weights, ``lam`` and temperature, held here as tensors over the pack's members:

    L_m = (1 − lam_m) · CE(z_m, y_m) + lam_m · Σ_t w_mt · τ_m² · KL(softmax(z_Tmt/τ_m) ‖ softmax(z_m/τ_m)).

A member with fewer teachers than the pack's widest has weight 0 in its spare slots; a member with no
teacher (a teacher run, or the cross-entropy baseline) has lam 0, so its loss is its cross-entropy.
A member with SPKD (β_m > 0) adds β_m · Σ_t w_mt · SP(G_Tmt, G_m) (:mod:`.sp`), from the Gram matrices
the step passes (``grams``: the student's [M, S, B, B] and the teachers' [M, T, S, B, B]).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .kd import kd_loss
from .sp import sp_loss
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
        self.beta = torch.tensor([loss.sp or 0.0 for loss in losses], device=device)
        self.spkd = any(loss.sp for loss in losses)  # the step must pass the Gram matrices

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor, teacher_logits=None, grams=None) -> torch.Tensor:
        members, batch, classes = logits.shape
        ce = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="none").view(members, batch)
        ce = ce.mean(1)
        if self.slots == 0 or teacher_logits is None:
            return ce
        kd = kd_loss(logits.unsqueeze(1), teacher_logits, self.temperature.view(members, 1))  # [M, T]
        loss = (1 - self.lam) * ce + self.lam * (self.weights * kd).sum(1)
        if grams is not None:
            student, teachers = grams
            loss = loss + self.beta * sp_loss(student, teachers, self.weights)
        return loss
