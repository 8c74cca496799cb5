"""Persistence images (PI) of each series, by the lab's recipe; references ripser + persim, and gudhi.

**Input.** The series as the representation's scaling left it (:mod:`gafkd.images.scaling`): the lab's
``fixed`` per-channel scaling to [0, 1] by default (values in [0, 1], lifetimes in [0, 1]), or
``window`` ((x − mean) / (max − min) per window and channel, values in (−1, 1)), or ``none``. Births
outside [−1, 1] or lifetimes above 1 fall outside the image (``none`` on raw units).

**Recipe ``sublevel``** (the default; the lab's public code). The 0-dimensional persistence of the
sublevel-set filtration of the series (each sample a vertex born at its value, an edge between
neighbours at the larger of their values) — what ``ripser`` computes from a sparse distance matrix
holding that filtration, and gudhi's lower-star cubical persistence. On a path it has a closed form:
a sample i is a component's birth; the component dies, by the elder rule, at the lower of the two
barriers to an older sample (the highest value between i and the nearest sample on each side that is
lower, ties broken by position); the global minimum never dies. :func:`sublevel_diagrams` finds both
barriers of every sample with a monotone stack, one pass each way, O(L) per series (compiled by
numba). **Ties.** The diagram, a multiset of points, does not depend on how equal values are ordered:
only which sample represents a component does. Ours makes the earlier of two equal samples the older.
Points with lifetime ≤ ``lifetime`` (0.01) and the infinite point are dropped, compared in float64:
gudhi (float64) keeps exactly the same points; ripser compares in float32, so a lifetime within about
5e-8 of the cut can land on the other side there (tests/test_representations.py).

**Recipe ``rips``** (the notes' variant): a time-delay embedding of the series (``dimension``
coordinates ``delay`` samples apart, every ``stride``-th point) and its Vietoris–Rips H0 and H1 by
``ripser`` (which this recipe needs at run time: ``pip install ripser``); both diagrams go into one
image per axis. Slower by nature: docs/performance.md gives its cost.

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

import functools

import numpy as np
import torch

from ..errors import ConfigError
from .transform import SeriesImages, of_each_series

RECIPES = ("sublevel", "rips")
SIMILAR_DIAGRAMS = 128  # diagrams imaged together, sorted by size


@functools.cache
def _points_kernel():
    """The compiled diagram kernel (numba, cached on disk: the first process compiles it, ≈1 s)."""
    import numba

    @numba.njit(cache=True, nogil=True)
    def points(rows, lifetime, births, lifetimes, counts):  # pragma: no cover — runs compiled
        m, n = rows.shape
        stack = np.empty(n, np.int64)
        span = np.empty(n)  # span[k]: the highest value after stack entry k − 1, up to and including entry k
        left = np.empty(n)
        for r in range(m):
            x = rows[r]
            # left barriers: the nearest sample to the left that is not higher (an older one: ties go left)
            top = -1
            for i in range(n):
                high = x[i]
                while top >= 0 and x[stack[top]] > x[i]:
                    high = max(high, span[top])
                    top -= 1
                left[i] = high if top >= 0 else np.inf
                top += 1
                stack[top], span[top] = i, high
            # right barriers: the nearest sample to the right that is lower; a component dies at the lower barrier
            top = -1
            for i in range(n - 1, -1, -1):
                high = x[i]
                while top >= 0 and x[stack[top]] >= x[i]:
                    high = max(high, span[top])
                    top -= 1
                if top >= 0 and high < left[i]:
                    left[i] = high
                top += 1
                stack[top], span[top] = i, high
            k = 0
            for i in range(n):  # kept points in position order
                life = left[i] - x[i]
                if life > lifetime and left[i] < np.inf:
                    births[r, k], lifetimes[r, k] = x[i], life
                    k += 1
            counts[r] = k

    return points


def sublevel_diagrams(rows: np.ndarray, lifetime: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The finite points of each row's sublevel-set diagram whose lifetime exceeds ``lifetime``, padded:
    (births [M, P], lifetimes [M, P], counts [M]), float64, P the most any row keeps (at least 1)."""
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    births, lifetimes = np.zeros(rows.shape), np.zeros(rows.shape)
    counts = np.zeros(len(rows), dtype=np.int64)
    _points_kernel()(rows, float(lifetime), births, lifetimes, counts)
    width = max(int(counts.max(initial=0)), 1)
    return births[:, :width], lifetimes[:, :width], counts


SATURATED = 4.5  # float32 erf(u) is exactly ±1 for |u| ≥ 4.5 (1 − erf(4.5) ≈ 2e-10): a bin that far is exactly 0


