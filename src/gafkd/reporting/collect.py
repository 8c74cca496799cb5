"""runs.csv: one row per finished run, read from its metrics.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..grid import baseline_is_teacher, for_dataset, student_model, student_views
from ..io import read_json
from ..kinds import ALONE_KIND, KINDS, TEACHER, weights_text
from ..names import OK, Experiment

RUN_COLUMNS = ["dataset", "kind", "teachers", "student", "alpha", "lam", "weights", "variant", "seed", "status",
               "best_test_acc",
               "final_test_acc", "test_acc_at_best_val", "best_epoch", "best_val_epoch", "epochs", "params", "seconds", "device", "settings_digest", "code_version",
               "run_dir", "trained_as", "diverged_at"]
REQUIRED = ("dataset", "kind", "seed", "best_test_acc", "final_test_acc")


def listed_metrics(manifest_paths) -> list[str]:
    """Every member's metrics.json the pack manifests list; a missing one names its pack's manifest.

    The members' files are not Snakemake outputs (the manifest is): a deleted one is not remade by
    Snakemake on its own, so say how to retrain its pack.
    """
    paths = []
    for manifest in manifest_paths:
        for member in read_json(manifest)["members"]:
            if not Path(member["metrics"]).exists():
                raise DataError(f"{member['metrics']}: missing, though {manifest} lists it; delete {manifest} "
                                "(or `snakemake --forcerun` its rule) to train that pack again")
            paths.append(member["metrics"])
    return paths


def _experiment_columns(metrics: dict) -> dict:
    """``weights`` (``0.2/0.3/0.5`` of a three- or K-teacher run) and ``variant`` (gafkd.distillation.registry), read
    from the experiment's name the run recorded (results made before these columns existed have it too)."""
    spec = (metrics.get("settings") or {}).get("experiment")
    if metrics.get("kind") == TEACHER or not spec:
        return {"weights": "", "variant": ""}
    experiment = Experiment.parse(spec)
    multi = KINDS[experiment.kind].weighted
    return {"weights": weights_text(experiment.weights) if multi else "", "variant": experiment.variant}




def collect_runs(metrics_paths, config: dict | None = None) -> pd.DataFrame:
    """One row per run; with ``config``, also the baseline rows that are teacher runs (see below)."""
    rows = []
    for path in metrics_paths:
        metrics = read_json(path)
        missing = [k for k in REQUIRED if k not in metrics]
        if missing:
            raise DataError(f"{path}: metrics file lacks {missing}; delete it and rerun its job")
        diverged = metrics.get("diverged") or {}
        rows.append({**{column: metrics.get(column) for column in RUN_COLUMNS}, **_experiment_columns(metrics),
                     "run_dir": str(Path(path).parent), "trained_as": "", "status": metrics.get("status", OK),
                     "diverged_at": f"epoch {diverged['epoch']}, batch {diverged['batch']}" if diverged else ""})
    runs = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for column in ("teachers", "student"):
        runs[column] = runs[column].fillna("")
    if config is not None:
        aliases = [baseline_rows(runs[runs["dataset"] == d], view) for d in config["datasets"]
                   for view in student_views(for_dataset(config, d)) if baseline_is_teacher(view)]
        runs = pd.concat([runs, *aliases], ignore_index=True)
    return runs.sort_values(["dataset", "kind", "teachers", "student", "alpha", "lam", "seed"],
                            na_position="first", kind="stable").reset_index(drop=True)


def baseline_rows(runs: pd.DataFrame, config: dict) -> pd.DataFrame:
    """The student-alone rows, copied from the signal teacher runs they are (``trained_as`` = teacher).

    Only called when :func:`gafkd.grid.baseline_is_teacher`: the student alone then never trains as
    a student, and its row in every table shows the teacher's runs under its own label.
    """
    student = student_model(config)
    seeds = set(config["students"]["seeds"])
    teacher = runs[(runs["kind"] == TEACHER) & (runs["teachers"] == student) & runs["seed"].isin(seeds)]
    return teacher.assign(kind=ALONE_KIND, teachers="", student=student, weights="", variant=Experiment(ALONE_KIND).variant,
                          trained_as=f"{TEACHER} {student}")


def read_runs(path) -> pd.DataFrame:
    runs = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in (
        "alpha", "lam", "best_test_acc", "final_test_acc", "test_acc_at_best_val", "best_val_epoch")})
    # columns a runs.csv written by an earlier version lacks
    for column, value in (("trained_as", ""), ("status", OK), ("diverged_at", ""), ("test_acc_at_best_val", float("nan")),
                          ("best_val_epoch", float("nan")), ("weights", ""), ("variant", "")):
        if column not in runs:
            runs[column] = value
    for column in ("teachers", "student", "device", "trained_as", "status", "diverged_at", "weights", "variant"):
        runs[column] = runs[column].astype(str)
    return runs
