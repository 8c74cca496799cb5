"""Activity logs: when each activity of each subject started and ended, in one of two layouts.

**Interval table** (CSV or Parquet): one row per bout, columns ``subject, activity, start, end``, and
optionally ``recording`` (a ``.bin`` file's stem, when a subject has several sessions). ``start`` and
``end`` are either timestamps (``2024-05-01 09:30:00.250``; the device clock, no time zone) or seconds
from the start of the subject's recording; ``end`` is exclusive.

**GGIR activity log** (CSV), as GENEActiv users keep it for GGIR's ``qwindow``: one row per recording,
the first column the ID (the subject), then a date column (its name contains ``date``; format
``log_date_format``, GGIR's default ``%d-%m-%Y``) followed by one column per activity holding its start
time ``hh:mm:ss`` (the column's name is the activity; a repeated name may carry a ``.1`` suffix, as
spreadsheet programs write it). Each activity lasts until the next start in the row; a column named
``end`` stops the activity before it without starting another, and the row's last activity lasts to the
end of the recording. Another date column starts the next day. Empty cells are skipped.

Both become an :class:`Intervals` table: one row per bout with the file line it came from, so that every
error can name ``file, line N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

COLUMNS = ["subject", "activity", "start", "end"]
OPEN_END = np.iinfo(np.int64).max  # "until the recording ends"
STOP = "end"


@dataclass
class Intervals:
    """Bouts: ``subject``, ``activity`` (raw label), ``start``/``end`` (ns since 1970, or seconds from the
    recording start when ``relative``), ``recording`` (file stem or ''), ``line`` (1-based, in ``path``)."""

    table: pd.DataFrame
    relative: bool
    path: Path

    def where(self, row) -> str:
        return f"{self.path}, line {row.line}"

    def text(self, time) -> str:
        """A start or end as the log meant it: seconds, or a timestamp."""
        return f"{time:g} s" if self.relative else clock_text(time)


def clock_text(ns: int) -> str:
    """A time in ns since 1970 as ``YYYY-MM-DD hh:mm:ss[.ffffff]`` (OPEN_END: the recording's end)."""
    return "the recording's end" if ns == OPEN_END else str(pd.Timestamp(int(ns)))


def read_annotations(path, date_format: str = "%d-%m-%Y") -> Intervals:
    """Read an activity log in either layout (told apart by its columns)."""
    path = Path(path)
    table = _read_table(path)
    columns = [str(c).strip() for c in table.columns]
    table.columns = columns
    lowered = [c.lower() for c in columns]
    if "activity" not in lowered and any("date" in c for c in lowered[1:]):
        return _ggir_intervals(table, path, date_format)
    missing = [c for c in COLUMNS if c not in lowered]
    if missing:
        raise DataError(f"{path}: an activity log needs columns {COLUMNS} (missing {missing}; have {columns}), "
                        f"or the GGIR layout (ID, date, one start-time column per activity)")
    table.columns = lowered
    return _interval_table(table, path)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: the activity log does not exist")
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except Exception as exc:
        raise DataError(f"{path}: not a readable activity log ({exc})") from exc


def _interval_table(table: pd.DataFrame, path: Path) -> Intervals:
    lines = np.arange(len(table)) + 2  # the header is line 1
    if table.empty:
        raise DataError(f"{path}: the activity log has no rows")
    for column in COLUMNS:
        empty = table[column].astype(str).str.strip() == ""
        if empty.any():
            raise DataError(f"{path}, line {lines[np.argmax(empty.to_numpy())]}: no {column}")
    start, relative = _times(table["start"], path, lines, "start")
    end, _ = _times(table["end"], path, lines, "end", relative)
    recording = table["recording"].astype(str).str.strip() if "recording" in table else ""
    out = pd.DataFrame({"subject": table["subject"].astype(str).str.strip(),
                        "activity": table["activity"].map(lambda v: v.strip() if isinstance(v, str) else v),
                        "start": start, "end": end, "recording": recording, "line": lines})
    return _checked(Intervals(out, relative, path))


def _times(values: pd.Series, path: Path, lines, column: str, relative: bool | None = None):
    """Seconds from the recording start (numbers) or ns since 1970 (timestamps); the first row sets the kind."""
    if pd.api.types.is_datetime64_any_dtype(values):  # a Parquet log's timestamp column
        if relative:
            raise DataError(f"{path}: {column} holds timestamps but start holds seconds; use one kind")
        return _clock_ns(values), False
    numbers = pd.to_numeric(values, errors="coerce")
    if relative is None:
        relative = bool(pd.notna(numbers.iloc[0]))
    if relative:
        if numbers.isna().any():
            bad = int(np.argmax(numbers.isna().to_numpy()))
            raise DataError(f"{path}, line {lines[bad]}: {column} {values.iloc[bad]!r} is not a number of seconds "
                            f"(the log's first start is, so every time is seconds from the recording start)")
        return numbers.to_numpy(np.float64), True
    stamps = pd.to_datetime(values.where(numbers.isna()), errors="coerce", format="mixed")
    if stamps.isna().any():
        bad = int(np.argmax(stamps.isna().to_numpy()))
        raise DataError(f"{path}, line {lines[bad]}: {column} {values.iloc[bad]!r} is not a timestamp "
                        f"(the log's first start is, so every time is a timestamp)")
    return _clock_ns(stamps), False


def _clock_ns(stamps: pd.Series) -> np.ndarray:
    """Datetimes as ns since 1970 on the device's clock (a time zone, if any, is dropped, not converted)."""
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.to_numpy("datetime64[ns]").astype(np.int64)


def _ggir_intervals(table: pd.DataFrame, path: Path, date_format: str) -> Intervals:
    rows = []
    for index, values in enumerate(table.itertuples(index=False)):
        line = index + 2
        subject = str(values[0]).strip()
        events = []  # (time ns, activity or STOP, column)
        day = None
        for column, cell in zip(table.columns[1:], values[1:]):
            cell = str(cell).strip()
            name = re.sub(r"\.\d+$", "", column).strip()
            if "date" in name.lower():
                day = _parse(cell, date_format, path, line, column, "date") if cell else None
                continue
            if not cell:
                continue
            if day is None:
                raise DataError(f"{path}, line {line}: column {column!r} has a time but no date column before it")
            clock = _parse(cell, "%H:%M:%S", path, line, column, "start time (hh:mm:ss)")
            events.append((day + (clock - pd.Timestamp("1900-01-01")), name, column))
        for (time, name, column), following in zip(events, events[1:] + [None]):
            if name.lower() == STOP:
                continue
            if following is not None and following[0] <= time:
                raise DataError(f"{path}, line {line}: {following[2]!r} ({following[0]}) is not after "
                                f"{column!r} ({time}); start times must increase along the row")
            end = OPEN_END if following is None else pd.Timestamp(following[0]).value
            rows.append((subject, name, pd.Timestamp(time).value, end, "", line))
    if not rows:
        raise DataError(f"{path}: the GGIR activity log has no start times")
    out = pd.DataFrame(rows, columns=["subject", "activity", "start", "end", "recording", "line"])
    return _checked(Intervals(out, False, path))


def _parse(cell: str, fmt: str, path: Path, line: int, column: str, what: str) -> pd.Timestamp:
    try:
        return pd.to_datetime(cell, format=fmt)
    except (ValueError, TypeError):
        raise DataError(f"{path}, line {line}: column {column!r}: {cell!r} is not a {what} in format {fmt!r} "
                        f"(source.log_date_format sets the date's)") from None


def _checked(intervals: Intervals) -> Intervals:
    """Reversed or empty intervals are errors; overlaps are checked per recording once they are placed."""
    table = intervals.table
    reversed_ = table["end"] <= table["start"]
    if reversed_.any():
        row = table[reversed_].iloc[0]
        raise DataError(f"{intervals.where(row)}: the interval ends ({intervals.text(row.end)}) before it starts "
                        f"({intervals.text(row.start)})")
    return intervals


def check_overlaps(table: pd.DataFrame, intervals: Intervals, recording: str) -> None:
    """``table``: one recording's placed intervals (absolute ns), any order."""
    ordered = table.sort_values("start", kind="stable")
    starts, ends = ordered["start"].to_numpy(), ordered["end"].to_numpy()
    clash = np.flatnonzero(starts[1:] < ends[:-1])
    if len(clash):
        first, second = ordered.iloc[clash[0]], ordered.iloc[clash[0] + 1]
        raise DataError(f"{intervals.where(second)}: the interval overlaps line {first.line} "
                        f"({first.activity!r}) in the recording {recording}")
