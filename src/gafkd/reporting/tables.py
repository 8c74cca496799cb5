"""tables.md: the notes' tables, rendered from runs.csv and nothing else.

Per dataset variant: the main table (``| Experiment (alpha = 0.3, 500w, 14cls) | Trial 1 | … | Mean | Std |``,
four decimals, mean as ``<u>**63.1186**</u>``, population std), the α sweep, the λ sweep and the
comparison with the notes' published numbers. A configuration with fewer finished trials than
configured shows ``—`` for the missing trials and ``diverged`` for runs whose loss turned non-finite
(both counted out of the mean), and is marked ``†`` with its n; the footer lists the diverged runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tabulate import tabulate

from ..classes import class_names
from ..grid import baseline_is_teacher, experiments
from ..names import BASELINE, DIVERGED, KD1, KD2, KDN, OK, TEACHER
from .labels import experiment_label, teachers_label
from .summary import mean_std

METRIC_COLUMN = {"best": "best_test_acc", "final": "final_test_acc", "val": "test_acc_at_best_val"}
METRIC_TEXT = {"best": "best test epoch, chosen on the test set", "val": "epoch chosen on validation",
               "final": "final epoch"}
MISSING = "—"
INCOMPLETE = "†"


@dataclass(frozen=True)
class Config:
    """One row's configuration: what runs.csv rows it gathers and how many seeds it expects."""

    kind: str
    teachers: str
    student: str
    alpha: float | None
    lam: float | None
    seeds: tuple[int, ...]
    weights: tuple[float, ...] | None = None

    def select(self, runs: pd.DataFrame) -> pd.DataFrame:
        mask = (runs["kind"] == self.kind) & (runs["teachers"] == self.teachers) & (runs["student"] == self.student)
        mask &= _matches(runs["alpha"], self.alpha) & _matches(runs["lam"], self.lam)
        return runs[mask]

    def trials(self, runs: pd.DataFrame, metric: str) -> list[float | str | None]:
        """Per configured seed: the metric, ``DIVERGED``, or None (not run yet)."""
        chosen = self.select(runs)
        by_seed = dict(zip(chosen["seed"].astype(int),
                           np.where(chosen["status"] == OK, chosen[METRIC_COLUMN[metric]], DIVERGED)))
        return [None if by_seed.get(seed) is None else
                (DIVERGED if by_seed[seed] == DIVERGED else float(by_seed[seed])) for seed in self.seeds]


def _matches(column: pd.Series, value) -> pd.Series:
    if value is None:
        return column.isna()
    return np.isclose(column.astype(float), float(value), rtol=0, atol=1e-9)


def fmt(value: float) -> str:
    return f"{value:.4f}"


def finished(values: list[float | str | None]) -> tuple[tuple[float, float] | None, str]:
    """(mean, std) over the finished trials (None if none), and the incompleteness marker."""
    done = [v for v in values if isinstance(v, float)]
    marker = "" if len(done) == len(values) else f" {INCOMPLETE} n={len(done)}/{len(values)}"
    return (mean_std(done) if done else None), marker


def stats_cells(values: list[float | None]) -> tuple[str, str, str]:
    """(mean cell, std cell, incompleteness marker) over the finished trials."""
    stats, marker = finished(values)
    if stats is None:
        return MISSING, MISSING, marker
    return f"<u>**{fmt(stats[0])}**</u>", fmt(stats[1]), marker


def mean_pm_std(values: list[float | None]) -> str:
    stats, marker = finished(values)
    return (MISSING if stats is None else f"{fmt(stats[0])} ± {fmt(stats[1])}") + marker


