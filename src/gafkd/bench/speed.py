"""``gafkd bench``: what the study costs on this machine, against the naive way, in one run.

Every speed is a median over repeats, and every target is a ratio of two numbers measured in the
same run (machines are shared and noisy). The sections (:mod:`gafkd.bench.sections`, in this order): models,
fast paths, kd, loop, images, readers, packs, families; then the study estimates (:mod:`gafkd.bench.estimates`).
Each section measures with the shared harness (:mod:`gafkd.bench.harness`) and describes its own numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..io import write_text_atomic
from ..provenance import package_versions
from ..training.device import device_name
from . import estimates
from .budget import QUICK_BUDGET, Budget
from .harness import Bench
from .sections import Run, fast_paths, families, images, kd, loop, models, packs, readers
from .timing import bench_device

SECTIONS = (models, fast_paths, kd, loop, images, readers, packs, families)
OPTIONAL = ("packs", "families")  # run only when asked for (``sections``)


def run(quick: bool = False, device: str = "auto", config: dict | None = None, scratch: Path | None = None,
        threads: int | None = None, sections=OPTIONAL, axes: int = 3, budget: float | None = None) -> dict:
    """The bench's report. ``budget``: seconds for all of it (``quick``: :data:`QUICK_BUDGET` unless given);
    each section gets a share of the time left, and what does not fit is listed under ``skipped``. Models not
    timed are estimated from their FLOPs at the rate the timed ones achieved (marked so)."""
    import tempfile

    budget = QUICK_BUDGET if budget is None and quick else budget
    clock = Budget(budget)
    dev = bench_device(device, threads)
    bench = Bench(dev, quick, axes=axes)
    options = Run(quick, config, Path(scratch or tempfile.mkdtemp(prefix="gafkd-bench-")))
    report = {"device": device_name(dev), "quick": quick, "budget_s": budget, "axes": axes,
              "packages": package_versions(), "skipped": clock.skipped}
    for section in SECTIONS:
        if section.NAME in OPTIONAL and section.NAME not in sections:
            continue
        share = clock.section(section.SHARE)
        if clock.limited and share.left() <= 0:
            clock.skipped.append({"what": section.NAME, "needs_s": None, "left_s": 0.0})
            continue
        report.update(section.measure(bench, options, share))
    if config is not None and report.get("models"):
        estimates.add_estimates(report, config, dev.type)
    report["seconds"] = round(clock.clock() - clock.start, 1)
    return report


def format_report(report: dict) -> str:
    from tabulate import tabulate

    described = [section.describe(report) for section in (*SECTIONS, estimates)]
    budget = f", a {report['budget_s']:g} s budget" if report.get("budget_s") else ""
    lines = [f"gafkd bench on {report['device']}{' (quick)' if report['quick'] else ''}{budget}, windows of "
             f"{report.get('axes', 3)} signal channels" + (f": {report['seconds']:.0f} s" if "seconds" in report else ""),
             "", *described[0].lines]
    ratios = [row for d in described for row in d.ratios]
    lines += [tabulate(ratios, headers=["ratio", "measured", "target"], tablefmt="github"), ""]
    lines += [line for d in described[1:] for line in d.lines]
    if report.get("skipped"):
        lines += ["", "skipped to keep the budget (raise it with --budget SECONDS):"]
        lines += [f"  {s['what']}" + (f" (needs ≈{s['needs_s']:g} s, {s['left_s']:g} s left)" if s["needs_s"] else "")
                  for s in report["skipped"]]
    return "\n".join(lines)


def write_json(report: dict, path) -> None:
    """The report as JSON in its own key order, replacing ``path`` at once (a reader never sees half of it)."""
    write_text_atomic(path, json.dumps(report, indent=2, default=str) + "\n")
