"""The study's names, in one place: models, teachers, experiment kinds and their string forms.

- A model is ``{modality}:{arch}`` (``gaf:wrn16-3``; in paths ``gaf-wrn16-3``): :class:`ModelId`.
  Modalities: the image representations of :mod:`gafkd.images.registry` (2-D: ``gaf``, ``gadf``, ``mtf``,
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
  - a KD experiment's variant (:mod:`gafkd.distillation.registry`) as a suffix: its start (``_ann``: from the
    student-alone model), its weighting rule (``_camkd``, ``_ebkd``: the configured weights and alpha are then
    left out of the name) and its extra losses with their coefficients (``_sp700``: SPKD, β = 700;
    ``_proj2``); none for base (random start, fixed weights, logits only). ``…_ann_sp700`` is ann+sp.

Torch-free: the Snakefile and the config checks import it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from .distillation.registry import (BASE, FIXED, INIT_SUFFIX, LOSSES, RANDOM, VARIANTS, WEIGHTINGS, Variant,
                                   find_variant)
from .errors import ConfigError
from .models.families import ARCH_PATTERN, MODALITY_DIMS, family_of

MODALITIES = tuple(MODALITY_DIMS)

TEACHER, BASELINE, KD1, KD2, KD3, KDN = "teacher", "baseline", "kd1", "kd2", "kd3", "kdn"
# A run's status (metrics.json, runs.csv): finished, or its loss turned non-finite (a result too)
OK, DIVERGED = "ok", "diverged"
STUDENT_KINDS = (BASELINE, KD1, KD2, KD3, KDN)

_MODEL_PATH = rf"(?:{'|'.join(MODALITIES)})-(?:{ARCH_PATTERN})"
_NUMBER = r"\d+(?:\.\d+)?"
_INITS = "|".join(suffix for suffix in INIT_SUFFIX.values() if suffix)
_RULES = "|".join(w.tag for w in WEIGHTINGS.values() if w.tag)
_LOSS_TAGS = "|".join(loss.tag for loss in LOSSES.values() if loss.tag)
# a variant's parts, in this order: how the student starts, the weighting rule, extra losses with coefficients
_VARIANT = rf"(?:{_INITS})?(?:{_RULES})?(?:(?:{_LOSS_TAGS}){_NUMBER})*"
SPEC_PATTERN = (rf"(?:{BASELINE}|{KD1}_{_MODEL_PATH}_lam{_NUMBER}"
                rf"|{KD2}_{_MODEL_PATH}\+{_MODEL_PATH}(?:_alpha{_NUMBER})?_lam{_NUMBER}"
                rf"|(?:{KD3}|{KDN})_{_MODEL_PATH}(?:@{_NUMBER})?(?:\+{_MODEL_PATH}(?:@{_NUMBER})?)*_lam{_NUMBER})"
                rf"{_VARIANT}")


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
    """A student experiment: kind, teachers (``modality:arch``), their weights, alpha, lam, and its variant
    (:data:`gafkd.distillation.registry.VARIANTS`) with the coefficients of the variant's extra losses."""

    kind: str  # one of STUDENT_KINDS
    teachers: tuple[str, ...] = ()
    weights: tuple[float, ...] = ()  # the configured weights; () when the variant's rule computes them
    lam: float | None = None
    alpha: float | None = None
    variant: str = BASE
    extras: tuple[tuple[str, float], ...] = ()  # (loss entry, coefficient) of the variant's extra losses

    @property
    def method(self) -> Variant:
        return VARIANTS[self.variant]

    @property
    def init(self) -> str:
        return self.method.init

    @property
    def weighting(self) -> str:
        return self.method.weighting

    @property
    def teacher_weights(self) -> tuple[float, ...]:
        """The weights the loss starts from: the configured ones, or uniform where the rule computes its own."""
        return self.weights or tuple(1 / len(self.teachers) for _ in self.teachers)

    @property
    def spec(self) -> str:
        names = [ModelId.parse(t).path for t in self.teachers]
        if self.kind == BASELINE:  # the student alone: base, or the compute-matched continuation (baseline_ann)
            body = BASELINE
        elif self.kind == KD1:
            body = f"{KD1}_{names[0]}_lam{fmt(self.lam)}"
        elif self.kind == KD2:
            alpha = f"_alpha{fmt(self.alpha)}" if self.alpha is not None else ""
            body = f"{KD2}_{names[0]}+{names[1]}{alpha}_lam{fmt(self.lam)}"
        else:
            parts = "+".join(f"{n}@{fmt(w)}" for n, w in zip(names, self.weights)) if self.weights else "+".join(names)
            body = f"{self.kind}_{parts}_lam{fmt(self.lam)}"
        method = self.method
        return (body + INIT_SUFFIX[method.init] + WEIGHTINGS[method.weighting].tag
                + "".join(f"{LOSSES[name].tag}{fmt(value)}" for name, value in self.extras))

    def with_variant(self, variant: str, coefficients: dict[str, float]) -> "Experiment":
        """This experiment in ``variant``, its extra losses weighted by ``coefficients`` (registry.coefficients);
        a rule that computes its own weights drops the configured ones (and alpha)."""
        method = VARIANTS[variant]
        extras = tuple((name, coefficients[name]) for name in method.losses)
        if method.uses_fixed or len(self.teachers) < 2:
            return replace(self, variant=variant, extras=extras)
        return replace(self, variant=variant, extras=extras, weights=(), alpha=None)

    @classmethod
    def parse(cls, spec: str) -> "Experiment":
        if not re.fullmatch(SPEC_PATTERN, spec):
            raise ConfigError(f"{spec!r} is not a student experiment name ({', '.join(STUDENT_KINDS)}: see gafkd.names)")
        if spec == BASELINE:
            return cls(BASELINE)
        extras = []
        while match := re.search(rf"({_LOSS_TAGS})({_NUMBER})$", spec):
            name = next(n for n, loss in LOSSES.items() if loss.tag == match.group(1))
            extras.insert(0, (name, float(match.group(2))))
            spec = spec[:match.start()]
        weighting = next((n for n, w in WEIGHTINGS.items() if w.tag and spec.endswith(w.tag)), None)
        if weighting is not None:
            spec = spec.removesuffix(WEIGHTINGS[weighting].tag)
        init = next((i for i, suffix in INIT_SUFFIX.items() if suffix and spec.endswith(suffix)), None)
        if init is not None:
            spec = spec.removesuffix(INIT_SUFFIX[init])
        method = find_variant(init or RANDOM, weighting or FIXED, tuple(n for n, _ in extras))
        if method is None:
            raise ConfigError(f"{spec!r}: no variant starts, weighs and adds losses as its name says "
                              f"(variants: {', '.join(VARIANTS)})")
        if spec == BASELINE:
            return cls(BASELINE, variant=method.name, extras=tuple(extras))
        kind, body = spec.split("_", 1)
        body, lam = body.rsplit("_lam", 1)
        lam = float(lam)
        variant = {"variant": method.name, "extras": tuple(extras)}
        if kind == KD1:
            return cls(KD1, (_teacher(body),), (1.0,), lam, **variant)
        if kind == KD2:
            pair, _, alpha = body.partition("_alpha")
            image, sig = pair.split("+")
            weights, alpha = ((float(alpha), 1 - float(alpha)), float(alpha)) if alpha else ((), None)
            return cls(KD2, (_teacher(image), _teacher(sig)), weights, lam, alpha, **variant)
        parts = [part.partition("@") for part in body.split("+")]
        weights = tuple(float(w) for _, _, w in parts) if all(w for _, _, w in parts) else ()
        return cls(kind, tuple(_teacher(t) for t, _, _ in parts), weights, lam, **variant)


def _teacher(path_form: str) -> str:
    return str(ModelId.parse(path_form))
