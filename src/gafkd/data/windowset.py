"""The in-memory result of every reader: windows with labels, subjects and ids."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError


@dataclass
class WindowSet:
    """``signals`` float32 [N, 3, L]; ``labels`` int64 [N]; ``subjects`` and ``ids`` str [N].

    ``attrs``: what the reader wants recorded in windows.h5's attributes (e.g. resampling).
    """

    signals: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    ids: np.ndarray
    attrs: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.signals)
        if not (len(self.labels) == len(self.subjects) == len(self.ids) == n):
            raise ValueError("WindowSet arrays must have the same length")

    def __len__(self) -> int:
        return len(self.signals)

    @classmethod
    def concat(cls, parts: list["WindowSet"], where: str) -> "WindowSet":
        parts = [p for p in parts if len(p)]
        if not parts:
            raise DataError(f"{where}: no complete window could be cut from the data")
        return cls(
            signals=np.concatenate([p.signals for p in parts]),
            labels=np.concatenate([p.labels for p in parts]),
            subjects=np.concatenate([p.subjects for p in parts]),
            ids=np.concatenate([p.ids for p in parts]),
        )


def check_finite(array: np.ndarray, where: str) -> None:
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise DataError(f"{where}: contains {bad} NaN/Inf values")
