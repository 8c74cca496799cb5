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

import functools

import numpy as np
import torch

from ..errors import ConfigError, DataError

METHODS = ("summation", "difference")


def paa_bounds(n_timestamps: int, image_size: int) -> np.ndarray:
    """Segment bounds of pyts's non-overlapping PAA (``pyts.utils.segmentation``)."""
    return np.linspace(0, n_timestamps, image_size + 1).astype(np.int64)


def paa(series: np.ndarray, image_size: int, overlapping: bool = False) -> np.ndarray:
    """Piecewise aggregate approximation of rows of ``series`` [M, L] → [M, S], float64.

    ``overlapping``: pyts's other segmentation (its PAA's default, which qts2d uses): S segments of
    ⌈L/S⌉ samples each, starts pulled back by ``linspace(0, S·⌈L/S⌉ − L, S)`` cast to int.
    """
    series = series.astype(np.float64, copy=False)
    length = series.shape[-1]
    if overlapping:
        width = -(-length // image_size)
        starts = np.arange(image_size) * width - np.linspace(0, image_size * width - length, image_size).astype(np.int64)
        ends = starts + width
    else:
        bounds = paa_bounds(length, image_size)
        starts, ends = bounds[:-1], bounds[1:]
    # each segment summed left to right, as pyts's compiled np.mean does (the same bits): one vectorised
    # addition per position within a segment, segments shorter than the longest done adding
    sums = series[..., starts].copy()
    for offset in range(1, int((ends - starts).max())):
        going = starts + offset < ends
        sums[..., going] += series[..., (starts + offset)[going]]
    return sums / (ends - starts)


def minmax_scale(series: np.ndarray) -> np.ndarray:
    """Scale each row to [−1, 1]; constant rows become −1 (sklearn's zero-range rule, as pyts)."""
    lo = series.min(axis=-1, keepdims=True)
    span = series.max(axis=-1, keepdims=True) - lo
    span[span == 0] = 1.0
    return (series - lo) / span * 2.0 - 1.0


def single_threaded(transform):
    """Run ``transform`` with one torch thread, restoring the caller's setting after.

    The transforms multiply thousands of small matrices (64×2 by 2×64): torch's thread pool costs more
    than it gains there, and made our speed swing 12–21k windows/s on an idle 2-core machine against
    41–80k on one thread (``gafkd bench``, images section; docs/performance.md).
    """
    @functools.wraps(transform)
    def run(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return transform(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return run


def checked_rows(X, image_size: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` [N, L] or [N, C, L] as an array and its series as rows [N·C, L]; refuses what no image can be made of."""
    X = np.asarray(X)
    if X.ndim not in (2, 3):
        raise DataError(f"{what} input must be [N, L] or [N, C, L], got shape {X.shape}")
    if X.shape[-1] < image_size:
        raise ConfigError(f"images.image_size: {image_size} is larger than the window length {X.shape[-1]}")
    if not np.isfinite(X).all():
        raise DataError(f"{what} input contains NaN or Inf values")
    return X, X.reshape(-1, X.shape[-1])


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


def products_into(out: torch.Tensor, left: torch.Tensor, right: torch.Tensor, block: int = 64) -> None:
    """out[i] = left[i] @ right[i], a cache-sized block at a time.

    Blocks of 64 images (1 MiB of float32) stay in cache between the product and the cast to the
    storage dtype, an order of magnitude faster than whole-chunk numpy temporaries (``gafkd bench``:
    ``gaf_vs_reference``; docs/performance.md).
    """
    buffer = torch.empty((min(block, len(out)), *out.shape[1:]), dtype=torch.float32)
    for start in range(0, len(out), block):
        n = min(block, len(out) - start)
        torch.bmm(left[start:start + n], right[start:start + n], out=buffer[:n])
        out[start:start + n].copy_(buffer[:n])


class SeriesImages:
    """Base of the batched transforms: an S×S image of every series, chunk by chunk, into one output.

    Subclasses set ``what`` (for messages) and write a chunk's images with :meth:`_images_into`.
    """

    what = "image"

    def __init__(self, image_size: int, chunk_size: int = 1024):
        if int(image_size) < 2:
            raise ConfigError(f"images.image_size: must be at least 2, got {image_size}")
        self.image_size, self.chunk_size = int(image_size), int(chunk_size)

    @single_threaded
    def transform(self, X, out_dtype=np.float32, out: np.ndarray | None = None) -> np.ndarray:
        """Images of ``X`` [N, L] → [N, S, S], or of multichannel ``X`` [N, C, L] → [N, C, S, S].

        ``out``: a C-contiguous array of that shape to write into (its dtype wins). Touching fresh
        memory for a whole dataset's images costs more than computing them — 0.8 s instead of 0.19 s
        for 16,384 windows right after another large array was freed (``gafkd bench``, images) — so the
        images stage streams chunks through one buffer into the file, and the bench times a reused buffer.
        """
        X, rows = checked_rows(X, self.image_size, self.what)
        S = self.image_size
        if out is None:
            out = np.empty((*X.shape[:-1], S, S), dtype=out_dtype)
        elif out.shape != (*X.shape[:-1], S, S) or not out.flags.c_contiguous:
            raise ValueError(f"out: a C-contiguous {(*X.shape[:-1], S, S)} array, got {out.shape}")
        flat = out.reshape(-1, S, S)
        for start in range(0, rows.shape[0], self.chunk_size):
            chunk = rows[start:start + self.chunk_size]
            self._images_into(flat[start:start + len(chunk)], chunk)
        return out

    __call__ = transform

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        raise NotImplementedError


class GramianAngularField(SeriesImages):
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

    what = "GAF"

    def __init__(self, image_size: int, method: str = "summation", chunk_size: int = 1024):
        if method not in METHODS:
            raise ConfigError(f"{self.what} method: {method!r} is not one of {METHODS}")
        super().__init__(image_size, chunk_size)
        self.method = method

    @classmethod
    def from_settings(cls, settings: dict) -> "GramianAngularField":
        """From a representation's settings (:mod:`gafkd.images.registry`)."""
        return cls(settings["image_size"], settings["method"], settings.get("chunk_size", 1024))

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        left, right = _factors(minmax_scale(paa(rows, self.image_size)), self.method)
        products_into(torch.from_numpy(out), left, right)


def of_each_series(windows: np.ndarray, images_of_rows) -> np.ndarray:
    """A reference's images of ``windows`` [N, C, L]: ``images_of_rows`` (rows [N·C, L] → [N·C, S, S]) on
    every series, shaped back as [N, C, S, S] (the references of :mod:`gafkd.images.registry`)."""
    images = np.asarray(images_of_rows(windows.reshape(-1, windows.shape[-1])))
    return images.reshape(*windows.shape[:-1], *images.shape[1:])


def pyts_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference (:mod:`gafkd.images.registry`): pyts's GramianAngularField, every series of ``windows`` [N, C, L]."""
    from pyts.image import GramianAngularField as Reference

    reference = Reference(image_size=settings["image_size"], method=settings["method"])
    return of_each_series(windows, reference.fit_transform)
