"""The compound image of Wang & Oates (2015): GASF, GADF and MTF of each series stacked as channels."""

from __future__ import annotations

import numpy as np

from .mtf import MarkovTransitionField
from .transform import GramianAngularField, checked_rows


class CompoundImage:
    """[N, C, L] → [N, 3·C, S, S]: per axis (GASF, GADF, MTF), axes in order (x: 0–2, y: 3–5, z: 6–8)."""

    def __init__(self, image_size: int, n_bins: int = 5, chunk_size: int = 1024):
        self.parts = (GramianAngularField(image_size, "summation", chunk_size),
                      GramianAngularField(image_size, "difference", chunk_size),
                      MarkovTransitionField(image_size, n_bins, chunk_size))
        self.image_size = int(image_size)

    @classmethod
    def from_settings(cls, settings: dict) -> "CompoundImage":
        return cls(settings["image_size"], settings["n_bins"], settings.get("chunk_size", 1024))

    def transform(self, X, out_dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
        X, _ = checked_rows(X, self.image_size, "compound image")
        stacked = np.stack([part.transform(X, out_dtype) for part in self.parts], axis=-3)  # [..., 3, S, S]
        if X.ndim == 3:
            stacked = stacked.reshape(X.shape[0], -1, self.image_size, self.image_size)
        if out is None:
            return stacked
        out[...] = stacked
        return out

    __call__ = transform
