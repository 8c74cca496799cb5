"""The student experiment kinds, one entry each (:data:`KINDS`, in the notes' order).

A kind says everything the pipeline asks of it: how its experiments expand from its block of the config's
``students`` section (the schema holds the block: its keys, types and defaults), its name grammar (the part of
an experiment's name after the kind, :class:`Grammar`), the checks a schema cannot make, whether an experiment
of it is a row of the main tables, the sweep its tables and figure show (:class:`Sweep`), whether its runs record
their teacher weights, and its title in the figures. Names, the grid, the config checks, the tables, the figures
and the packs loop over this registry: a new kind is an entry here and its schema block (docs/distillation.md,
"Adding an experiment kind").

Run kinds (runs.csv's ``kind``) are :data:`TEACHER` and these. Torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import ConfigError
from .images.registry import SIGNAL, representation

TEACHER = "teacher"  # the run kind of a teacher (not a student experiment)


def close(a, b) -> bool:
    """Configured numbers compared as the main tables pick their rows (numpy.isclose's tolerances)."""
    return abs(float(a) - float(b)) <= 1e-8 + 1e-5 * abs(float(b))


@dataclass(frozen=True)
class Grammar:
    """The part of an experiment's name after ``<kind>_``, as a regular expression over ``{model}`` (a model in
    its path form, ``gaf-wrn16-3``) and ``{number}``; ``format`` (experiment, the teachers' path forms, fmt) →
    that part; ``parse`` (that part) → the experiment's fields (teachers in path form)."""

    pattern: str
    format: Callable
    parse: Callable


def _lam(body: str) -> tuple[str, float]:
    body, lam = body.rsplit("_lam", 1)
    return body, float(lam)


def _one_format(e, names, fmt):
    return f"{names[0]}_lam{fmt(e.lam)}"


def _one_parse(body):
    body, lam = _lam(body)
    return {"teachers": (body,), "weights": (1.0,), "lam": lam}


def _pair_format(e, names, fmt):
    alpha = f"_alpha{fmt(e.alpha)}" if e.alpha is not None else ""
    return f"{names[0]}+{names[1]}{alpha}_lam{fmt(e.lam)}"


def _pair_parse(body):
    body, lam = _lam(body)
    pair, _, alpha = body.partition("_alpha")
    weights, alpha = ((float(alpha), 1 - float(alpha)), float(alpha)) if alpha else ((), None)
    return {"teachers": tuple(pair.split("+")), "weights": weights, "lam": lam, "alpha": alpha}


def _weighted_format(e, names, fmt):
    parts = "+".join(f"{n}@{fmt(w)}" for n, w in zip(names, e.weights)) if e.weights else "+".join(names)
    return f"{parts}_lam{fmt(e.lam)}"


def _weighted_parse(body):
    body, lam = _lam(body)
    parts = [part.partition("@") for part in body.split("+")]
    weights = tuple(float(w) for _, _, w in parts) if all(w for _, _, w in parts) else ()
    return {"teachers": tuple(t for t, _, _ in parts), "weights": weights, "lam": lam}


ALONE = Grammar("", lambda e, names, fmt: "", lambda body: {})
ONE = Grammar("{model}_lam{number}", _one_format, _one_parse)
PAIR = Grammar(r"{model}\+{model}(?:_alpha{number})?_lam{number}", _pair_format, _pair_parse)
WEIGHTED = Grammar(r"{model}(?:@{number})?(?:\+{model}(?:@{number})?)*_lam{number}", _weighted_format,
                   _weighted_parse)


@dataclass(frozen=True)
class Sweep:
    """The parameter a kind's sweep varies, and where the report shows it: ``values``, the ``students.<kind>``
    key of the swept values; ``report``, the ``report`` key that picks the main tables' value; ``plot``, the
    figure (an output of the plots rule); ``section``, its heading in tables.md; ``table``, its table's first
    header and ``figure``, the figure's title (templates over the kind's block, the report section's ``suffix``
    and the folds' ``pooled`` note); ``with_student``: the table's rows name the student too."""

    parameter: str  # the Experiment field: lam, alpha, weights
    values: str
    report: str
    plot: str
    section: str = ""
    table: str = ""
    figure: str = ""
    with_student: bool = False


@dataclass(frozen=True)
class Kind:
    name: str
    title: str  # a figure panel's and the report's: "one teacher"
    grammar: Grammar
    expand: Callable  # the students section → each experiment's fields (teachers as modality:arch)
    # (students, require(teacher, key): refuses an untrained teacher, key) → raises ConfigError naming the key
    check: Callable = lambda students, require, key: None
    # (experiment, the main tables' value of the sweep's parameter) → a row of the main tables
    in_main: Callable = lambda e, chosen: True
    sweep: Sweep | None = None
    weighted: bool = False  # its runs record their teacher weights (runs.csv's weights; the tables' labels)
    # (its block, the main tables' value) → the report's protocol line for it; None: no line (or nothing configured)
    note: Callable = lambda block, chosen: None
    off: Callable = lambda block: block  # its block with nothing to run (the compatibility table's view)

    @property
    def alone(self) -> bool:
        """The student alone: no teacher."""
        return self.grammar is ALONE

    @property
    def swept(self) -> str | None:
        """The parameter its sweep varies (None: no sweep)."""
        return self.sweep.parameter if self.sweep else None


def check_weights(weights, teachers: int, key: str) -> None:
    if len(weights) != teachers:
        raise ConfigError(f"{key}: {len(weights)} weights for {teachers} teachers")
    if abs(sum(weights) - 1) > 1e-6:
        raise ConfigError(f"{key}: must sum to 1, got {sum(weights):g}")


def _check_representations(block: dict, key: str) -> None:
    for i, name in enumerate(block["representations"]):
        representation(name, f"{key}.representations[{i}]")


def _kd1_check(students, require, key):
    kd1 = students["kd1"]
    _check_representations(kd1, f"{key}.kd1")
    for image in kd1["representations"]:
        for arch in kd1["teacher_archs"]:
            require(f"{image}:{arch}", f"{key}.kd1.teacher_archs")


def _kd2_check(students, require, key):
    kd2 = students["kd2"]
    _check_representations(kd2, f"{key}.kd2")
    for image in kd2["representations"]:
        for image_arch, sig_arch in kd2["pairs"]:
            require(f"{image}:{image_arch}", f"{key}.kd2.pairs")
            require(f"{SIGNAL}:{sig_arch}", f"{key}.kd2.pairs")


def weights_check(name: str) -> Callable:
    """The check of a block of teachers of one architecture with weight tuples (``kd3``'s): each tuple has a
    weight per teacher and sums to 1, every teacher of every architecture is trained."""
    def check(students, require, key):
        block = students[name]
        for i, weights in enumerate(block["weights"]):
            check_weights(weights, len(block["teachers"]), f"{key}.{name}.weights[{i}]")
        for arch in block["archs"]:
            for modality in block["teachers"]:
                require(f"{modality}:{arch}", f"{key}.{name}.archs")
    return check


def weights_expand(name: str) -> Callable:
    """The experiments of such a block: its teacher set of each architecture with each weight tuple."""
    return lambda s: [{"teachers": tuple(f"{m}:{a}" for m in s[name]["teachers"]), "weights": tuple(w),
                       "lam": s[name]["lam"]} for a in s[name]["archs"] for w in s[name]["weights"]]


def _kdn_check(students, require, key):
    for i, spec in enumerate(students["kdn"]):
        where = f"{key}.kdn[{i}]"
        check_weights(spec["weights"], len(spec["teachers"]), f"{where}.weights")
        for teacher in spec["teachers"]:
            require(teacher, f"{where}.teachers")


KINDS = {k.name: k for k in (
    # the student trained with cross-entropy alone (students.baseline)
    Kind("baseline", "the student alone", ALONE, lambda s: [{}] if s["baseline"] else []),
    # one image teacher (kd1_gaf-wrn16-3_lam0.7), a λ sweep
    Kind("kd1", "one teacher", ONE,
         lambda s: [{"teachers": (f"{image}:{a}",), "weights": (1.0,), "lam": lam}
                    for image in s["kd1"]["representations"] for a in s["kd1"]["teacher_archs"] for lam in s["kd1"]["lams"]],
         _kd1_check, lambda e, chosen: close(e.lam, chosen),
         Sweep("lam", "lams", "lam", "lambda_sweep", "Lambda sweep (one-teacher KD, mean ± std)",
               "One-teacher KD ({suffix})", "one-teacher KD, λ sweep{pooled}", with_student=True),
         note=lambda block, chosen: f"one teacher λ = {chosen:g}" if block["teacher_archs"] else None,
         off=lambda block: {**block, "teacher_archs": []}),
    # an image and a signal teacher, α the image's share (kd2_gaf-wrn16-3+sig-wrn16-3_alpha0.3_lam0.7), an α sweep
    Kind("kd2", "two teachers", PAIR,
         lambda s: [{"teachers": (f"{image}:{g}", f"{SIGNAL}:{v}"), "weights": (alpha, 1 - alpha),
                     "lam": s["kd2"]["lam"], "alpha": alpha}
                    for image in s["kd2"]["representations"] for g, v in s["kd2"]["pairs"] for alpha in s["kd2"]["alphas"]],
         _kd2_check, lambda e, chosen: e.alpha is None or close(e.alpha, chosen),
         Sweep("alpha", "alphas", "alpha", "alpha_sweep", "Alpha sweep (two-teacher KD, mean ± std)",
               "Teachers (lam = {lam:g}, {suffix})", "two-teacher KD, α sweep (λ = {lam:g}{pooled})"),
         note=lambda block, chosen: (f"two teachers α = {chosen:g} (the image teacher's share), λ = {block['lam']:g}"
                                     if block["pairs"] else None),
         off=lambda block: {**block, "pairs": []}),
    # three teachers of one architecture with weight triples (students.kd3, the group's later study)
    Kind("kd3", "three teachers", WEIGHTED, weights_expand("kd3"), weights_check("kd3"),
         lambda e, chosen: not e.weights or (len(e.weights) == len(chosen)
                                             and all(close(a, b) for a, b in zip(e.weights, chosen))),
         Sweep("weights", "weights", "kd3_weights", "kd3_weights",
               figure="three-teacher KD ({teachers}), λ = {lam:g}{pooled}"), weighted=True,
         note=lambda block, chosen: (f"three teachers {weights_text(chosen)}, "
                                     f"λ = {block['lam']:g}" if block["archs"] else None),
         off=lambda block: {**block, "archs": []}),
    # K teachers with weights (students.kdn)
    Kind("kdn", "K teachers", WEIGHTED,
         lambda s: [{"teachers": tuple(k["teachers"]), "weights": tuple(k["weights"]), "lam": k["lam"]}
                    for k in s["kdn"]], _kdn_check, weighted=True, off=lambda block: []),
)}
ALONE_KIND = next(name for name, kind in KINDS.items() if kind.alone)  # the student alone's kind


def is_alone(kind: str) -> bool:
    """Whether runs of ``kind`` (a run kind: :data:`TEACHER` too) are the student alone."""
    return kind in KINDS and KINDS[kind].alone


# The kind of the compatibility table's runs (students.compatibility): one image teacher at the table's λ
COMPATIBILITY_KIND = "kd1"


def compatibility_students(students: dict, representation_name: str, teacher_archs: list, lam: float) -> dict:
    """The students section of the compatibility table's view: the student alone and one-teacher KD at ``lam`` from
    the ``representation_name`` teacher of each of ``teacher_archs``, every other kind off."""
    own = {"representations": [representation_name], "teacher_archs": list(teacher_archs), "lams": [lam]}
    return {**students, **{name: kind.off(students[name]) for name, kind in KINDS.items() if not kind.alone},
            COMPATIBILITY_KIND: {**students[COMPATIBILITY_KIND], **own}}


def weights_text(weights) -> str:
    """A weight tuple as runs.csv and the tables write it: ``0.2/0.3/0.5``."""
    return "/".join(format(float(w), "g") for w in weights)
