"""The study's names, in one place: models, teachers, experiment kinds and their string forms.

- A model is ``{modality}:{arch}`` (``gaf:wrn16-3``; in paths ``gaf-wrn16-3``): :class:`ModelId`.
  Modalities: ``gaf`` (2-D, GAF images) and ``sig`` (1-D, raw signals); architectures: the registry
  of :mod:`gafkd.models.families`.
- Run kinds (runs.csv's ``kind``): ``teacher``, and the student experiments ``baseline`` (the student
  trained with cross-entropy alone; ``students.baseline`` in the config), ``kd1``, ``kd2``, ``kdn``.
- A student experiment is one path-safe spec string (:class:`Experiment`):

  - ``baseline`` — cross-entropy only;
  - ``kd1_gaf-wrn16-3_lam0.7`` — one GAF teacher;
  - ``kd2_gaf-wrn16-3+sig-wrn16-3_alpha0.3_lam0.7`` — GAF + signal teacher, alpha = GAF share;
  - ``kdn_gaf-wrn16-3@0.2+sig-wrn16-3@0.3+sig-wrn28-1@0.5_lam0.7`` — K teachers with weights.

Torch-free: the Snakefile and the config checks import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .errors import ConfigError
from .models.families import ARCH_PATTERN, MODALITY_DIMS, family_of

MODALITIES = tuple(MODALITY_DIMS)

TEACHER, BASELINE, KD1, KD2, KDN = "teacher", "baseline", "kd1", "kd2", "kdn"
# A run's status (metrics.json, runs.csv): finished, or its loss turned non-finite (a result too)
OK, DIVERGED = "ok", "diverged"
STUDENT_KINDS = (BASELINE, KD1, KD2, KDN)

_MODEL_PATH = rf"(?:{'|'.join(MODALITIES)})-(?:{ARCH_PATTERN})"
_NUMBER = r"\d+(?:\.\d+)?"
SPEC_PATTERN = (rf"{BASELINE}|{KD1}_{_MODEL_PATH}_lam{_NUMBER}"
                rf"|{KD2}_{_MODEL_PATH}\+{_MODEL_PATH}_alpha{_NUMBER}_lam{_NUMBER}"
                rf"|{KDN}_{_MODEL_PATH}@{_NUMBER}(?:\+{_MODEL_PATH}@{_NUMBER})*_lam{_NUMBER}")


def fmt(x: float) -> str:
    """The shortest positional decimal that reads back as the same float: 0.7, 1, 0.00001 (never 1e-05,
    never rounded to 6 digits), so that an experiment's name is lossless and its grammar always parses it."""
    text = format(Decimal(repr(float(x))), "f")
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True, order=True)
class ModelId:
    modality: str
    arch: str

    def __str__(self) -> str:
        return f"{self.modality}:{self.arch}"

    @property
    def path(self) -> str:
        """The form used in folder names: ``gaf-wrn16-3``."""
        return f"{self.modality}-{self.arch}"

    @classmethod
    def parse(cls, text: str, key: str = "model") -> "ModelId":
        """``gaf:wrn16-3`` (or the path form ``gaf-wrn16-3``), checked; a ConfigError names ``key``."""
        text = str(text)
        modality, sep, arch = text.partition(":" if ":" in text else "-")
        if not sep or modality not in MODALITIES:
            raise ConfigError(f"{key}: {text!r} is not a model like gaf:wrn16-3 (modalities: {', '.join(MODALITIES)})")
        family_of(arch, key)
        return cls(modality, arch)


@dataclass(frozen=True)
class Experiment:
    """A student experiment: kind, teachers (``modality:arch``), their weights, alpha and lam."""

    kind: str  # one of STUDENT_KINDS
    teachers: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()
    lam: float | None = None
    alpha: float | None = None

    @property
    def spec(self) -> str:
        names = [ModelId.parse(t).path for t in self.teachers]
        if self.kind == BASELINE:
            return BASELINE
        if self.kind == KD1:
            return f"{KD1}_{names[0]}_lam{fmt(self.lam)}"
        if self.kind == KD2:
            return f"{KD2}_{names[0]}+{names[1]}_alpha{fmt(self.alpha)}_lam{fmt(self.lam)}"
        parts = "+".join(f"{n}@{fmt(w)}" for n, w in zip(names, self.weights))
        return f"{KDN}_{parts}_lam{fmt(self.lam)}"

    @classmethod
    def parse(cls, spec: str) -> "Experiment":
        if not re.fullmatch(SPEC_PATTERN, spec):
            raise ConfigError(f"{spec!r} is not a student experiment name ({', '.join(STUDENT_KINDS)}: see gafkd.names)")
        if spec == BASELINE:
            return cls(BASELINE)
        kind, body = spec.split("_", 1)
        body, lam = body.rsplit("_lam", 1)
        lam = float(lam)
        if kind == KD1:
            return cls(KD1, (_teacher(body),), (1.0,), lam)
        if kind == KD2:
            pair, alpha = body.split("_alpha")
            gaf, sig = pair.split("+")
            alpha = float(alpha)
            return cls(KD2, (_teacher(gaf), _teacher(sig)), (alpha, 1 - alpha), lam, alpha)
        teachers, weights = zip(*(part.split("@") for part in body.split("+")))
        return cls(KDN, tuple(_teacher(t) for t in teachers), tuple(float(w) for w in weights), lam)


def _teacher(path_form: str) -> str:
    return str(ModelId.parse(path_form))
