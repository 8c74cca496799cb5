"""Stage 2 (the ``images`` rule): windows.h5 → ``{representation}.h5``, images row-aligned with the windows.

Any representation of :mod:`gafkd.images.registry`; its settings (the rule's params) say which — ``gaf``'s
settings, kept as they were before the registry, do not name it. A representation with a scaling
setting sees the signal as that scaling leaves it (:mod:`gafkd.images.scaling`), recorded in the file.
"""

from __future__ import annotations

import numpy as np

from ..data.store import load_windows
from ..io import atomic_h5, canonical_json
from ..provenance import provenance
from .registry import of_settings
from .scaling import scaling_of
from .store import STORAGE_DTYPES


STREAM = 4096  # windows imaged at once, through one reused buffer into the file (bounded memory)


def build_images(windows_path, output, settings: dict) -> dict:
    """Images [N, C, S, S], stored uncompressed in 64-image chunks for fast whole-array loads."""
    windows = load_windows(windows_path)
    representation = of_settings(settings)
    transform = representation.transformer(settings)
    scaling = scaling_of(settings, windows, str(windows_path))
    dtype = STORAGE_DTYPES[settings.get("dtype", "float16")]
    signals, size = windows.signals, int(settings["image_size"])
    shape = (len(signals), representation.channels(signals.shape[1]), size, size)
    attrs = {**provenance(settings), "windows_digest": windows.attrs.get("settings_digest", ""),
             "representation": representation.name}
    buffer = np.empty((min(STREAM, len(signals)), *shape[1:]), dtype=dtype)
    clipped = np.zeros(len(signals), dtype=np.int64)
    with atomic_h5(output, attrs) as h5:
        images = h5.create_dataset("images", shape=shape, dtype=dtype, chunks=(max(1, min(64, len(signals))), *shape[1:]))
        for start in range(0, len(signals), STREAM):
            part = signals[start:start + STREAM]
            if scaling is not None:
                part, clipped[start:start + len(part)] = scaling.apply(part)
            images[start:start + len(part)] = transform.transform(part, out=buffer[:len(part)])
        summary = {"representation": representation.name, "images": list(shape), "dtype": str(np.dtype(dtype))}
        if scaling is not None:
            record = scaling.record(clipped, windows.split)
            h5.attrs["scaling"] = canonical_json(record)
            h5.create_dataset("clipped", data=clipped.astype(np.int32))  # samples clipped per window
            summary["scaling"] = record
    return summary