class DatasetTables:
    """The tables of one dataset variant, from the config's grid and the runs."""

    def __init__(self, config: dict, dataset: str, runs: pd.DataFrame):
        settings = config["datasets"][dataset]
        self.config, self.dataset = config, dataset
        self.runs = runs[runs["dataset"] == dataset]
        self.suffix = f"{settings['window']}w, {len(class_names(settings['classes']))}cls"
        self.metric = config["report"]["metric"]
        students = config["students"]
        self.student = f"sig:{students['arch']}"
        self.teacher_seeds = tuple(config["teachers"]["seeds"])
        self.student_seeds = tuple(students["seeds"])
        self.n_trials = max(len(self.teacher_seeds), len(self.student_seeds))

    # -- the grid, in the notes' order ---------------------------------------------------------
    def main_configs(self) -> list[Config]:
        report, teachers = self.config["report"], self.config["teachers"]
        rows = [Config(TEACHER, f"{m}:{a}", "", None, None, self.teacher_seeds)
                for m in ("gaf", "sig") if m in teachers["modalities"] for a in teachers["archs"]]
        for e in experiments(self.config):
            if e.kind == BASELINE:
                rows.append(self._config(e))
            elif e.kind == KD1 and np.isclose(e.lam, report["lam"]):
                rows.append(self._config(e))
            elif e.kind == KD2 and np.isclose(e.alpha, report["alpha"]):
                rows.append(self._config(e))
            elif e.kind == KDN:
                rows.append(self._config(e))
        return rows

    def _config(self, e) -> Config:
        return Config(e.kind, "+".join(e.teachers), self.student, e.alpha, e.lam if e.kind != BASELINE else None,
                      self.student_seeds, e.weights if e.kind == KDN else None)

    def label(self, c: Config, with_dataset: bool = True) -> str:
        return experiment_label(c.kind, c.teachers, c.student, self.suffix if with_dataset else None, c.weights)

    # -- tables --------------------------------------------------------------------------------
    def main_table(self) -> str:
        alpha = format(self.config["report"]["alpha"], "g")
        headers = [f"Experiment (alpha = {alpha}, {self.suffix})", *[f"Trial {i + 1}" for i in range(self.n_trials)],
                   "Mean", "Std"]
        body = []
        for c in self.main_configs():
            values = c.trials(self.runs, self.metric)
            mean, std, marker = stats_cells(values)
            cells = [fmt(v) if isinstance(v, float) else (v or MISSING) for v in values]
            cells += [""] * (self.n_trials - len(cells))
            body.append([self.label(c) + marker, *cells, mean, std])
        widths = [CELL_WIDTH["trial"]] * self.n_trials + [CELL_WIDTH["mean"], CELL_WIDTH["trial"]]
        return _markdown(headers, body, widths)

    def alpha_table(self) -> str | None:
        kd2 = self.config["students"]["kd2"]
        if not kd2.get("pairs"):
            return None
        rows = [(teachers_label(t), lambda a, t=t: Config(KD2, t, self.student, a, kd2["lam"], self.student_seeds))
                for t in (f"gaf:{g}+sig:{v}" for g, v in kd2["pairs"])]
        return self._sweep(f"Teachers (lam = {format(kd2['lam'], 'g')}, {self.suffix})", "alpha", kd2["alphas"], rows)

    def lambda_table(self) -> str | None:
        kd1 = self.config["students"]["kd1"]
        if not kd1.get("teacher_archs"):
            return None
        student = f"S: {self.student.split(':')[1].upper()}(Sig)"
        rows = [(f"{teachers_label(t)}, {student}",
                 lambda lam, t=t: Config(KD1, t, self.student, None, lam, self.student_seeds))
                for t in (f"gaf:{a}" for a in kd1["teacher_archs"])]
        return self._sweep(f"One-teacher KD ({self.suffix})", "lam", kd1["lams"], rows)

    def _sweep(self, title: str, parameter: str, values, rows) -> str:
        """One row per label, one ``mean ± std`` column per value of ``parameter``."""
        headers = [title, *[f"{parameter} = {v:g}" for v in values]]
        body = [[label, *[mean_pm_std(config(v).trials(self.runs, self.metric)) for v in values]]
                for label, config in rows]
        return _markdown(headers, body, CELL_WIDTH["pm"])

    def reference_table(self, reference: pd.DataFrame) -> str | None:
        ref = reference[reference["dataset"] == self.dataset]
        body = []
        configs = self.main_configs() + self._sweep_configs()
        seen = set()
        for c in configs:
            match = ref[(ref["experiment"] == c.kind) & (ref["teachers"] == c.teachers)
                        & _matches(ref["alpha"], c.alpha) & _matches(ref["lambda"], c.lam)]
            if match.empty or (c.kind, c.teachers, c.alpha, c.lam) in seen:
                continue
            seen.add((c.kind, c.teachers, c.alpha, c.lam))
            notes = match.iloc[0]
            values = [v for v in c.trials(self.runs, self.metric) if isinstance(v, float)]
            if values:
                mean, std = mean_std(values)
                ours = [fmt(mean), fmt(std), f"{mean - notes['mean']:+.4f}"]
            else:
                ours = [MISSING, MISSING, MISSING]
            label = self.label(c) + (f", alpha = {c.alpha:g}" if c.alpha is not None else "")
            body.append([label, ours[0], fmt(notes["mean"]), ours[2], ours[1], fmt(notes["std"]), notes["source"]])
        if not body:
            return None
        headers = ["Experiment", "Mean (runs)", "Mean (notes)", "Δ (runs − notes)", "Std (runs)", "Std (notes)",
                   "Notes"]
        return _markdown(headers, body, [CELL_WIDTH["trial"] + 1] * 5 + [len("notes 2025-03-14 (corrected split)")])

    def _sweep_configs(self) -> list[Config]:
        return [self._config(e) for e in experiments(self.config) if e.kind in (KD1, KD2)]