def _bin_mass(points: torch.Tensor, lower: torch.Tensor, width: float, spread: float) -> torch.Tensor:
    """The Gaussian mass of each point [M, P] in each bin [lower, lower + width) → [M, P, S] float32.

    Φ(u) − Φ(l) = (erf(u/√2) − erf(l/√2)) / 2, both edges of a bin in one erf call, in float32 (the
    images' precision; within 2e-6 of persim's float64 after the division by the maximum, tested), each
    edge minus the point formed in float64 first. Only the bins within an erf argument of SATURATED of a
    point are computed: every other bin's mass is exactly 0 in this arithmetic, so the result is the
    same as computing all S, for a fraction of the work (8 of 64 birth bins, 14 of 64 lifetime bins).
    """
    S = len(lower)
    scale = 1.0 / (spread * 2**0.5)
    reach = SATURATED / scale
    step = float(abs(lower[1] - lower[0])) if S > 1 else 1.0
    window = min(S, int(np.ceil((2 * reach + width) / step)) + 2)
    ascending = bool(lower[-1] >= lower[0])
    ordered = lower if ascending else lower.flip(0)
    first = torch.searchsorted(ordered + width, points - reach)  # the first bin whose upper edge reaches the point's reach
    if not ascending:  # descending edges: bin j of the ordered list is bin S − 1 − j
        first = S - torch.searchsorted(ordered, points + reach, right=True)
    start = first.clamp(0, S - window)
    index = start[..., None] + torch.arange(window)  # [M, P, W], inside [0, S)
    edges = lower[index]
    both = torch.cat([edges + width, edges], dim=-1) * scale
    erf = (both - (points * scale)[..., None]).float().erf_()
    mass = (erf[..., :window] - erf[..., window:]) * 0.5
    return torch.zeros((*points.shape, S), dtype=torch.float32).scatter_(2, index, mass)


def _persistence_image(births: torch.Tensor, lifetimes: torch.Tensor, weights: torch.Tensor,
                       image_size: int, spread: float) -> torch.Tensor:
    """persim's legacy PersImage of padded diagrams [M, P] (weight 0 for padding) → [M, S, S] float32.

    persim's image is [birth, lifetime] transposed and flipped: rows are lifetimes, highest first —
    made so directly, as (lifetime mass, bins descending)ᵀ @ (birth mass).
    """
    S = image_size
    births_mass = _bin_mass(births, torch.linspace(-1.0, 1.0, S, dtype=torch.float64), 1.0 / S, spread)
    lifetimes_mass = _bin_mass(lifetimes, torch.linspace(1.0, 0.0, S, dtype=torch.float64), 1.0 / S, spread)
    return lifetimes_mass.transpose(1, 2) @ (births_mass * weights[..., None].float())


