"""Stage 2 (``gaf``): windows.h5 → gaf.h5, the GAF images row-aligned with the windows."""

from __future__ import annotations

import numpy as np

from .data.store import load_windows
from .gaf import GramianAngularField
from .io import atomic_h5, open_h5
from .provenance import provenance

STORAGE_DTYPES = {"float16": np.float16, "float32": np.float32}


def build_gaf(windows_path, output, settings: dict) -> dict:
    """Images [N, 3, S, S], stored uncompressed in 64-image chunks for fast whole-array loads."""
    windows = load_windows(windows_path)
    transform = GramianAngularField(settings["image_size"], settings["method"], settings.get("chunk_size", 1024))
    dtype = STORAGE_DTYPES[settings.get("dtype", "float16")]
    images = transform.transform(windows.signals, out_dtype=dtype)
    attrs = {**provenance(settings), "windows_digest": windows.attrs.get("settings_digest", "")}
    with atomic_h5(output, attrs) as h5:
        h5.create_dataset("images", data=images, chunks=(min(64, len(images)), *images.shape[1:]))
    return {"images": list(images.shape), "dtype": str(images.dtype)}


def load_gaf(path, windows_digest: str | None = None) -> np.ndarray:
    """All images at once; refuses images made from different windows."""
    from .errors import DataError

    with open_h5(path, ("images",)) as h5:
        made_from = h5.attrs.get("windows_digest", "")
        if windows_digest is not None and made_from != windows_digest:
            raise DataError(f"{path}: images were made from other windows (digest {made_from}, "
                            f"windows.h5 has {windows_digest}); rerun the gaf rule")
        return h5["images"][...]
