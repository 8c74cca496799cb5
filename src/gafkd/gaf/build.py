"""Stage 2 (the ``gaf`` rule): windows.h5 → ``{representation}.h5``, images row-aligned with the windows.

Any representation of :mod:`gafkd.gaf.registry`; its settings (the rule's params) say which — ``gaf``'s
settings, kept as they were before the registry, do not name it.
"""

from __future__ import annotations

import numpy as np

from ..data.store import load_windows
from ..io import atomic_h5
from ..provenance import provenance
from .registry import of_settings
from .store import STORAGE_DTYPES


STREAM = 4096  # windows imaged at once, through one reused buffer into the file (bounded memory)


def build_gaf(windows_path, output, settings: dict) -> dict:
    """Images [N, C, S, S], stored uncompressed in 64-image chunks for fast whole-array loads."""
    windows = load_windows(windows_path)
    representation = of_settings(settings)
    transform = representation.transformer(settings)
    dtype = STORAGE_DTYPES[settings.get("dtype", "float16")]
    signals, size = windows.signals, int(settings["image_size"])
    shape = (len(signals), representation.channels, size, size)
    attrs = {**provenance(settings), "windows_digest": windows.attrs.get("settings_digest", ""),
             "representation": representation.name}
    buffer = np.empty((min(STREAM, len(signals)), *shape[1:]), dtype=dtype)
    with atomic_h5(output, attrs) as h5:
        images = h5.create_dataset("images", shape=shape, dtype=dtype, chunks=(max(1, min(64, len(signals))), *shape[1:]))
        for start in range(0, len(signals), STREAM):
            part = signals[start:start + STREAM]
            images[start:start + len(part)] = transform.transform(part, out=buffer[:len(part)])
    return {"representation": representation.name, "images": list(shape), "dtype": str(np.dtype(dtype))}
