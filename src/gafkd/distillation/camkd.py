"""CAMKD's teacher weights (Zhang, Chen & Wang, "Confidence-Aware Multi-Teacher Knowledge Distillation",
ICASSP 2022), per sample: a teacher that is more confident in the true label weighs more.

For sample i and its K teachers, L_k = CE(z_Tk, y_i) (τ = 1) and

    w_k = (1 − softmax_k(L)) / (K − 1),

so the weights sum to 1 (with one teacher, w = 1). The paper's repository (CA-MKD) also divides the summed
KD term by K: the variant's authors' recipe applies it (``students.recipes.camkd: shared`` leaves it out). CAMKD's feature-level part (weighted intermediate features) is not this rule: a rule weighs teachers; the
``camkd_features`` loss entry (:mod:`.camkd_features`) adds the features in the variant's authors' recipe.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def camkd_weights(teacher_logits: torch.Tensor, labels: torch.Tensor, fixed: torch.Tensor,
                  present: torch.Tensor) -> torch.Tensor:
    """[M, T, B] from the teachers' logits [M, T, B, K], labels [M, B] and the real slots ``present`` [M, T]."""
    members, slots, batch, classes = teacher_logits.shape
    target = labels.unsqueeze(1).expand(members, slots, batch)
    ce = F.cross_entropy(teacher_logits.reshape(-1, classes), target.reshape(-1), reduction="none")
    ce = ce.view(members, slots, batch).masked_fill(~present.unsqueeze(-1), float("-inf"))
    count = present.sum(1).view(members, 1, 1)
    weights = (1 - torch.softmax(ce, dim=1)) / (count - 1).clamp(min=1)
    weights = torch.where(count == 1, 1.0, weights)  # one teacher: plain KD
    return weights * present.unsqueeze(-1)
