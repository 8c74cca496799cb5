"""The study's grid: which teachers and students a (schema-validated) config asks for.

Names and their string forms (teacher ids, experiment specs, kinds) live in :mod:`gafkd.names`.
"""

from __future__ import annotations

from .names import BASELINE, KD1, KD2, KDN, Experiment


def teacher_runs(config: dict) -> list[tuple[str, str, int]]:
    """(modality, arch, seed) of every teacher."""
    t = config["teachers"]
    return [(m, a, s) for m in t["modalities"] for a in t["archs"] for s in t["seeds"]]


def experiments(config: dict) -> list[Experiment]:
    """Every student experiment of the grid, in the notes' order."""
    s = config["students"]
    grid = [Experiment(BASELINE)] if s["baseline"] else []
    kd1 = s["kd1"]
    grid += [Experiment(KD1, (f"gaf:{a}",), (1.0,), lam) for a in kd1["teacher_archs"] for lam in kd1["lams"]]
    kd2 = s["kd2"]
    grid += [Experiment(KD2, (f"gaf:{g}", f"sig:{v}"), (alpha, 1 - alpha), kd2["lam"], alpha)
             for g, v in kd2["pairs"] for alpha in kd2["alphas"]]
    grid += [Experiment(KDN, tuple(k["teachers"]), tuple(k["weights"]), k["lam"]) for k in s["kdn"]]
    return grid


def teacher_seed(config: dict, student_seed: int) -> int:
    fixed = config["students"]["teacher_seed"]
    return student_seed if fixed == "same" else int(fixed)


def baseline_is_teacher(config: dict) -> bool:
    """Whether the student alone is already a teacher run: the signal teacher of the student's arch.

    Same model, data, loss (cross-entropy), training settings and seeds: the same numbers. It is
    then trained once, as that teacher, and reported in both places (runs.csv aliases it).
    """
    s, t = config["students"], config["teachers"]
    return (s["baseline"] and "sig" in t["modalities"] and s["arch"] in t["archs"]
            and set(s["seeds"]) <= set(t["seeds"]))


def trained_experiments(config: dict) -> list[Experiment]:
    """The student experiments that train as students: the grid less a baseline that is a teacher run."""
    skip_baseline = baseline_is_teacher(config)
    return [e for e in experiments(config) if not (skip_baseline and e.kind == BASELINE)]
