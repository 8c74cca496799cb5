"""rankings.csv: the main tables' student rows ranked over blocks (dataset variant × seed), Friedman and Nemenyi.

Demšar (2006): methods are ranked within each block (rank 1: the highest accuracy, ties averaged); Friedman's
test asks whether the mean ranks differ at all, Nemenyi's post-hoc test which pairs do, and the
critical-difference diagram (scikit-posthocs) draws both. A block counts only when every method finished in it.
Per dataset (a fold-split dataset's folds × trials together) and across datasets: the methods every dataset
section shares — the datasets that share fewer than :data:`MIN_METHODS` of them with the first are left out,
and the report says so. Fewer than :data:`MIN_BLOCKS` complete blocks: no test, and the reason instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .effects import ALPHA, MIN_PAIRS

MIN_METHODS = 3  # Friedman's test compares three or more
# as few blocks as a pairwise exact test needs to reach p < ALPHA at all (effects.MIN_PAIRS): below that the
# Nemenyi critical difference spans nearly every rank gap
MIN_BLOCKS = MIN_PAIRS
ACROSS = "across datasets"
RANKING_COLUMNS = ["scope", "datasets", "method", "mean_rank", "n_blocks", "n_methods", "friedman_chi2",
                   "friedman_p", "critical_difference", "status", "note"]


@dataclass
class Ranking:
    """One scope's ranking: the accuracy of each method (rows) in each complete block (columns)."""

    scope: str
    datasets: list[str]
    scores: pd.DataFrame  # methods × complete blocks
    status: str = ""  # why there is no test ("" when there is one)
    chi2: float = math.nan
    p: float = math.nan
    mean_ranks: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    nemenyi: pd.DataFrame | None = None  # pairwise p-values
    note: str = ""  # which datasets an across-datasets ranking leaves out, and why

    @property
    def critical_difference(self) -> float:
        """Nemenyi's critical difference of mean ranks at ALPHA: q_α √(k(k + 1) / 6N)."""
        from scipy import stats  # here, not at the top: 0.5 s of every report job's start otherwise

        k, n = self.scores.shape
        if k < 2 or n < 1:
            return math.nan
        q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / math.sqrt(2)
        return float(q * math.sqrt(k * (k + 1) / (6 * n)))

    def rows(self) -> list[dict]:
        base = {"scope": self.scope, "datasets": " ".join(self.datasets), "n_blocks": self.scores.shape[1],
                "n_methods": self.scores.shape[0], "friedman_chi2": self.chi2, "friedman_p": self.p,
                "critical_difference": self.critical_difference if not self.status else math.nan,
                "status": self.status, "note": self.note}
        if self.mean_ranks.empty:
            return [{**base, "method": "", "mean_rank": math.nan}]
        return [{**base, "method": method, "mean_rank": float(rank)} for method, rank in self.mean_ranks.items()]

    def sentence(self) -> str:
        return ranking_sentence(pd.DataFrame(self.rows()))


def ranking_sentence(rows: pd.DataFrame) -> str:
    """One scope's ranking (its rows of rankings.csv) in one line of the report."""
    first = rows.iloc[0]
    scope = f"{first['scope']}: {first['datasets'].replace(' ', ', ')}" if first["scope"] == ACROSS else first["scope"]
    scope += f"; {first['note']}" if first["note"] else ""
    if first["status"]:
        return f"Ranking ({scope}): {first['status']}."
    best = rows.sort_values("mean_rank", kind="stable").iloc[0]
    return (f"Ranking ({scope}; {first['n_methods']} methods over {first['n_blocks']} complete blocks): Friedman "
            f"χ² = {first['friedman_chi2']:.2f}, p = {first['friedman_p']:.3g}; best mean rank "
            f"{best['mean_rank']:.2f}: {best['method']}; Nemenyi's critical difference "
            f"{first['critical_difference']:.2f} ranks (plots/critical_difference.png).")


def rank(scope: str, datasets: list[str], scores: pd.DataFrame) -> Ranking:
    """Friedman and Nemenyi over the complete blocks of ``scores`` (methods never finished are left out)."""
    scores = scores.dropna(how="all").dropna(axis=1, how="any")
    ranking = Ranking(scope, datasets, scores)
    k, n = scores.shape
    if k < MIN_METHODS:
        ranking.status = f"{k} method{'s' if k != 1 else ''} with finished runs, fewer than the {MIN_METHODS} Friedman's test compares"
    elif n < MIN_BLOCKS:
        ranking.status = (f"{n} complete block{'s' if n != 1 else ''} (folds × seeds where every method finished), "
                          f"fewer than {MIN_BLOCKS}: too few for Friedman's test or a critical difference to tell "
                          "methods apart; add seeds")
    if ranking.status:
        return ranking
    import scikit_posthocs
    from scipy import stats

    ranks = (-scores).rank(axis=0)  # rank 1: the best accuracy of the block
    ranking.mean_ranks = ranks.mean(axis=1).sort_values(kind="stable")
    if (scores.nunique(axis=0) <= 1).all():
        ranking.status = "every block ties every method"
        return ranking
    ranking.chi2, ranking.p = (float(v) for v in stats.friedmanchisquare(*scores.to_numpy()))
    ranking.nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(scores.T.to_numpy())
    ranking.nemenyi.index = ranking.nemenyi.columns = scores.index
    return ranking


def rankings(scores: dict[str, pd.DataFrame], members: dict[str, list[str]]) -> list[Ranking]:
    """Across datasets first (when there are two or more), then one per dataset section; ``scores``: each
    section's methods × blocks (:meth:`gafkd.reporting.tables.DatasetTables.student_scores`), ``members`` its
    dataset variants."""
    results = []
    if len(scores) > 1:
        names = list(scores)
        shared, included, left_out = list(scores[names[0]].index), [names[0]], []
        for name in names[1:]:
            common = [m for m in shared if m in scores[name].index]
            if len(common) >= MIN_METHODS:
                shared, included = common, [*included, name]
            else:
                left_out.append(name)
        ranking = rank(ACROSS, included, pd.concat([scores[n].loc[shared] for n in included], axis=1))
        if left_out:
            ranking.note = (f"without {', '.join(left_out)}, which share{'s' if len(left_out) == 1 else ''} fewer "
                            f"than {MIN_METHODS} of these methods")
        results.append(ranking)
    results += [rank(name, members[name], frame) for name, frame in scores.items()]
    return results


def rankings_frame(results: list[Ranking]) -> pd.DataFrame:
    return pd.DataFrame([row for r in results for row in r.rows()], columns=RANKING_COLUMNS)
