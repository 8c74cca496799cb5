"""Per model family (its registry example) and input kind it is built for: training and evaluation samples/s of
one run, channels-last against contiguous training (the pipeline's default layout must pay for every family),
and a pack against as many separate runs. The full bench only."""

from __future__ import annotations

from ...models import count_parameters
from .. import harness
from ..budget import UNLIMITED, Budget
from ..timing import interleaved_medians, median_time
from . import Described, Run

NAME, SHARE = "families", 1.0


def family_speeds(bench, width: int = 4, steps: int = 2, budget: Budget = UNLIMITED) -> list[dict]:
    from ...models.families import FAMILIES

    def row(case):
        name, family, dims = case
        modality = harness.SIGNAL if dims == 1 else harness.IMAGE
        model, step, forward = bench.step_functions(modality, family.example)  # channels-last, as trained
        layouts = {"nhwc": step, "contiguous": bench.step_functions(modality, family.example, channels_last=False)[1]}
        seconds = interleaved_medians(layouts, bench.repeats, bench.sync)
        forward()
        evaluate = median_time(forward, bench.repeats, bench.sync)
        packs = bench.pack_speeds(modality, family.example, (1, width), steps)
        return {"family": name, "arch": family.example, "modality": modality,
                "params": count_parameters(model), "train_samples_per_s": bench.batch / seconds["nhwc"],
                "eval_samples_per_s": bench.batch / evaluate,
                "channels_last_speedup": seconds["contiguous"] / seconds["nhwc"], "width": width,
                "pack_vs_separate": packs[width] / packs[1]}

    cases = [(name, family, dims) for name, family in FAMILIES.items() for dims in family.dims]
    return budget.each(cases, row, lambda c: f"families {c[1].example} {c[2]}-D")


def measure(bench, run: Run, budget: Budget) -> dict:
    return {} if run.quick else {"families": family_speeds(bench, budget=budget)}


def describe(report: dict) -> Described:
    from tabulate import tabulate

    if not report.get("families"):
        return Described()
    rows = [[r["family"], f"{r['modality']}-{r['arch']}", f"{r['params']:,}", f"{r['train_samples_per_s']:.0f}",
             f"{r['eval_samples_per_s']:.0f}", f"{r['channels_last_speedup']:.2f}×", f"{r['pack_vs_separate']:.2f}×"]
            for r in report["families"]]
    return Described(lines=[f"model families (each registry entry's example; a pack of {report['families'][0]['width']}"
                            " against as many separate runs):",
                            tabulate(rows, headers=["family", "model", "params", "train samples/s", "eval samples/s",
                                                    "channels-last vs contiguous", "pack vs separate"],
                                     tablefmt="github"), ""])
