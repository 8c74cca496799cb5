"""Aggregate training samples/s of fused packs through the real epoch loop (the student at widths 1, 4, 16, 64;
every teacher at width 3), against one run in the same run (``pack_speedup``), and the FLOP/s they achieve
(``torch.utils.flop_counter``)."""

from __future__ import annotations

from .. import harness
from ..budget import UNLIMITED, Budget
from . import Described, Run
from .models import timed_models

NAME, SHARE = "packs", 0.7


def pack_speeds(bench, student_widths=(1, 4, 16, 64), teacher_width: int = 3, models=None,
                budget: Budget = UNLIMITED) -> dict:
    """``models``: the (modality, arch) teachers to time (default: the study's WRNs, 1-D and 2-D); under a
    ``budget`` the shapes that do not fit are skipped (a model's width 1 is timed before its pack)."""
    steps = 2 if bench.quick else 4
    shapes = [(harness.SIGNAL, harness.STUDENT, w) for w in student_widths]
    models = models or [(m, a) for m in harness.input_kinds() for a in harness.ARCHS]
    shapes += [(m, a, w) for m, a in models for w in (1, teacher_width)]
    rows = budget.each(dict.fromkeys(shapes), lambda s: bench.pack_speed(*s, steps),  # each once
                       lambda s: f"packs {s[0]}:{s[1]}×{s[2]}")
    flops = {(m, a): bench.train_flops_per_sample(m, a) for m, a in {(r["modality"], r["arch"]) for r in rows}}
    single = {(r["modality"], r["arch"]): r["train_samples_per_s"] for r in rows if r["width"] == 1}
    rows = [r for r in rows if (r["modality"], r["arch"]) in single]  # a pack without its single run: no ratio
    for r in rows:
        r["speedup_vs_one_run"] = r["train_samples_per_s"] / single[(r["modality"], r["arch"])]
        r["train_flops_per_sample"] = flops[(r["modality"], r["arch"])]
        r["achieved_tflops"] = r["train_samples_per_s"] * r["train_flops_per_sample"] / 1e12
    return {"steps": steps, "batch": bench.batch, "rows": rows}


def measure(bench, run: Run, budget: Budget) -> dict:
    return {"packs": pack_speeds(bench, student_widths=(1, 4) if run.quick else (1, 4, 16, 64),
                                 models=timed_models(run.config), budget=budget)}


def describe(report: dict) -> Described:
    from tabulate import tabulate

    if "packs" not in report:
        return Described()
    rows = [[f"{r['modality']}-{r['arch']}", r["width"], f"{r['train_samples_per_s']:.0f}",
             f"{r['speedup_vs_one_run']:.2f}×", f"{r['achieved_tflops'] * 1e3:.1f}"] for r in report["packs"]["rows"]]
    return Described(lines=["packs (all members together, through the epoch loop):",
                            tabulate(rows, headers=["model", "width", "train samples/s", "vs one run",
                                                    "achieved GFLOP/s"], tablefmt="github"), ""])
