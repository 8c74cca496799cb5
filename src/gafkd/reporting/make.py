"""What the report rules call: runs.csv, summary.csv, tables.md and the plots of one dataset."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from ..data.store import load_windows
from ..distillation.registry import BASE
from ..images.registry import label
from ..grid import for_dataset, variants_of
from ..folds import dataset_groups
from ..io import write_text_atomic
from ..kinds import KINDS, TEACHER, is_alone
from ..names import DIVERGED, OK
from ..provenance import package_versions, settings_digest
from .collect import collect_runs, listed_metrics, read_runs
from .effects import read_effects
from .exports import write_exports
from .plots import (Curve, confusion_plot, critical_difference_plot, forest_plot, gain_plot, image_examples,
                    learning_curves, message_plot, sweep_plot, weights_plot)
from .ranking import rankings_frame
from .summary import CONFIG_COLUMNS, summarize
from .document import render_tables, study_effects, study_rankings, tables_html
from .tables import METRIC_COLUMN, DatasetTables

# the notes' published numbers: one- and two-teacher (alpha), and three-teacher (weights) tables
REFERENCES = ("reference_results.csv", "reference_results_three_teachers.csv")


def write_runs(manifest_paths, output, config: dict | None = None) -> dict:
    """runs.csv from the runs the training jobs' manifests list."""
    runs = collect_runs(listed_metrics(manifest_paths), config)
    write_text_atomic(output, runs.to_csv(index=False))
    return {"runs": len(runs)}


def load_reference(path=None) -> pd.DataFrame:
    """The notes' published numbers (shipped with the package; a path overrides); ``weights`` is the
    three-teacher rows' triple (``0.2/0.3/0.5``), empty elsewhere."""
    paths = [path] if path is not None else [resources.files("gafkd") / "reference" / name for name in REFERENCES]
    frame = pd.concat([pd.read_csv(p, dtype={"weights": str}) for p in paths], ignore_index=True)
    if "weights" not in frame:
        frame["weights"] = ""
    frame["weights"] = frame["weights"].fillna("")
    for column in ("alpha", "lambda"):
        if column not in frame:
            frame[column] = float("nan")
    # what each number was measured under, beyond its experiment: the notes ran the base variant and
    # reported the best test epoch (protocol.md); a reference file may say otherwise per row
    frame["student"] = frame["student"].fillna("")  # teachers have none
    for column, notes in (("variant", BASE), ("metric", "best")):
        frame[column] = frame[column].fillna(notes) if column in frame else notes
    return frame


def footer(config: dict, runs: pd.DataFrame) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    codes = ", ".join(sorted(set(runs["code_version"].astype(str)))) or "none"
    devices = ", ".join(sorted(set(runs["device"].astype(str)))) or "none"
    trained = runs[runs["trained_as"] == ""]  # a student alone that is a teacher run is counted once
    diverged = trained[trained["status"] == DIVERGED]
    listed = "".join(f"\n- `{run.run_dir}`: {run.diverged_at}" for run in diverged.itertuples())
    return (f"Runs: {len(trained)} · config digest `{settings_digest(config)}` · code versions of the runs: {codes} · "
            f"devices: {devices} · report environment: {versions}"
            + (f"\n\nDiverged ({len(diverged)}, counted out of the means like missing trials):\n{listed}"
               if len(diverged) else ""))


def write_statistics(config: dict, runs_path, summary_output, effects_output) -> dict:
    """summary.csv and effects.csv (:mod:`gafkd.reporting.effects`): the statistics of runs.csv, read once."""
    runs = read_runs(runs_path)
    summary = summarize(runs)
    write_text_atomic(summary_output, summary.to_csv(index=False))
    table = study_effects(config, runs)
    write_text_atomic(effects_output, table.to_csv(index=False))
    return {"configurations": len(summary.drop_duplicates(CONFIG_COLUMNS)), "compared": len(table),
            "holding": int(table["holds"].sum())}


def write_tables(config: dict, runs_path, output, html_output=None, reference_path=None, effects_path=None,
                 exports=None, rankings_output=None, diagram=None) -> dict:
    """tables.md and, with ``html_output``, the same tables as a standalone HTML page (the report's view); with
    ``exports``, a folder of each table as LaTeX and CSV; with ``rankings_output`` and ``diagram``, rankings.csv
    and the critical-difference diagrams (:mod:`gafkd.reporting.ranking`) of the rankings the tables state."""
    runs = read_runs(runs_path)
    results = study_rankings(config, runs)
    ranked = rankings_frame(results)
    collected = []
    text = render_tables(config, runs, load_reference(reference_path), footer(config, runs),
                         None if effects_path is None else read_effects(effects_path), ranked, collected)
    write_text_atomic(output, text)
    if html_output is not None:
        write_text_atomic(html_output, tables_html(text))
    if exports is not None:
        write_exports(collected, exports)
    if rankings_output is not None:
        write_text_atomic(rankings_output, ranked.to_csv(index=False))
    if diagram is not None:
        critical_difference_plot(results, diagram)
    return {"lines": text.count("\n"), "tables": len(collected), "rankings": len(results),
            "tested": sum(not r.status for r in results)}


