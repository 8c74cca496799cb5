"""A GENEActiv-like synthetic data generator: 3-axis wrist acceleration in g at 100 Hz.

The real GENEActiv data is not public, so the pipeline ships this generator. Each of the 14
protocol activities has a signature a wrist sensor would see — gravity direction from arm
posture, gait cadence and heel-strike impacts (faster and harder for higher treadmill speeds,
slightly different for grades, stairs up vs down), band-limited hand motion (laundry, fidgeting,
brushing), engine vibration and slow steering for driving — and the signatures deliberately
overlap. Subjects differ in wrist orientation, gain, cadence and noise, so a subject-disjoint
split is harder than a window-level one, as in the real study.

Output is written in one of the real formats (per-window .mat files, per-subject CSV/Parquet
recordings, or GENEActiv .bin files with an activity log) and read back through the same reader as
real data. Everything is deterministic from ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..classes import GENE14
from .geneactiv import write_bin
from .mat import write_window_mat

FS = 100.0
HANG = (0.15, -0.95, 0.2)  # arm hanging at the side
BENT = (0.6, -0.7, 0.35)  # forearm bent (running, carrying)
TABLE = (0.1, 0.15, -0.95)  # forearm resting on a surface
WHEEL = (0.5, 0.3, -0.8)  # hands on a steering wheel
RAISED = (-0.8, 0.3, -0.5)  # hand raised to the face


@dataclass(frozen=True)
class Signature:
    posture: tuple[float, float, float]
    cadence: float = 0.0  # steps per second (0: no gait)
    impact: float = 0.0  # heel-strike peak, g
    sharpness: float = 6.0  # impact pulse concentration
    swing: float = 0.0  # arm swing at half cadence, g
    band: tuple[float, float, float] = (0.0, 0.0, 0.0)  # hand motion: low Hz, high Hz, g rms
    vibration: tuple[float, float] = (0.0, 0.0)  # Hz, g
    tilt: float = 0.05  # slow orientation wander, rad
    jitter: float = 0.03  # relative cadence variability


SIGNATURES = {
    "Treadmill 2 mph 0%": Signature(HANG, 1.55, 0.35, 5, 0.22),
    "Treadmill 3 mph 0%": Signature(HANG, 1.72, 0.50, 6, 0.32),
    "Treadmill 3 mph 5%": Signature(HANG, 1.68, 0.56, 6, 0.36, tilt=0.08),
    "Treadmill 4 mph 0%": Signature(HANG, 1.92, 0.70, 7, 0.45),
    "Treadmill 6 mph 0%": Signature(BENT, 2.65, 1.55, 9, 0.75),
    "Treadmill 6 mph 5%": Signature(BENT, 2.60, 1.70, 9, 0.80, tilt=0.08),
    "Seated fold/stack laundry": Signature(TABLE, band=(0.3, 1.5, 0.22), tilt=0.45),
    "Stand fidget with hands": Signature(HANG, band=(0.8, 4.0, 0.12), tilt=0.2),
    "Brush teeth/hair": Signature(RAISED, band=(2.5, 6.0, 0.30), tilt=0.25),
    "Drive car": Signature(WHEEL, band=(0.05, 0.6, 0.08), vibration=(14.0, 0.03), tilt=0.3),
    "Hard-surface walk": Signature(HANG, 1.80, 0.62, 7, 0.40, jitter=0.08, tilt=0.1),
    "Carpet walk (high heels/dress shoes)": Signature(HANG, 1.90, 0.45, 6, 0.30, jitter=0.08, tilt=0.1),
    "Walk up stairs": Signature(HANG, 1.50, 0.55, 5, 0.26, jitter=0.06, tilt=0.15),
    "Walk down stairs": Signature(HANG, 1.78, 0.85, 8, 0.30, jitter=0.06, tilt=0.15),
}


def _rotation(angles: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] from small x/y/z angles [..., 3]."""
    a, b, c = np.moveaxis(angles, -1, 0)
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    one, zero = np.ones_like(a), np.zeros_like(a)
    rx = np.stack([one, zero, zero, zero, ca, -sa, zero, sa, ca], -1).reshape(*a.shape, 3, 3)
    ry = np.stack([cb, zero, sb, zero, one, zero, -sb, zero, cb], -1).reshape(*a.shape, 3, 3)
    rz = np.stack([cc, -sc, zero, sc, cc, zero, zero, zero, one], -1).reshape(*a.shape, 3, 3)
    return rz @ ry @ rx


