"""Batched recurrence plots of the PAA series, equal to :class:`pyts.image.RecurrencePlot`.

A window of 500 or 1000 samples would give a 500×500 or 1000×1000 plot; like GAF, the series is first
reduced by PAA (pyts's segments) to as many points as an ``image_size`` plot needs:
T = image_size + (dimension − 1) · time_delay. Then, exactly as pyts on those T points:

1. trajectories xᵢ = (xᵢ, xᵢ₊τ, …, xᵢ₊₍ₘ₋₁₎τ), i < image_size (m = ``dimension``, τ = ``time_delay``);
2. R[i, j] = ‖xᵢ − xⱼ‖ (float64, the squares summed over the m coordinates in order, as pyts does);
3. ``threshold``: None keeps the distances; ``point`` → 1 where R < the ``percentage``-th percentile of
   the image's distances; ``distance`` → 1 where R < ``percentage`` % of its largest; a number → 1
   where R < it.

Distances carry the input's units: the representation's scaling (:mod:`gafkd.images.scaling`, ``fixed``
by default: the signal in [0, 1], so with ``dimension`` 1 every distance lies in [0, 1]) sets them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .transform import SeriesImages, of_each_series, paa

THRESHOLDS = (None, "point", "distance")
BLOCK = 64  # plots at once (2 MiB of float64 distances at 64×64: they stay in cache)


class RecurrencePlot(SeriesImages):
    """Batched recurrence plots with pyts's parameters (``dimension`` and ``time_delay`` in samples of
    the PAA series).

    Parameters
    ----------
    image_size : int
        Side of each square image.
    dimension, time_delay : int
        Trajectory coordinates and the gap between them.
    threshold : None, 'point', 'distance' or float
        As pyts's.
    percentage : float
        As pyts's (for ``point`` and ``distance``).
    chunk_size : int
        Series at once.
    """

    what = "recurrence plot"

    def __init__(self, image_size: int, dimension: int = 1, time_delay: int = 1, threshold=None,
                 percentage: float = 10, chunk_size: int = 1024):
        if not (threshold in THRESHOLDS or (isinstance(threshold, (int, float)) and threshold > 0)):
            raise ConfigError(f"images.rp.threshold: {threshold!r} is not null, 'point', 'distance' or a positive number")
        if int(dimension) < 1 or int(time_delay) < 1:
            raise ConfigError(f"images.rp: dimension and time_delay must be at least 1, got {dimension}, {time_delay}")
        super().__init__(image_size, chunk_size)
        self.dimension, self.time_delay = int(dimension), int(time_delay)
        self.threshold, self.percentage = threshold, float(percentage)
        self.points = self.image_size + (self.dimension - 1) * self.time_delay  # PAA points a plot needs

    @classmethod
    def from_settings(cls, settings: dict) -> "RecurrencePlot":
        return cls(settings["image_size"], settings["dimension"], settings["time_delay"], settings["threshold"],
                   settings["percentage"], settings.get("chunk_size", 1024))

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        if rows.shape[-1] < self.points:
            raise ConfigError(f"images.rp: a {self.image_size}-pixel plot of dimension {self.dimension} and delay "
                              f"{self.time_delay} needs {self.points} samples, the window has {rows.shape[-1]}")
        series, target = torch.from_numpy(paa(rows, self.points)), torch.from_numpy(out)
        for start in range(0, len(rows), BLOCK):  # cache-sized blocks: distances, threshold, store
            block = self._plots(self._distances(series[start:start + BLOCK]))
            target[start:start + len(block)] = block

    def _distances(self, series: torch.Tensor) -> torch.Tensor:
        """[B, T] → [B, S, S] float64 distances between trajectories."""
        S = self.image_size
        if self.dimension == 1:
            return (series[:, :, None] - series[:, None, :]).abs_()
        total = torch.zeros((len(series), S, S), dtype=torch.float64)
        for d in range(self.dimension):  # the squares summed coordinate by coordinate, in pyts's order (equal bits)
            coordinate = series[:, d * self.time_delay:d * self.time_delay + S]
            total += (coordinate[:, :, None] - coordinate[:, None, :]).square_()
        return total.sqrt_()

    def _plots(self, distances: torch.Tensor) -> torch.Tensor:
        if self.threshold is None:
            return distances
        if self.threshold == "point":  # numpy's percentile, as pyts's
            cut = np.percentile(distances.reshape(len(distances), -1).numpy(), self.percentage, axis=1)
            return distances < torch.from_numpy(cut)[:, None, None]
        if self.threshold == "distance":
            return distances < (self.percentage / 100 * distances.amax(dim=(1, 2)))[:, None, None]
        return distances < self.threshold


def pyts_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference (:mod:`gafkd.images.registry`): pyts's PAA to the points a plot needs, then pyts's RecurrencePlot."""
    from pyts.approximation import PiecewiseAggregateApproximation
    from pyts.image import RecurrencePlot as Reference

    points = settings["image_size"] + (settings["dimension"] - 1) * settings["time_delay"]
    reduce = PiecewiseAggregateApproximation(window_size=None, output_size=points, overlapping=False)
    plots = Reference(dimension=settings["dimension"], time_delay=settings["time_delay"],
                      threshold=settings["threshold"], percentage=settings["percentage"])
    return of_each_series(windows.astype(np.float64), lambda rows: plots.fit_transform(
        reduce.fit_transform(rows) if points < rows.shape[1] else rows))
