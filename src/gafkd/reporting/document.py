"""tables.md as a whole: the study's sections (each dataset's :class:`~gafkd.reporting.tables.DatasetTables`), the
notes every section shares, the rankings across datasets, and the same page as HTML for the report."""

from __future__ import annotations

import pandas as pd

from ..data.formats import is_synthetic, table_label
from ..distillation.registry import VARIANTS
from ..folds import dataset_groups
from ..grid import baseline_is_teacher, for_dataset, student_model
from ..kinds import ALONE_KIND, TEACHER
from ..names import DIVERGED
from .effects import effects as paired_effects
from .labels import experiment_label
from .markdown import INCOMPLETE, markdown_table
from .ranking import ACROSS, rankings, rankings_frame, ranking_sentence
from .tables import METRIC_COLUMN, METRIC_TEXT, TEACHER_TEXT, DatasetTables

def data_source(config: dict, dataset: str) -> str:
    """Where a dataset variant's windows came from, in the tables' words (its format's, :mod:`gafkd.data.formats`)."""
    return table_label(config["datasets"][dataset]["source"])


def _same_runs_note(config: dict, suffix: str) -> str:
    student = student_model(config)
    alone = experiment_label(ALONE_KIND, "", student, suffix)
    teacher = experiment_label(TEACHER, student, "", suffix)
    return (f"\"{alone}\" and \"{teacher}\" are the same experiment (model, data, cross-entropy loss, "
            "settings and seeds): trained once, as the teacher, and shown in both rows.")


def _teachers_note(config: dict) -> str:
    """Which teacher checkpoints students learned from (and annealed ones started at); loud when the
    numbers are validation-chosen but the teachers were chosen on test."""
    which = config["training"]["teacher_weights"]
    note = (f"Students learn from the teachers' {TEACHER_TEXT[which]}, and annealed students start from the "
            f"student alone's (`selection: {config['selection']}`, `training.teacher_weights: {which}`).")
    epochs = config["training"]["epochs"]
    if any(VARIANTS[v].annealed for d in config["datasets"] for v in for_dataset(config, d)["students"]["variants"]):
        note += (f" Every run trains {epochs} epochs; a run marked with an annealed start (ann, ann+sp) trains "
                 f"them after its {epochs}-epoch cross-entropy start: {2 * epochs} in all.")
    if config["report"]["metric"] == "val" and which == "best":
        note += (" **Not an honest selection:** the epochs are chosen on validation but the teachers on the test "
                 "set (`report.allow_test_selected_teachers: true`).")
    return note


def study_effects(config: dict, runs: pd.DataFrame) -> pd.DataFrame:
    """effects.csv: every KD configuration against the matching student alone, at the report's metric."""
    metric = config["report"]["metric"]
    return paired_effects(runs, config, METRIC_COLUMN[metric], metric)


def study_rankings(config: dict, runs: pd.DataFrame) -> list:
    """The rankings of the main tables' student rows, across datasets and per dataset section."""
    groups = dataset_groups(config)
    scores = {name: DatasetTables(config, name, runs, None, members).student_scores() for name, members in groups.items()}
    return rankings(scores, groups)


def render_tables(config: dict, runs: pd.DataFrame, reference: pd.DataFrame, footer: str,
                  effects: pd.DataFrame | None = None, ranked: pd.DataFrame | None = None,
                  collected: list | None = None) -> str:
    """tables.md. ``effects`` (effects.csv) and ``ranked`` (rankings.csv) are computed from the runs when not
    given; ``collected`` gathers each table as ``(section, title, MarkdownTable)`` for the exports."""
    metric = config["report"]["metric"]
    groups = dataset_groups(config)
    if effects is None:
        effects = study_effects(config, runs)
    sections = {dataset: DatasetTables(config, dataset, runs, None if is_synthetic(
        config["datasets"][members[0]]["source"]) else reference, members, effects)
        for dataset, members in groups.items()}
    if ranked is None:
        ranked = rankings_frame(study_rankings(config, runs))
    collected = [] if collected is None else collected
    parts = ["# Results", "",
             f"Accuracy in % on the test split, {METRIC_TEXT[metric]} (`report.metric: {metric}`); mean and population "
             f"std (ddof = 0) over trials (seeds); n: the finished trials. {INCOMPLETE} n=k/N: only k of N configured "
             f"trials have finished; mean and std are over those ({DIVERGED}: the run's loss turned non-finite; "
             "listed at the end). Δ vs alone: each KD row against the matching student alone, paired by fold and "
             "seed (docs/statistics.md). Generated from `runs.csv`; do not edit by hand.", "", _teachers_note(config), ""]
    for dataset, tables in sections.items():
        members = tables.members
        synthetic = tables.reference is None
        parts += [f"## {dataset} ({tables.suffix})", "", f"Data: {data_source(config, members[0])}.", ""]
        parts += [note for note in (tables.folds_note(), tables.protocol_note()) if note for note in (note, "")]
        main = tables.main_table()
        collected.append((dataset, "Main table", main))
        parts += [main, ""]
        if baseline_is_teacher(tables.config):
            parts += [_same_runs_note(tables.config, tables.suffix), ""]
        parts += ["### Effects and diagnostics", "", *tables.diagnostics(ranked), ""]
        comparison = None if synthetic else tables.reference_table(reference)
        for title, table in (("Per fold (mean ± std over each fold's trials)", tables.fold_table()),
                             *tables.sweep_tables(),
                             ("Compatibility: teacher × student architecture (mean ± std)",
                              tables.compatibility_table()),
                             *tables.weights_tables(),
                             ("Comparison with the notes", comparison)):
            if table is not None:
                collected.append((dataset, title, table))
                parts += [f"### {title}", "", table, ""]
        if tables.delta_note():
            parts += [tables.delta_note(), ""]
        if synthetic:
            parts += ["No comparison with the notes' published numbers: those come from the group's real "
                      "recordings, these from synthetic data.", ""]
    across = ranked[ranked["scope"] == ACROSS]
    if len(across):
        parts += ["## Across datasets", "", ranking_sentence(across), ""]
        if not across.iloc[0]["status"]:
            table = markdown_table(["Method (student rows every included dataset has)", "Mean rank", "Blocks"],
                              [[row.method, f"{row.mean_rank:.2f}", str(row.n_blocks)] for row in
                               across.sort_values("mean_rank", kind="stable").itertuples()],
                              [len("Mean rank"), len("Blocks")])
            collected.append((ACROSS, "Mean ranks", table))
            parts += [table, ""]
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
