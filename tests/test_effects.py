"""The report's statistics: paired effects, the exact sign-flip test, Holm, rankings, and the figures and exports
that show them — each checked against a hand computation or an independent enumeration."""

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from gafkd.reporting import plots
from gafkd.reporting.effects import (MIN_PAIRS, NO_ALONE, UNPAIRED, effect_cell, effects, effects_note, holm, power_line,
                                     sign_flip_p, t_interval)
from gafkd.reporting.exports import write_exports
from gafkd.reporting.ranking import MIN_BLOCKS, rank, rankings_frame, ranking_sentence

from helpers import CONFIG, fake_runs
from gafkd.reporting.make import load_reference
from gafkd.reporting.document import render_tables

# two folds of one dataset (pooled as "p"), and a plain dataset
FOLDED = {"datasets": {"p_fold1": {"fold": {"of": "p"}}, "p_fold2": {"fold": {"of": "p"}}, "g": {}}}


def run(dataset, kind, seed, acc, teachers="", variant="base", lam=np.nan, status="ok"):
    return dict(dataset=dataset, kind=kind, teachers=teachers, student="sig:wrn16-1", alpha=np.nan, lam=lam,
                weights="", variant=variant, seed=seed, status=status, best_test_acc=acc)


def fixed_runs() -> pd.DataFrame:
    """Per fold: the student alone and one-teacher KD at seeds 0-2, listed out of order; an unpaired alone seed;
    a diverged alone run (its KD run loses its pair); an annealed student with no compute-matched alone."""
    kd = dict(kind="kd1", teachers="gaf:wrn16-1", lam=0.7)
    rows = [run("p_fold1", "baseline", 0, 50.0), run("p_fold1", "baseline", 2, 52.0), run("p_fold1", "baseline", 1, 51.0),
            run("p_fold2", "baseline", 0, 60.0), run("p_fold2", "baseline", 1, 61.0),
            run("p_fold2", "baseline", 2, math.nan, status="diverged"), run("p_fold2", "baseline", 7, 99.0),
            run("p_fold1", seed=2, acc=55.0, **kd), run("p_fold1", seed=0, acc=51.0, **kd),
            run("p_fold1", seed=1, acc=50.0, **kd),
            run("p_fold2", seed=0, acc=64.0, **kd), run("p_fold2", seed=1, acc=62.0, **kd),
            run("p_fold2", seed=2, acc=70.0, **kd),
            run("g", "baseline", 0, 40.0), run("g", "kd1", 0, 45.0, teachers="gaf:wrn16-1", variant="ann", lam=0.7),
            run("g", "kd1", 1, 47.0, teachers="gaf:wrn16-1", lam=0.5),
            run("p_fold1", "teacher", 0, 30.0, teachers="gaf:wrn16-1"), run("p_fold2", "teacher", 0, 34.0,
                                                                             teachers="gaf:wrn16-1")]
    frame = pd.DataFrame(rows)
    frame["teachers"] = frame["teachers"].where(frame["kind"] != "teacher", frame["teachers"])
    frame.loc[frame["kind"] == "teacher", "student"] = ""
    return frame


