"""effects.csv: each distilled configuration against the matching student alone, paired by fold and seed.

The group's question is whether teachers help the student; a mean ± std per row cannot say so when trials
are few and differences small. Per KD configuration (every one with runs, sweeps included) the effect is the
mean of the per-trial differences to the student alone of the same dataset variant (fold), seed, student
architecture and selection metric — and the same compute: an annealed student is compared with the
compute-matched student alone (``students.compute_matched``), never with the shorter one. A configuration
without such a run gets no effect and is counted (``status``).

Statistics (docs/statistics.md says what each means and when not to trust it):

- a 95 % t interval of the mean difference (n ≥ 2);
- the exact two-sided sign-flip (paired permutation) test of a zero mean difference, computed over all 2^n
  sign assignments for n ≤ :data:`EXACT_UP_TO` (meet in the middle: 2 × 2^(n/2) sums); above that Wilcoxon's
  signed-rank test (normal approximation). With n pairs its smallest p is 2 / 2^n: 0.25 for 3 trials;
- the paired t test and Wilcoxon's exact test beside it where n allows (scipy);
- Holm's step-down adjustment over the configurations of a dataset (statsmodels), and ``holds`` when the
  adjusted p is below :data:`ALPHA`.
"""

from __future__ import annotations

import math
from itertools import count

import numpy as np
import pandas as pd

from ..distillation.registry import ANNEALED, BASE, FIXED, VARIANTS, find_variant
from ..folds import dataset_groups
from ..kinds import ALONE_KIND, TEACHER
from ..names import OK
from .labels import run_label
from .summary import CONFIG_COLUMNS

ALPHA = 0.05
CONFIDENCE = 0.95
# the smallest number of pairs whose exact two-sided sign-flip p can be below ALPHA (2 / 2^n < ALPHA): 6
MIN_PAIRS = next(n for n in count(1) if 2 / 2 ** n < ALPHA)
EXACT_UP_TO = 40  # pairs: 2 × 2^20 signed half-sums at most
POWER = 0.8  # of the power line: the trials that detect an effect with this probability (paired t)

EFFECT_COLUMNS = [*CONFIG_COLUMNS, "label", "metric", "alone_variant", "n_runs", "n_pairs", "mean_kd", "mean_alone",
                  "delta", "sd", "ci_low", "ci_high", "test", "p", "min_p", "p_holm", "holds", "p_t", "p_wilcoxon",
                  "teacher_acc", "pairs", "status"]
NO_ALONE = "no matching student-alone run"
UNPAIRED = "no finished run pairs with a student-alone run of the same fold and seed"
SIGN_FLIP, WILCOXON = "sign-flip (exact)", "Wilcoxon signed-rank (normal approximation)"


def signed_sums(values: np.ndarray) -> np.ndarray:
    """The 2^k sums ±v1 ± … ± vk."""
    sums = np.zeros(1)
    for value in values:
        sums = np.concatenate([sums + value, sums - value])
    return sums


