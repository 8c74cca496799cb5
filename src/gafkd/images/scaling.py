"""A representation's input scaling: what the signal looks like when its images are made.

- ``fixed`` — the lab's (protocol.md, PAMAP2 preprocessing): each channel scaled to [0, 1] by fixed,
  dataset-wide limits, x' = (x − min) / (max − min); then a value above 1 becomes 0.99 and a value
  below 0 becomes 0, as the lab's code clips. The limits are the dataset's ``limits`` (config), or the
  per-channel minimum and maximum of the split's **training** windows (never validation or test ones).
  Amplitude survives: a still window stays flat, a vigorous one spans the range.
- ``window`` — each window and channel centred on its mean and divided by its range,
  x' = (x − mean) / (max − min), in (−1, 1); a constant series becomes zeros. Amplitude is gone.
- ``none`` — the signal as windows.h5 holds it (its units).

Representations whose transform normalises each window itself (GAF's min–max to [−1, 1], MTF's
quantile bins) are unchanged by an increasing per-channel affine map and have no scaling setting.
The ``images`` stage applies the scaling before the transform and records it in ``{name}.h5``: the
``scaling`` attribute (kind, limits used and where they came from, windows and samples clipped, per
part of the split) and a ``clipped`` dataset (samples clipped per window), which every teacher's
``metrics.json`` carries on (``images.scaling``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, DataError

SCALINGS = ("fixed", "window", "none")
TRAINING = "train"  # fixed limits from the split's training windows
CLIPPED_HIGH = 0.99  # the lab's clipping: x' > 1 becomes 0.99, x' < 0 becomes 0


def window_scaled(rows: np.ndarray) -> np.ndarray:
    """(x − mean) / (max − min) along the last axis, float64; constant series become zeros."""
    rows = rows.astype(np.float64, copy=False)
    span = rows.max(axis=-1, keepdims=True) - rows.min(axis=-1, keepdims=True)
    centred = rows - rows.mean(axis=-1, keepdims=True)
    return np.divide(centred, span, out=np.zeros_like(centred), where=span > 0)


def fixed_scaled(signals: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lab's scaling of ``signals`` [N, C, L] by per-channel limits: (scaled float64, samples clipped per window)."""
    scaled = (signals.astype(np.float64, copy=False) - low[:, None]) / (high - low)[:, None]
    above, below = scaled > 1.0, scaled < 0.0
    scaled[above], scaled[below] = CLIPPED_HIGH, 0.0
    return scaled, (above | below).sum(axis=(1, 2))


@dataclass(frozen=True)
class Scaling:
    """One scaling, ready to apply: for ``fixed`` its limits per channel."""

    kind: str
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    limits_from: str | None = None  # "config" or "training windows"

    def apply(self, signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``signals`` [N, C, L] → (scaled [N, C, L] float64, samples clipped per window [N])."""
        if self.kind == "fixed":
            return fixed_scaled(signals, self.low, self.high)
        scaled = window_scaled(signals) if self.kind == "window" else signals.astype(np.float64)
        return scaled, np.zeros(len(signals), dtype=np.int64)

    def record(self, clipped: np.ndarray, split: np.ndarray) -> dict:
        """What the ``scaling`` attribute and the teachers' metrics say of it."""
        record = {"kind": self.kind}
        if self.kind == "fixed":
            record.update(limits={"min": self.low.tolist(), "max": self.high.tolist()}, limits_from=self.limits_from,
                          clip={"above_1": CLIPPED_HIGH, "below_0": 0.0},
                          clipped_windows=int((clipped > 0).sum()), clipped_samples=int(clipped.sum()),
                          clipped_windows_by_part={part: int((clipped[split == part] > 0).sum())
                                                   for part in dict.fromkeys(split.tolist())})
        return record


def scaling_of(settings: dict, windows, where: str) -> Scaling | None:
    """The scaling a representation's ``settings`` ask for (None: it has no scaling setting), with its
    limits for ``windows`` (:class:`gafkd.data.store.Windows`); ``where`` names windows.h5 in messages."""
    kind = settings.get("scaling")
    if kind is None:
        return None
    if kind not in SCALINGS:
        raise ConfigError(f"images: scaling {kind!r} is not one of {SCALINGS}")
    if kind != "fixed":
        return Scaling(kind)
    channels = windows.signals.shape[1]
    limits = settings.get("limits", TRAINING)
    if limits == TRAINING:
        train = windows.indices("train")
        if not len(train):
            raise DataError(f"{where}: no training windows to take the fixed scaling's limits from")
        part = windows.signals[train]
        low, high, source = part.min(axis=(0, 2)), part.max(axis=(0, 2)), "training windows"
    else:
        low, high, source = np.asarray(limits["min"], float), np.asarray(limits["max"], float), "config"
        if len(low) != channels or len(high) != channels:
            raise ConfigError(f"{where}: the dataset's limits give {len(low)} min and {len(high)} max values "
                              f"for its {channels} channels (datasets.<name>.limits)")
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    flat = np.flatnonzero(high <= low)
    if len(flat):
        raise DataError(f"{where}: channel {int(flat[0])} has no range for the fixed scaling "
                        f"(min {low[flat[0]]:g}, max {high[flat[0]]:g}, limits from {source})")
    return Scaling("fixed", low, high, source)


def check_limits(limits, key: str, channels: int | None = None) -> None:
    """Config check: as many min as max values (and as the source's ``channels``), each min below its max."""
    if limits is None:
        return
    low, high = limits["min"], limits["max"]
    if len(low) != len(high):
        raise ConfigError(f"{key}: {len(low)} min values but {len(high)} max values")
    if channels is not None and len(low) != channels:
        raise ConfigError(f"{key}: {len(low)} values for the source's {channels} channels")
    for channel, (lo, hi) in enumerate(zip(low, high)):
        if not lo < hi:
            raise ConfigError(f"{key}: channel {channel}: min {lo:g} is not below max {hi:g}")
