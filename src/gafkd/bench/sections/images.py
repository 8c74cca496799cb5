"""Windows/s of every representation of the registry (:mod:`gafkd.images.registry`) against each reference its
entry names (``{name}_vs_reference``: over the fastest, against the entry's target), the same images checked."""

from __future__ import annotations

import time

import numpy as np

from ...images.registry import REPRESENTATIONS
from ...schema import section_defaults
from ..budget import UNLIMITED, Budget
from ..timing import median_time
from . import Described, Run

NAME, SHARE = "images", 0.35
IMAGE_DEFAULTS = section_defaults("images")


def image_speeds(bench, n_windows: int, budget: Budget = UNLIMITED) -> dict:
    """Windows/s of every representation (both window lengths, the input as its scaling leaves it), and each
    against every reference the entry names, where installed: per series, alternating rounds, the same images
    checked. Its ratio over the fastest reference against the entry's target."""
    rng = np.random.default_rng(0)
    walks = rng.normal(size=(n_windows, bench.axes, 500)).cumsum(-1)
    images = {}

    def measure_one(name):
        entry = REPRESENTATIONS[name]
        settings = entry.settings(IMAGE_DEFAULTS | {"image_size": bench.image_size})
        by_length = {length: bench_scaled(np.repeat(walks, length // 500, axis=-1), settings) for length in (500, 1000)}
        ours = entry.transformer(settings)
        n = affordable(lambda k: ours.transform(by_length[500][:k]), n_windows)
        # into a reused buffer, as the images stage streams through one (fresh memory costs more than the work)
        buffer = np.empty((n, entry.channels(bench.axes), bench.image_size, bench.image_size), dtype=np.float16)
        rates = {length: n / median_time(lambda x=x: ours.transform(x[:n], out=buffer), bench.repeats, lambda: None)
                 for length, x in by_length.items()}
        references = {r.name: against_reference(bench, entry, r, settings, by_length[500][:n], rates[500])
                      for r in entry.references}
        timed = [r["vs_ours"] for r in references.values() if r.get("vs_ours") is not None]
        images[name] = {"windows": n, "scaling": settings.get("scaling"), "ours_windows_per_s": rates[500],
                        "ours_windows_per_s_by_length": rates, "references": references,
                        "vs_fastest_reference": min(timed) if timed else None, "target": entry.speed_target}

    budget.each(REPRESENTATIONS, measure_one, lambda name: f"images {name}")
    return images


def affordable(run, most: int, seconds: float = 0.5) -> int:
    """How many windows one timed call can take in about ``seconds`` (at least 16, at most ``most``)."""
    run(16)
    start = time.perf_counter()
    run(16)
    per_window = (time.perf_counter() - start) / 16
    return int(min(most, max(16, seconds / max(per_window, 1e-9))))


def against_reference(bench, entry, reference, settings: dict, windows: np.ndarray, ours_rate: float) -> dict:
    """The reference's seconds per window over ours and the largest difference of their images, on as
    many windows as fit the time budget (one window's first axis for the slowest references, such as
    qts2d's circuit per pixel); ``None`` with the reason when its library is missing."""
    import warnings

    budget = 0.5 if bench.quick else 2.0
    first_axis = windows[:1, :1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:  # its imports and compiles (pyts's numba) paid on a 4-pixel image, untimed
            reference.images(first_axis, {**settings, "image_size": 4})
            start = time.perf_counter()
            theirs = reference.images(first_axis, settings)
            per_series = time.perf_counter() - start
        except ImportError as exc:
            return {"vs_ours": None, "reference": f"not installed ({exc.name}; the test extra has it)"}
        sample = first_axis
        if per_series * windows.shape[1] > budget:  # a window costs more than the budget: one axis, once
            per_window = per_series * windows.shape[1]
        else:  # 4× more windows until a call takes a quarter of the budget (per-call costs amortised as ours)
            count = 1
            while count < len(windows):
                count = min(len(windows), 4 * count)
                start = time.perf_counter()
                reference.images(windows[:count], settings)
                if time.perf_counter() - start > budget / 4:
                    break
            sample = windows[:count]
            per_window = median_time(lambda: reference.images(sample, settings),
                                     max(1, bench.repeats // 2), lambda: None) / count
            theirs = reference.images(sample, settings)
    ours = entry.transformer(settings).transform(sample)
    return {"vs_ours": per_window * ours_rate, "reference_windows_per_s": 1 / per_window,
            "timed_on": f"{len(sample)} window(s) × {sample.shape[1]} axis(es)",
            "max_abs_difference": float(np.abs(ours - theirs).max())}


def bench_scaled(walks: np.ndarray, settings: dict) -> np.ndarray:
    """The bench's windows as a representation's scaling leaves them (fixed: the walks' own limits)."""
    from ...images.scaling import Scaling

    kind = settings.get("scaling")
    if kind is None:  # the transform scales each window itself
        return walks
    limits = (walks.min(axis=(0, 2)), walks.max(axis=(0, 2))) if kind == "fixed" else (None, None)
    return Scaling(kind, *limits).apply(walks)[0]


def measure(bench, run: Run, budget: Budget) -> dict:
    images = image_speeds(bench, 2048 if run.quick else 16384, budget)
    return {"images": images, **{f"{name}_vs_reference": image["vs_fastest_reference"]
                                 for name, image in images.items()}}


def describe(report: dict) -> Described:
    rows = []
    for name, image in report.get("images", {}).items():
        for reference, r in image["references"].items():
            fastest = r.get("vs_ours") is not None and r["vs_ours"] == image["vs_fastest_reference"]
            measured = (f"{r['vs_ours']:.1f}× ({image['ours_windows_per_s']:.0f} vs {r['reference_windows_per_s']:.1f} "
                        f"windows/s, max diff {r['max_abs_difference']:.1e})" if r.get("vs_ours") is not None else
                        f"reference {r['reference']}; ours {image['ours_windows_per_s']:.0f} windows/s")
            rows.append([f"{name} ({image['scaling'] or 'own'} scaling) vs {reference}", measured,
                         f"≥ {image['target']:g}× (the fastest)" if fastest else ""])
    return Described(ratios=rows)
