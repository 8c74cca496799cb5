"""Raw GENEActiv recordings + an activity log → labelled windows (the ``geneactiv`` source).

Each ``.bin`` file in the folder is one recording (a subject's session); ``subject_pattern``, a regular
expression with a group named ``subject`` matched against the file's stem, says whose (default: the
stem is the subject). A recording at another rate than the dataset's ``sampling_rate`` is resampled
with ``scipy.signal.resample_poly`` (polyphase FIR with a Kaiser-window anti-aliasing filter), each
gap-free stretch on its own, its ends padded by a fitted line rather than zeros so that gravity does
not ring at them. The log's intervals then label the samples; windows never cross an activity
boundary, a gap in the timestamps, or an unlabelled stretch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import LabelMapper
from ..errors import ConfigError, DataError
from ..provenance import package_versions
from .annotations import Intervals, check_overlaps, clock_text, read_annotations
from .geneactiv import BinRecording, read_bin
from .recordings import run_starts, windows_of_runs
from .windowset import WindowSet

UNLABELLED = -1
RESAMPLER = "scipy.signal.resample_poly (Kaiser-window FIR, padtype=line), per gap-free stretch"


@dataclass
class Recording:
    path: Path
    subject: str
    data: BinRecording

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def span(self) -> tuple[int, int]:
        """First sample time and one period past the last (ns)."""
        return int(self.data.time_ns[0]), int(self.data.time_ns[-1] + 1e9 / self.data.sample_rate)

    def overlaps(self, start: int, end: int) -> bool:
        first, last = self.span
        return start < last and end > first


def bin_files(folder) -> list[Path]:
    folder = Path(folder)
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() == ".bin") if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no GENEActiv .bin recordings found")
    return files


def subject_of(path: Path, pattern: str | None) -> str:
    """The subject a file belongs to: the ``subject`` group of ``pattern`` in the stem, or the stem."""
    if not pattern:
        return path.stem
    match = re.search(pattern, path.stem)
    if not match:
        raise DataError(f"{path}: the file name does not match source.subject_pattern {pattern!r}")
    return match.group("subject")


def resample(data: BinRecording, rate: float) -> BinRecording:
    """``data`` at ``rate`` Hz: every gap-free stretch resampled on its own, times on the new grid."""
    if data.sample_rate == rate:
        return data
    times, xyz, _ = resample_stretches(data.time_ns, data.xyz, data.sample_rate, rate)
    return BinRecording(times, xyz, float(rate), data.subject_code, data.metadata)


def resample_stretches(time_ns: np.ndarray, values: np.ndarray, native_rate: float,
                       rate: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``values`` [n, C] sampled at ``time_ns`` → (times, values float32, stretch index) at ``rate`` Hz, each
    stretch without a time gap (over 1.5 samples) resampled on its own."""
    from scipy.signal import resample_poly  # 1 s to import: only when a recording needs it

    ratio = Fraction(rate / native_rate).limit_denominator(1000)
    starts = run_starts(np.zeros(len(time_ns)), time_ns, 1.5e9 / native_rate)
    times, parts, stretch = [], [], []
    for index, (lo, hi) in enumerate(zip(starts[:-1], starts[1:])):
        part = resample_poly(values[lo:hi].astype(np.float64), ratio.numerator, ratio.denominator,
                             axis=0, padtype="line")
        parts.append(part.astype(np.float32))
        times.append(time_ns[lo] + np.rint(np.arange(len(part)) * 1e9 / rate).astype(np.int64))
        stretch.append(np.full(len(part), index))
    return np.concatenate(times), np.concatenate(parts), np.concatenate(stretch)


def place_intervals(intervals: Intervals, recordings: list[Recording], mapper: LabelMapper) -> dict[str, list]:
    """Each log row's (start ns, end ns, class index), per recording name; every problem named by line."""
    by_subject: dict[str, list[Recording]] = {}
    for rec in recordings:
        by_subject.setdefault(rec.subject, []).append(rec)
    placed = {rec.name: [] for rec in recordings}
    rows = []
    for row in intervals.table.itertuples(index=False):
        where = intervals.where(row)
        rec = _recording_for(row, by_subject, intervals, where)
        label = mapper(row.activity, where)
        start, end = row.start, row.end
        if intervals.relative:
            t0 = rec.span[0]
            start, end = t0 + int(round(row.start * 1e9)), t0 + int(round(row.end * 1e9))
        if not rec.overlaps(start, end):
            raise DataError(f"{where}: {intervals.text(row.start)} – {intervals.text(row.end)} lies outside the "
                            f"recording {rec.path.name} ({_span_text(rec)})")
        rows.append((rec.name, start, end, label, row.line, row.activity))
    table = pd.DataFrame(rows, columns=["recording", "start", "end", "label", "line", "activity"])
    for name, group in table.groupby("recording", sort=False):
        check_overlaps(group, intervals, name)
        placed[name] = list(zip(group["start"], group["end"], group["label"]))
    return placed


