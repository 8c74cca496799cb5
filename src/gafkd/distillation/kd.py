"""Hinton knowledge distillation: τ² · KL(softmax(z_T/τ) ‖ softmax(z_S/τ)), averaged over the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The τ²-scaled KL divergence from the teacher's to the student's softened distribution.

    τ² keeps the gradient scale of the soft term comparable to cross-entropy as τ changes;
    ``batchmean`` is the mathematically correct KL per sample (``mean`` would divide by classes too).
    """
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    log_teacher = F.log_softmax(teacher_logits / temperature, dim=1)
    kl = F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)
    return kl * temperature**2
