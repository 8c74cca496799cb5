"""Distillation methods by name — losses, teacher-weighting rules and the variants built of them — without
importing torch (the Snakefile, the grid and the config checks read this).

- A **loss** is one term of a student's loss, computed for every member of a pack at once by the class
  its ``term`` names (imported only when a pack trains). It says what it needs from the student and its
  teachers (``logits``, the three ``stages``' outputs, the pooled ``embedding``), the config key of its
  coefficient (``students.<key>``), and the tag that writes that coefficient into an experiment's name.
  ``kd`` (Hinton KD, weighted by ``lam``) is every KD student's; the others are a variant's extras.
- A **weighting rule** gives each teacher's weight in the ``kd`` term (and the teacher weights the extras
  use): ``fixed`` is the configured α or weight triple; ``camkd`` and ``ebkd`` compute them per sample
  from the teachers' logits (the configured weights are then not used, and experiment names drop them).
- A **variant** is a name for a start (``random`` or ``annealed``: from the student alone), a weighting
  rule and extra losses. Grid, config checks, packing, names, tables and plots read :data:`VARIANTS`;
  the schema's enum of ``students.variants`` is kept equal to it by a test.

Adding a loss or a rule is its module, its entry here and, if it has a parameter, its schema key
(docs/distillation.md walks through the projector loss and CAMKD as examples).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

LOGITS, STAGES, EMBEDDING = "logits", "stages", "embedding"  # what a loss may ask of student and teachers
RANDOM, ANNEALED = "random", "annealed"  # how a student starts
INIT_SUFFIX = {RANDOM: "", ANNEALED: "_ann"}  # in experiment names


@dataclass(frozen=True)
class Loss:
    name: str
    label: str
    needs: frozenset[str]
    term: str  # "module:Class" of the pack-wide term (gafkd.distillation.terms.Term)
    paper: str
    coefficient: str | None = None  # students.<key>: the term's weight; None: weighted by lam (kd)
    tag: str = ""  # experiment-name tag before the coefficient: "_sp700"

    @property
    def live(self) -> bool:
        """Needs the teachers run on the device every step (stage outputs and embeddings are not cached)."""
        return bool(self.needs - {LOGITS})

    def load(self):
        return _load(self.term)


@dataclass(frozen=True)
class Weighting:
    name: str
    label: str
    rule: str  # "module:function(teacher_logits [M, T, B, K], labels [M, B], fixed [M, T], present [M, T]) → [M, T, B]"
    paper: str
    uses_fixed: bool  # whether the configured weights (α, triples) matter; names drop them otherwise
    tag: str = ""  # in experiment names: "_camkd"

    def load(self):
        return _load(self.rule)


FIXED = "fixed"  # the protocol's rule: the configured weights


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # in tables' headings and row labels
    init: str = RANDOM
    weighting: str = FIXED
    losses: tuple[str, ...] = ()  # extra loss entries beside kd
    colour: str | None = None  # in plots; None: the next free colour

    @property
    def annealed(self) -> bool:
        return self.init == ANNEALED

    @property
    def uses_fixed(self) -> bool:
        """Whether its students use the configured weights (α, triples); a rule of its own drops them."""
        return WEIGHTINGS[self.weighting].uses_fixed


def _load(spec: str):
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


KD = "kd"
LOSSES = {
    KD: Loss(KD, "KD", frozenset({LOGITS}), "gafkd.distillation.kd:KDTerm",
             "Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural Network (2015)"),
    "sp": Loss("sp", "SPKD", frozenset({STAGES}), "gafkd.distillation.sp:SPTerm",
               "Tung & Mori, Similarity-Preserving Knowledge Distillation (ICCV 2019)", "sp_beta", "_sp"),
    "projector": Loss("projector", "projector", frozenset({EMBEDDING}), "gafkd.distillation.projector:ProjectorTerm",
                      "Miles & Mikolajczyk, Understanding the Role of the Projector in Knowledge Distillation "
                      "(AAAI 2024)", "projector_weight", "_proj"),
}

WEIGHTINGS = {
    FIXED: Weighting(FIXED, "fixed weights", "gafkd.distillation.fixed:fixed_weights",
                       "the protocol: α, or a weight per teacher", True),
    "camkd": Weighting("camkd", "CAMKD", "gafkd.distillation.camkd:camkd_weights",
                       "Zhang, Chen & Wang, Confidence-Aware Multi-Teacher Knowledge Distillation (ICASSP 2022)", False,
                       "_camkd"),
    "ebkd": Weighting("ebkd", "EBKD", "gafkd.distillation.ebkd:ebkd_weights",
                      "Kwon, Na, Kim & Kim, Adaptive Knowledge Distillation Based on Entropy (ICASSP 2020)", False,
                      "_ebkd"),
}

BASE = "base"
VARIANTS = {v.name: v for v in (
    Variant(BASE, "base", colour="tab:gray"),
    Variant("ann", "ann", init=ANNEALED, colour="tab:blue"),
    Variant("ann+sp", "ann+sp", init=ANNEALED, losses=("sp",), colour="tab:green"),
    Variant("camkd", "CAMKD", weighting="camkd"),
    Variant("ebkd", "EBKD", weighting="ebkd"),
    Variant("proj", "projector", losses=("projector",)),
)}


def find_variant(init: str, weighting: str, losses: tuple[str, ...]) -> Variant | None:
    """The variant made of these parts (experiment names are parsed back into one), or None."""
    for v in VARIANTS.values():
        if (v.init, v.weighting, tuple(sorted(v.losses))) == (init, weighting, tuple(sorted(losses))):
            return v
    return None


def live(variant_name: str) -> bool:
    """Whether a KD student of this variant needs its teachers run live (a loss needs what no cache holds)."""
    return any(LOSSES[name].live for name in (KD, *VARIANTS[variant_name].losses))


def coefficients(students: dict) -> dict[str, float]:
    """Each extra loss's coefficient from the config's ``students`` section."""
    return {name: float(loss.coefficient and students[loss.coefficient]) for name, loss in LOSSES.items()
            if loss.coefficient}
