"""Continuous recordings: one CSV or Parquet table per subject, windowed here.

Columns ``x, y, z`` (acceleration in g), ``label`` (per-sample activity: a class name or number)
and optionally ``timestamp`` (seconds). The subject is the file's stem. Windows of ``window``
samples start every ``stride`` samples inside runs of one label without a time gap; a window
never crosses a label change or a gap, and the remainder of each run is dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import LabelMapper, detect_class_base
from ..errors import DataError
from .windowset import WindowSet, check_finite

SUFFIXES = {".csv": pd.read_csv, ".parquet": pd.read_parquet}
AXES = ["x", "y", "z"]


def recording_files(folder) -> list[Path]:
    folder = Path(folder)
    files = sorted(f for f in folder.iterdir() if f.suffix in SUFFIXES) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no .csv or .parquet recordings found")
    return files


def read_table(path: Path) -> pd.DataFrame:
    try:
        table = SUFFIXES[path.suffix](path)
    except Exception as exc:
        raise DataError(f"{path}: not a readable {path.suffix[1:]} table ({exc})") from exc
    missing = [c for c in AXES + ["label"] if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing} (have {list(table.columns)})")
    if table["label"].isna().any():
        raise DataError(f"{path}: {int(table['label'].isna().sum())} rows have no label")
    check_finite(table[AXES].to_numpy(dtype=np.float64), str(path))
    if "timestamp" in table.columns:
        ts = table["timestamp"].to_numpy(dtype=np.float64)
        if not np.isfinite(ts).all() or (np.diff(ts) <= 0).any():
            raise DataError(f"{path}: timestamps must be finite and strictly increasing")
    return table


def run_starts(labels: np.ndarray, timestamps: np.ndarray | None, max_gap: float) -> np.ndarray:
    """Indices where a new run begins: a label change or a time gap larger than ``max_gap`` s."""
    breaks = labels[1:] != labels[:-1]
    if timestamps is not None:
        breaks |= np.diff(timestamps) > max_gap
    return np.concatenate([[0], np.flatnonzero(breaks) + 1, [len(labels)]])


def window_recording(table: pd.DataFrame, subject: str, window: int, stride: int, max_gap: float,
                     mapper: LabelMapper, where: str) -> WindowSet:
    xyz = table[AXES].to_numpy(dtype=np.float32)
    raw = table["label"].to_numpy()
    ts = table["timestamp"].to_numpy(dtype=np.float64) if "timestamp" in table.columns else None
    bounds = run_starts(raw, ts, max_gap)
    return windows_of_runs(xyz, bounds, lambda lo: mapper(raw[lo], where), window, stride, subject, subject)


def windows_of_runs(xyz: np.ndarray, bounds: np.ndarray, run_label, window: int, stride: int, subject: str,
                    name: str) -> WindowSet:
    """Windows of ``window`` samples every ``stride`` inside each run ``[bounds[i], bounds[i + 1])``.

    ``run_label(first sample)`` gives the run's class index, or None for a run that is not labelled; it
    is asked only of runs long enough for a window. Window ids are ``name@first sample``.
    """
    starts, labels = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi - lo < window:
            continue
        label = run_label(lo)
        if label is None:
            continue
        for s in range(lo, hi - window + 1, stride):
            starts.append(s)
            labels.append(label)
    idx = np.asarray(starts, dtype=np.int64)[:, None] + np.arange(window)
    signals = xyz[idx].transpose(0, 2, 1) if starts else np.zeros((0, 3, window), np.float32)
    return WindowSet(
        signals=np.ascontiguousarray(signals, dtype=np.float32),
        labels=np.asarray(labels, dtype=np.int64),
        subjects=np.full(len(starts), subject),
        ids=np.asarray([f"{name}@{s}" for s in starts]),
    )


def read_recordings(folder, names, window: int, stride: int, label_map=None, class_base="auto",
                    sampling_rate: float = 100.0) -> WindowSet:
    """Windows of every recording in ``folder``."""
    files = recording_files(folder)
    tables = [read_table(f) for f in files]
    for f, table in zip(files, tables):
        if len(table) < window:
            raise DataError(f"{f}: the window ({window} samples) is longer than the recording ({len(table)} samples)")
    mapper = _mapper_for(tables, names, label_map, class_base, str(folder))
    max_gap = 1.5 / sampling_rate
    parts = [window_recording(t, f.stem, window, stride, max_gap, mapper, str(f)) for f, t in zip(files, tables)]
    return WindowSet.concat(parts, str(folder))


def _mapper_for(tables, names, label_map, class_base, where) -> LabelMapper:
    if class_base != "auto":
        return LabelMapper(names, label_map, class_base=int(class_base))
    probe = LabelMapper(names, label_map)
    values = pd.unique(pd.concat([t["label"] for t in tables]))
    ints = [v for v in values if _is_int_like(v)]
    if not ints:
        return probe  # names only: the base does not matter
    base = detect_class_base([int(v) for v in ints], probe.n_source_classes(), where)
    return LabelMapper(names, label_map, class_base=base)


def _is_int_like(value) -> bool:
    try:
        return float(value).is_integer()
    except (TypeError, ValueError):
        return False


def read_source(folder: Path, settings: dict, where: str) -> WindowSet:
    """The ``recordings`` format's reader (:mod:`gafkd.data.formats`)."""
    from ..classes import class_names

    names = class_names(settings["classes"], f"datasets.{where}.classes")
    return read_recordings(folder, names, settings["window"], settings.get("stride", settings["window"]),
                           label_map=settings.get("label_map"), class_base=settings["source"].get("class_base", "auto"),
                           sampling_rate=settings.get("sampling_rate", 100.0))


def subjects(source: dict, folder: Path) -> list[str] | None:
    """One subject per recording file, its stem (None: no folder yet)."""
    return [f.stem for f in recording_files(folder)] if folder.is_dir() else None
