"""PAMAP2's raw ``.dat`` files → labelled windows (the ``pamap2`` source), as the group preprocesses them.

PAMAP2 (UCI "PAMAP2 Physical Activity Monitoring") has one space-separated text file per subject,
``Protocol/subject101.dat`` … ``subject109.dat`` (and ``Optional/`` for some), 54 columns a row
(:data:`COLUMNS`): timestamp (s), activity ID, heart rate (bpm, about 9 Hz: NaN between readings),
then three IMUs (hand, chest, ankle) at 100 Hz with temperature, 3-D acceleration ±16 g and ±6 g,
gyroscope, magnetometer and 4 orientation values (documented as invalid); lost packets are NaN.

The defaults are the lab's preprocessing (its ``preprocessing_pamap2_2.py`` and ``pamap2_load.py``;
docs/fidelity.md), in its order, one subject file at a time: rows of activities outside ``activities``
(0, transient, and the optional ones) are dropped; the ``columns`` kept (the group's 40: every IMU
value but orientation, and heart rate); then (``fill_order: after_drop``) heart rate filled forward
from its last reading among the kept rows (``heart_rate: ffill``) and every other NaN set to 0
(``gaps: {fill: zero}``); every third row kept (``resample: subsample``: 100 → 33.3 Hz, no
anti-alias filter); windows of ``window`` samples, the first starting one ``stride`` in and the last
before the final ``window`` rows (``window_starts: lab``, the lab's ``range(stride, n − window,
stride)``), kept when the labels at the window's first and last sample agree (``window_labels: ends``).
The lab's [0, 1] scaling by fixed limits (:func:`documented_limits`) is the images' ``fixed`` scaling
and, for the signal models, ``training.signal_scaling: fixed`` (:mod:`gafkd.training.data`).

``fill_order: before_drop`` fills first (a reading inside a dropped stretch then carries into the kept
rows after it); ``window_starts: all`` starts at row 0 and includes the last full window.

The alternatives: ``gaps: {fill: interpolate, max_gap: s}`` interpolates gaps up to ``max_gap``
seconds and drops every window that touches a longer one; ``resample: poly`` resamples each gap-free
stretch with the GENEActiv path's anti-aliased polyphase resampler; ``window_labels: all`` keeps a
window only when every label in it agrees. What was dropped is counted per subject and recorded in
windows.h5 (``preprocessing``) and the job's log.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import PAMAP2_GROUP
from ..errors import ConfigError, DataError
from .annotated import RESAMPLER, resample_stretches
from .windowset import WindowSet

IMUS = ("hand", "chest", "ankle")
IMU_PARTS = ("temperature", *(f"acc16_{a}" for a in "xyz"), *(f"acc6_{a}" for a in "xyz"),
             *(f"gyro_{a}" for a in "xyz"), *(f"mag_{a}" for a in "xyz"), *(f"orientation_{i}" for i in range(1, 5)))
COLUMNS = ("timestamp", "activity", "heart_rate", *(f"{imu}_{part}" for imu in IMUS for part in IMU_PARTS))
RATE = 100.0  # the IMUs' rate; heart rate is sampled at about 9 Hz into the same rows
# The group's 40 channels: heart rate, then per IMU everything but the orientation.
GROUP_CHANNELS = ("heart_rate", *(f"{imu}_{part}" for imu in IMUS for part in IMU_PARTS if "orientation" not in part))
CHANNEL_SETS = {"group40": GROUP_CHANNELS, "wrist3": ("hand_acc16_x", "hand_acc16_y", "hand_acc16_z")}
GROUP_ACTIVITIES = PAMAP2_GROUP  # the group's 12 classes, in class order (24 is rope jumping); others dropped
SUBJECTS = tuple(str(s) for s in range(101, 110))  # the dataset's nine subjects (subject101.dat …)
FOLDERS = ("Protocol", "Optional")
# The lab's fixed per-channel limits, in GROUP_CHANNELS order (its preprocessing_pamap2_2.py).
LAB_MAX = (202.0, 35.5, 47.6314, 155.532, 157.76, 45.5484, 62.2598, 61.728, 21.8452, 13.1222, 14.2184, 137.544,
           109.181, 100.543, 38.5625, 26.386, 153.582, 37.2936, 23.9101, 61.9328, 36.9676, 15.5171, 5.97964,
           2.94183, 80.4739, 39.7391, 95.8415, 35.4375, 157.232, 157.293, 150.99, 61.9509, 62.0461, 60.9357,
           17.4204, 13.5882, 13.9617, 91.4247, 92.867, 146.651)
LAB_MIN = (0, 0, -114.755, -104.301, -73.0384, -61.1938, -61.8086, -61.4193, -27.8044, -17.8495, -14.2647, -103.941,
           -200.043, -163.608, 0, -29.0888, -38.1657, -57.2366, -32.9627, -39.7561, -56.0108, -10.1563, -5.06858,
           -3.99487, -70.0627, -122.48, -66.6847, 0, -155.068, -155.617, -156.179, -60.3067, -61.9064, -62.2629,
           -14.162, -13.0401, -14.0196, -172.865, -137.908, -102.232)
# The format's source settings when a config leaves them out (filled in by gafkd.config.dataset_settings).
DEFAULTS = {"columns": "group40", "activities": list(GROUP_ACTIVITIES), "optional": False, "heart_rate": "ffill",
            "fill_order": "after_drop", "gaps": {"fill": "zero", "max_gap": 0.1}, "resample": "subsample",
            "window_labels": "ends", "window_starts": "lab"}


def channels_of(source: dict, key: str = "source.columns") -> tuple[str, ...]:
    """The kept columns' names, in order."""
    columns = source.get("columns", DEFAULTS["columns"])
    if isinstance(columns, str):
        if columns not in CHANNEL_SETS:
            raise ConfigError(f"{key}: {columns!r} is not one of {', '.join(CHANNEL_SETS)} or a list of column names")
        return CHANNEL_SETS[columns]
    unknown = [c for c in columns if c not in COLUMNS[2:]]
    if unknown:
        raise ConfigError(f"{key}: {unknown} are not PAMAP2 data columns (heart_rate, or <imu>_<part> with imu in "
                          f"{', '.join(IMUS)} and part in {', '.join(IMU_PARTS)})")
    return tuple(columns)


