"""Training speed-ups of the fast paths (channels-last against contiguous, bf16 autocast against fp32)."""

from __future__ import annotations

from .. import harness
from ..budget import Budget
from ..timing import interleaved_medians
from . import Described, Run

NAME, SHARE = "fast_paths", 0.1


def models() -> tuple[tuple[str, str], ...]:
    """The models timed, cheapest first (a budget keeps the first ones): the student, a thin and a wide 2-D WRN."""
    return ((harness.SIGNAL, harness.STUDENT), (harness.IMAGE, harness.ARCHS[0]),
            (harness.IMAGE, harness.KD_TEACHER))


def speedups(bench, budget: Budget, timed=None) -> dict:
    """Each fast path's training speed-up on ``timed`` (default :func:`models`), against fp32 channels-last."""
    result = {"channels_last": {}, "bf16": {}}

    def measure_one(model):
        modality, arch = model
        variants = {"fp32": {}, "contiguous": {"channels_last": False}, "bf16": {"precision": "bf16"}}
        steps = {name: bench.step_functions(modality, arch, **options)[1] for name, options in variants.items()}
        seconds = interleaved_medians(steps, bench.repeats, bench.sync)
        result["channels_last"][f"{modality}-{arch}"] = seconds["contiguous"] / seconds["fp32"]
        result["bf16"][f"{modality}-{arch}"] = seconds["fp32"] / seconds["bf16"]

    budget.each(timed or models(), measure_one, lambda m: f"fast paths {m[0]}:{m[1]}")
    return result


def measure(bench, run: Run, budget: Budget) -> dict:
    result = speedups(bench, budget)
    return {"channels_last_speedup": result["channels_last"], "bf16_speedup": result["bf16"]}


def describe(report: dict) -> Described:
    rows = [[f"channels_last vs contiguous, {name} training", f"{ratio:.2f}×", ""]
            for name, ratio in report.get("channels_last_speedup", {}).items()]
    rows += [[f"bf16 autocast vs fp32, {name} training", f"{ratio:.2f}×", ""]
             for name, ratio in report.get("bf16_speedup", {}).items()]
    return Described(ratios=rows)
