"""The study's figures, one PNG each, from runs.csv, the runs' histories and metrics, and the images.

Sized for the HTML report, which shows each figure about 900 px wide: text at 8 pt or more, legends
outside the data, every colour scale with a colour bar, error bars said to be population std.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..distillation.registry import BASE, VARIANTS  # noqa: E402
from ..images.registry import label as modality_label, representation  # noqa: E402
from ..images.store import load_images  # noqa: E402
from ..io import read_json  # noqa: E402
from ..models.families import arch_label
from ..kinds import ALONE_KIND, KINDS, TEACHER  # noqa: E402
from ..names import ModelId  # noqa: E402
from ..schema import section_defaults  # noqa: E402
from .labels import run_label, teachers_label  # noqa: E402
from .tables import METRIC_COLUMN, METRIC_TEXT  # noqa: E402

DPI = 110
FONT = 8
plt.rcParams.update({"font.size": FONT, "axes.titlesize": FONT + 2, "legend.fontsize": FONT})
# one colour per architecture (the teacher's, for students), the same in every figure: the study's own (the
# schema's default teachers) first, in their order
ARCH_COLOURS = dict(zip(section_defaults("teachers")["archs"], ["tab:blue", "tab:orange", "tab:green", "tab:red"]))
OTHER_COLOURS = ["tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
STD_NOTE = "error bars: population std (ddof = 0) over seeds"


def _save(fig, path) -> None:
    from ..io import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=DPI, format="png", bbox_inches="tight")
    plt.close(fig)


def arch_colour(arch: str, index: int = 0) -> str:
    return ARCH_COLOURS.get(arch, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def _baseline(ax, runs, metric) -> None:
    alone = runs["kind"] == ALONE_KIND
    if "variant" in runs:  # the compute-matched student alone is another experiment (students.compute_matched)
        alone &= runs["variant"] == BASE
    base = runs[alone][METRIC_COLUMN[metric]]
    if len(base):
        ax.axhline(base.mean(), color="black", ls=":", lw=1.2, label=f"student alone, mean ({base.mean():.2f})")


def sweep_plot(runs: pd.DataFrame, kind: str, x: str, metric: str, title: str, path) -> None:
    """Accuracy (mean ± population std over seeds) against alpha or lam, one line per teacher set.

    Lines are nudged apart along x (by at most 1.5 % of the range) so that error bars do not hide
    each other; the ticks are the swept values.
    """
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    chosen = runs[runs["kind"] == kind]
    groups = list(chosen.groupby("teachers", sort=False))
    values = np.sort(chosen[x].dropna().unique())
    step = 0.015 * (values.max() - values.min()) if len(values) > 1 else 0.0
    for i, (teachers, frame) in enumerate(groups):
        stats = frame.groupby(x)[METRIC_COLUMN[metric]].agg(["mean", lambda v: np.std(v, ddof=0), "size"])
        offset = (i - (len(groups) - 1) / 2) * step
        arch = ModelId.parse(teachers.split("+")[0]).arch
        ax.errorbar(stats.index + offset, stats["mean"], yerr=stats.iloc[:, 1], marker="o", capsize=3,
                    color=arch_colour(arch, i), label=f"{teachers_label(teachers)} (n={int(stats['size'].min())})")
    _baseline(ax, runs, metric)
    ax.set(xlabel=x.replace("lam", "λ (KD weight against cross-entropy)").replace("alpha", "α (GAF teacher's share)"),
           ylabel=f"test accuracy, {METRIC_TEXT[metric]} (%)", title=title)
    if len(values):
        ax.set_xticks(values)
    ax.grid(alpha=0.3)
    if groups:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title=STD_NOTE.replace(": ", ":\n"),
                  title_fontsize=FONT)
    else:
        ax.text(0.5, 0.5, "no runs of this kind", ha="center", transform=ax.transAxes)
    _save(fig, path)


def weights_plot(runs: pd.DataFrame, kind: str, archs, triples, variants, metric: str, title: str, path) -> None:
    """Three-teacher KD: accuracy (mean ± population std over seeds) per weight triple, a bar per variant
    (base / ann / ann+sp / projector …) and a line per variant whose rule sets its own weights (CAMKD,
    EBKD), one panel per teacher architecture."""
    panels = max(len(archs), 1)
    fig, axes = plt.subplots(1, panels, figsize=(max(7.2, 3.6 * panels), 4.6), sharey=True, squeeze=False)
    chosen = runs[runs["kind"] == kind]
    labels = ["/".join(format(float(w), "g") for w in triple) for triple in triples]
    spare = iter(("tab:red", "tab:purple", "tab:brown", "tab:olive", "tab:cyan", "tab:pink"))
    colours = {v: VARIANTS[v].colour or next(spare) for v in variants}
    bars = [v for v in variants if VARIANTS[v].uses_fixed]  # a rule that sets its own weights: a line
    width = 0.8 / max(len(bars), 1)
    for ax, arch in zip(axes[0], archs or [None]):
        frame = chosen[chosen["teachers"].str.endswith(f":{arch}")] if arch else chosen.iloc[:0]
        for variant in variants:
            runs_of, label = frame[frame["variant"] == variant], VARIANTS[variant].label
            if variant not in bars:
                if runs_of.empty:
                    continue
                ax.axhline(runs_of[METRIC_COLUMN[metric]].mean(), color=colours[variant], linestyle="-.",
                           label=f"{label} (its own weights)")
                continue
            stats = (runs_of.groupby("weights")[METRIC_COLUMN[metric]]
                     .agg(["mean", lambda x: np.std(x, ddof=0)]).reindex(labels))
            v = bars.index(variant)
            ax.bar(np.arange(len(labels)) + (v - (len(bars) - 1) / 2) * width, stats["mean"], width,
                   yerr=stats.iloc[:, 1], capsize=2, color=colours[variant], label=label)
        _baseline(ax, runs, metric)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right", rotation_mode="anchor")
        ax.set(xlabel="weights (teachers in order)", title=f"T: {arch_label(arch)} ×3" if arch else "")
        ax.grid(alpha=0.3, axis="y")
        if chosen.empty:
            ax.text(0.5, 0.5, "no runs of this kind", ha="center", transform=ax.transAxes)
    axes[0][0].set_ylabel(f"test accuracy, {METRIC_TEXT[metric]} (%)")
    if not chosen.empty:
        axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), title=STD_NOTE.replace(": ", ":\n"),
                           title_fontsize=FONT)
    fig.suptitle(title, fontsize=FONT + 3)
    _save(fig, path)


@dataclass(frozen=True)
class Curve:
    """One learning curve: its label, the histories it averages, and which panel/colour/line it takes."""

    label: str
    files: tuple[str, ...]
    kind: str
    teachers: str  # teacher runs: the model itself; students: their teachers ("" alone)
    variant: str = ""  # a student's (gafkd.distillation.registry.VARIANTS); teachers: ""


def learning_curves(curves: list[Curve], path, title: str, students_title: str = "") -> None:
    """Mean test accuracy per epoch (seeds, and a fold-split dataset's folds, averaged) as small multiples: a
    panel per teacher representation and per student kind, each with a handful of lines in a qualitative
    map's colours (the student alone, black, in every student panel), its legend under it."""
    panels = _curve_panels(curves)
    columns = min(3, max(len(panels), 1))
    rows = -(-max(len(panels), 1) // columns)
    legend_lines = [max((sum(len(_wrap(c.label + " (n=9)")) for c in panel) for _, panel in
                         list(panels.items())[r * columns:(r + 1) * columns]), default=0) for r in range(rows)]
    heights = [3.0 + 0.17 * n for n in legend_lines]
    fig, axes = plt.subplots(rows, columns, figsize=(5.0 * columns, sum(heights) + 0.6), squeeze=False,
                             sharey=True, gridspec_kw={"height_ratios": heights}, layout="constrained")
    for ax, (name, panel) in zip(axes.flat, panels.items()):
        coloured = 0
        for curve in panel:
            histories = [pd.read_csv(f)["test_acc"].to_numpy() for f in curve.files]
            length = min(len(h) for h in histories)
            mean = np.mean([h[:length] for h in histories], axis=0)
            if curve.kind == ALONE_KIND:
                # dotted: the compute-matched student alone (an annealed start's length)
                style = {"color": "black", "ls": ":" if curve.variant and VARIANTS[curve.variant].annealed else "-"}
            else:
                style = {"color": QUALITATIVE[coloured % len(QUALITATIVE)],
                         "ls": LINE_CYCLE[coloured // len(QUALITATIVE) % len(LINE_CYCLE)]}
                coloured += 1
            ax.plot(np.arange(1, length + 1), mean, marker=".", lw=1.4, **style,
                    label="\n".join(_wrap(f"{curve.label} (n={len(histories)})")))
        ax.set(xlabel="epoch", title=name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(0, -0.16), frameon=False)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("test accuracy (%)")
    fig.suptitle(f"{title}\n{students_title}" if students_title else title, fontsize=FONT + 2)
    _save(fig, path)


QUALITATIVE = list(plt.get_cmap("tab10").colors)
LINE_CYCLE = ["-", "--", "-."]  # after the ten colours of the map


def _wrap(text: str, width: int = 58) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def _curve_panels(curves: list[Curve]) -> dict[str, list[Curve]]:
    """Teachers by representation, students by kind (the student alone in each students' panel)."""
    panels: dict[str, list[Curve]] = {}
    for curve in curves:
        if curve.kind == TEACHER:
            name = f"teachers: {modality_label(ModelId.parse(curve.teachers).modality)}"
            panels.setdefault(name, []).append(curve)
        elif curve.kind != ALONE_KIND:
            panels.setdefault(f"students: {KINDS[curve.kind].title}", []).append(curve)
    alone = [c for c in curves if c.kind == ALONE_KIND]
    return {name: (panel + alone if name.startswith("students") else panel) for name, panel in panels.items()} or (
        {"students": alone} if alone else {})


def forest_plot(effects: pd.DataFrame, path, title: str) -> None:
    """Each configuration's Δ vs the student alone with its 95 % interval, a row each (filled: holds after
    Holm's correction), zero marked; the rows without a matching student alone say so."""
    rows = effects.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.32 * max(len(rows), 1)))
    kinds = list(dict.fromkeys(rows["kind"]))
    for i, row in rows.iterrows():
        y = len(rows) - 1 - i
        colour = QUALITATIVE[kinds.index(row["kind"]) % len(QUALITATIVE)]
        if pd.isna(row["delta"]):
            ax.text(0.0, y, f"  {row['status'] or 'no effect'}", va="center", fontsize=FONT, color="gray")
            continue
        error = None if pd.isna(row["ci_low"]) else [[row["delta"] - row["ci_low"]], [row["ci_high"] - row["delta"]]]
        ax.errorbar([row["delta"]], [y], xerr=error, fmt="o", color=colour, capsize=3,
                    markerfacecolor=colour if row["holds"] else "white")
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(range(len(rows)), [f"{label} (n={int(n)})" for label, n in zip(rows["label"], rows["n_pairs"])][::-1])
    ax.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    ax.set(xlabel="Δ test accuracy vs the student alone (points), 95 % t interval; filled: holds after Holm",
           title=title)
    ax.grid(alpha=0.3, axis="x")
    if rows.empty:
        ax.text(0.5, 0.5, "no distilled configuration", ha="center", transform=ax.transAxes)
    _save(fig, path)


def gain_plot(effects: pd.DataFrame, path, title: str) -> None:
    """Δ vs the student alone (with its interval) against the mean accuracy of the row's teachers: does a
    better teacher make a better student?"""
    fig, ax = plt.subplots(figsize=(7.6, 4.8))
    shown = effects[effects["delta"].notna() & effects["teacher_acc"].notna()]
    for i, (kind, group) in enumerate(shown.groupby("kind", sort=False)):
        low = (group["delta"] - group["ci_low"]).fillna(0)
        high = (group["ci_high"] - group["delta"]).fillna(0)
        ax.errorbar(group["teacher_acc"], group["delta"], yerr=[low, high], fmt="o", capsize=3, alpha=0.85,
                    color=QUALITATIVE[i % len(QUALITATIVE)], label=f"{KINDS[kind].title if kind in KINDS else kind} ({len(group)})")
    ax.axhline(0, color="black", lw=1)
    ax.set(xlabel="teachers' mean test accuracy (%)", ylabel="Δ vs the student alone (points, 95 % t interval)",
           title=title)
    ax.grid(alpha=0.3)
    if shown.empty:
        ax.text(0.5, 0.5, "no effect to draw", ha="center", transform=ax.transAxes)
    else:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), title="configurations")
    _save(fig, path)


