"""Stage 2 (``gaf``): windows.h5 → gaf.h5, the GAF images row-aligned with the windows."""

from __future__ import annotations

from ..data.store import load_windows
from ..io import atomic_h5
from ..provenance import provenance
from .store import STORAGE_DTYPES
from .transform import GramianAngularField


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
