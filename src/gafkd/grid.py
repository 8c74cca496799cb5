"""The study's grid: which teachers and students a (schema-validated) config asks for.

A dataset variant may narrow or widen the grid for itself (``datasets.<name>.teachers`` /
``.students``, overlays of the global sections: PI teachers on one variant only, say);
:func:`for_dataset` gives the config as one variant sees it, and every per-dataset caller (packs,
tables, plots, checks) asks it. Names and their string forms live in :mod:`gafkd.names`.
"""

from __future__ import annotations

import copy

from .data.formats import documented_limits
from .folds import fold_of
from .images.registry import SIGNAL, representation
from .images.scaling import TRAINING
from .distillation.registry import ANNEALED, BASE, FIXED, VARIANTS, coefficients as loss_coefficients, find_variant
from .kinds import ALONE_KIND, KINDS, TEACHER, compatibility_students
from .names import Experiment


GRID_SECTIONS = ("teachers", "students", "report", "training")  # what a dataset variant may overlay (its protocol)
IMAGE_KEYS = ("limits",)  # a dataset's keys that shape its images, not its windows


def for_dataset(config: dict, dataset: str) -> dict:
    """``config`` with ``dataset``'s own teachers/students overlays merged into the global sections
    (mappings key by key, a list or value replaced whole)."""
    own = config.get("datasets", {}).get(dataset, {})
    if not any(section in own for section in GRID_SECTIONS):
        return config
    merged = dict(config)
    for section in GRID_SECTIONS:
        if section in own:
            merged[section] = _overlay(config[section], own[section])
    return merged