def critical_difference_plot(results, path) -> None:
    """One critical-difference diagram per ranking (scikit-posthocs); a ranking without a test says why."""
    heights = [0.9 if r.status else 1.0 + 0.3 * len(r.mean_ranks) for r in results] or [1.0]
    fig, axes = plt.subplots(len(heights), 1, figsize=(10, sum(heights) + 0.8), squeeze=False,
                             gridspec_kw={"height_ratios": heights}, layout="constrained")
    for ax, ranking in zip(axes[:, 0], results):
        ax.set_title(f"{ranking.scope}: " + (", ".join(ranking.datasets) if ranking.scope != ranking.datasets[0]
                                             else f"{ranking.scores.shape[1]} blocks"), fontsize=FONT + 1)
        if ranking.status:
            ax.axis("off")
            ax.text(0.5, 0.4, "\n".join(_wrap(ranking.status, 110)), ha="center", va="center", fontsize=FONT)
            continue
        import scikit_posthocs  # 0.6 s: only where a diagram is drawn

        scikit_posthocs.critical_difference_diagram(ranking.mean_ranks, ranking.nemenyi, ax=ax,
                                                    label_props={"fontsize": FONT})
        ax.set_xlabel(f"mean rank over {ranking.scores.shape[1]} blocks (1: best); bars join methods Nemenyi "
                      f"cannot tell apart; Friedman p = {ranking.p:.3g}", fontsize=FONT)
    if not results:
        axes[0, 0].axis("off")
        axes[0, 0].text(0.5, 0.5, "no ranking: no student runs", ha="center")
    _save(fig, path)