def normalised(images: torch.Tensor) -> torch.Tensor:
    """Each image divided by its maximum, when that is positive."""
    peak = images.amax(dim=(1, 2), keepdim=True)
    return images.div_(torch.where(peak > 0, peak, 1.0))


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

    def diagrams(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The recipe's kept points of each row, padded: (births [M, P], lifetimes [M, P], counts [M])."""
        if self.recipe == "sublevel":
            return sublevel_diagrams(rows, self.lifetime)
        found = []
        for row in rows:
            points = rips_diagram(row, **self.rips).astype(np.float64)
            found.append(points[points[:, 1] - points[:, 0] > self.lifetime])
        return padded_diagrams(found)

    def _images_into(self, out: np.ndarray, rows: np.ndarray) -> None:
        births, lifetimes, counts = (torch.from_numpy(a) for a in self.diagrams(rows))
        images_of_diagrams(out, births, lifetimes, counts, self.image_size, self.spread)


def padded_diagrams(diagrams: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(birth, death) arrays [P_i, 2] as (births [M, P], lifetimes [M, P], counts [M]), zeros padding."""
    counts = np.array([len(d) for d in diagrams], dtype=np.int64)
    births = np.zeros((len(diagrams), max(int(counts.max(initial=0)), 1)))
    lifetimes = np.zeros_like(births)
    for i, d in enumerate(diagrams):
        births[i, :len(d)], lifetimes[i, :len(d)] = d[:, 0], d[:, 1] - d[:, 0]
    return births, lifetimes, counts


def images_of_diagrams(out: np.ndarray, births: torch.Tensor, lifetimes: torch.Tensor, counts: torch.Tensor,
                       image_size: int, spread: float) -> None:
    """Normalised images of padded diagrams into ``out`` [M, S, S]; diagrams of similar sizes together
    (less padding to multiply)."""
    target = torch.from_numpy(out)
    for group in torch.argsort(counts).split(SIMILAR_DIAGRAMS):
        width = max(int(counts[group].max()), 1)
        kept = torch.arange(width) < counts[group, None]
        images = _persistence_image(births[group, :width], lifetimes[group, :width],
                                    lifetimes[group, :width] * kept, image_size, spread)
        target.index_copy_(0, group, normalised(images).to(target.dtype))


# -- the references, one series at a time (tests and ``gafkd bench``; :mod:`gafkd.images.registry`) ----

def reference_diagram(series: np.ndarray) -> np.ndarray:
    """ripser's H0 of the sublevel-set filtration of ``series``: a sparse distance matrix holding each
    sample's value (its vertex) and the larger value of each neighbour pair (their edge)."""
    from ripser import ripser

    return ripser(_filtration_matrix(series), maxdim=0, distance_matrix=True)["dgms"][0]


def _filtration_matrix(series: np.ndarray):
    from scipy import sparse

    n = len(series)
    i = np.arange(n - 1)
    values = np.concatenate([series, np.maximum(series[:-1], series[1:])])
    rows, cols = np.concatenate([np.arange(n), i]), np.concatenate([np.arange(n), i + 1])
    return sparse.coo_matrix((values, (rows, cols)), shape=(n, n)).tocsr()


def reference_image(series: np.ndarray, image_size: int = 64, spread: float = 0.015, lifetime: float = 0.01,
                    diagram: np.ndarray | None = None) -> np.ndarray:
    """The lab's recipe with the reference libraries: ripser's diagram of ``series`` (or a given
    ``diagram``), persim's legacy ``PersImage``, divided by its maximum."""
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


def plain_image(points: np.ndarray, image_size: int, spread: float, lifetime: float) -> np.ndarray:
    """persim's legacy image of one diagram written plainly in numpy (scipy's normal CDF): the image a
    user of another diagram library would write."""
    from scipy.special import ndtr

    points = points[np.isfinite(points[:, 1]) & (points[:, 1] - points[:, 0] > lifetime)]
    if not len(points):
        return np.zeros((image_size, image_size))
    births, lives = points[:, 0], points[:, 1] - points[:, 0]
    edges_b, edges_l = np.linspace(-1, 1, image_size), np.linspace(0, 1, image_size)
    step = 1.0 / image_size
    mass_b = ndtr((edges_b + step - births[:, None]) / spread) - ndtr((edges_b - births[:, None]) / spread)
    mass_l = ndtr((edges_l + step - lives[:, None]) / spread) - ndtr((edges_l - lives[:, None]) / spread)
    image = np.flip(((mass_b * lives[:, None]).T @ mass_l).T, axis=0)
    return image / image.max() if image.max() > 0 else image


def _sublevel_only(settings: dict, library: str) -> None:
    if settings["recipe"] != "sublevel":
        raise ConfigError(f"{library} reference: the sublevel recipe only (got {settings['recipe']!r})")


def ripser_persim_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference: ripser's diagram (the recipe's), persim's legacy PersImage, per series."""
    size, spread, lifetime = settings["image_size"], settings["spread"], settings["lifetime"]
    if settings["recipe"] == "sublevel":
        return of_each_series(windows, lambda rows: [reference_image(r, size, spread, lifetime) for r in rows])
    return of_each_series(windows, lambda rows: [reference_image(None, size, spread, lifetime, diagram=rips_diagram(
        r, **settings["rips"])) for r in rows])


def gudhi_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference: gudhi's lower-star (cubical) diagrams, all series in one call, and :func:`plain_image`."""
    from gudhi.sklearn.cubical_persistence import CubicalPersistence

    _sublevel_only(settings, "gudhi")
    diagrams = CubicalPersistence(homology_dimensions=0, n_jobs=1).fit_transform
    return of_each_series(windows, lambda rows: [plain_image(d, settings["image_size"], settings["spread"],
                                                             settings["lifetime"]) for d in diagrams(list(rows))])


def giotto_images(windows: np.ndarray, settings: dict) -> np.ndarray:
    """Reference: giotto-ph (giotto-tda's persistence engine) on ripser's sparse filtration, and :func:`plain_image`."""
    from gph import ripser_parallel

    _sublevel_only(settings, "giotto-ph")
    return of_each_series(windows, lambda rows: [plain_image(
        ripser_parallel(_filtration_matrix(r), maxdim=0, metric="precomputed")["dgms"][0],
        settings["image_size"], settings["spread"], settings["lifetime"]) for r in rows])
