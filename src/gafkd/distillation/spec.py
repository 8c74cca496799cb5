"""What one run's loss is, for K frozen teachers:

    L = (1 − lam) · CE(z_S, y) + lam · Σₖ wₖ · KD(z_Tₖ, z_S; τ),   Σ wₖ = 1.

One GAF teacher: w = (1,). GAF + signal teachers: w = (alpha, 1 − alpha), alpha being the image
teacher's share. ``lam`` weighs distillation against cross-entropy (named so that "alpha" is never
the CE weight, as it is in some KD code). :class:`~gafkd.distillation.pack.PackLoss` computes it, for
every member of a pack at once (a run alone is a pack of one).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class LossSpec:
    """Teacher weights, ``lam`` and τ of one run; no teachers ⇒ plain cross-entropy.

    ``lam`` and ``temperature`` have no defaults here: the protocol's values are the config schema's.
    """

    weights: tuple[float, ...] = ()
    lam: float | None = None
    temperature: float | None = None
    sp: float | None = None  # β of similarity-preserving KD on the stage outputs (:mod:`.sp`); None: none

    def __post_init__(self):
        if self.weights and (self.lam is None or self.temperature is None):
            raise ConfigError("distillation: teachers need lam and temperature")
        lam = 0.0 if self.lam is None else self.lam
        if not 0 <= lam <= 1:
            raise ConfigError(f"lam: {lam} is outside [0, 1]")
        if self.weights and abs(sum(self.weights) - 1) > 1e-6:
            raise ConfigError(f"teacher weights {list(self.weights)} must sum to 1")
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        object.__setattr__(self, "lam", float(lam) if self.weights else 0.0)
        object.__setattr__(self, "temperature", float(self.temperature or 1.0))
