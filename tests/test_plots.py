"""The figures are readable at report size: full class names, colour bars, distinct curves, λ and std said.

(Checked by eye on the demo's PNGs; these tests keep what was checked from regressing.)
"""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from gafkd.classes import GENE14
from gafkd.reporting import plots
from gafkd.reporting.plots import Curve


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions would save, kept open for inspection."""
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    yield saved
    for fig in saved:
        plots.plt.close(fig)


def texts(fig):
    return [t for t in fig.findobj(plots.matplotlib.text.Text) if t.get_text()]


def test_gaf_examples_show_every_class_name_whole_with_a_colour_bar(figures, monkeypatch):
    names = list(GENE14)
    labels = np.repeat(np.arange(len(names)), 2)
    windows = SimpleNamespace(class_names=names, labels=labels, split=np.array(["train"] * len(labels)))
    monkeypatch.setattr(plots, "load_images", lambda path: np.zeros((len(labels), 3, 8, 8), np.float16))
    plots.image_examples(windows, "unused", "gaf", "unused.png", "title")
    titles = [ax.get_title().replace("\n", " ") for ax in figures[0].axes if ax.get_title()]
    assert titles == names  # none cut, none repeated
    assert any("GASF" in ax.get_ylabel() for ax in figures[0].axes)  # the colour bar
    assert min(t.get_fontsize() for t in texts(figures[0])) >= plots.FONT


def test_confusion_plot_has_a_colour_bar_and_names_the_run_with_lambda(figures, tmp_path):
    metrics = dict(kind="kd2", teachers="gaf:wrn16-3+sig:wrn16-3", student="sig:wrn16-1", alpha=0.3, lam=0.7, seed=1,
                   best_test_acc=61.5, best_epoch=9, confusion_best=np.eye(14, dtype=int).tolist())
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    plots.confusion_plot(tmp_path / "metrics.json", list(GENE14), "unused.png", "gene14_w500: best student")
    fig = figures[0]
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "share of the true class"
    title = fig.axes[0].get_title()
    assert "T1: WRN16-3(GAF), T2: WRN16-3(Sig), S: WRN16-1(Sig), α = 0.3, λ = 0.7" in title and "seed 1" in title
    assert min(t.get_fontsize() for t in texts(fig)) >= plots.FONT


def test_learning_curves_are_small_multiples_a_handful_of_distinct_lines_each(figures, tmp_path):
    history = tmp_path / "history.csv"
    pd.DataFrame({"epoch": [1, 2], "test_acc": [10.0, 20.0]}).to_csv(history, index=False)
    archs = ["wrn16-1", "wrn16-3", "wrn28-1", "wrn28-3"]
    curves = [Curve(f"{m} {a}", (str(history),), "teacher", f"{m}:{a}") for m in ("gaf", "sig") for a in archs]
    curves += [Curve("alone", (str(history),), "baseline", "")]
    curves += [Curve(f"kd1 {a}", (str(history),), "kd1", f"gaf:{a}") for a in archs]
    curves += [Curve(f"kd2 {a}", (str(history),), "kd2", f"gaf:{a}+sig:{a}") for a in archs]
    curves += [Curve(f"kd3 {i}", (str(history),), "kd3", "gaf:wrn16-1+pi:wrn16-1+sig:wrn16-1") for i in range(12)]
    plots.learning_curves(curves, "unused.png", "title", "students (λ = 0.7)")
    fig = figures[0]
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_lines()}
    assert set(panels) == {"teachers: GAF", "teachers: Sig", "students: one teacher", "students: two teachers",
                           "students: three teachers"}
    for title, ax in panels.items():
        styles = [(line.get_color(), line.get_linestyle()) for line in ax.get_lines()]
        assert len(styles) == len(set(styles)), title  # never a colour and line twice in a panel
        assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= plots.FONT
        # the student alone, black, in every students' panel and only there
        assert any(line.get_label() == "alone (n=1)" and line.get_color() == "black"
                   for line in ax.get_lines()) == title.startswith("students")
    assert len(panels["teachers: GAF"].get_lines()) == 4 and len(panels["students: three teachers"].get_lines()) == 13
    assert "students (λ = 0.7)" in fig._suptitle.get_text()


def test_sweeps_say_their_error_bars_are_population_std(figures):
    runs = pd.DataFrame({"kind": "kd1", "teachers": "gaf:wrn16-1", "lam": [0.1, 0.1, 0.5, 0.5],
                         "best_test_acc": [50.0, 52.0, 60.0, 61.0]})
    plots.sweep_plot(runs, "kd1", "lam", "best", "title", "unused.png")
    legend = figures[0].axes[0].get_legend()
    assert "population std" in legend.get_title().get_text()
    assert list(figures[0].axes[0].get_xticks()) == [0.1, 0.5]


def test_the_plots_rule_writes_each_kinds_sweep_figure_and_every_figure_has_a_caption(monkeypatch):
    """The figures come from the kinds registry: a new kind with a sweep gets its figure as an output of the plots
    rule with no edit to the workflow, captioned by its own .rst where written, by sweep.rst else."""
    from dataclasses import replace
    from pathlib import Path

    from gafkd import kinds
    from gafkd.plan import study

    captions = Path(__file__).resolve().parents[1] / "workflow" / "report"
    figures = study.section_figures()
    sweeps = [k.sweep.plot for k in kinds.KINDS.values() if k.sweep]
    assert list(figures)[:len(sweeps)] == sweeps and set(study.SECTION_FIGURES) < set(figures)
    assert all((captions / f"{caption}.rst").exists() for caption, _ in figures.values())
    assert (captions / "sweep.rst").exists()
    kd3 = kinds.KINDS["kd3"]
    monkeypatch.setitem(kinds.KINDS, "kd4", replace(kd3, name="kd4", sweep=replace(kd3.sweep, plot="kd4_weights")))
    assert study.section_figures()["kd4_weights"] == ("kd4_weights", study.SWEEP_CATEGORY)
    assert not (captions / "kd4_weights.rst").exists()  # the workflow's caption falls back to sweep.rst
