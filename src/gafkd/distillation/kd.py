"""Hinton knowledge distillation: τ² · KL(softmax(z_T/τ) ‖ softmax(z_S/τ)), averaged over the batch."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature) -> torch.Tensor:
    """The τ²-scaled KL divergence from the teacher's to the student's softened distribution.

    Logits are ``[..., B, K]`` (leading dimensions broadcast: a pack's members and teachers);
    ``temperature`` is a number or a tensor of the leading shape. Returns one value per leading index
    (a scalar for plain ``[B, K]`` logits). τ² keeps the gradient scale of the soft term comparable to
    cross-entropy as τ changes; the KL is summed over classes and averaged over the batch (``batchmean``:
    the KL per sample; a mean over elements would divide by the classes too).
    """
    tau = torch.as_tensor(temperature, dtype=student_logits.dtype, device=student_logits.device)
    scale = tau.reshape(*tau.shape, 1, 1)
    log_student = F.log_softmax(student_logits / scale, dim=-1)
    log_teacher = F.log_softmax(teacher_logits / scale, dim=-1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(-1).mean(-1)
    return kl * tau**2
