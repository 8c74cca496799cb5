"""Batched Markov Transition Fields, numerically equal to :class:`pyts.image.MarkovTransitionField`.

pyts defines the transform (quantile bins, non-overlapping aggregation); this is its vectorised twin.
Per window and channel, exactly as pyts:

1. quantile bins: edges ``np.percentile(x, linspace(0, 100, n_bins + 1)[1:-1])`` of the whole series,
   bin of a sample = the number of edges below it (``searchsorted(..., side="left")``; repeated edges
   leave a bin empty, which relabels no sample: pyts drops them, the field is the same);
2. W = the row-normalised counts of bin-to-bin transitions between consecutive samples (a bin never
   left keeps a zero row);
3. the field M[i, j] = W[bin(xᵢ), bin(xⱼ)] averaged over the segments of pyts's PAA bounds
   (``linspace(0, L, S + 1)`` cast to int) — never built at full size: with Hₛ the share of segment
   s's samples in each bin, the image is H · W · Hᵀ, a batched [S, Q] @ [Q, Q] @ [Q, S] product.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .transform import SeriesImages, of_each_series, paa_bounds


def quantile_bins(rows: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin index of every sample of ``rows`` [M, L] (int64), pyts's quantile strategy."""
    edges = np.percentile(rows, np.linspace(0, 100, n_bins + 1)[1:-1], axis=1).T  # [M, Q-1]
    return (edges[:, None, :] < rows[:, :, None]).sum(axis=-1)


def transition_matrices(bins: np.ndarray, n_bins: int) -> np.ndarray:
    """Row-normalised bin-to-bin transition counts of consecutive samples, [M, Q, Q] float64."""
    m = len(bins)
    flat = (np.arange(m)[:, None] * n_bins * n_bins + bins[:, :-1] * n_bins + bins[:, 1:]).ravel()
    counts = np.bincount(flat, minlength=m * n_bins * n_bins).reshape(m, n_bins, n_bins).astype(np.float64)
    totals = counts.sum(axis=2, keepdims=True)
    totals[totals == 0] = 1.0
    return counts / totals


def segment_shares(bins: np.ndarray, n_bins: int, image_size: int) -> np.ndarray:
    """[M, S, Q]: the share of each PAA segment's samples that fall in each bin."""
    m, length = bins.shape
    bounds = paa_bounds(length, image_size)
    segment = np.repeat(np.arange(image_size), np.diff(bounds))  # segment of each timestamp
    flat = (np.arange(m)[:, None] * image_size * n_bins + segment[None, :] * n_bins + bins).ravel()
    counts = np.bincount(flat, minlength=m * image_size * n_bins).reshape(m, image_size, n_bins)
    return counts / np.diff(bounds)[None, :, None]


class MarkovTransitionField(SeriesImages):
    """Batched MTF with pyts's parameters and semantics (``strategy="quantile"``, not overlapping).

    Parameters
    ----------
    image_size : int
        Side of each square image (≤ window length).
    n_bins : int
        Quantile bins of each series (pyts's default: 5).
    chunk_size : int
        Series binned at once.
    """

    what = "MTF"

    def __init__(self, image_size: int, n_bins: int = 5, chunk_size: int = 1024):
        if int(n_bins) < 2:
            raise ConfigError(f"images.mtf.n_bins: must be at least 2, got {n_bins}")
        super().__init__(image_size, chunk_size)
        self.n_bins = int(n_bins)

    @classmethod
    def from_settings(cls, settings: dict) -> "MarkovTransitionField":
        return cls(settings["image_size"], settings["n_bins"], settings.get("chunk_size", 1024))

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        bins = quantile_bins(rows.astype(np.float64, copy=False), self.n_bins)
        shares = torch.from_numpy(segment_shares(bins, self.n_bins, self.image_size))
        out[:] = (shares @ torch.from_numpy(transition_matrices(bins, self.n_bins)) @ shares.transpose(1, 2)).numpy()


def pyts_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference (:mod:`gafkd.images.registry`): pyts's MarkovTransitionField, every series of ``windows`` [N, C, L]."""
    from pyts.image import MarkovTransitionField as Reference

    return of_each_series(windows, Reference(image_size=settings["image_size"], n_bins=settings["n_bins"]).fit_transform)
