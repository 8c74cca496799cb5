"""Batched Gramian Angular Fields, numerically equal to :class:`pyts.image.GramianAngularField`.

pyts defines the transform; this module is its vectorised, chunked twin for whole datasets
(pyts compiles numba code at import and loops per sample). Per window and channel, exactly as pyts:

1. PAA to ``image_size`` points with pyts's unequal segments (bounds ``linspace(0, L, S+1)`` cast to
   int, i.e. floor(j·L/S)), in float64;
2. min–max scaling of the PAA series to [−1, 1] (a constant series becomes all −1);
3. cos φ = x, sin φ = sqrt(clip(1 − x², 0, 1));
   GASF = cos⊗cos − sin⊗sin  (cos(φᵢ + φⱼ)),  GADF = sin⊗cos − cos⊗sin  (sin(φᵢ − φⱼ)),
   as float32 batched [S, 2] @ [2, S] products in cache-sized blocks (≤ 1e-6 from pyts's float64).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError, DataError

METHODS = ("summation", "difference")


def paa_bounds(n_timestamps: int, image_size: int) -> np.ndarray:
    """Segment bounds of pyts's non-overlapping PAA (``pyts.utils.segmentation``)."""
    return np.linspace(0, n_timestamps, image_size + 1).astype(np.int64)


def paa(series: np.ndarray, image_size: int) -> np.ndarray:
    """Piecewise aggregate approximation of rows of ``series`` [M, L] → [M, S], float64."""
    bounds = paa_bounds(series.shape[-1], image_size)
    sums = np.add.reduceat(series.astype(np.float64, copy=False), bounds[:-1], axis=-1)
    return sums / np.diff(bounds)


def minmax_scale(series: np.ndarray) -> np.ndarray:
    """Scale each row to [−1, 1]; constant rows become −1 (sklearn's zero-range rule, as pyts)."""
    lo = series.min(axis=-1, keepdims=True)
    span = series.max(axis=-1, keepdims=True) - lo
    span[span == 0] = 1.0
    return (series - lo) / span * 2.0 - 1.0


def _factors(cos: np.ndarray, method: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Left [M, S, 2] and right [M, 2, S] float32 factors whose product is the field.

    cos and sin are computed in float64 and rounded to float32 once.
    """
    sin = np.sqrt(np.clip(1.0 - cos * cos, 0.0, 1.0))
    if method == "summation":  # cos φi cos φj − sin φi sin φj
        left, right = np.stack([cos, sin], axis=-1), np.stack([cos, -sin], axis=1)
    else:  # sin φi cos φj − cos φi sin φj
        left, right = np.stack([sin, cos], axis=-1), np.stack([cos, -sin], axis=1)
    return torch.from_numpy(left.astype(np.float32)), torch.from_numpy(right.astype(np.float32))


def _products_into(out: torch.Tensor, left: torch.Tensor, right: torch.Tensor, block: int = 64) -> None:
    """out[i] = left[i] @ right[i], a cache-sized block at a time.

    Blocks of 64 images (1 MiB of float32) stay in cache between the product and the cast to the
    storage dtype, an order of magnitude faster than whole-chunk numpy temporaries (``gafkd bench``:
    ``gaf_vs_pyts``; docs/performance.md).
    """
    buffer = torch.empty((min(block, len(out)), *out.shape[1:]), dtype=torch.float32)
    for start in range(0, len(out), block):
        n = min(block, len(out) - start)
        torch.bmm(left[start:start + n], right[start:start + n], out=buffer[:n])
        out[start:start + n].copy_(buffer[:n])


class GramianAngularField:
    """Batched GAF transformer with pyts's parameters and semantics.

    Parameters
    ----------
    image_size : int
        Side of each square image (≤ window length).
    method : {'summation', 'difference'}
        GASF or GADF.
    chunk_size : int
        Series prepared at once (a float64 copy of ``chunk_size · L`` values); the products then go
        through a 64-image float32 buffer into the output.
    """

    def __init__(self, image_size: int, method: str = "summation", chunk_size: int = 1024):
        if method not in METHODS:
            raise ConfigError(f"gaf.method: {method!r} is not one of {METHODS}")
        if int(image_size) < 2:
            raise ConfigError(f"gaf.image_size: must be at least 2, got {image_size}")
        self.image_size = int(image_size)
        self.method = method
        self.chunk_size = int(chunk_size)

    def transform(self, X, out_dtype=np.float32) -> np.ndarray:
        """Images of ``X`` [N, L] → [N, S, S], or of multichannel ``X`` [N, C, L] → [N, C, S, S]."""
        X = np.asarray(X)
        if X.ndim not in (2, 3):
            raise DataError(f"GAF input must be [N, L] or [N, C, L], got shape {X.shape}")
        if X.shape[-1] < self.image_size:
            raise ConfigError(f"gaf.image_size: {self.image_size} is larger than the window length {X.shape[-1]}")
        if not np.isfinite(X).all():
            raise DataError("GAF input contains NaN or Inf values")
        rows = X.reshape(-1, X.shape[-1])
        S = self.image_size
        out = np.empty((rows.shape[0], S, S), dtype=out_dtype)
        target = torch.from_numpy(out)  # shares memory with out
        for start in range(0, rows.shape[0], self.chunk_size):
            chunk = rows[start:start + self.chunk_size]
            left, right = _factors(minmax_scale(paa(chunk, S)), self.method)
            _products_into(target[start:start + len(chunk)], left, right)
        return out.reshape(*X.shape[:-1], S, S)

    __call__ = transform