def channel_count(source: dict) -> int:
    return len(channels_of(source))


def documented_limits(source: dict) -> dict | None:
    """The lab's limits of the kept columns (None when a kept column has none: orientation)."""
    columns = channels_of(source)
    if not set(columns) <= set(GROUP_CHANNELS):
        return None
    at = [GROUP_CHANNELS.index(c) for c in columns]
    return {"min": [float(LAB_MIN[i]) for i in at], "max": [float(LAB_MAX[i]) for i in at]}


def check_settings(settings: dict, key: str) -> None:
    """What the schema cannot say: columns known, one class name per activity, a rate the resampler can make."""
    source = settings["source"]
    channels_of(source, f"{key}.source.columns")
    activities = source.get("activities", DEFAULTS["activities"])
    from ..classes import class_names

    names = class_names(settings["classes"], f"{key}.classes")
    if len(activities) != len(names):
        raise ConfigError(f"{key}.source.activities: {len(activities)} activity IDs for {len(names)} classes "
                          f"({key}.classes); class i is activity activities[i]")
    if source.get("resample", DEFAULTS["resample"]) == "subsample":
        _step(settings.get("sampling_rate", RATE), f"{key}.sampling_rate")


def _step(rate: float, key: str) -> int:
    step = max(1, round(RATE / rate))
    if abs(RATE / step - rate) > 1e-3 * rate:
        raise ConfigError(f"{key}: {rate:g} Hz is not 100 Hz / an integer, which resample: subsample (every k-th row, "
                          "the lab's) needs; use e.g. 33.333333 (every third row) or resample: poly")
    return step


def subject_files(folder: Path, optional: bool) -> dict[str, list[Path]]:
    """Each subject's files (Protocol, then Optional when asked), by subject ID."""
    found: dict[str, list[Path]] = {}
    for part in FOLDERS[:2 if optional else 1]:
        for path in sorted((folder / part).glob("subject*.dat")):
            found.setdefault(path.stem.removeprefix("subject"), []).append(path)
    if not found:
        raise DataError(f"{folder}: no Protocol/subject*.dat files found (point source.path at the unzipped "
                        "PAMAP2_Dataset folder)")
    return dict(sorted(found.items()))


