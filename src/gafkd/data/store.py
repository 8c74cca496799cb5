"""Reading windows.h5 whole: the light module the training jobs import (no pandas, no scipy)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from ..errors import DataError
from ..io import open_h5

WINDOW_DATASETS = ("signals", "labels", "subjects", "split")


@dataclass
class Windows:
    """windows.h5 loaded whole: the training code's view of a dataset."""

    signals: np.ndarray
    labels: np.ndarray
    subjects: np.ndarray
    split: np.ndarray
    class_names: list[str]
    attrs: dict

    def indices(self, part: str) -> np.ndarray:
        return np.flatnonzero(self.split == part)


def load_windows(path) -> Windows:
    with open_h5(path, WINDOW_DATASETS) as h5:
        return Windows(
            signals=h5["signals"][...],
            labels=h5["labels"][...],
            subjects=h5["subjects"][...].astype(str),
            split=h5["split"][...].astype(str),
            class_names=_json_attr(h5, "class_names", path),
            attrs=dict(h5.attrs),
        )


def _json_attr(h5: h5py.File, key: str, path):
    try:
        return json.loads(h5.attrs[key])
    except (KeyError, ValueError) as exc:
        raise DataError(f"{path}: attribute {key!r} is missing or not JSON") from exc