def sign_flip_p(differences) -> float:
    """The exact two-sided p of the sign-flip test: the share of the 2^n sign assignments of the differences
    whose |sum| is at least the observed |sum| (the observed assignment included, so p ≥ 2 / 2^n).

    Counted, not sampled: the sums of the first half's assignments against the sorted sums of the second's.
    """
    d = np.asarray(differences, dtype=np.float64)
    if not len(d):
        return math.nan
    if len(d) > EXACT_UP_TO:
        raise ValueError(f"{len(d)} pairs: the exact count is for at most {EXACT_UP_TO}")
    # ties: sums equal to the observed one up to rounding count as at least as extreme
    threshold = abs(d.sum()) - 1e-9 * max(1.0, float(np.abs(d).sum()))
    if threshold <= 0:
        return 1.0
    first, second = signed_sums(d[: len(d) // 2]), np.sort(signed_sums(d[len(d) // 2:]))
    above = len(second) - np.searchsorted(second, threshold - first, side="left")
    below = np.searchsorted(second, -threshold - first, side="right")
    return float((above.sum() + below.sum()) / 2.0 ** len(d))


def t_interval(differences, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The t interval of the mean difference (NaN for fewer than 2 pairs)."""
    from scipy import stats  # here, not at the top: 0.5 s of every report job's start otherwise

    d = np.asarray(differences, dtype=np.float64)
    if len(d) < 2:
        return math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return float(d.mean() - half), float(d.mean() + half)


def paired_tests(differences) -> dict:
    """The primary test (its name, p and smallest attainable p) and the paired t and Wilcoxon beside it."""
    from scipy import stats

    d = np.asarray(differences, dtype=np.float64)
    n = len(d)
    result = {"test": SIGN_FLIP if n <= EXACT_UP_TO else WILCOXON, "min_p": min(1.0, 2 / 2 ** n),
              "p_t": math.nan, "p_wilcoxon": math.nan}
    if n >= 2 and d.std() > 0:
        result["p_t"] = float(stats.ttest_1samp(d, 0.0).pvalue)
    if n >= MIN_PAIRS and np.any(d != 0):
        result["p_wilcoxon"] = float(stats.wilcoxon(d).pvalue)
    result["p"] = sign_flip_p(d) if n <= EXACT_UP_TO else result["p_wilcoxon"]
    return result


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN, out of the count)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(len(p), math.nan)
    tested = ~np.isnan(p)
    if tested.any():
        adjusted[tested] = multipletests(p[tested], alpha=ALPHA, method="holm")[1]
    return adjusted


def alone_variant(variant: str) -> str:
    """The student alone an experiment of ``variant`` is compared with: trained as long (an annealed start's
    cross-entropy epochs, then as many again) — the compute-matched one for an annealed variant."""
    if VARIANTS[variant].annealed:
        return find_variant(ANNEALED, FIXED, ()).name
    return BASE


def effects(runs: pd.DataFrame, config: dict, metric_column: str, metric: str) -> pd.DataFrame:
    """One row per KD configuration of each dataset group (a fold-split dataset's folds together)."""
    group_of = {member: name for name, members in dataset_groups(config).items() for member in members}
    records = runs.to_dict("records")  # plain rows: a pandas selection per configuration costs seconds
    value = lambda r: r[metric_column] if r["status"] == OK and not pd.isna(r[metric_column]) else None  # noqa: E731
    # the student alone by (its variant, student, dataset variant, seed); diverged ones too: they say the comparison
    # was planned
    alone, teachers, configurations = {}, {}, {}
    for r in records:
        if r["kind"] == ALONE_KIND:
            alone[r["variant"], r["student"], r["dataset"], int(r["seed"])] = value(r)
        elif r["kind"] == TEACHER:
            if value(r) is not None:
                teachers.setdefault((r["teachers"], r["dataset"]), []).append(value(r))
        else:
            key = (group_of.get(r["dataset"], r["dataset"]), *(_same(r[c]) for c in CONFIG_COLUMNS[1:]))
            configurations.setdefault(key, []).append(r)
    rows = []
    for key, members in configurations.items():
        configuration = dict(zip(CONFIG_COLUMNS, key))
        against = alone_variant(configuration["variant"])
        datasets = sorted({m["dataset"] for m in members})
        planned = [k for k in alone if k[:2] == (against, configuration["student"]) and k[2] in datasets]
        pairs = [(m["dataset"], int(m["seed"]), value(m), alone.get((against, m["student"], m["dataset"], int(m["seed"]))))
                 for m in members]
        pairs = sorted(p for p in pairs if p[2] is not None and p[3] is not None)
        row = {**configuration, "label": _label(configuration), "metric": metric, "alone_variant": against,
               "n_runs": len(members), "n_pairs": len(pairs),
               "teacher_acc": _teacher_accuracy(teachers, configuration["teachers"], datasets),
               "pairs": " ".join(f"{dataset}:seed{seed}" for dataset, seed, _, _ in pairs),
               "status": "" if pairs else (UNPAIRED if planned else NO_ALONE)}
        if pairs:
            kd, base = np.array([p[2] for p in pairs]), np.array([p[3] for p in pairs])
            # rounded: accuracies are recorded to far fewer digits, and float noise would pass for a spread
            d = np.round(kd - base, 9)
            low, high = t_interval(d)
            row.update(mean_kd=float(kd.mean()), mean_alone=float(base.mean()), delta=float(d.mean()),
                       sd=float(d.std(ddof=1)) if len(d) > 1 else math.nan, ci_low=low, ci_high=high,
                       **paired_tests(d))
        rows.append(row)
    table = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    for group, members in table.groupby("dataset", sort=False):
        table.loc[members.index, "p_holm"] = holm(members["p"])
    table["holds"] = table["p_holm"] < ALPHA
    return table


def _same(value):
    """NaN (no α or λ) as None, so that configurations without one fall together."""
    return None if isinstance(value, float) and math.isnan(value) else value


def _label(configuration: dict) -> str:
    label = run_label(configuration["kind"], configuration["teachers"], configuration["student"],
                      configuration["alpha"], configuration["lam"])
    if configuration["weights"]:
        label += f", w = {configuration['weights']}"
    return label + ("" if configuration["variant"] == BASE else f" [{VARIANTS[configuration['variant']].label}]")


def _teacher_accuracy(teachers: dict, names: str, datasets: list[str]) -> float:
    """The mean accuracy of a configuration's teachers: each teacher's mean over its finished runs of the same
    dataset variants, then the mean over the teachers."""
    means = [np.mean(values) for name in names.split("+")
             if (values := [v for d in datasets for v in teachers.get((name, d), [])])]
    return float(np.mean(means)) if means else math.nan


def read_effects(path) -> pd.DataFrame:
    frame = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in (
        "alpha", "lam", "mean_kd", "mean_alone", "delta", "sd", "ci_low", "ci_high", "p", "min_p", "p_holm", "p_t",
        "p_wilcoxon", "teacher_acc")})
    for column in ("teachers", "student", "weights", "variant", "pairs", "status", "test"):
        frame[column] = frame[column].astype(str)
    frame["holds"] = frame["holds"].astype(str) == "True"
    return frame


# -- what the tables say of a set of effects ----------------------------------------------------

def effect_cell(effect: pd.Series | None) -> str:
    """``+1.23 [−0.40, +2.86]`` (``*``: holds after Holm), ``+1.23 (n=1)``, or why there is none."""
    if effect is None or effect["status"] == NO_ALONE:
        return "no alone run"
    if effect["status"]:
        return "no pairs"
    text = f"{effect['delta']:+.2f}"
    if effect["n_pairs"] < 2:
        return text + " (n=1)"
    return f"{text} [{effect['ci_low']:+.2f}, {effect['ci_high']:+.2f}]" + (" *" if effect["holds"] else "")


def power_line(rows: pd.DataFrame, effect_of_interest: float) -> str:
    """How many trials would detect an effect at the spread these rows show (paired t, two-sided ALPHA,
    POWER), from the median sd of their per-trial differences."""
    from statsmodels.stats.power import TTestPower

    spread = rows.loc[rows["n_pairs"] >= 2, ["sd", "n_pairs"]].dropna()
    spread = spread[spread["sd"] > 0]
    if spread.empty:
        return ("Power: no row has two paired trials with a spread, so none can say how many trials an effect "
                "needs.")
    sd, n = float(spread["sd"].median()), int(spread["n_pairs"].median())
    power = TTestPower()
    detectable = power.solve_power(nobs=n, alpha=ALPHA, power=POWER, alternative="two-sided") * sd
    needed = math.ceil(power.solve_power(effect_size=effect_of_interest / sd, alpha=ALPHA, power=POWER,
                                         alternative="two-sided"))
    return (f"Power: at the observed spread of the per-trial differences (sd {sd:.2f} points, median over "
            f"{len(spread)} rows), {n} paired trials detect an effect of {detectable:.2f} points with "
            f"{POWER:.0%} power (paired t, two-sided α = {ALPHA:g}); {effect_of_interest:g} points "
            f"(`report.power_effect`) needs {max(needed, 2)} trials. The exact sign-flip test needs at least "
            f"{MIN_PAIRS} pairs to reach p < {ALPHA:g} at all.")


def effects_note(rows: pd.DataFrame) -> str:
    """What the Δ column is, and how many rows it could not give."""
    tested = rows[rows["n_pairs"] > 0]
    held = int(rows["holds"].sum())
    missing = rows[rows["n_pairs"] == 0]
    n = sorted(set(tested["n_pairs"].astype(int)))
    few = (f" With {n[0]} pair{'s' if n[0] != 1 else ''} the exact test's smallest p is {2 / 2 ** n[0]:.3g}: no "
           f"effect here can reach p < {ALPHA:g}." if n and n[-1] < MIN_PAIRS else "")
    return (f"Δ vs alone: the mean of the per-trial differences to the student alone of the same fold, seed, "
            f"architecture, selection and compute, with its {CONFIDENCE:.0%} t interval; * holds after Holm's "
            f"correction over this dataset's {len(tested)} compared configurations (exact sign-flip test, "
            f"α = {ALPHA:g}): {held or 'none'} hold{'s' if held <= 1 else ''}.{few}"
            + (f" {len(missing)} configuration{'s' if len(missing) != 1 else ''} with no finished pair against a "
               f"matching student-alone run get{'s' if len(missing) == 1 else ''} none (`status` in effects.csv says "
               "why)." if len(missing) else "")
            + " Every configuration: `effects.csv`.")