def test_effects_equal_a_hand_computation_paired_by_fold_and_seed():
    table = effects(fixed_runs(), FOLDED, "best_test_acc", "best")
    pooled = table[table["dataset"] == "p"].iloc[0]
    # fold 1: 51-50, 50-51, 55-52; fold 2: 64-60, 62-61 (seed 2's alone diverged: no pair; seed 7 has no KD run)
    d = np.array([1.0, -1.0, 3.0, 4.0, 1.0])
    assert pooled["n_pairs"] == 5 and pooled["n_runs"] == 6
    assert pooled["delta"] == pytest.approx(d.mean()) and pooled["sd"] == pytest.approx(d.std(ddof=1))
    half = stats.t.ppf(0.975, 4) * d.std(ddof=1) / math.sqrt(5)
    assert (pooled["ci_low"], pooled["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert pooled["mean_kd"] == pytest.approx(np.mean([51, 50, 55, 64, 62]))
    assert pooled["mean_alone"] == pytest.approx(np.mean([50, 51, 52, 60, 61]))
    assert pooled["p"] == pytest.approx(brute_force_p(d))
    assert pooled["teacher_acc"] == pytest.approx(32.0)  # the teacher's mean over both folds
    assert set(pooled["pairs"].split()) == {"p_fold1:seed0", "p_fold1:seed1", "p_fold1:seed2", "p_fold2:seed0",
                                            "p_fold2:seed1"}
    assert pooled["p_t"] == pytest.approx(stats.ttest_1samp(d, 0).pvalue)


def test_a_row_without_a_matching_student_alone_gets_no_effect_and_is_counted():
    table = effects(fixed_runs(), FOLDED, "best_test_acc", "best")
    annealed = table[(table["dataset"] == "g") & (table["variant"] == "ann")].iloc[0]
    # an annealed student is compared with the compute-matched alone, never the shorter one (which exists here)
    assert annealed["alone_variant"] == "ann" and annealed["status"] == NO_ALONE
    assert annealed["n_pairs"] == 0 and math.isnan(annealed["delta"]) and math.isnan(annealed["p_holm"])
    assert not annealed["holds"] and effect_cell(annealed) == "no alone run"
    # a planned comparison whose runs do not pair (the alone has seed 0 only, this run seed 1): counted too
    unpaired = table[(table["dataset"] == "g") & (table["variant"] == "base")].iloc[0]
    assert unpaired["status"] == UNPAIRED and unpaired["n_pairs"] == 0 and effect_cell(unpaired) == "no pairs"
    note = effects_note(table[table["dataset"] == "g"])
    assert "2 configurations with no finished pair against a matching student-alone run get none" in note


def brute_force_p(d) -> float:
    """Every sign assignment, written out."""
    observed = abs(sum(d))
    sums = [abs(sum(s * v for s, v in zip(signs, d))) for signs in itertools.product((1, -1), repeat=len(d))]
    return sum(s >= observed - 1e-9 for s in sums) / len(sums)


def counted_p(d) -> float:
    """Integer differences: the number of sign assignments reaching each sum, by convolution (exact)."""
    counts = {0: 1}
    for v in d:
        nxt = {}
        for total, c in counts.items():
            for signed in (v, -v):
                nxt[total + signed] = nxt.get(total + signed, 0) + c
        counts = nxt
    observed = abs(sum(d))
    return sum(c for total, c in counts.items() if abs(total) >= observed) / 2 ** len(d)


def test_the_exact_sign_flip_p_equals_enumeration_for_3_and_27_pairs():
    three = [0.7, 0.2, 1.1]
    assert sign_flip_p(three) == brute_force_p(three) == 0.25  # all one sign: the smallest p of 3 pairs
    assert sign_flip_p([0.7, -0.9, 1.1]) == brute_force_p([0.7, -0.9, 1.1])
    rng = np.random.default_rng(0)
    for _ in range(3):
        d = [int(v) for v in rng.integers(-6, 9, 27)]
        assert sign_flip_p(d) == pytest.approx(counted_p(d), abs=0, rel=1e-12)
    # and against scipy's exact permutation test (it enumerates every assignment for n this small)
    d = rng.normal(0.5, 1, 10)
    scipy_p = stats.permutation_test((d,), np.sum, permutation_type="samples", n_resamples=np.inf).pvalue
    assert sign_flip_p(d) == pytest.approx(scipy_p)
    assert sign_flip_p([0.0, 0.0, 0.0]) == 1.0


def test_the_smallest_p_reaches_alpha_only_from_six_pairs():
    assert MIN_PAIRS == 6
    assert sign_flip_p([1.0] * 5) > 0.05 > sign_flip_p([1.0] * 6) == 2 / 64


def test_holm_adjustment():
    adjusted = holm([0.01, 0.04, 0.03, 0.005, math.nan])
    # sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 → 0.06 (monotone)
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02]) and math.isnan(adjusted[4])


def test_t_interval_and_the_power_line():
    d = [1.0, 2.0, 4.0]
    half = 4.302652729749464 * np.std(d, ddof=1) / math.sqrt(3)
    assert t_interval(d) == pytest.approx((7 / 3 - half, 7 / 3 + half))
    assert all(math.isnan(v) for v in t_interval([1.0]))
    rows = pd.DataFrame({"sd": [2.0, 2.0, 2.0], "n_pairs": [3, 3, 3]})
    # an effect of one sd needs 10 paired trials at 80 % power (paired t, α = 0.05 two-sided)
    line = power_line(rows, 2.0)
    assert "2 points (`report.power_effect`) needs 10 trials" in line and "sd 2.00 points" in line
    assert "needs at least 6 pairs" in line
    assert "no row has two paired trials" in power_line(rows.assign(n_pairs=1), 2.0)