def _recording_for(row, by_subject: dict, intervals: Intervals, where: str) -> Recording:
    candidates = by_subject.get(row.subject)
    if not candidates:
        raise DataError(f"{where}: subject {row.subject!r} has no .bin file (subjects with files: "
                        f"{sorted(by_subject)[:20]}; source.subject_pattern maps file names to subjects)")
    if row.recording:
        named = [rec for rec in candidates if rec.name == row.recording]
        if not named:
            raise DataError(f"{where}: recording {row.recording!r} is not a .bin file of subject {row.subject!r}")
        return named[0]
    if intervals.relative:
        if len(candidates) > 1:
            raise DataError(f"{where}: subject {row.subject!r} has {len(candidates)} recordings; give times as "
                            f"timestamps or name the file in a 'recording' column")
        return candidates[0]
    inside = [rec for rec in candidates if rec.overlaps(row.start, row.end)]
    if not inside:
        spans = ", ".join(f"{rec.name}: {_span_text(rec)}" for rec in candidates)
        raise DataError(f"{where}: {intervals.text(row.start)} – {intervals.text(row.end)} lies outside every recording of subject "
                        f"{row.subject!r} ({spans})")
    return inside[0]


def _span_text(rec: Recording) -> str:
    return f"{clock_text(rec.span[0])} – {clock_text(rec.span[1])}"


def sample_labels(time_ns: np.ndarray, intervals: list) -> np.ndarray:
    """Class index per sample (UNLABELLED outside every interval; ``end`` exclusive)."""
    labels = np.full(len(time_ns), UNLABELLED, np.int64)
    for start, end, label in intervals:
        labels[np.searchsorted(time_ns, start):np.searchsorted(time_ns, end)] = label
    return labels


def read_geneactiv_folder(folder, annotations, names, window: int, stride: int, sampling_rate: float = 100.0,
                          label_map=None, subject_pattern: str | None = None,
                          log_date_format: str = "%d-%m-%Y") -> WindowSet:
    """Windows of every ``.bin`` recording in ``folder``, labelled by the activity log ``annotations``."""
    intervals = read_annotations(annotations, log_date_format)
    files = bin_files(folder)
    recordings = [Recording(f, subject_of(f, subject_pattern), read_bin(f)) for f in files]
    placed = place_intervals(intervals, recordings, LabelMapper(names, label_map))
    parts, native = [], {}
    for rec in recordings:
        if not placed[rec.name]:
            raise DataError(f"{rec.path}: no interval of {intervals.path} labels any of this recording "
                            f"(subject {rec.subject!r}, {_span_text(rec)})")
        native[rec.name] = rec.data.sample_rate
        data = resample(rec.data, sampling_rate)
        labels = sample_labels(data.time_ns, placed[rec.name])
        bounds = run_starts(labels, data.time_ns, 1.5e9 / sampling_rate)
        part = windows_of_runs(data.xyz, bounds, lambda lo: None if labels[lo] == UNLABELLED else int(labels[lo]),
                               window, stride, rec.subject, rec.name)
        parts.append(part)
    windows = WindowSet.concat(parts, str(folder))
    resampled = {name: rate for name, rate in native.items() if rate != sampling_rate}
    windows.attrs = {"sample_rate": float(sampling_rate), "recording_rates": json.dumps(native),
                     "resampled": json.dumps(resampled),
                     "resampler": RESAMPLER if resampled else "none (every recording at the dataset's rate)",
                     "reader": f"actfast {package_versions().get('actfast', '?')}", "annotations": str(intervals.path)}
    return windows



def read_source(folder: Path, settings: dict, where: str) -> WindowSet:
    """The ``geneactiv`` format's reader (:mod:`gafkd.data.formats`): synthetic data writes its own log."""
    from ..classes import class_names
    from .formats import is_synthetic
    from .synthetic import ACTIVITY_LOG

    source = settings["source"]
    names = class_names(settings["classes"], f"datasets.{where}.classes")
    annotations = folder / ACTIVITY_LOG if is_synthetic(source) else Path(source["annotations"])
    return read_geneactiv_folder(folder, annotations, names, settings["window"],
                                 settings.get("stride", settings["window"]), settings.get("sampling_rate", 100.0),
                                 settings.get("label_map"), source.get("subject_pattern"),
                                 source.get("log_date_format", "%d-%m-%Y"))


def subjects(source: dict, folder: Path) -> list[str] | None:
    """The subjects of the .bin files (by ``subject_pattern``; None: no folder yet)."""
    if not folder.is_dir():
        return None
    return sorted({subject_of(f, source.get("subject_pattern")) for f in bin_files(folder)})


def check_settings(settings: dict, key: str) -> None:
    """A subject pattern that can match (the ``geneactiv`` format's check)."""
    pattern = settings["source"].get("subject_pattern")
    if pattern is None:
        return
    try:
        groups = re.compile(pattern).groupindex
    except re.error as exc:
        raise ConfigError(f"{key}.source.subject_pattern: {pattern!r} is not a regular expression ({exc})") from None
    if "subject" not in groups:
        raise ConfigError(f"{key}.source.subject_pattern: {pattern!r} needs a group named subject, "
                          "e.g. (?P<subject>[^_]+)")