MARKER_ROOM = len(f" {INCOMPLETE} n=10/10")
CELL_WIDTH = {"trial": len("100.0000"), "mean": len("<u>**100.0000**</u>"), "pm": len("100.0000 ± 100.0000") + MARKER_ROOM}


def _markdown(headers, body, cell_width: int) -> str:
    """A GitHub table whose column widths depend on the labels and formats, never on the values.

    So editing one run changes exactly the lines of the rows that use it.
    """
    labels = [row[0].split(f" {INCOMPLETE} ")[0] for row in body]
    widths = [max([len(headers[0])] + [len(label) + MARKER_ROOM for label in labels])]
    widths += [max(len(h), cell_width if isinstance(cell_width, int) else cell_width[i]) for i, h in
               enumerate(headers[1:])]

    pad = lambda cells: [str(c).ljust(w) for c, w in zip(cells, widths)]  # noqa: E731
    return tabulate([pad(row) for row in body], headers=pad(headers), tablefmt="github", disable_numparse=True,
                    preserve_whitespace=True)


def data_source(config: dict, dataset: str) -> str:
    """Where a dataset variant's numbers come from, said in every table's heading."""
    source = config["datasets"][dataset]["source"]
    if source["format"] == "synthetic":
        return (f"**synthetic** (the embedded GENEActiv-like generator, {source.get('subjects', '?')} subjects, "
                f"seed {source.get('seed', '?')}), not the group's recordings")
    if source["format"] == "geneactiv":
        return f"real recordings (GENEActiv .bin files in `{source['path']}`, labelled by `{source['annotations']}`)"
    return f"real recordings ({source['format']} files in `{source['path']}`)"


def _same_runs_note(config: dict, suffix: str) -> str:
    student = f"sig:{config['students']['arch']}"
    alone = experiment_label(BASELINE, "", student, suffix)
    teacher = experiment_label(TEACHER, student, "", suffix)
    return (f"\"{alone}\" and \"{teacher}\" are the same experiment (model, data, cross-entropy loss, "
            "settings and seeds): trained once, as the teacher, and shown in both rows.")


def render_tables(config: dict, runs: pd.DataFrame, reference: pd.DataFrame, footer: str) -> str:
    metric = config["report"]["metric"]
    parts = ["# Results", "",
             f"Accuracy in % on the test split, {METRIC_TEXT[metric]} (`report.metric: {metric}`); mean and population "
             f"std (ddof = 0) over trials (seeds). {INCOMPLETE} n=k/N: only k of N configured trials have finished; "
             f"mean and std are over those ({DIVERGED}: the run's loss turned non-finite; listed at the end). "
             "Generated from `runs.csv`; do not edit by hand.", ""]
    for dataset in config["datasets"]:
        tables = DatasetTables(config, dataset, runs)
        synthetic = config["datasets"][dataset]["source"]["format"] == "synthetic"
        parts += [f"## {dataset} ({tables.suffix})", "", f"Data: {data_source(config, dataset)}.", "",
                  tables.main_table(), ""]
        if baseline_is_teacher(config):
            parts += [_same_runs_note(config, tables.suffix), ""]
        comparison = None if synthetic else tables.reference_table(reference)
        for title, table in (("Alpha sweep (two-teacher KD, mean ± std)", tables.alpha_table()),
                             ("Lambda sweep (one-teacher KD, mean ± std)", tables.lambda_table()),
                             ("Comparison with the notes", comparison)):
            if table is not None:
                parts += [f"### {title}", "", table, ""]
        if synthetic:
            parts += ["No comparison with the notes' published numbers: those come from the real GENEActiv "
                      "recordings, these from synthetic data.", ""]
    parts += ["---", "", footer, ""]
    return "\n".join(parts)


HTML_STYLE = """
body { font-family: system-ui, sans-serif; font-size: 14px; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f3f7; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #f3f3f3; padding: 0 3px; }
"""


def tables_html(markdown_text: str) -> str:
    """tables.md as a standalone HTML page (Python-Markdown, its tables extension), for the HTML report."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])
    return (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>gafkd results</title>"
            f"<style>{HTML_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
