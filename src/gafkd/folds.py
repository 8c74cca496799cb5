"""Folds as dataset variants: ``split: {method: loso}`` (one fold per held-out subject) or ``kfold`` (k folds of
subjects), for PAMAP2's leave-one-subject-out protocol.

A dataset with a fold split becomes one dataset variant per fold, ``<name>_fold<id>`` (``pamap2_fold101``):
each has its own windows.h5 (the same windows, its own split: the held-out subjects test, the rest train,
an optional validation share carved from them), teachers, logits and students, so the DAG is the one every
other dataset has. The source is read once, into ``<name>/windows.h5`` (every window ``unused``); a fold's
windows.h5 links its signals there. Images whose settings do not depend on the split (every representation
but a fixed scaling without limits) are made once, from ``<name>``'s windows; the others per fold, from its
own training subjects. The report gathers a dataset's folds back into one section: mean and population std
over folds × trials, and a table per fold beside it.

The folds are known when the DAG is built: from ``split.subjects``, else the source's subjects
(:func:`gafkd.data.formats.source_subjects`: the files, the generator's names, or PAMAP2's documented nine).
"""

from __future__ import annotations

import copy
import re

import numpy as np

from .data.formats import source_subjects
from .errors import ConfigError

FOLD_METHODS = ("loso", "kfold")
FOLD_MARK = "_fold"  # pamap2_fold101: fold 101 of pamap2
SAFE_ID = re.compile(r"^[A-Za-z0-9.-]+$")  # a fold's id is part of paths and wildcards


def has_folds(settings: dict) -> bool:
    return settings["split"].get("method") in FOLD_METHODS


def fold_plan(name: str, settings: dict) -> dict[str, list[str]]:
    """Fold id → its held-out subjects, in order."""
    split, key = settings["split"], f"datasets.{name}.split"
    subjects = split.get("subjects") or source_subjects(settings["source"], settings["source"].get("path", ""))
    if not subjects:
        raise ConfigError(f"{key}: {split['method']} makes folds of subjects, and the subjects are not known yet: "
                          f"put the data at datasets.{name}.source.path or list them in {key}.subjects")
    subjects = [str(s) for s in subjects]
    unsafe = [s for s in subjects if not SAFE_ID.match(s)]
    if unsafe:
        raise ConfigError(f"{key}: subject IDs {unsafe[:5]} name folds (paths): use letters, digits, '.', '-'")
    needed = 3 if split.get("val") else 2
    if len(subjects) < needed:
        raise ConfigError(f"{key}: {split['method']} needs at least {needed} subjects, the source has {subjects}")
    if split["method"] == "loso":
        return {s: [s] for s in subjects}
    k = split.get("k", 5)
    if not 2 <= k <= len(subjects):
        raise ConfigError(f"{key}.k: {k} folds of {len(subjects)} subjects (2 ≤ k ≤ subjects)")
    order = np.random.default_rng(split.get("seed", 0)).permutation(len(subjects))
    return {str(i + 1): sorted(subjects[j] for j in part) for i, part in enumerate(np.array_split(order, k))}


def expand_folds(config: dict) -> dict[str, dict]:
    """Replace each fold-split dataset of ``config`` (schema-checked, in place) by its folds; returns the
    replaced datasets by name (their windows.h5 holds every window; folds link to it)."""
    bases, datasets = {}, {}
    for name, settings in config["datasets"].items():
        if not has_folds(settings):
            datasets[name] = settings
            continue
        bases[name] = settings
        plan = fold_plan(name, settings)
        everyone = [s for held_out in plan.values() for s in held_out]
        for fold, held_out in plan.items():
            own = copy.deepcopy(settings)
            split = own["split"]
            own["split"] = {"method": "subjects", "test_subjects": held_out,
                            "train_subjects": [s for s in everyone if s not in held_out], "seed": split.get("seed", 0),
                            **({"val": split["val"], "tries": split.get("tries", 200)} if split.get("val") else {})}
            own["fold"] = {"of": name, "method": split["method"], "id": fold, "held_out": held_out}
            datasets[f"{name}{FOLD_MARK}{fold}"] = own
    config["datasets"] = datasets
    return bases


def fold_of(settings: dict) -> dict | None:
    """A fold dataset's ``{of, method, id, held_out}``; None for any other dataset."""
    return settings.get("fold")


def dataset_groups(config: dict) -> dict[str, list[str]]:
    """What the report shows as one section: each dataset alone, a fold-split dataset's folds together (by the
    dataset's name), in config order."""
    groups: dict[str, list[str]] = {}
    for name, settings in config["datasets"].items():
        fold = fold_of(settings)
        groups.setdefault(fold["of"] if fold else name, []).append(name)
    return groups


METHOD_TEXT = {"loso": "leave-one-subject-out", "kfold": "k-fold by subject"}


def fold_lines(config: dict) -> list[str]:
    """One line per fold-split dataset: its method and folds, each with the subjects it holds out."""
    lines = []
    for name, members in dataset_groups(config).items():
        folds = [fold_of(config["datasets"][d]) for d in members]
        if folds[0] is None:
            continue
        listed = ", ".join(f"{d} (test: {' '.join(f['held_out'])})" for d, f in zip(members, folds))
        lines.append(f"{name}: {METHOD_TEXT[folds[0]['method']]}, {len(members)} folds — {listed}")
    return lines