def subjects(source: dict, folder: Path) -> list[str]:
    """The subjects of the files when they are there, else PAMAP2's documented nine."""
    if folder.is_dir():
        return list(subject_files(folder, source.get("optional", DEFAULTS["optional"])))
    return list(SUBJECTS)


def read_dat(path: Path) -> np.ndarray:
    """A .dat file as float64 [rows, 54]; a row with another column count, or text that is not a number, is
    refused naming the file and line."""
    raw = path.read_bytes()
    counts, firsts = _fields_per_line(raw)
    bad = np.flatnonzero((counts != len(COLUMNS)) & (counts != 0))
    if len(bad):
        line = int(bad[0]) + 1
        raise DataError(f"{path}, line {line}: {int(counts[bad[0]])} columns, PAMAP2 rows have {len(COLUMNS)} "
                        f"(timestamp, activity, heart rate, 3 IMUs × 17)")
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=np.float64, engine="c", skip_blank_lines=True)
    except (ValueError, pd.errors.ParserError):
        line, token = _first_non_number(raw)
        raise DataError(f"{path}, line {line}: {token!r} is not a number (PAMAP2 rows are numbers or NaN)") from None
    values = table.to_numpy()
    if len(values) == 0:
        raise DataError(f"{path}: no rows")
    return values


