"""``{representation}.h5``: images row-aligned with windows.h5 (reading needs no torch: the report reads it too)."""

from __future__ import annotations

import json

import numpy as np

from ..errors import DataError
from ..io import open_h5

STORAGE_DTYPES = {"float16": np.float16, "float32": np.float32}


def load_images(path, windows_digest: str | None = None, signals_digest: str | None = None) -> np.ndarray:
    """All images at once; refuses images made from different windows (a fold's windows.h5: from its own, or
    its dataset's, whose signals it shares)."""
    with open_h5(path, ("images",)) as h5:
        made_from = h5.attrs.get("windows_digest", "")
        if windows_digest is not None and made_from not in (windows_digest, signals_digest):
            raise DataError(f"{path}: images were made from other windows (digest {made_from}, "
                            f"windows.h5 has {windows_digest}); rerun the images rule")
        return h5["images"][...]


def image_settings(path) -> dict:
    """The settings the images of ``path`` were made with (its representation's, :mod:`gafkd.images.registry`)."""
    with open_h5(path, ("images",)) as h5:
        return json.loads(h5.attrs.get("settings", "{}"))


def image_record(path) -> dict:
    """What a teacher's metrics say of its inputs: the settings, and the scaling as applied (limits used,
    windows clipped; :mod:`gafkd.images.scaling`) for a representation that has one."""
    with open_h5(path, ("images",)) as h5:
        record = json.loads(h5.attrs.get("settings", "{}"))
        if "scaling" in h5.attrs:
            record["scaling"] = json.loads(h5.attrs["scaling"])
        return record
