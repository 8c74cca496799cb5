"""Persistence images (PI) of each axis: the lab's recipe, batched; references ``ripser`` + ``persim``.

**Input scaling.** Each window and axis is centred on its mean and divided by its range,
x' = (x − mean) / (max − min): every value lies in (−1, 1) (the recipe's birth range) and every
lifetime in [0, 1] (the image's persistence axis), whatever the axis's units or offset (gravity).
A constant series has no range: it becomes all zeros, an empty diagram and an all-zero image.

**Recipe ``sublevel``** (the default; the lab's public code). The 0-dimensional persistence of the
sublevel-set filtration of the series (each sample a vertex born at its value, an edge between
neighbours at the larger of their values) — what ``ripser`` computes from a sparse distance matrix
holding that filtration. On a path it has a closed form: a sample i is a component's birth; the
component dies, by the elder rule, at the lower of the two barriers to an older sample (the highest
value between i and the nearest sample on each side that is lower, ties broken by position); the
global minimum never dies. Barriers for all samples at once: binary lifting over min/max sparse
tables (log₂ L gathers of [M, L] each). Points with lifetime ≤ ``lifetime`` (0.01) and the infinite
point are dropped.

**Recipe ``rips``** (the notes' variant): a time-delay embedding of the scaled series
(``dimension`` coordinates ``delay`` samples apart, every ``stride``-th point) and its Vietoris–Rips
H0 and H1 by ``ripser`` (which this recipe needs at run time: ``pip install ripser``); both diagrams
go into one image per axis. Slower by nature: docs/performance.md gives its cost.

**The image** is persim's legacy ``PersImage(pixels=(S, S), spread=0.015, specs={"minBD": -1,
"maxBD": 1}, kernel_type="gaussian", weighting_type="linear")`` (deprecated since persim 0.2, still
shipped by persim 0.4), which the tests hold this module to: points (birth, lifetime), pixel bins
``linspace(−1, 1, S)`` (births) and ``linspace(0, 1, S)`` (lifetimes), each ``1/S`` wide, the Gaussian's
mass in each bin (differences of normal CDFs) weighted by the lifetime, summed over points as one
[S, P] @ [P, S] product per image, transposed and flipped as persim returns it; then each image is
divided by its maximum (when > 0). persim's linear weight divides by the diagram's largest lifetime,
a factor the division by the maximum removes: it is left out. An empty diagram gives an all-zero image.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .transform import SeriesImages

RECIPES = ("sublevel", "rips")
SIMILAR_DIAGRAMS = 128  # diagrams imaged together, sorted by size


def scale(rows: np.ndarray) -> np.ndarray:
    """(x − mean) / (max − min) per row, float64; constant rows become zeros."""
    rows = rows.astype(np.float64, copy=False)
    span = rows.max(axis=1, keepdims=True) - rows.min(axis=1, keepdims=True)
    centred = rows - rows.mean(axis=1, keepdims=True)
    return np.divide(centred, span, out=np.zeros_like(centred), where=span > 0)


def _sparse_tables(values: torch.Tensor, reduce) -> list[torch.Tensor]:
    """table[k][:, i] = reduce(values[:, i − 2ᵏ + 1 : i + 1]) (windows ending at i; clipped at 0)."""
    tables = [values]
    step = 1
    while 2 * step <= values.shape[1]:
        last = tables[-1]
        shifted = torch.cat([last[:, :step], last[:, :-step]], dim=1)  # window ending at i − step
        tables.append(reduce(last, shifted))
        step *= 2
    return tables


def _left_barriers(values: torch.Tensor, strict: bool) -> torch.Tensor:
    """For each sample, the highest value between it (included) and the nearest sample to its left that
    is lower (``strict``) or not higher; +inf when there is none."""
    m, length = values.shape
    lows = _sparse_tables(values, torch.minimum)
    highs = _sparse_tables(values, torch.maximum)
    position = torch.arange(length).expand(m, length)
    start = position.clone()  # every sample in [start, i) is above the sample i (not lower)
    for k in reversed(range(len(lows))):
        width = 1 << k
        candidate = start - width
        ok = candidate >= 0
        low = torch.gather(lows[k], 1, (start - 1).clamp(min=0))  # min of [start − 2ᵏ, start)
        above = low > values if not strict else low >= values
        start = torch.where(ok & above, candidate, start)
    # the maximum of [start, i]: two windows of the largest power of two ≤ its length, one from each end
    level = torch.floor(torch.log2((position - start + 1).double())).long()
    highs = torch.stack(highs).reshape(-1)  # [K·m·L]: table k, row r, position j at (k·m + r)·L + j
    base = (level * m + torch.arange(m)[:, None]) * length
    barrier = torch.maximum(highs[base + start + (1 << level) - 1], highs[base + position])
    return torch.where(start == 0, torch.full_like(barrier, torch.inf), barrier)


def sublevel_pairs(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(birth, death) [M, L] of each sample's component under the sublevel-set filtration of each row.

    A sample that is not a component's birth gets death = birth (lifetime 0); the oldest component of
    a row gets death = +inf. Ties: the earlier sample is the older (the left search accepts equal values).
    """
    values = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float64))
    left = _left_barriers(values, strict=False)
    right = _left_barriers(values.flip(1), strict=True).flip(1)
    return values, torch.minimum(left, right)