def _fields_per_line(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Whitespace-separated fields on each line of ``raw`` (no Python loop over lines)."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    newline = buf == 10
    token = ~((buf == 32) | (buf == 9) | (buf == 13) | newline)
    starts = token.copy()
    starts[1:] &= ~token[:-1]
    line_starts = np.concatenate([[0], np.flatnonzero(newline) + 1])
    line_starts = line_starts[line_starts < len(buf)]
    counts = np.add.reduceat(starts, line_starts, dtype=np.int64) if len(buf) else np.zeros(0, np.int64)
    return counts, line_starts


def _first_non_number(raw: bytes) -> tuple[int, str]:
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        for token in line.split():
            try:
                float(token)
            except ValueError:
                return number, token
    return 0, "?"


def preprocess(values: np.ndarray, source: dict, rate: float) -> tuple[np.ndarray, ...]:
    """One file's rows → (time s [n], activity ID [n], channels [n, C] at ``rate``, stretch index [n], counts),
    in the lab's order."""
    columns = channels_of(source)
    activities = source.get("activities", DEFAULTS["activities"])
    gaps = {**DEFAULTS["gaps"], **source.get("gaps", {})}
    time, activity = values[:, 0], values[:, 1]
    data = values[:, [COLUMNS.index(c) for c in columns]]
    counts = {"rows": len(values)}
    keep = np.isin(activity, activities)
    counts["rows_dropped_activity"] = {str(int(a)): int(n) for a, n in zip(*np.unique(activity[~keep], return_counts=True))}
    if source.get("fill_order", DEFAULTS["fill_order"]) == "after_drop":  # the lab's: fill the kept rows only
        time, activity, data = time[keep], activity[keep], data[keep]
        data = _filled(data, columns, source, gaps, counts)
    else:
        data = _filled(data, columns, source, gaps, counts)[keep]
        time, activity = time[keep], activity[keep]
    if source.get("resample", DEFAULTS["resample"]) == "subsample":
        step = _step(rate, "sampling_rate")
        time, activity, data = time[::step], activity[::step], data[::step]
        stretch = np.zeros(len(time), dtype=np.int64)  # the lab windows across dropped rows
    else:
        time, activity, data, stretch = _resample_poly(time, activity, data, rate)
    return time, activity, data, stretch, counts


def _filled(data: np.ndarray, columns, source: dict, gaps: dict, counts: dict) -> np.ndarray:
    """Heart rate between its readings, then every other NaN (set to 0, or short gaps interpolated)."""
    if "heart_rate" in columns:  # readings at ~9 Hz: every row gets the last (or interpolated) reading
        h = columns.index("heart_rate")
        series = pd.Series(data[:, h])
        filled = series.ffill() if source.get("heart_rate", DEFAULTS["heart_rate"]) == "ffill" \
            else series.interpolate(limit_direction="both")
        data[:, h] = filled.to_numpy()
    missing = np.isnan(data)
    counts["nan_values"] = int(missing.sum())
    if gaps["fill"] == "interpolate":
        data = _interpolate_short_gaps(data, int(round(gaps["max_gap"] * RATE)))
        counts["nan_values_left"] = int(np.isnan(data).sum())  # in gaps longer than max_gap: their windows go
        return data
    return np.where(missing, 0.0, data)


def _interpolate_short_gaps(data: np.ndarray, max_gap: int) -> np.ndarray:
    frame = pd.DataFrame(data)
    filled = frame.interpolate(limit_area="inside")
    missing = frame.isna()
    for column in frame:  # pandas' limit fills part of a long gap; undo it: a long gap stays whole
        runs = missing[column].ne(missing[column].shift()).cumsum()
        length = missing[column].groupby(runs).transform("sum")
        filled.loc[missing[column] & (length > max_gap), column] = np.nan
    return filled.to_numpy()


def _resample_poly(time, activity, data, rate):
    """Each stretch without a time gap or a NaN row, resampled on its own (the GENEActiv path's resampler)."""
    good = ~np.isnan(data).any(axis=1)
    time_ns = np.rint(time * 1e9).astype(np.int64)
    new_ns, new_data, stretch = resample_stretches(time_ns[good], data[good], RATE, rate)
    source_rows = np.flatnonzero(good)[np.clip(np.searchsorted(time_ns[good], new_ns), 0, good.sum() - 1)]
    return new_ns / 1e9, activity[source_rows], new_data, stretch


def candidate_starts(rows: int, window: int, stride: int, rule: str) -> np.ndarray:
    """Where windows may start: ``lab``: stride, 2·stride, … below rows − window (the lab's ``range(stride,
    n − window, stride)``: no window at row 0 nor at the last full position); ``all``: 0, stride, … up to it."""
    if rule == "lab":
        return np.arange(stride, rows - window, stride)
    return np.arange(0, max(rows - window + 1, 0), stride)


def window_starts(activity: np.ndarray, data: np.ndarray, stretch: np.ndarray, window: int, stride: int,
                  labels_rule: str, starts_rule: str = "all") -> tuple[np.ndarray, dict]:
    """Window starts every ``stride`` rows (:func:`candidate_starts`), kept when the labels agree (at both ends,
    or everywhere), no NaN is inside and the window lies in one stretch; counts of what was dropped and why."""
    starts = candidate_starts(len(activity), window, stride, starts_rule)
    last = starts + window - 1
    if labels_rule == "ends":
        labels_ok = activity[starts] == activity[last]
    else:
        change = np.concatenate([[0], np.cumsum(activity[1:] != activity[:-1])])
        labels_ok = change[starts] == change[last]
    nan_rows = np.concatenate([[0], np.cumsum(np.isnan(data).any(axis=1))])
    gap_free = nan_rows[last + 1] == nan_rows[starts]
    same_stretch = stretch[starts] == stretch[last]
    keep = labels_ok & gap_free & same_stretch
    return starts[keep], {"windows_label_change": int((~labels_ok).sum()),
                          "windows_long_gap": int((labels_ok & ~gap_free).sum()),
                          "windows_time_gap": int((labels_ok & gap_free & ~same_stretch).sum()),
                          "windows_kept": int(keep.sum())}


def read_source(folder: Path, settings: dict, where: str) -> WindowSet:
    """The ``pamap2`` format's reader (:mod:`gafkd.data.formats`)."""
    source = {**DEFAULTS, **settings["source"]}
    check_settings(settings, f"datasets.{where}")
    window, stride = settings["window"], settings.get("stride", settings["window"])
    rate = settings.get("sampling_rate", RATE)
    label_of = {a: i for i, a in enumerate(source["activities"])}
    parts, report = [], {}
    for subject, paths in subject_files(folder, source["optional"]).items():
        for path in paths:
            time, activity, data, stretch, counts = preprocess(read_dat(path), source, rate)
            starts, windowed = window_starts(activity, data, stretch, window, stride, source["window_labels"],
                                             source["window_starts"])
            report[f"{path.parent.name}/{path.name}"] = {**counts, **windowed}
            idx = starts[:, None] + np.arange(window)
            parts.append(WindowSet(
                signals=np.ascontiguousarray(data[idx].transpose(0, 2, 1), dtype=np.float32),
                labels=np.asarray([label_of[int(a)] for a in activity[starts]], dtype=np.int64),
                subjects=np.full(len(starts), subject),
                ids=np.asarray([f"{path.parent.name}/{subject}@{s}" for s in starts]),
            ))
        if not sum(report[f"{p.parent.name}/{p.name}"]["windows_kept"] for p in paths):
            raise DataError(f"{paths[0]}: subject {subject} yields no window (of {window} samples with agreeing labels; "
                            f"see the counts: {json.dumps(report[f'{paths[0].parent.name}/{paths[0].name}'])})")
    windows = WindowSet.concat(parts, str(folder))
    windows.attrs = {"sample_rate": float(rate), "channels": json.dumps(list(channels_of(source))),
                     "preprocessing": json.dumps({"settings": {k: source[k] for k in DEFAULTS}, "files": report,
                                                  "total": _totals(report)}),
                     "resampler": ("every k-th row (the lab's; no anti-alias filter)" if source["resample"] == "subsample"
                                   else RESAMPLER)}
    return windows


def _totals(report: dict) -> dict:
    total: dict = {}
    for counts in report.values():
        for key, value in counts.items():
            if isinstance(value, dict):
                for k, v in value.items():
                    total.setdefault(key, {}).setdefault(k, 0)
                    total[key][k] += v
            else:
                total[key] = total.get(key, 0) + value
    return total


def dropped_text(preprocessing: dict) -> str:
    """One sentence: what the reader dropped (for logs and tables)."""
    t = preprocessing["total"]
    rows = sum(t.get("rows_dropped_activity", {}).values())
    return (f"{t['windows_kept']} windows kept; dropped: {rows} of {t['rows']} rows (activities outside the label map, "
            f"0 = transient), {t['windows_label_change']} windows whose labels change, {t['windows_long_gap']} "
            f"windows touching a gap longer than gaps.max_gap, {t['windows_time_gap']} windows across a time gap; "
            f"{t['nan_values']} NaN values "
            f"{'interpolated' if preprocessing['settings']['gaps']['fill'] == 'interpolate' else 'set to 0'}"
            " (heart rate filled first)")


# --- the synthetic PAMAP2-like files (source: {format: synthetic, write_as: pamap2}) -----------------------
# Which of the GENEActiv-like generator's signatures stands in for each of the group's activities at the hand
# IMU; the chest and ankle IMUs see damped and amplified copies. Bouts come in random order, each followed by
# a transient stretch (activity 0) and one bout of an activity outside the label map (9, watching TV): rows
# the reader drops. Heart rate is a reading every 11th row (about 9 Hz), NaN between; each IMU loses short
# runs of packets (NaN) and the hand IMU one long one, as the real files do.
SYNTHETIC_SIGNATURES = {24: "Treadmill 6 mph 5%", 1: "Drive car", 2: "Seated fold/stack laundry",
                        3: "Stand fidget with hands", 4: "Hard-surface walk", 5: "Treadmill 6 mph 0%",
                        6: "Treadmill 3 mph 5%", 7: "Treadmill 4 mph 0%", 12: "Walk up stairs",
                        13: "Walk down stairs", 16: "Carpet walk (high heels/dress shoes)", 17: "Brush teeth/hair",
                        9: "Treadmill 2 mph 0%"}
HEART_RATE = {24: 160, 1: 75, 2: 80, 3: 88, 4: 112, 5: 155, 6: 125, 7: 120, 12: 130, 13: 118, 16: 105, 17: 90, 9: 78,
              0: 95}
G = 9.80665  # PAMAP2's accelerations are in m/s²


def subject_names(count: int) -> list[str]:
    """Synthetic subjects are named as PAMAP2's: 101, 102, …"""
    return [str(101 + s) for s in range(count)]


def write_synthetic(folder, source: dict, window: int) -> None:
    """``source['subjects']`` files ``Protocol/subject1NN.dat`` of 54 columns, deterministic from ``seed``."""
    from .synthetic import SIGNATURES, activity_signal, draw_subject

    protocol = Path(folder) / FOLDERS[0]
    protocol.mkdir(parents=True, exist_ok=True)
    root = np.random.default_rng([source["seed"], 0x9A2])
    for name in subject_names(source["subjects"]):
        rng = np.random.default_rng(root.integers(2**63))
        subject = draw_subject(rng)
        bouts = [*rng.permutation(GROUP_ACTIVITIES), 9]
        hand, ids, heart = [], [], []
        for activity in bouts:
            n = int(source["seconds_per_activity"] * RATE * rng.uniform(0.9, 1.1))
            hand.append(activity_signal(rng, SIGNATURES[SYNTHETIC_SIGNATURES[int(activity)]], subject, n))
            ids.append(np.full(n, int(activity)))
            heart.append(np.full(n, float(HEART_RATE[int(activity)])))
            gap = int(rng.uniform(2, 4) * RATE)  # the transient between bouts: the wrist drifting
            ramp = np.linspace(0, 1, gap)[:, None]
            hand.append((1 - ramp) * hand[-1][-1] + ramp * rng.normal(0, 0.3, 3) + rng.normal(0, 0.02, (gap, 3)))
            ids.append(np.zeros(gap, dtype=int))
            heart.append(np.full(gap, float(HEART_RATE[0])))
        hand_g = np.concatenate(hand)
        rows = _rows(rng, hand_g, np.concatenate(ids), np.concatenate(heart))
        text = io.StringIO()
        np.savetxt(text, rows, fmt="%.6g")  # pandas' to_csv with a float format is 5× slower
        (protocol / f"subject{name}.dat").write_text(text.getvalue().replace("nan", "NaN"))


def _rows(rng, hand_g: np.ndarray, activity: np.ndarray, heart: np.ndarray) -> np.ndarray:
    n = len(hand_g)
    out = np.full((n, len(COLUMNS)), np.nan)
    out[:, 0] = 5.64 + np.arange(n) / RATE
    out[:, 1] = activity
    beats = np.arange(n) % 11 == 0
    out[beats, 2] = np.round(heart[beats] + np.convolve(rng.normal(0, 1, n), np.ones(200) / 20, "same")[beats])
    for i, (imu, scale) in enumerate(zip(IMUS, (1.0, 0.45, 1.6))):
        acc = hand_g * scale + (1 - scale) * np.array([0.0, -1.0, 0.0]) + rng.normal(0, 0.02, (n, 3))
        acc = acc[:, rng.permutation(3)] * G
        base = 3 + i * len(IMU_PARTS)
        block = np.column_stack([
            33.0 + i + 0.3 * np.sin(np.arange(n) / (RATE * 60)),  # temperature
            acc,
            np.clip(acc, -6 * G, 6 * G) + rng.normal(0, 0.05, (n, 3)),  # the ±6 g accelerometer saturates
            np.gradient(acc, axis=0) * RATE / (4 * G) + rng.normal(0, 0.02, (n, 3)),  # gyroscope, rad/s
            np.array([20.0, -30.0, 40.0]) + 5 * acc / G + rng.normal(0, 0.5, (n, 3)),  # magnetometer, µT
            np.tile([1.0, 0.0, 0.0, 0.0], (n, 1)),  # orientation (invalid in PAMAP2 too)
        ])
        lost = rng.random(n) < 0.004  # short runs of lost packets
        for run in range(3):
            block[np.roll(lost, run) & (rng.random(n) < 0.7)] = np.nan
        if imu == "hand":  # and one long one
            start = int(rng.integers(n // 4, n // 2))
            block[start:start + int(0.8 * RATE)] = np.nan
        out[:, base:base + len(IMU_PARTS)] = block
    return out
