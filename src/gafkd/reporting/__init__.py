"""Results as a pure function of the runs: runs.csv → summary.csv → tables.md, plots."""

from .collect import RUN_COLUMNS, collect_runs  # noqa: F401
from .summary import SUMMARY_COLUMNS, summarize  # noqa: F401
