"""Distillation methods by name — losses, teacher-weighting rules and the variants built of them — without
importing torch (the Snakefile, the grid and the config checks read this).

- A **loss** is one term of a student's loss, computed for every member of a pack at once by the class
  its ``term`` names (imported only when a pack trains). It says what it needs from the student and its
  teachers (``logits``, the three ``stages``' outputs, the pooled ``embedding``), the config key of its
  coefficient (``students.<key>``), and the tag that writes that coefficient into an experiment's name.
  A loss with a ``form`` is a **KD form**, the λ-weighted logit term of every KD student of a dataset
  (``students.kd_loss``: ``hinton``, the ``kd`` entry, or ``lab``, the lab's logit-standardised
  ``lab_kd``); the others are a variant's extras.
- A **weighting rule** gives each teacher's weight in the ``kd`` term (and the teacher weights the extras
  use): ``fixed`` is the configured α or weight triple; ``camkd`` and ``ebkd`` compute them per sample
  from the teachers' logits (the configured weights are then not used, and experiment names drop them).
- A **variant** is a name for a start (``random`` or ``annealed``: from the student alone), a weighting
  rule and extra losses. Grid, config checks, packing, names, tables and plots read :data:`VARIANTS`;
  the schema's enum of ``students.variants`` is kept equal to it by a test. A baseline from another
  paper carries its **authors' recipe** (:class:`Recipe`: how its repository weighs CE and KD, its
  temperature and its extras' coefficients), used unless ``students.recipes.<variant>: shared`` puts it
  on the study's footing (the configured λ, τ and coefficients); docs/fidelity.md lists each.

Adding a loss or a rule is its module, its entry here and, if it has a parameter, its schema key
(docs/distillation.md walks through the projector loss and CAMKD as examples).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

# what a loss may ask of student and teachers: logits, the last three stages' outputs, the pooled embedding,
# and the final map it pools (with, for teachers, their classifier)
LOGITS, STAGES, EMBEDDING, MAP = "logits", "stages", "embedding", "map"
FEATURES = frozenset({STAGES, EMBEDDING, MAP})  # what a model returns only when asked for its features
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
    form: str | None = None  # a KD form's name in students.kd_loss (hinton, lab); None: an extra loss

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
class Recipe:
    """A baseline's loss as its authors' code weighs it: what replaces the study's ``(1 − λ)·CE + λ·KD`` at τ.

    ``ce_weight``/``kd_weight`` replace 1 − λ and λ; ``kd_scale(K)`` multiplies the KD weight (the
    repositories' constants: CA-MKD divides the weighted KD sum by the teacher count K); ``temperature``
    replaces τ; ``extras`` are loss entries the authors' form adds (CA-MKD's feature term) and
    ``coefficients`` the extras' weights (replacing ``students.<key>``). ``source`` says where the code sets them.
    """

    label: str  # appended to the variant's label in tables: which form ran
    source: str
    kd_scale: Callable[[int], float] | None = None
    ce_weight: float | None = None
    kd_weight: float | None = None
    temperature: float | None = None
    extras: tuple[str, ...] = ()
    coefficients: dict = field(default_factory=dict)


AUTHORS, SHARED = "authors", "shared"  # students.recipes.<variant>: the authors' recipe, or the study's footing


@dataclass(frozen=True)
class Variant:
    name: str
    label: str  # in tables' headings and row labels
    init: str = RANDOM
    weighting: str = FIXED
    losses: tuple[str, ...] = ()  # extra loss entries beside kd
    colour: str | None = None  # in plots; None: the next free colour
    authors: Recipe | None = None  # a baseline's own recipe (students.recipes); None: the study's

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
             "Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural Network (2015)", form="hinton"),
    "lab_kd": Loss("lab_kd", "KD (logit-standardised, the lab's)", frozenset({LOGITS}),
                   "gafkd.distillation.lab_kd:LabKDTerm",
                   "the lab's train_ad.py (jeunsom/TDA_KD); the method of Sun, Ren, Li, Wang & Cao, Logit "
                   "Standardization in Knowledge Distillation (CVPR 2024)", form="lab"),
    "sp": Loss("sp", "SPKD", frozenset({STAGES}), "gafkd.distillation.sp:SPTerm",
               "Tung & Mori, Similarity-Preserving Knowledge Distillation (ICCV 2019)", "sp_beta", "_sp"),
    "projector": Loss("projector", "projector", frozenset({EMBEDDING}), "gafkd.distillation.projector:ProjectorTerm",
                      "Miles & Mikolajczyk, Understanding the Role of the Projector in Knowledge Distillation "
                      "(AAAI 2024)", "projector_weight", "_proj"),
    # CA-MKD's feature half: only in the camkd variant's authors' recipe (its weight is the recipe's)
    "camkd_features": Loss("camkd_features", "CA-MKD features", frozenset({MAP}),
                           "gafkd.distillation.camkd_features:CAMKDFeatureTerm",
                           "Zhang, Chen & Wang, Confidence-Aware Multi-Teacher Knowledge Distillation (ICASSP 2022)"),
}

WEIGHTINGS = {
    FIXED: Weighting(FIXED, "fixed weights", "gafkd.distillation.fixed:fixed_weights",
                       "the protocol: α, or a weight per teacher", True),
    "camkd": Weighting("camkd", "CAMKD", "gafkd.distillation.camkd:camkd_weights",
                       "Zhang, Chen & Wang, Confidence-Aware Multi-Teacher Knowledge Distillation (ICASSP 2022)", False,
                       "_camkd"),
    "ebkd": Weighting("ebkd", "EBKD", "gafkd.distillation.ebkd:ebkd_weights",
                      "Kwon, Na, Lee & Kim, Adaptive Knowledge Distillation Based on Entropy (ICASSP 2020)", False,
                      "_ebkd"),
}
KD_FORMS = {loss.form: name for name, loss in LOSSES.items() if loss.form}  # students.kd_loss → entry
EXTRAS = tuple(name for name, loss in LOSSES.items() if not loss.form)  # a variant's extra losses

BASE = "base"
VARIANTS = {v.name: v for v in (
    Variant(BASE, "base", colour="tab:gray"),
    Variant("ann", "ann", init=ANNEALED, colour="tab:blue"),
    Variant("ann+sp", "ann+sp", init=ANNEALED, losses=("sp",), colour="tab:green"),
    # CA-MKD's scripts/run.sh: -r 1 -a 1 -b 50 (CE 1, KD 1, features 50), kd_T 4 (train_student.py's default)
    Variant("camkd", "CAMKD", weighting="camkd", authors=Recipe(
        "CE 1 : KD 1/K + 50 · features, T = 4",
        "Rorozhl/CA-MKD: helper/loops.py train_distill_multi_teacher (CAMKD: Σ a·KD ÷ bsz·K; the feature term from "
        "epoch 2), distiller_zoo/CAMKD.py, models/util.py CalWeight/Embed, scripts/run.sh",
        kd_scale=lambda k: 1.0 / k, ce_weight=1.0, kd_weight=1.0, temperature=4.0, extras=("camkd_features",),
        coefficients={"camkd_features": 50.0})),
    Variant("ebkd", "EBKD", weighting="ebkd", authors=Recipe(
        "CE 1 : KD (K − 1)/K, T = 4",
        "Rorozhl/CA-MKD: helper/loops.py train_distill_multi_teacher (EBKD: Σ (1 − H_k/ΣH)·KD ÷ bsz·K), scripts/run.sh",
        kd_scale=lambda k: (k - 1.0) / k if k > 1 else 1.0, ce_weight=1.0, kd_weight=1.0, temperature=4.0)),
    Variant("proj", "projector", losses=("projector",), authors=Recipe(
        "CE 1 : LogSum 2 : KD 1, T = 1", "Miles & Mikolajczyk's recipe (roymiles/Simple-Recipe-Distillation)",
        ce_weight=1.0, kd_weight=1.0, temperature=1.0, coefficients={"projector": 2.0})),
)}


def find_variant(init: str, weighting: str, losses: tuple[str, ...]) -> Variant | None:
    """The variant made of these parts (experiment names are parsed back into one), or None."""
    for v in VARIANTS.values():
        if (v.init, v.weighting, tuple(sorted(v.losses))) == (init, weighting, tuple(sorted(losses))):
            return v
    return None


def live(variant_name: str, students: dict | None = None) -> bool:
    """Whether a KD student of this variant (``students``: the config section that picks its recipe) needs its
    teachers run live (a loss needs what no cache holds)."""
    return any(LOSSES[name].live for name in (KD, *extra_losses(variant_name, students or {})))


def extra_losses(variant_name: str, students: dict) -> tuple[str, ...]:
    """The loss entries a variant's students add to their KD form: its own and its authors' recipe's."""
    recipe = recipe_of(students, variant_name)
    return VARIANTS[variant_name].losses + (recipe.extras if recipe else ())


