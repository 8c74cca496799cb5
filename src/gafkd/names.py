"""The study's names, in one place: models, teachers, experiment kinds and their string forms.

- A model is ``{modality}:{arch}`` (``gaf:wrn16-3``; in paths ``gaf-wrn16-3``): :class:`ModelId`.
  Modalities: the image representations of :mod:`gafkd.gaf.registry` (2-D: ``gaf``, ``gadf``, ``mtf``,
  ``compound``, ``pi``) and ``sig`` (1-D, raw signals); architectures: :mod:`gafkd.models.families`.
- Run kinds (runs.csv's ``kind``): ``teacher``, and the student experiments ``baseline`` (the student
  trained with cross-entropy alone; ``students.baseline`` in the config), ``kd1``, ``kd2``, ``kdn``.
- A student experiment is one path-safe spec string (:class:`Experiment`):

  - ``baseline`` — cross-entropy only;
  - ``kd1_gaf-wrn16-3_lam0.7`` — one image teacher (``kd1_pi-wrn16-3_lam0.7``: a PI teacher);
  - ``kd2_gaf-wrn16-3+sig-wrn16-3_alpha0.3_lam0.7`` — image + signal teacher, alpha = the image's share;
  - ``kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.3+sig-wrn16-1@0.5_lam0.7`` — three teachers of one architecture
    (``students.kd3``, the group's later study);
  - ``kdn_gaf-wrn16-3@0.2+sig-wrn16-3@0.3+sig-wrn28-1@0.5_lam0.7`` — K teachers with weights;
  - a KD experiment's variant as a suffix: ``…_ann`` (annealed: the student starts from the student-alone
    model) and ``…_ann_sp700`` (and SPKD, β = 700); none for base (random start, logits only).

Torch-free: the Snakefile and the config checks import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from .errors import ConfigError
from .models.families import ARCH_PATTERN, MODALITY_DIMS, family_of

MODALITIES = tuple(MODALITY_DIMS)

TEACHER, BASELINE, KD1, KD2, KD3, KDN = "teacher", "baseline", "kd1", "kd2", "kd3", "kdn"
# A run's status (metrics.json, runs.csv): finished, or its loss turned non-finite (a result too)
OK, DIVERGED = "ok", "diverged"
STUDENT_KINDS = (BASELINE, KD1, KD2, KD3, KDN)
# A KD experiment's variant (the group's later study): how the student starts, and whether similarity-
# preserving KD (Tung & Mori 2019) on the three stage outputs joins the logit loss.
RANDOM, ANNEALED = "random", "annealed"
BASE, ANN, ANN_SP = "base", "ann", "ann+sp"
VARIANTS = {BASE: (RANDOM, False), ANN: (ANNEALED, False), ANN_SP: (ANNEALED, True)}

_MODEL_PATH = rf"(?:{'|'.join(MODALITIES)})-(?:{ARCH_PATTERN})"
_NUMBER = r"\d+(?:\.\d+)?"
_VARIANT = rf"(?:_ann)?(?:_sp{_NUMBER})?"
SPEC_PATTERN = (rf"{BASELINE}|(?:{KD1}_{_MODEL_PATH}_lam{_NUMBER}"
                rf"|{KD2}_{_MODEL_PATH}\+{_MODEL_PATH}_alpha{_NUMBER}_lam{_NUMBER}"
                rf"|(?:{KD3}|{KDN})_{_MODEL_PATH}@{_NUMBER}(?:\+{_MODEL_PATH}@{_NUMBER})*_lam{_NUMBER}){_VARIANT}")


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
    init: str = RANDOM  # annealed: the student starts from the student-alone model of its seed
    sp: float | None = None  # β of similarity-preserving KD on the stage outputs; None: logits only

    @property
    def spec(self) -> str:
        names = [ModelId.parse(t).path for t in self.teachers]
        if self.kind == BASELINE:
            return BASELINE
        if self.kind == KD1:
            body = f"{KD1}_{names[0]}_lam{fmt(self.lam)}"
        elif self.kind == KD2:
            body = f"{KD2}_{names[0]}+{names[1]}_alpha{fmt(self.alpha)}_lam{fmt(self.lam)}"
        else:
            parts = "+".join(f"{n}@{fmt(w)}" for n, w in zip(names, self.weights))
            body = f"{self.kind}_{parts}_lam{fmt(self.lam)}"
        return body + ("_ann" if self.init == ANNEALED else "") + (f"_sp{fmt(self.sp)}" if self.sp else "")

    @property
    def variant(self) -> str:
        """base, ann or ann+sp (sp: random start with SPKD) — the group's rows."""
        return {(RANDOM, False): BASE, (ANNEALED, False): ANN, (ANNEALED, True): ANN_SP,
                (RANDOM, True): "sp"}[self.init, self.sp is not None]

    def with_variant(self, variant: str, beta: float) -> "Experiment":
        init, sp = VARIANTS[variant]
        return replace(self, init=init, sp=beta if sp else None)

    @classmethod
    def parse(cls, spec: str) -> "Experiment":
        if not re.fullmatch(SPEC_PATTERN, spec):
            raise ConfigError(f"{spec!r} is not a student experiment name ({', '.join(STUDENT_KINDS)}: see gafkd.names)")
        if spec == BASELINE:
            return cls(BASELINE)
        sp = None
        if re.search(rf"_sp{_NUMBER}$", spec):
            spec, beta = spec.rsplit("_sp", 1)
            sp = float(beta)
        init = ANNEALED if spec.endswith("_ann") else RANDOM
        spec = spec.removesuffix("_ann")
        kind, body = spec.split("_", 1)
        body, lam = body.rsplit("_lam", 1)
        lam = float(lam)
        variant = {"init": init, "sp": sp}
        if kind == KD1:
            return cls(KD1, (_teacher(body),), (1.0,), lam, **variant)
        if kind == KD2:
            pair, alpha = body.split("_alpha")
            gaf, sig = pair.split("+")
            alpha = float(alpha)
            return cls(KD2, (_teacher(gaf), _teacher(sig)), (alpha, 1 - alpha), lam, alpha, **variant)
        teachers, weights = zip(*(part.split("@") for part in body.split("+")))
        return cls(kind, tuple(_teacher(t) for t in teachers), tuple(float(w) for w in weights), lam, **variant)


def _teacher(path_form: str) -> str:
    return str(ModelId.parse(path_form))
