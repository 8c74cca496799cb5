"""The study's loss for K frozen teachers:

    L = (1 − lam) · CE(z_S, y) + lam · Σₖ wₖ · KD(z_Tₖ, z_S; τ),   Σ wₖ = 1.

One GAF teacher: w = (1,). GAF + signal teachers: w = (alpha, 1 − alpha), alpha being the image
teacher's share. ``lam`` weighs distillation against cross-entropy (named so that "alpha" is never
the CE weight, as it is in some KD code).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .kd import kd_loss


class DistillationLoss:
    """Callable ``loss(student_logits, labels, teacher_logits_list)``; no teachers ⇒ plain CE.

    ``lam`` and ``temperature`` have no defaults here: the protocol's values are the config schema's.
    """

    def __init__(self, weights=(), lam: float | None = None, temperature: float | None = None):
        if weights and (lam is None or temperature is None):
            raise ConfigError("distillation: teachers need lam and temperature")
        lam = 0.0 if lam is None else lam
        if not 0 <= lam <= 1:
            raise ConfigError(f"lam: {lam} is outside [0, 1]")
        if weights and abs(sum(weights) - 1) > 1e-6:
            raise ConfigError(f"teacher weights {list(weights)} must sum to 1")
        self.weights = tuple(float(w) for w in weights)
        self.lam = float(lam) if self.weights else 0.0
        self.temperature = float(temperature or 1.0)

    def __call__(self, student_logits, labels, teacher_logits=()) -> torch.Tensor:
        ce = F.cross_entropy(student_logits, labels)
        if not self.weights:
            return ce
        kd = sum(w * kd_loss(student_logits, t, self.temperature) for w, t in zip(self.weights, teacher_logits))
        return (1 - self.lam) * ce + self.lam * kd
