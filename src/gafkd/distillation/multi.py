"""The study's loss for K frozen teachers:

    L = (1 − lam) · CE(z_S, y) + lam · Σₖ wₖ · KD(z_Tₖ, z_S; τ),   Σ wₖ = 1.

One GAF teacher: w = (1,). GAF + signal teachers: w = (alpha, 1 − alpha), alpha being the image
teacher's share. ``lam`` weighs distillation against cross-entropy (named so that "alpha" is never
the CE weight, as it is in some KD code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import ConfigError
from .kd import kd_loss


@dataclass(frozen=True)
class TeacherSpec:
    modality: str  # gaf | sig
    arch: str
    weight: float

    @property
    def name(self) -> str:
        return f"{self.modality}:{self.arch}"


def parse_teachers(specs, weights) -> tuple[TeacherSpec, ...]:
    """Teacher specs like ``gaf:wrn16-3`` with their weights, checked to sum to 1."""
    if len(specs) != len(weights):
        raise ConfigError(f"teachers: {len(weights)} weights for {len(specs)} teachers")
    if specs and abs(sum(weights) - 1) > 1e-6:
        raise ConfigError(f"teachers: weights {list(weights)} must sum to 1")
    parsed = []
    for spec, weight in zip(specs, weights):
        match = re.fullmatch(r"(gaf|sig):(wrn\d+-\d+)", spec)
        if not match:
            raise ConfigError(f"teachers: {spec!r} is not like gaf:wrn16-3 or sig:wrn16-1")
        parsed.append(TeacherSpec(match[1], match[2], float(weight)))
    return tuple(parsed)


class DistillationLoss:
    """Callable ``loss(student_logits, labels, teacher_logits_list)``; no teachers ⇒ plain CE."""

    def __init__(self, weights=(), lam: float = 0.7, temperature: float = 4.0):
        if not 0 <= lam <= 1:
            raise ConfigError(f"lam: {lam} is outside [0, 1]")
        if weights and abs(sum(weights) - 1) > 1e-6:
            raise ConfigError(f"teacher weights {list(weights)} must sum to 1")
        self.weights = tuple(float(w) for w in weights)
        self.lam = float(lam) if self.weights else 0.0
        self.temperature = float(temperature)

    def __call__(self, student_logits, labels, teacher_logits=()) -> torch.Tensor:
        ce = F.cross_entropy(student_logits, labels)
        if not self.weights:
            return ce
        kd = sum(w * kd_loss(student_logits, t, self.temperature) for w, t in zip(self.weights, teacher_logits))
        return (1 - self.lam) * ce + self.lam * kd
