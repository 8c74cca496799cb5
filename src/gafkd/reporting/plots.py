"""The study's figures, one PNG each, from runs.csv, the runs' histories and metrics, and gaf.h5."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..gaf.store import load_gaf  # noqa: E402
from ..io import read_json  # noqa: E402
from ..names import BASELINE, TEACHER  # noqa: E402
from .labels import model_label, teachers_label  # noqa: E402
from .tables import METRIC_COLUMN, METRIC_TEXT  # noqa: E402

DPI = 110


def _save(fig, path) -> None:
    from ..io import atomic_path

    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    plt.close(fig)


def _baseline(ax, runs, metric) -> None:
    base = runs[runs["kind"] == BASELINE][METRIC_COLUMN[metric]]
    if len(base):
        ax.axhline(base.mean(), color="grey", ls="--", lw=1, label=f"student alone ({base.mean():.2f})")


def _sweep(ax, frame, x, metric, label) -> None:
    stats = frame.groupby(x)[METRIC_COLUMN[metric]].agg(["mean", lambda v: np.std(v, ddof=0)])
    ax.errorbar(stats.index, stats.iloc[:, 0], yerr=stats.iloc[:, 1], marker="o", capsize=3, label=label)


def sweep_plot(runs: pd.DataFrame, kind: str, x: str, metric: str, title: str, path) -> None:
    """Accuracy (mean ± population std over seeds) against alpha or lam, one line per teacher set."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    chosen = runs[runs["kind"] == kind]
    for teachers, frame in chosen.groupby("teachers", sort=False):
        _sweep(ax, frame, x, metric, teachers_label(teachers))
    _baseline(ax, runs, metric)
    ax.set(xlabel=x.replace("lam", "λ (KD weight)").replace("alpha", "α (GAF teacher share)"),
           ylabel=f"test accuracy, {METRIC_TEXT[metric]} (%)", title=title)
    if not chosen.empty:
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no runs of this kind", ha="center", transform=ax.transAxes)
    _save(fig, path)


def learning_curves(histories: dict[str, list[str]], path, title: str) -> None:
    """Mean test accuracy per epoch for each experiment group (seeds averaged)."""
    fig, ax = plt.subplots(figsize=(9.6, 5.2))
    for label, files in histories.items():
        curves = [pd.read_csv(f)["test_acc"].to_numpy() for f in files]
        length = min(len(c) for c in curves)
        mean = np.mean([c[:length] for c in curves], axis=0)
        ax.plot(np.arange(1, length + 1), mean, marker=".", label=f"{label} (n={len(curves)})")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=title)
    ax.legend(fontsize=6, ncol=2)
    _save(fig, path)


def gaf_examples(windows, gaf_path, path, title: str) -> None:
    """The first training window's GAF image of each class, one row per axis (``windows``: loaded)."""
    images = load_gaf(gaf_path)
    classes = windows.class_names
    fig, axes = plt.subplots(3, len(classes), figsize=(1.3 * len(classes), 4.4), squeeze=False)
    for c, name in enumerate(classes):
        rows = np.flatnonzero((windows.labels == c) & (windows.split == "train"))
        for axis in range(3):
            ax = axes[axis, c]
            ax.set_xticks([]), ax.set_yticks([])
            if len(rows):
                ax.imshow(images[rows[0], axis].astype(np.float32), cmap="RdBu_r", vmin=-1, vmax=1)
            if axis == 0:
                ax.set_title(name if len(name) < 18 else name[:16] + "…", fontsize=6)
            if c == 0:
                ax.set_ylabel("xyz"[axis])
    fig.suptitle(title)
    _save(fig, path)


def confusion_plot(metrics_path, class_names, path, title: str) -> None:
    metrics = read_json(metrics_path)
    matrix = np.asarray(metrics["confusion_best"], dtype=float)
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    n = len(class_names)
    ax.set_xticks(range(n), class_names, rotation=75, fontsize=6)
    ax.set_yticks(range(n), class_names, fontsize=6)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=5,
                        color="white" if share[i, j] > 0.5 else "black")
    name = metrics["teachers"] if metrics["kind"] == TEACHER else f"{metrics['kind']} {metrics['teachers']}".strip()
    ax.set(xlabel="predicted", ylabel="true",
           title=f"{title}\n{name or model_label(metrics['student'])} seed {metrics['seed']}: "
                 f"{metrics['best_test_acc']:.2f}% (epoch {metrics['best_epoch']})")
    _save(fig, path)
