"""What one run's loss is, for K frozen teachers:

    L = (1 − lam) · CE(z_S, y) + lam · Σₖ wₖ · KD(z_Tₖ, z_S; τ) + Σ_e γ_e · L_e,   Σ wₖ = 1.

One GAF teacher: w = (1,). GAF + signal teachers: w = (alpha, 1 − alpha), alpha being the image
teacher's share. ``lam`` weighs distillation against cross-entropy (named so that "alpha" is never
the CE weight, as it is in some KD code). ``weighting`` names the rule that sets wₖ (:mod:`.registry`:
``fixed`` uses ``weights``; ``camkd``/``ebkd`` compute them per sample); ``extras`` are the variant's
extra loss entries with their coefficients γ_e (``(("sp", 700.0),)``). ``kd`` names the KD form (the
``kd`` entry, Hinton's, or the lab's ``lab_kd``); ``ce_weight``/``kd_weight`` replace 1 − lam and lam where
a baseline's authors' recipe weighs them otherwise (:class:`~gafkd.distillation.registry.Recipe`).
:class:`~gafkd.distillation.pack.PackLoss` computes it, for every member of a pack at once (a run alone is
a pack of one).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .registry import EXTRAS, FIXED, KD, KD_FORMS, LOSSES, WEIGHTINGS


@dataclass(frozen=True)
class LossSpec:
    """Teacher weights, ``lam``, τ, the weighting rule and extra losses of one run; no teachers ⇒ plain
    cross-entropy.

    ``lam`` and ``temperature`` have no defaults here: the protocol's values are the config schema's.
    """

    weights: tuple[float, ...] = ()
    lam: float | None = None
    temperature: float | None = None
    weighting: str = FIXED
    extras: tuple[tuple[str, float], ...] = ()
    kd: str = KD
    ce_weight: float | None = None  # None: 1 − lam
    kd_weight: float | None = None  # None: lam

    def __post_init__(self):
        if self.kd not in KD_FORMS.values():
            raise ConfigError(f"kd: {self.kd!r} is not a KD form ({', '.join(KD_FORMS.values())})")
        if self.weights and (self.lam is None or self.temperature is None):
            raise ConfigError("distillation: teachers need lam and temperature")
        lam = 0.0 if self.lam is None else self.lam
        if not 0 <= lam <= 1:
            raise ConfigError(f"lam: {lam} is outside [0, 1]")
        if self.weights and abs(sum(self.weights) - 1) > 1e-6:
            raise ConfigError(f"teacher weights {list(self.weights)} must sum to 1")
        if self.weighting not in WEIGHTINGS:
            raise ConfigError(f"weighting: {self.weighting!r} is not a rule ({', '.join(WEIGHTINGS)})")
        for name, _ in self.extras:
            if name not in EXTRAS:
                raise ConfigError(f"loss {name!r} is not an extra loss ({', '.join(EXTRAS)})")
        if self.extras and not self.weights:
            raise ConfigError(f"losses {[n for n, _ in self.extras]} need teachers")
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        object.__setattr__(self, "lam", float(lam) if self.weights else 0.0)
        object.__setattr__(self, "temperature", float(self.temperature or 1.0))
        object.__setattr__(self, "extras", tuple((str(n), float(c)) for n, c in self.extras))

    def coefficient(self, loss: str) -> float:
        """The weight of loss entry ``loss`` in this run's loss (its KD form: lam or the recipe's; an extra it
        lacks, or a KD form it does not use: 0)."""
        if loss == self.kd:
            return (self.lam if self.kd_weight is None else float(self.kd_weight)) if self.weights else 0.0
        return dict(self.extras).get(loss, 0.0)

    @property
    def losses(self) -> tuple[str, ...]:
        """The loss entries this run uses beside cross-entropy."""
        return ((self.kd,) if self.weights else ()) + tuple(n for n, _ in self.extras)

    @property
    def needs(self) -> frozenset[str]:
        return frozenset().union(*(LOSSES[n].needs for n in self.losses))