def _persistence_image(births: torch.Tensor, lifetimes: torch.Tensor, weights: torch.Tensor,
                       image_size: int, spread: float) -> torch.Tensor:
    """persim's legacy PersImage of padded diagrams [M, P] (weight 0 for padding) → [M, S, S] float32.

    The normal CDF runs in float32 (the images' precision; within 2e-6 of persim's float64 after the
    division by the maximum, tested), points relative to each bin edge formed in float64 first.
    """
    S = image_size
    scale = 1.0 / (spread * 2**0.5)

    def bin_mass(points: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:  # [M, P] → [M, P, S]
        # Φ(u) − Φ(l) = (erf(u/√2) − erf(l/√2)) / 2, both edges of a bin in one erf call
        edges = torch.cat([lower + 1.0 / S, lower]) * scale
        erf = torch.erf((edges - points[..., None] * scale).float())
        return (erf[..., :S] - erf[..., S:]) * 0.5

    births_mass = bin_mass(births, torch.linspace(-1.0, 1.0, S, dtype=torch.float64)) * weights[..., None].float()
    lifetimes_mass = bin_mass(lifetimes, torch.linspace(0.0, 1.0, S, dtype=torch.float64))
    image = births_mass.transpose(1, 2) @ lifetimes_mass  # [M, S(birth), S(lifetime)]
    return image.transpose(1, 2).flip(1)


def _compact(keep: torch.Tensor, *columns: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The kept entries of each row first, as [M, P] with P the most any row keeps; weight 0 pads."""
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)
    width = max(int(keep.sum(dim=1).max()), 1) if keep.numel() else 1
    order = order[:, :width]
    kept = torch.gather(keep, 1, order)
    return (kept, *(torch.gather(c, 1, order) for c in columns))


def normalised(images: torch.Tensor) -> torch.Tensor:
    """Each image divided by its maximum, when that is positive."""
    peak = images.amax(dim=(1, 2), keepdim=True)
    return torch.where(peak > 0, images / torch.where(peak > 0, peak, 1.0), images)


def rips_diagram(series: np.ndarray, dimension: int, delay: int, stride: int) -> np.ndarray:
    """(birth, death) of the finite H0 and all H1 points of a delay embedding's Vietoris–Rips filtration."""
    try:
        from ripser import ripser
    except ImportError:  # pragma: no cover — the message is the point
        raise ConfigError("images.pi.recipe: rips needs the ripser package (pip install ripser)") from None
    span = (dimension - 1) * delay
    if len(series) <= span:
        raise ConfigError(f"images.pi.rips: an embedding of dimension {dimension} and delay {delay} "
                          f"needs more than {span} samples, the window has {len(series)}")
    cloud = np.stack([series[i * delay:len(series) - span + i * delay] for i in range(dimension)], axis=1)[::stride]
    diagrams = ripser(cloud, maxdim=1)["dgms"]
    points = np.concatenate(diagrams)
    return points[np.isfinite(points[:, 1])]


class PersistenceImage(SeriesImages):
    """Batched persistence images, one per series (per axis of a window), by the lab's recipe.

    Parameters
    ----------
    image_size : int
        Pixels per side (the recipe: 64).
    spread : float
        Standard deviation of the Gaussian kernel, in scaled units (0.015).
    lifetime : float
        Points whose death − birth is at most this are dropped (0.01).
    recipe : {'sublevel', 'rips'}
        The filtration (module docstring); ``rips`` reads ``rips`` = {dimension, delay, stride}.
    chunk_size : int
        Series at once.
    """

    what = "PI"

    def __init__(self, image_size: int = 64, spread: float = 0.015, lifetime: float = 0.01,
                 recipe: str = "sublevel", rips: dict | None = None, chunk_size: int = 1024):
        if recipe not in RECIPES:
            raise ConfigError(f"images.pi.recipe: {recipe!r} is not one of {RECIPES}")
        if spread <= 0:
            raise ConfigError(f"images.pi.spread: must be positive, got {spread}")
        super().__init__(image_size, chunk_size)
        self.spread, self.lifetime = float(spread), float(lifetime)
        self.recipe, self.rips = recipe, dict(rips or {})

    @classmethod
    def from_settings(cls, settings: dict) -> "PersistenceImage":
        return cls(settings["image_size"], settings["spread"], settings["lifetime"], settings["recipe"],
                   settings.get("rips"), settings.get("chunk_size", 1024))

    def diagrams(self, rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded diagrams of scaled rows: (kept [M, P], birth [M, P], lifetime [M, P]), points kept by the recipe."""
        if self.recipe == "sublevel":
            births, deaths = sublevel_pairs(rows)
        else:
            found = [torch.from_numpy(rips_diagram(r, **self.rips).astype(np.float64)) for r in rows]
            width = max([len(d) for d in found] + [1])
            padded = torch.zeros((len(rows), width, 2), dtype=torch.float64)
            for i, d in enumerate(found):
                padded[i, :len(d)] = d
            births, deaths = padded[..., 0], padded[..., 1]
        lifetimes = deaths - births
        keep = torch.isfinite(deaths) & (lifetimes > self.lifetime)
        kept, births, lifetimes = _compact(keep, births, torch.where(keep, lifetimes, 0.0))
        return kept, births, lifetimes

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        kept, births, lifetimes = self.diagrams(scale(rows))
        # images of diagrams of similar sizes together: less padding to multiply
        counts = kept.sum(dim=1)
        for group in torch.argsort(counts).split(SIMILAR_DIAGRAMS):
            width = max(int(counts[group].max()), 1)
            images = _persistence_image(births[group, :width], lifetimes[group, :width],
                                        (lifetimes * kept)[group, :width], self.image_size, self.spread)
            out[group.numpy()] = normalised(images).numpy()


# -- the reference: ripser + persim, one series at a time (tests and ``gafkd bench``) --------------

def reference_diagram(series: np.ndarray) -> np.ndarray:
    """ripser's H0 of the sublevel-set filtration of ``series``: a sparse distance matrix holding each
    sample's value (its vertex) and the larger value of each neighbour pair (their edge)."""
    from ripser import ripser
    from scipy import sparse

    n = len(series)
    i = np.arange(n - 1)
    values = np.concatenate([series, np.maximum(series[:-1], series[1:])])
    rows, cols = np.concatenate([np.arange(n), i]), np.concatenate([np.arange(n), i + 1])
    matrix = sparse.coo_matrix((values, (rows, cols)), shape=(n, n)).tocsr()
    return ripser(matrix, maxdim=0, distance_matrix=True)["dgms"][0]


def reference_image(series: np.ndarray, image_size: int = 64, spread: float = 0.015, lifetime: float = 0.01,
                    diagram: np.ndarray | None = None) -> np.ndarray:
    """The lab's recipe with the reference libraries: ripser's diagram of the (scaled) ``series`` (or a
    given ``diagram``), persim's legacy ``PersImage``, divided by its maximum."""
    import warnings

    from persim import PersImage

    points = reference_diagram(series) if diagram is None else diagram
    points = points[np.isfinite(points[:, 1]) & (points[:, 1] - points[:, 0] > lifetime)]
    if not len(points):
        return np.zeros((image_size, image_size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PersImage is deprecated (the lab's choice, kept as the reference)
        image = np.asarray(PersImage(pixels=(image_size, image_size), spread=spread, specs={"maxBD": 1, "minBD": -1},
                                     verbose=False).transform(points))
    return image / image.max() if image.max() > 0 else image