def recipe_of(students: dict, variant_name: str) -> Recipe | None:
    """The authors' recipe a variant's students follow (``students.recipes``), or None: the study's footing."""
    variant = VARIANTS[variant_name]
    if variant.authors is None or students.get("recipes", {}).get(variant_name, AUTHORS) != AUTHORS:
        return None
    return variant.authors


def coefficients(students: dict) -> dict[str, float]:
    """Each extra loss's coefficient from the config's ``students`` section."""
    return {name: float(loss.coefficient and students[loss.coefficient]) for name, loss in LOSSES.items()
            if loss.coefficient}


def variant_label(students: dict, variant_name: str) -> str:
    """A variant's label in tables, saying which form of a baseline ran: ``CAMKD (authors')`` (the recipe itself:
    :func:`recipe_text`, in the protocol line) or ``CAMKD (shared λ, τ)``; a variant of the study's own as it is."""
    variant = VARIANTS[variant_name]
    if variant.authors is None:
        return variant.label
    form = "authors'" if recipe_of(students, variant_name) else "shared λ, τ"
    return f"{variant.label} ({form})"


def recipe_text(students: dict, variant_name: str) -> str | None:
    """``CAMKD by its authors: CE 1 : KD 1/K + 50 · features, T = 4``; None where the variant has no such recipe
    or ``students.recipes`` puts it on the shared footing."""
    recipe = recipe_of(students, variant_name)
    return f"{VARIANTS[variant_name].label} by its authors: {recipe.label}" if recipe else None
