"""runs.csv: one row per finished run, read from its metrics.json."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..io import read_json

RUN_COLUMNS = ["dataset", "kind", "teachers", "student", "alpha", "lam", "seed", "best_test_acc", "final_test_acc",
               "best_epoch", "epochs", "params", "seconds", "device", "settings_digest", "code_version", "run_dir"]
REQUIRED = ("dataset", "kind", "seed", "best_test_acc", "final_test_acc")


def collect_runs(metrics_paths) -> pd.DataFrame:
    rows = []
    for path in metrics_paths:
        metrics = read_json(path)
        missing = [k for k in REQUIRED if k not in metrics]
        if missing:
            raise DataError(f"{path}: metrics file lacks {missing}; delete it and rerun its job")
        rows.append({**{column: metrics.get(column) for column in RUN_COLUMNS}, "run_dir": str(Path(path).parent)})
    runs = pd.DataFrame(rows, columns=RUN_COLUMNS)
    for column in ("teachers", "student"):
        runs[column] = runs[column].fillna("")
    return runs.sort_values(["dataset", "kind", "teachers", "student", "alpha", "lam", "seed"],
                            na_position="first", kind="stable").reset_index(drop=True)


def read_runs(path) -> pd.DataFrame:
    runs = pd.read_csv(path, keep_default_na=False, na_values={"alpha": [""], "lam": [""]})
    for column in ("teachers", "student", "device"):
        runs[column] = runs[column].astype(str)
    return runs
