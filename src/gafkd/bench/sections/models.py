"""Training (forward + backward + SGD step) and eval samples/s and peak memory, per architecture and input kind;
a model left out under a budget is estimated from its FLOPs at the rate the timed ones of its kind achieved."""

from __future__ import annotations

import numpy as np

from .. import harness
from ..budget import Budget
from . import Described, Run

NAME, SHARE = "models", 0.3


def timed_models(config: dict | None) -> list[tuple[str, str]]:
    """The (modality, arch) models the bench times: the study's WRNs, 1-D and 2-D, and every other architecture
    the config trains (any dataset's teachers, the students), in each input kind its family is built for."""
    from ...grid import for_dataset
    from ...models.families import MODALITY_DIMS, family_of

    archs = list(harness.ARCHS)
    for dataset in (config or {}).get("datasets", {}):
        view = for_dataset(config, dataset)
        archs += [*view["teachers"]["archs"], view["students"]["arch"]]
    return [(modality, arch) for modality in harness.input_kinds() for arch in dict.fromkeys(archs)
            if MODALITY_DIMS[modality] in family_of(arch).dims]


def timed_speeds(bench, models: list[tuple[str, str]], budget: Budget) -> list[dict]:
    """:meth:`Bench.model_speed` of each (modality, arch), cheapest first while ``budget`` allows; each one left
    out is estimated from its training FLOPs at the rate the timed models of its input kind achieved
    (``timed``: False)."""
    flops = {m: bench.train_flops_per_sample(*m) for m in models}
    order = sorted(models, key=lambda m: flops[m])
    measured = budget.each(order, lambda m: bench.model_speed(*m), lambda m: f"models {m[0]}:{m[1]}")
    timed = {(r["modality"], r["arch"]): {**r, "timed": True} for r in measured}
    rows = []
    for modality, arch in models:
        if (modality, arch) in timed:
            rows.append(timed[(modality, arch)])
            continue
        alike = [k for k in timed if k[0] == modality] or list(timed)
        rate = {kind: float(np.median([timed[k][f"{kind}_samples_per_s"] * flops[k] for k in alike]))
                for kind in ("train", "eval")}
        rows.append({"modality": modality, "arch": arch, "params": None, "channels_last": True,
                     "precision": "fp32", "peak_memory_mb": None, "memory_kind": None, "timed": False,
                     **{f"{kind}_samples_per_s": r / flops[(modality, arch)] for kind, r in rate.items()},
                     "estimated_as": "its FLOPs at the FLOP/s the timed models of its input kind achieved"})
    return rows


def measure(bench, run: Run, budget: Budget) -> dict:
    return {"models": timed_speeds(bench, timed_models(run.config), budget)}


def describe(report: dict) -> Described:
    from tabulate import tabulate

    rows = [[m["modality"], m["arch"], f"{m['params']:,}" if m["params"] else "", f"{m['train_samples_per_s']:.1f}",
             f"{m['eval_samples_per_s']:.1f}", f"{m['peak_memory_mb']:.0f}" if m["timed"] else "estimated from FLOPs"]
            for m in report.get("models", [])]
    return Described(lines=[tabulate(rows, headers=["modality", "arch", "params", "train samples/s",
                                                    "eval samples/s", "peak MB"], tablefmt="github"), ""])
