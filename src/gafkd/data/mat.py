"""The group's format: one MATLAB file per window, ``ID-<subject>_CLASS-<class>_Window-<n>.mat``.

Each file holds ``xw`` of shape (1, L, 3). MATLAB v5 files are read with scipy, v7.3 (HDF5)
files with h5py (MATLAB stores those column-major, so dimensions arrive reversed).
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import scipy.io

from ..classes import LabelMapper, detect_class_base
from ..errors import DataError
from .windowset import WindowSet, check_finite

FILENAME = re.compile(r"^ID-(?P<subject>[A-Za-z0-9]+)_CLASS-(?P<cls>\d+)_Window-(?P<index>\d+)\.mat$")
KEY = "xw"


def parse_name(path: Path) -> tuple[str, int, int]:
    """(subject, raw class number, window index) from a file name, or a clear error."""
    match = FILENAME.match(path.name)
    if not match:
        raise DataError(f"{path}: file name does not parse as ID-<subject>_CLASS-<class>_Window-<n>.mat")
    return match["subject"], int(match["cls"]), int(match["index"])


def read_xw(path: Path) -> np.ndarray:
    """The window in ``path`` as float32 [L, 3]."""
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as h5:
                if KEY not in h5:
                    raise DataError(f"{path}: no variable {KEY!r} (found {sorted(h5)})")
                array = np.asarray(h5[KEY]).T  # column-major on disk
        else:
            content = scipy.io.loadmat(path, variable_names=[KEY])
            if KEY not in content:
                raise DataError(f"{path}: no variable {KEY!r}")
            array = content[KEY]
    except DataError:
        raise
    except Exception as exc:  # scipy/h5py raise many types for a damaged file
        raise DataError(f"{path}: not a readable MATLAB file ({exc})") from exc
    array = np.asarray(array)
    if array.dtype.kind not in "fiu" or array.ndim != 3 or array.shape[0] != 1 or array.shape[2] != 3:
        raise DataError(f"{path}: {KEY!r} must be a numeric array of shape (1, L, 3), got {array.shape} {array.dtype}")
    window = array[0].astype(np.float32)
    check_finite(window, str(path))
    return window


def read_mat_folder(folder, names, label_map=None, class_base="auto", window: int | None = None) -> WindowSet:
    """All windows of a folder of .mat files, labels mapped to class indices."""
    folder = Path(folder)
    files = sorted(folder.glob("*.mat"))
    if not files:
        raise DataError(f"{folder}: no .mat files found (expected ID-<subject>_CLASS-<class>_Window-<n>.mat)")
    parsed = [parse_name(f) for f in files]
    seen: dict[tuple, Path] = {}
    for f, (subject, cls, index) in zip(files, parsed):
        previous = seen.setdefault((subject, cls, index), f)
        if previous is not f:
            raise DataError(f"{f}: duplicate window id (subject {subject}, class {cls}, window {index}) also in {previous.name}")
    mapper_probe = LabelMapper(names, label_map)
    if class_base == "auto":
        class_base = detect_class_base([p[1] for p in parsed], mapper_probe.n_source_classes(), str(folder))
    mapper = LabelMapper(names, label_map, class_base=int(class_base))
    signals, labels = [], []
    for f, (_, cls, _) in zip(files, parsed):
        labels.append(mapper(cls, str(f)))
        x = read_xw(f)
        if window is not None and len(x) != window:
            raise DataError(f"{f}: window has {len(x)} samples but the dataset's window is {window}")
        if signals and len(x) != signals[0].shape[1]:
            raise DataError(f"{f}: window has {len(x)} samples, unlike {files[0].name} ({signals[0].shape[1]})")
        signals.append(x.T)
    return WindowSet(
        signals=np.stack(signals),
        labels=np.asarray(labels, dtype=np.int64),
        subjects=np.asarray([p[0] for p in parsed]),
        ids=np.asarray([f.stem for f in files]),
    )


def write_window_mat(path: Path, window: np.ndarray, version: str = "5") -> None:
    """Write one [L, 3] window as ``xw`` (1, L, 3), MATLAB v5 or v7.3 (for synthetic data and tests)."""
    array = np.asarray(window, dtype=np.float64)[None]
    if version == "7.3":
        with h5py.File(path, "w", userblock_size=512) as h5:
            h5.create_dataset(KEY, data=array.T)  # MATLAB is column-major
        with open(path, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file, written by gafkd".ljust(116, b" "))
    else:
        scipy.io.savemat(path, {KEY: array}, do_compression=False)


def read_source(folder: Path, settings: dict, where: str) -> WindowSet:
    """The ``mat`` format's reader (:mod:`gafkd.data.formats`)."""
    from ..classes import class_names

    names = class_names(settings["classes"], f"datasets.{where}.classes")
    return read_mat_folder(folder, names, window=settings["window"], label_map=settings.get("label_map"),
                           class_base=settings["source"].get("class_base", "auto"))


def subjects(source: dict, folder: Path) -> list[str] | None:
    """The subjects of a folder of windows, from the file names (None: no folder yet)."""
    if not folder.is_dir():
        return None
    return sorted({parse_name(f)[0] for f in folder.glob("*.mat")})