def test_the_tables_show_the_effect_column_and_say_three_trials_cannot_reach_significance():
    runs = fake_runs()
    text = render_tables(CONFIG, runs, load_reference(), "")
    section = text.split("## gene14_w500")[1].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith("| T: WRN16-1(GAF), S: WRN16-1(Sig)"))
    table = effects(runs, CONFIG, "best_test_acc", "best")
    mine = table[(table["dataset"] == "gene14_w500") & (table["kind"] == "kd1") & (table["teachers"] == "gaf:wrn16-1")
                 & np.isclose(table["lam"], 0.7)].iloc[0]
    assert f"| {effect_cell(mine)} " in row and re.search(r"[+-]\d+\.\d\d \[[+-]\d+\.\d\d, [+-]\d+\.\d\d\]", row)
    assert "With 3 pairs the exact test's smallest p is 0.25: no effect here can reach p < 0.05" in section
    assert "Power: " in section and "Ranking (gene14_w500): 3 complete blocks" in section


def scores(k=4, n=8, seed=1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = np.linspace(60, 66, k)[:, None]
    return pd.DataFrame(base + rng.normal(0, 1.0, (k, n)), index=[f"method {i}" for i in range(k)],
                        columns=[f"d:seed{j}" for j in range(n)])


def test_friedman_ranks_and_the_reasons_when_there_are_too_few_blocks():
    frame = scores()
    ranking = rank("d", ["d"], frame)
    assert ranking.chi2 == pytest.approx(stats.friedmanchisquare(*frame.to_numpy()).statistic)
    hand = frame.rank(axis=0, ascending=False).mean(axis=1)
    assert ranking.mean_ranks.to_dict() == pytest.approx(hand.to_dict())
    assert ranking.mean_ranks.index[0] == "method 3"  # the highest accuracies rank first
    assert "Friedman χ² = " in ranking.sentence() and "method 3" in ranking.sentence()
    few = rank("d", ["d"], frame.iloc[:, : MIN_BLOCKS - 1])
    assert few.status.startswith(f"{MIN_BLOCKS - 1} complete blocks") and math.isnan(few.p)
    two = rank("d", ["d"], frame.iloc[:2])
    assert "2 methods" in two.status
    # a block where a method has not finished is not a complete block
    holed = frame.copy()
    holed.iloc[0, :3] = np.nan
    assert rank("d", ["d"], holed).scores.shape == (4, 5)
    assert ranking_sentence(rankings_frame([few])) == few.sentence()


def test_the_critical_difference_diagram_and_forest_plot_are_written_with_the_rows_labels(tmp_path, monkeypatch):
    ranking = rank("d", ["d"], scores())
    plots.critical_difference_plot([ranking, rank("e", ["e"], scores(n=3))], tmp_path / "cd.png")
    table = effects(fixed_runs(), FOLDED, "best_test_acc", "best")
    plots.forest_plot(table, tmp_path / "forest.png", "forest")
    plots.gain_plot(table, tmp_path / "gain.png", "gain")
    assert all((tmp_path / f).stat().st_size > 10_000 for f in ("cd.png", "forest.png", "gain.png"))
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    plots.critical_difference_plot([ranking, rank("e", ["e"], scores(n=3))], "unused.png")
    plots.forest_plot(table, "unused.png", "forest")
    texts = [[t.get_text() for t in fig.findobj(plots.matplotlib.text.Text)] for fig in saved]
    assert all(any(f"method {i}" in t for t in texts[0]) for i in range(4))
    assert any("fewer than 6" in t for t in texts[0])  # the panel without a test says why
    assert any(t.startswith("T: WRN16-1(GAF), S: WRN16-1(Sig), λ = 0.7 (n=5)") for t in texts[1])
    assert any(NO_ALONE in t for t in texts[1])
    for fig in saved:
        plots.plt.close(fig)


def test_the_exports_hold_the_markdown_tables_numbers(tmp_path):
    collected = []
    text = render_tables(CONFIG, fake_runs(), load_reference(), "", collected=collected)
    names = write_exports(collected, tmp_path / "tables")
    assert len(names) == len(set(names)) == len(collected)
    section, title, table = collected[0]
    csv = pd.read_csv(tmp_path / "tables" / f"{names[0]}.csv", dtype=str, keep_default_na=False)
    markdown_rows = [line for line in text.split(f"## {section}")[1].splitlines() if line.startswith("| WRN16-1 (GAF")]
    md_numbers = re.findall(r"\d+\.\d{4}", markdown_rows[0])
    assert re.findall(r"\d+\.\d{4}", ",".join(csv.iloc[0])) == md_numbers
    tex = (tmp_path / "tables" / f"{names[0]}.tex").read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex  # booktabs
    assert f"\\underline{{\\textbf{{{md_numbers[3]}}}}}" in tex and "$\\Delta$ vs alone" in tex
    assert re.findall(r"\d+\.\d{4}", tex.split("\\midrule")[1].splitlines()[1]) == md_numbers
