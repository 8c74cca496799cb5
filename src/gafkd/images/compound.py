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
        X, series = checked_rows(X, self.image_size, "compound image")  # series [N·C, L]: each one's parts side by side
        S, parts = self.image_size, len(self.parts)
        if out is None:
            out = np.empty((X.shape[0], parts * (X.shape[1] if X.ndim == 3 else 1), S, S), dtype=out_dtype)
        by_series = out.reshape(len(series), parts, S, S)
        buffer = np.empty((len(series), S, S), dtype=out.dtype)  # one part at a time, then into its place
        for p, part in enumerate(self.parts):
            by_series[:, p] = part.transform(series, out=buffer)
        return out

    __call__ = transform


def pyts_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference (:mod:`gafkd.images.registry`): pyts's GASF, GADF and MTF of each series, stacked per axis."""
    from . import mtf, transform

    parts = (transform.pyts_images(windows, {**settings, "method": "summation"}),
             transform.pyts_images(windows, {**settings, "method": "difference"}), mtf.pyts_images(windows, settings))
    stacked = np.stack(parts, axis=-3)  # [N, C, 3, S, S]: each axis's parts side by side
    return stacked.reshape(windows.shape[0], -1, *stacked.shape[-2:])