def image_examples(windows, images_path, name: str, path, title: str, per_row: int = 7) -> None:
    """The first training window's image of each class in representation ``name``, its channels (each
    signal channel's; per channel each part of a compound image) stacked, ``per_row`` classes a row; at
    most ``EXAMPLE_AXES`` signal channels (the title says how many there are)."""
    entry = representation(name)
    images = load_images(images_path)
    axes = signal_channel_names(windows, images.shape[1] // entry.per_axis)
    shown_axes = axes[:EXAMPLE_AXES]
    if len(shown_axes) < len(axes):
        title += f" (the first {len(shown_axes)} of {len(axes)} channels)"
    channels = [f"{axis} {part}" if part else axis for axis in shown_axes for part in (entry.parts or ("",))]
    depth = len(channels)
    classes = windows.class_names
    rows = -(-len(classes) // per_row)
    fig, axes = plt.subplots(depth * rows, per_row, figsize=(1.55 * per_row + 1.2, 1.5 * depth * rows + 1.2),
                             squeeze=False, layout="constrained")  # room for each wrapped class name
    shown = None
    low, high = entry.value_range
    for c in range(rows * per_row):
        column, block = c % per_row, depth * (c // per_row)
        members = np.flatnonzero((windows.labels == c) & (windows.split == "train")) if c < len(classes) else []
        for channel in range(depth):
            ax = axes[block + channel, column]
            ax.set_xticks([]), ax.set_yticks([])
            if c >= len(classes):
                ax.axis("off")
                continue
            if len(members):
                shown = ax.imshow(images[members[0], channel].astype(np.float32), cmap="RdBu_r" if low < 0 else "viridis",
                                  vmin=low, vmax=high)
            if channel == 0:
                ax.set_title("\n".join(textwrap.wrap(classes[c], 16)), fontsize=FONT)
            if column == 0:
                ax.set_ylabel(channels[channel], rotation=0, labelpad=10 + 8 * bool(entry.parts), fontsize=FONT + 1)
    fig.suptitle(title, fontsize=FONT + 3)
    if shown is not None:
        fig.colorbar(shown, ax=axes, shrink=0.4, label=entry.title)
    _save(fig, path)


EXAMPLE_AXES = 6  # signal channels an examples figure shows (PAMAP2 has 40)


def signal_channel_names(windows, count: int) -> list[str]:
    """The names of the windows' ``count`` signal channels: recorded by the reader (PAMAP2's columns), else x, y, z
    for three axes."""
    attrs = getattr(windows, "attrs", {})
    if "channels" in attrs:
        return list(json.loads(attrs["channels"]))
    return list("xyz") if count == 3 else [f"channel {i + 1}" for i in range(count)]


def message_plot(path, title: str, message: str) -> None:
    """A figure that says why there is nothing to draw: the report finishes whatever happened to the runs."""
    fig, ax = plt.subplots(figsize=(6.4, 2.4))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=FONT + 2)
    fig.suptitle(title, fontsize=FONT + 3)
    _save(fig, path)


def confusion_plot(metrics_paths, class_names, path, title: str) -> None:
    """Counts in each cell, colour = the share of the true class (rows sum to 1). Several runs (a fold-split
    dataset's folds): their matrices summed, each test window of every fold counted once per run."""
    runs = [read_json(p) for p in ([metrics_paths] if isinstance(metrics_paths, (str, Path)) else metrics_paths)]
    matrix = np.sum([np.asarray(m["confusion_best"], dtype=float) for m in runs], axis=0)
    metrics = runs[0]
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    n = len(class_names)
    size = max(6.0, 0.5 * n + 3)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    shown = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(shown, ax=ax, shrink=0.8, label="share of the true class")
    ax.set_xticks(range(n), class_names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), class_names)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=FONT,
                        color="white" if share[i, j] > 0.5 else "black")
    label = run_label(metrics["kind"], metrics.get("teachers") or "", metrics.get("student") or "",
                      metrics.get("alpha"), metrics.get("lam"))
    if len(runs) == 1:
        measured = (f"seed {metrics['seed']}: {metrics['best_test_acc']:.2f} % at epoch {metrics['best_epoch']} "
                    "(test set)")
    else:
        measured = (f"pooled over {len(runs)} runs (folds × trials): {100 * np.trace(matrix) / matrix.sum():.2f} % "
                    "of their test windows, each run at its best epoch")
    ax.set(xlabel="predicted", ylabel="true", title=f"{title}\n{label}\n{measured}")
    _save(fig, path)
