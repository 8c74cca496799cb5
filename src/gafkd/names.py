"""The study's names, in one place: models, teachers, experiment kinds and their string forms.

- A model is ``{modality}:{arch}`` (``gaf:wrn16-3``; in paths ``gaf-wrn16-3``): :class:`ModelId`.
  Modalities: the image representations of :mod:`gafkd.images.registry` (2-D: ``gaf``, ``gadf``, ``mtf``,
  ``compound``, ``pi``) and ``sig`` (1-D, raw signals); architectures: :mod:`gafkd.models.families`.
- Run kinds (runs.csv's ``kind``): ``teacher``, and the student experiment kinds of :mod:`gafkd.kinds`.
- A student experiment is one path-safe spec string (:class:`Experiment`): its kind, then the kind's grammar
  (:class:`gafkd.kinds.Grammar`), then its variant:

  - ``baseline`` — the student alone, cross-entropy only;
  - ``kd1_gaf-wrn16-3_lam0.7`` — one image teacher (``kd1_pi-wrn16-3_lam0.7``: a PI teacher);
  - ``kd2_gaf-wrn16-3+sig-wrn16-3_alpha0.3_lam0.7`` — image + signal teacher, alpha = the image's share;
  - ``kd3_gaf-wrn16-1@0.2+pi-wrn16-1@0.3+sig-wrn16-1@0.5_lam0.7`` — three teachers of one architecture;
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
from .kinds import KINDS
from .models.families import ARCH_PATTERN, MODALITY_DIMS, family_of

MODALITIES = tuple(MODALITY_DIMS)

# A run's status (metrics.json, runs.csv): finished, or its loss turned non-finite (a result too)
OK, DIVERGED = "ok", "diverged"
STUDENT_KINDS = tuple(KINDS)

_MODEL_PATH = rf"(?:{'|'.join(MODALITIES)})-(?:{ARCH_PATTERN})"
_NUMBER = r"\d+(?:\.\d+)?"
_INITS = "|".join(suffix for suffix in INIT_SUFFIX.values() if suffix)
_RULES = "|".join(w.tag for w in WEIGHTINGS.values() if w.tag)
_LOSS_TAGS = "|".join(loss.tag for loss in LOSSES.values() if loss.tag)
# a variant's parts, in this order: how the student starts, the weighting rule, extra losses with coefficients
_VARIANT = rf"(?:{_INITS})?(?:{_RULES})?(?:(?:{_LOSS_TAGS}){_NUMBER})*"
# each kind's name: the kind alone, or the kind, "_" and its grammar (gafkd.kinds)
_BODIES = {name: kind.grammar.pattern.format(model=_MODEL_PATH, number=_NUMBER) for name, kind in KINDS.items()}
SPEC_PATTERN = (rf"(?:{'|'.join(rf'{name}_{body}' if body else name for name, body in _BODIES.items())})"
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

    kind: str  # one of gafkd.kinds.KINDS
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
        body = KINDS[self.kind].grammar.format(self, names, fmt)
        method = self.method
        return (f"{self.kind}_{body}" if body else self.kind) + (
            INIT_SUFFIX[method.init] + WEIGHTINGS[method.weighting].tag
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
        kind, _, body = spec.partition("_")
        fields = KINDS[kind].grammar.parse(body) if body else {}
        fields["teachers"] = tuple(_teacher(t) for t in fields.get("teachers", ()))
        return cls(kind, variant=method.name, extras=tuple(extras), **fields)


def _teacher(path_form: str) -> str:
    return str(ModelId.parse(path_form))