def _band_noise(rng, n: int, lo: float, hi: float, rms: float, channels: int = 3) -> np.ndarray:
    """Gaussian noise band-limited to [lo, hi] Hz with the given rms, [n, channels]."""
    if rms <= 0:
        return np.zeros((n, channels))
    spectrum = np.fft.rfft(rng.normal(size=(n, channels)), axis=0)
    freqs = np.fft.rfftfreq(n, 1 / FS)
    spectrum[(freqs < lo) | (freqs > hi)] = 0
    x = np.fft.irfft(spectrum, n=n, axis=0)
    return x / (x.std(axis=0, keepdims=True) + 1e-12) * rms


@dataclass(frozen=True)
class Subject:
    orientation: np.ndarray  # rotation angles of the watch on this wrist
    gain: float
    cadence: float
    vigour: float
    noise: float


def draw_subject(rng) -> Subject:
    return Subject(
        orientation=rng.normal(0, 0.25, size=3),
        gain=rng.uniform(0.92, 1.08),
        cadence=rng.uniform(0.9, 1.1),
        vigour=rng.uniform(0.75, 1.25),
        noise=rng.uniform(0.01, 0.035),
    )


def activity_signal(rng, sig: Signature, subject: Subject, n: int) -> np.ndarray:
    """One continuous bout of an activity, [n, 3] in g."""
    t = np.arange(n) / FS
    wander = _band_noise(rng, n, 0.0, 0.15, sig.tilt)
    rot = _rotation(subject.orientation + wander)
    gravity = np.einsum("nij,j->ni", rot, np.asarray(sig.posture) / np.linalg.norm(sig.posture))
    motion = np.zeros((n, 3))
    if sig.cadence:
        drift = np.cumsum(_band_noise(rng, n, 0.0, 0.3, sig.jitter, 1)[:, 0]) / FS
        freq = sig.cadence * subject.cadence
        phase = 2 * np.pi * (freq * t + freq * drift) + rng.uniform(0, 2 * np.pi)
        pulse = np.exp(sig.sharpness * (np.cos(phase) - 1))
        direction = np.array([0.3, 0.9, 0.3]) + rng.normal(0, 0.1, 3)
        motion += np.outer(pulse * sig.impact * subject.vigour, direction)
        motion[:, 0] += sig.swing * subject.vigour * np.sin(phase / 2)
        motion[:, 2] += 0.4 * sig.swing * subject.vigour * np.sin(phase / 2 + 0.7)
    lo, hi, rms = sig.band
    motion += _band_noise(rng, n, lo, hi, rms * subject.vigour)
    vib_hz, vib_g = sig.vibration
    if vib_g:
        motion += vib_g * np.sin(2 * np.pi * vib_hz * (1 + 0.05 * rng.normal()) * t)[:, None] * rng.uniform(0.5, 1, 3)
    motion += rng.normal(0, subject.noise, size=(n, 3))
    accel = (gravity + np.einsum("ij,nj->ni", rot[0], motion)) * subject.gain
    return np.clip(accel, -8, 8)  # the GENEActiv range is ±8 g


def generate_recordings(subjects: int, seconds_per_activity: float, seed: int = 0,
                        activities=GENE14) -> dict[str, pd.DataFrame]:
    """Per-subject recordings: every activity once in random order, 60 s gaps between bouts."""
    root = np.random.default_rng(seed)
    recordings = {}
    for s in range(subjects):
        rng = np.random.default_rng(root.integers(2**63))
        subject = draw_subject(rng)
        parts, labels, times, clock = [], [], [], 0.0
        for a in rng.permutation(len(activities)):
            n = int(seconds_per_activity * FS * rng.uniform(0.9, 1.1))
            parts.append(activity_signal(rng, SIGNATURES[activities[a]], subject, n))
            labels += [activities[a]] * n
            times.append(clock + np.arange(n) / FS)
            clock += n / FS + 60.0
        xyz = np.concatenate(parts).astype(np.float32)
        recordings[subject_names(subjects)[s]] = pd.DataFrame({
            "timestamp": np.round(np.concatenate(times), 2), "x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2],
            "label": labels,
        })
    return recordings


def subject_names(count: int) -> list[str]:
    """The generator's subject IDs: S001, S002, …"""
    return [f"S{s + 1:03d}" for s in range(count)]


def write_synthetic(folder, subjects: int, seconds_per_activity: float, seed: int, write_as: str,
                    window: int | None = None) -> Path:
    """Generate recordings and write them as ``write_as`` (any writer of :mod:`gafkd.data.formats`) into
    ``folder``."""
    from .formats import write_synthetic as write

    write(folder, {"format": "synthetic", "subjects": subjects, "seconds_per_activity": seconds_per_activity,
                   "seed": seed, "write_as": write_as}, window)
    return Path(folder)


def _recordings(source: dict) -> dict[str, pd.DataFrame]:
    return generate_recordings(source["subjects"], source["seconds_per_activity"], source["seed"])


