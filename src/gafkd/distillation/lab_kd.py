"""The lab's KD (``jeunsom/TDA_KD``'s ``train_ad.py``): logit-standardised distillation, the ``lab_kd`` entry.

Each sample's logits are divided by their own standard deviation over the classes (torch's default,
unbiased) and multiplied by a fixed factor of 2 where Hinton KD divides by τ; the KL divergence is
averaged over every element (``nn.KLDivLoss()``'s mean: over samples *and* classes, so ÷ K), and τ
(``students.temperature``, 4) enters only as τ²:

    KD_lab(z_S, z_T) = τ² / (B·K) · Σ_b KL(softmax(2 z_T,b / σ(z_T,b)) ‖ softmax(2 z_S,b / σ(z_S,b))).

Softmax ignores a shift, so this is the logit standardisation of Sun et al., "Logit Standardization in
Knowledge Distillation" (CVPR 2024) — z ↦ (z − mean)/σ before the softmax — at a base temperature of 1/2,
with an element mean instead of a batch mean. The lab's cross-entropy also reads standardised logits,
CE(z/σ(z), y): ``training.cross_entropy: standardised`` (:func:`standardised`, used by
:class:`~gafkd.distillation.pack.PackLoss` for every run of a dataset). Where σ is 0 (all logits equal,
or a pack's spare teacher slot) the logits are left as they are: the softmax is uniform either way,
where the lab's division would give NaN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .kd import KDTerm

FACTOR = 2.0  # the lab's fixed multiplier of the standardised logits (in place of 1/τ)


def standardised(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` [..., K] divided by each row's standard deviation (unbiased, as ``torch.std``); rows with σ = 0
    as they are."""
    std = logits.std(dim=-1, keepdim=True)
    return logits / torch.where(std > 0, std, torch.ones_like(std))


def lab_kd_per_sample(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """KL(softmax(2 z_T/σ_T) ‖ softmax(2 z_S/σ_S)) / K per sample, ``[..., B]`` (leading dimensions broadcast)."""
    log_student = F.log_softmax(FACTOR * standardised(student_logits), dim=-1)
    log_teacher = F.log_softmax(FACTOR * standardised(teacher_logits), dim=-1)
    classes = student_logits.shape[-1]
    return (log_teacher.exp() * (log_teacher - log_student)).sum(-1) / classes


class LabKDTerm(KDTerm):
    """:class:`~gafkd.distillation.kd.KDTerm`'s weighting and τ² with the lab's per-sample divergence."""

    def per_sample(self, student_logits, teacher_logits, tau):
        return lab_kd_per_sample(student_logits, teacher_logits)
