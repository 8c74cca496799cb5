"""EBKD's teacher weights (Kwon, Na, Lee & Kim, "Adaptive Knowledge Distillation Based on Entropy",
ICASSP 2020), per sample, as the CAMKD paper compares against it (its repository's ``EBKD``): a teacher
whose prediction has lower entropy weighs more.

For sample i and its K teachers, H_k = −Σ_c p_kc log p_kc with p_k = softmax(z_Tk) (τ = 1), and

    w_k = (1 − H_k / Σ_j H_j) / (K − 1),

so the weights sum to 1 (with one teacher, w = 1; where every teacher is certain, Σ H = 0, uniform).
The repository sums (1 − H_k/Σ H)·KD_k and divides by K instead: the same weights times (K − 1)/K, which
the variant's authors' recipe applies to λ (:data:`gafkd.distillation.registry.VARIANTS`; ``students.recipes.
ebkd: shared`` leaves it out).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ebkd_weights(teacher_logits: torch.Tensor, labels: torch.Tensor, fixed: torch.Tensor,
                 present: torch.Tensor) -> torch.Tensor:
    """[M, T, B] from the teachers' logits [M, T, B, K] and the real slots ``present`` [M, T]."""
    log_p = F.log_softmax(teacher_logits, dim=-1)
    entropy = -(log_p.exp() * log_p).sum(-1) * present.unsqueeze(-1)  # [M, T, B]
    total = entropy.sum(1, keepdim=True)
    count = present.sum(1).view(-1, 1, 1)
    weights = (1 - entropy / total.clamp(min=torch.finfo(entropy.dtype).tiny)) / (count - 1).clamp(min=1)
    weights = torch.where(total > 0, weights, 1.0 / count)
    weights = torch.where(count == 1, 1.0, weights)
    return weights * present.unsqueeze(-1)
