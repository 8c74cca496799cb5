"""summary.csv: mean and population std (ddof = 0, the notes' convention) per configuration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..names import OK

CONFIG_COLUMNS = ["dataset", "kind", "teachers", "student", "alpha", "lam", "weights", "variant"]
SUMMARY_COLUMNS = [*CONFIG_COLUMNS, "metric", "n", "mean", "std"]
METRICS = ("best_test_acc", "final_test_acc", "test_acc_at_best_val")


def mean_std(values) -> tuple[float, float]:
    """Mean and population standard deviation (ddof = 0)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.mean()), float(values.std(ddof=0))


def config_key(row) -> tuple:
    """A hashable configuration key; NaN alpha/lam become None so that they compare equal."""
    return tuple(None if isinstance(row[c], float) and np.isnan(row[c]) else row[c] for c in CONFIG_COLUMNS)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std per configuration over its finished runs (a diverged run counts like a missing one)."""
    rows = []
    groups = {}
    for _, run in runs[runs["status"] == OK].iterrows():
        groups.setdefault(config_key(run), []).append(run)
    for key, members in groups.items():
        for metric in METRICS:
            values = [m[metric] for m in members if not pd.isna(m[metric])]
            if not values:  # test_acc_at_best_val of a dataset without a validation split
                continue
            mean, std = mean_std(values)
            rows.append({**dict(zip(CONFIG_COLUMNS, key)), "metric": metric, "n": len(values), "mean": mean,
                         "std": std})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
