"""Hinton knowledge distillation: τ² · KL(softmax(z_T/τ) ‖ softmax(z_S/τ)), averaged over the batch.

:class:`KDTerm` is the ``kd`` entry of :mod:`.registry`: Σ_t w_mt · KD(z_Tmt, z_m; τ_m) for every member m,
with per-run weights (``fixed``) or per-sample ones (``camkd``, ``ebkd``: Σ_t mean_b w_mtb · KD_mtb).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def kd_per_sample(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature) -> torch.Tensor:
    """The τ²-free KL divergence per sample, ``[..., B]``, from logits ``[..., B, K]`` (leading dimensions
    broadcast: a pack's members and teachers); ``temperature`` a number or a tensor of the leading shape."""
    tau = torch.as_tensor(temperature, dtype=student_logits.dtype, device=student_logits.device)
    scale = tau.reshape(*tau.shape, 1, 1)
    log_student = F.log_softmax(student_logits / scale, dim=-1)
    log_teacher = F.log_softmax(teacher_logits / scale, dim=-1)
    return (log_teacher.exp() * (log_teacher - log_student)).sum(-1)


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature) -> torch.Tensor:
    """The τ²-scaled KL divergence from the teacher's to the student's softened distribution.

    Returns one value per leading index (a scalar for plain ``[B, K]`` logits). τ² keeps the gradient
    scale of the soft term comparable to cross-entropy as τ changes; the KL is summed over classes and
    averaged over the batch (``batchmean``: the KL per sample; a mean over elements would divide by the
    classes too).
    """
    tau = torch.as_tensor(temperature, dtype=student_logits.dtype, device=student_logits.device)
    return kd_per_sample(student_logits, teacher_logits, temperature).mean(-1) * tau**2


class KDTerm(nn.Module):
    def __init__(self, specs, device="cpu", **_):
        super().__init__()
        self.register_buffer("temperature", torch.tensor([s.temperature for s in specs], device=device))

    def per_sample(self, student_logits, teacher_logits, tau) -> torch.Tensor:
        """The τ²-free divergence per sample [M, T, B] (a KD form's own: :mod:`.lab_kd` overrides it)."""
        return kd_per_sample(student_logits, teacher_logits, tau)

    def forward(self, student, teachers, weights, labels=None) -> torch.Tensor:
        members = student.logits.shape[0]
        tau = self.temperature.view(members, 1)
        per_sample = self.per_sample(student.logits.unsqueeze(1), teachers.logits, tau)  # [M, T, B]
        scale = tau**2
        per_run = (weights.per_run * (per_sample.mean(-1) * scale)).sum(1)
        if weights.per_sample is None:
            return per_run
        adaptive = (weights.per_sample * per_sample * scale.unsqueeze(-1)).mean(-1).sum(1)
        return torch.where(weights.adaptive, adaptive, per_run)