def write_plots(config: dict, dataset: str, runs_path, windows_path, outputs: dict, effects_path) -> dict:
    """One dataset section's figures; a fold-split dataset's pool its folds (the confusion matrices sum the
    best configuration's runs of every fold, the curves and sweeps average them)."""
    members = dataset_groups(config).get(dataset, [dataset])
    full, config = config, for_dataset(config, members[0])
    everything = read_runs(runs_path)
    everything = everything[everything["dataset"].isin(members)]
    runs = everything[everything["status"] == OK]  # diverged runs have no curve to draw
    metric = config["report"]["metric"]
    students = config["students"]
    tables = DatasetTables(full, dataset, runs, None, members, read_effects(effects_path))
    pooled = f", pooled over {len(members)} folds × trials" if len(members) > 1 else ""
    for name, kind in KINDS.items():  # each kind's sweep figure
        if kind.sweep is None:
            continue
        block = students[name]
        # a block's values as its figure's title names them (a teacher set joined by "/")
        named = {key: "/".join(value) if key == "teachers" else value for key, value in block.items()}
        title = f"{dataset}: " + kind.sweep.figure.format(**named, pooled=pooled)
        if kind.swept == "weights":
            weights_plot(runs, name, block["archs"], block["weights"], variants_of(config, name), metric, title,
                         outputs[kind.sweep.plot])
        else:
            swept = runs[runs["variant"].isin(["", tables.sweep_variant(name)])]
            sweep_plot(swept, name, kind.swept, metric, title, outputs[kind.sweep.plot])
    notes = [text for name, kind in KINDS.items() if kind.sweep and (text := kind.note(students[name], tables.chosen(name)))]
    learning_curves(_curves(tables), outputs["learning_curves"],
                    f"{dataset}: learning curves (test accuracy, mean over seeds{pooled})",
                    f"the students' main-table rows ({'; '.join(notes)})" if notes else "the students' main-table rows")
    main = _main_effects(tables)
    forest_plot(main, outputs["forest"], f"{dataset}: Δ vs the student alone, the main table's rows{pooled}")
    gain_plot(main, outputs["gain_vs_teacher"], f"{dataset}: the student's gain against its teachers' accuracy{pooled}")
    windows = load_windows(windows_path)
    for kind, key in (("teacher", "confusion_teacher"), ("student", "confusion_student")):
        best = _best_runs(runs, kind, metric, pooled=len(members) > 1)
        if best is None:  # every run of the kind diverged (or none has the metric): say so, do not fail
            message_plot(outputs[key], f"{dataset}: best {kind}", _none_finished(everything, kind))
        else:
            confusion_plot([_metrics_path(run) for _, run in best.iterrows()], windows.class_names, outputs[key],
                           f"{dataset}: best {kind}")
    return {"plots": len(outputs)}


def _main_effects(tables: DatasetTables) -> pd.DataFrame:
    """effects.csv's rows of the main table's KD rows, in the table's order, labelled as there."""
    rows = [(tables.label(c, with_dataset=False), tables.effect(c)) for c in tables.main_configs()
            if c.kind != TEACHER and not is_alone(c.kind)]
    frame = pd.DataFrame([{**effect, "label": label} for label, effect in rows if effect is not None])
    return frame if len(frame) else pd.DataFrame(columns=["label", "kind", "delta", "n_pairs"])


def write_image_examples(dataset: str, representation: str, windows_path, images_path, output) -> dict:
    """One training window per class in ``representation`` (its channels stacked)."""
    image_examples(load_windows(windows_path), images_path, representation, output,
                   f"{dataset}: {label(representation)} image per class")
    return {"plots": 1}


def _of_kind(runs: pd.DataFrame, kind: str) -> pd.DataFrame:
    return runs[runs["kind"] == TEACHER] if kind == "teacher" else runs[runs["kind"] != TEACHER]


def _best_runs(runs: pd.DataFrame, kind: str, metric: str, pooled: bool = False) -> pd.DataFrame | None:
    """The configuration with the best mean (students: every non-teacher run): its best seed, or with
    ``pooled`` (folds) every run of it; None when no run of the kind has the metric."""
    column = METRIC_COLUMN[metric]
    frame = _of_kind(runs, kind)
    frame = frame[frame[column].notna()]
    if frame.empty:
        return None
    means = frame.groupby(CONFIG_COLUMNS, dropna=False)[column].transform("mean")
    top = frame[means == means.max()]
    top = top[top.groupby(CONFIG_COLUMNS, dropna=False).ngroup() == 0]  # ties of means: the first configuration
    return top if pooled else top.loc[[top[column].idxmax()]]


def _none_finished(runs: pd.DataFrame, kind: str) -> str:
    """``no student run finished: 6 diverged`` (or: none has run yet)."""
    diverged = int((_of_kind(runs, kind)["status"] == DIVERGED).sum())
    return f"no {kind} run finished: {diverged} diverged" if diverged else f"no {kind} run has finished yet"


def _metrics_path(run: pd.Series) -> Path:
    return Path(run["run_dir"]) / "metrics.json"


def _curves(tables: DatasetTables) -> list[Curve]:
    """The histories of each main-table row's runs, labelled as the row (less the dataset suffix)."""
    curves = []
    for config in tables.main_configs():
        run_dirs = config.select(tables.runs)["run_dir"]
        if len(run_dirs):
            curves.append(Curve(tables.label(config, with_dataset=False), tuple(str(Path(d) / "history.csv") for d in run_dirs), config.kind,
                                config.teachers, config.variant))
    return curves
