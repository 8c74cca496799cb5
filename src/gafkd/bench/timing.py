"""How the bench times things: medians of alternating rounds, the process's memory, the device it measures on."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeats: int, sync) -> float:
    return interleaved_medians({"fn": fn}, repeats, sync)["fn"]


def interleaved_medians(fns: dict, repeats: int, sync) -> dict:
    """Median seconds of each function, timed in alternating rounds (A B C, A B C, ...).

    The things a ratio compares are timed side by side, so that a slow minute on a shared machine
    slows both sides rather than one.
    """
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_device(device: str, threads: int | None):
    """The device a bench measures on (``auto`` and ``cuda``: CUDA where there is one), set up for speed: all
    cores (or ``threads``), nondeterministic kernels allowed, fp32."""
    import os

    import torch

    from ..training.device import configure
    from ..training.settings import TrainingSettings

    dev = torch.device("cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
    configure(threads or os.cpu_count() or 1, TrainingSettings.of({"deterministic": False, "precision": "fp32"}), dev)
    return dev