def _overlay(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        out[key] = _overlay(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def fixed_limits(config: dict, dataset: str) -> dict | None:
    """A fixed scaling's limits on ``dataset``: its own, else those its source format documents (PAMAP2's);
    None: the training windows' (images and signals alike)."""
    settings = config["datasets"][dataset]
    return settings.get("limits") or documented_limits(settings["source"])


def image_settings(config: dict, dataset: str, name: str) -> dict:
    """What makes ``dataset``'s images in representation ``name``: the ``images`` rule's params (a fixed scaling's
    limits: :func:`fixed_limits`)."""
    return representation(name).settings(config["images"], fixed_limits(config, dataset))


def dataset_training(config: dict, dataset: str) -> dict:
    """The training section ``dataset``'s runs use: the global one with the variant's protocol overlay, its
    ``signal_scaling: fixed`` resolved to the limits it scales by (so they are part of each run's identity)."""
    training = dict(for_dataset(config, dataset)["training"])
    if training.get("signal_scaling") == "fixed":
        training["signal_scaling"] = {"kind": "fixed", "limits": fixed_limits(config, dataset) or TRAINING}
    return training


def image_source(config: dict, dataset: str, name: str) -> str:
    """The dataset whose ``name`` images ``dataset`` trains on: its own, or for a fold (:mod:`gafkd.folds`) whose
    images do not depend on its split (no limits from its training windows), its dataset's, made once."""
    fold = fold_of(config["datasets"][dataset])
    if fold and image_settings(config, dataset, name).get("limits") != TRAINING:
        return fold["of"]
    return dataset


def image_representations(config: dict) -> list[str]:
    """The image representations some dataset's teachers use, in config order (each is made per dataset)."""
    names = []
    for dataset in config["datasets"]:
        names += [m for m in for_dataset(config, dataset)["teachers"]["modalities"] if m != SIGNAL and m not in names]
    return names


def teacher_runs(config: dict) -> list[tuple[str, str, int]]:
    """(modality, arch, seed) of every teacher."""
    t = config["teachers"]
    return [(m, a, s) for m in t["modalities"] for a in t["archs"] for s in t["seeds"]]


def experiments(config: dict) -> list[Experiment]:
    """Every student experiment of the grid, in the notes' order (each kind of :data:`gafkd.kinds.KINDS` expands
    its block of ``students``); the KD kinds of ``students.variant_kinds`` in each of ``students.variants``
    (:data:`gafkd.distillation.registry.VARIANTS`)."""
    s = config["students"]
    grid = [Experiment(name, **fields) for name, kind in KINDS.items() for fields in kind.expand(s)]
    coefficients = loss_coefficients(s)
    # dict: a rule that computes its own weights makes the configured alternatives (α, triples) one experiment
    grid = list(dict.fromkeys(e.with_variant(name, coefficients) for e in grid for name in variants_of(config, e.kind)))
    matched = compute_matched(config)
    return grid + ([Experiment(ALONE_KIND).with_variant(matched, coefficients)] if matched else [])


def compute_matched(config: dict) -> str | None:
    """The variant of the compute-matched student alone (``students.compute_matched``): the annealed start
    with no teacher and no extra loss, when some configured variant is annealed; else None."""
    s = config["students"]
    if not (s["compute_matched"] and any(VARIANTS[v].annealed for v in s["variants"])):
        return None
    return find_variant(ANNEALED, FIXED, ()).name


def variants_of(config: dict, kind: str) -> list[str]:
    """The variants an experiment of ``kind`` runs in: ``students.variants`` for ``students.variant_kinds``,
    base for the others (and the student alone, which has no teacher to vary)."""
    s = config["students"]
    return list(s["variants"]) if kind in s["variant_kinds"] else [BASE]


def annealing_source(config: dict) -> str:
    """The run an annealed student starts from: the student alone (cross-entropy only) of
    the student's architecture and seed — the signal teacher run when it is that run
    (:func:`baseline_is_teacher`), else the baseline student."""
    return TEACHER if baseline_is_teacher(config) else ALONE_KIND


def student_model(config: dict) -> str:
    """The student's model id: a 1-D network on raw signals (``sig:wrn16-1``)."""
    return f"{SIGNAL}:{config['students']['arch']}"


def teacher_seed(config: dict, student_seed: int) -> int:
    fixed = config["students"]["teacher_seed"]
    return student_seed if fixed == "same" else int(fixed)


def baseline_is_teacher(config: dict) -> bool:
    """Whether the student alone is already a teacher run: the signal teacher of the student's arch.

    Same model, data, loss (cross-entropy), training settings and seeds: the same numbers. It is
    then trained once, as that teacher, and reported in both places (runs.csv aliases it).
    """
    s, t = config["students"], config["teachers"]
    return (bool(KINDS[ALONE_KIND].expand(s)) and SIGNAL in t["modalities"] and s["arch"] in t["archs"]
            and set(s["seeds"]) <= set(t["seeds"]))


def compatibility_view(config: dict, arch: str) -> dict:
    """``config`` as the compatibility table's student ``arch`` sees it (``students.compatibility``): the student
    alone and one-teacher KD at the table's λ from the image teacher of every ``teachers.archs``, nothing else."""
    s, table = config["students"], config["students"]["compatibility"]
    students = compatibility_students(s, table["representation"], config["teachers"]["archs"], table["lam"])
    return {**config, "students": {**students, "arch": arch, "variants": [BASE], "compute_matched": False}}


def student_views(config: dict) -> list[dict]:
    """The config as each student architecture sees it: ``students.arch`` first (its grid, and the compatibility
    table's runs it lacks), then each other architecture of the compatibility table."""
    table = config["students"]["compatibility"]["archs"]
    main = config["students"]["arch"]
    return [config, *(compatibility_view(config, arch) for arch in table if arch != main)]


def student_runs(view: dict) -> list[Experiment]:
    """The experiments one student architecture trains (a view of :func:`student_views`): its grid, and the
    compatibility table's runs when it is one of the table's students."""
    s = view["students"]
    runs = trained_experiments(view)
    if s["arch"] in s["compatibility"]["archs"]:
        runs += trained_experiments(compatibility_view(view, s["arch"]))
    return list(dict.fromkeys(runs))


def trained_experiments(config: dict) -> list[Experiment]:
    """The student experiments that train as students: the grid less a baseline that is a teacher run."""
    skip_baseline = baseline_is_teacher(config)
    return [e for e in experiments(config) if not (skip_baseline and e.kind == ALONE_KIND and e.variant == BASE)]