# The GENEActiv-like writers, one per write_as value (gafkd.data.formats names them): (folder, source, window).
def write_parquet(folder, source: dict, window) -> None:
    for subject, table in _recordings(source).items():
        table.to_parquet(Path(folder) / f"{subject}.parquet", index=False)


def write_csv(folder, source: dict, window) -> None:
    for subject, table in _recordings(source).items():
        table.to_csv(Path(folder) / f"{subject}.csv", index=False)


def write_mat(folder, source: dict, window) -> None:
    for subject, table in _recordings(source).items():
        _write_windows_as_mat(Path(folder), subject, table, window, "5")


def write_mat73(folder, source: dict, window) -> None:
    for subject, table in _recordings(source).items():
        _write_windows_as_mat(Path(folder), subject, table, window, "7.3")


def write_geneactiv_bin(folder, source: dict, window) -> None:
    _write_as_bin(Path(folder), _recordings(source), source["seed"])


def _write_windows_as_mat(folder: Path, subject: str, table: pd.DataFrame, window: int, version: str) -> None:
    """Cut non-overlapping windows inside each bout and write them the group's way (1-based classes)."""
    xyz = table[["x", "y", "z"]].to_numpy()
    index = 0
    for label, bout in table.groupby("label", sort=False).groups.items():
        rows = np.asarray(bout)
        for start in range(0, len(rows) - window + 1, window):
            index += 1
            name = f"ID-{subject}_CLASS-{GENE14.index(label) + 1}_Window-{index:04d}.mat"
            write_window_mat(folder / name, xyz[rows[start:start + window]], version)


BIN_START = np.datetime64("2024-05-06T09:00:00", "ns")  # the first subject's session; one a day after
ACTIVITY_LOG = "activity_log.csv"  # written beside the .bin files


def continuous_recording(table: pd.DataFrame, rng) -> tuple[np.ndarray, list[tuple[int, int, str]]]:
    """The bouts of ``table`` on one unbroken 100 Hz timeline, as a watch worn through the session records it.

    Between bouts (the generator's 60 s gaps) the wrist drifts from the last posture to the next one
    with sensor noise: unlabelled stretches. Returns acceleration [n, 3] and each bout's
    (first sample, sample count, activity).
    """
    index = np.rint(table["timestamp"].to_numpy() * FS).astype(np.int64)
    xyz = table[["x", "y", "z"]].to_numpy(np.float64)
    out = np.empty((index[-1] + 1, 3))
    out[index] = xyz
    firsts = np.flatnonzero(np.diff(index, prepend=-2) > 1)  # rows where a bout begins
    lasts = np.append(firsts[1:], len(index)) - 1
    for last, first in zip(lasts[:-1], firsts[1:]):
        lo, hi = index[last] + 1, index[first]
        ramp = np.linspace(0, 1, hi - lo + 2)[1:-1, None]
        out[lo:hi] = (1 - ramp) * xyz[last] + ramp * xyz[first] + rng.normal(0, 0.02, (hi - lo, 3))
    labels = table["label"].to_numpy()
    return out, [(int(index[f]), int(l - f + 1), labels[f]) for f, l in zip(firsts, lasts)]


def _write_as_bin(folder: Path, recordings: dict[str, pd.DataFrame], seed: int) -> None:
    """One .bin file per subject and one activity log (subject, activity, start, end) for all of them."""
    rng = np.random.default_rng([seed, 0xB1])
    rows = []
    for day, (subject, table) in enumerate(recordings.items()):
        xyz, bouts = continuous_recording(table, rng)
        start_ns = int((BIN_START + np.timedelta64(day, "D")).astype(np.int64))
        written = write_bin(folder / f"{subject}.bin", xyz, FS, start_ns, subject=subject, serial=f"{70000 + day}")
        for first, length, activity in bouts:
            begin = int(written.time_ns[first])
            rows.append((subject, activity, _timestamp(begin), _timestamp(begin + round(length * 1e9 / FS))))
    pd.DataFrame(rows, columns=["subject", "activity", "start", "end"]).to_csv(folder / ACTIVITY_LOG, index=False)


def _timestamp(ns: int) -> str:
    return str(np.datetime64(int(ns), "ns").astype("datetime64[ms]")).replace("T", " ")


def write_synthetic_atomic(folder, source: dict, window: int) -> dict:
    """:func:`write_synthetic` into a temporary folder renamed onto ``folder`` when complete."""
    import shutil

    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    from .formats import write_synthetic as write_as_configured

    write_as_configured(tmp, source, window)
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return {"files": sum(1 for f in folder.rglob("*") if f.is_file()), "format": source["write_as"]}
