"""One epoch of the real training loop against the same steps on preloaded batches (``loop_overhead``)."""

from __future__ import annotations

import torch.nn.functional as F

from ...distillation.pack import PackLoss
from ...distillation.spec import LossSpec
from ...training.loop import train_epoch
from ...training.optim import SGD
from .. import harness
from ..budget import Budget
from ..timing import interleaved_medians
from . import Described, Run

NAME, SHARE = "loop", 0.1


def loop_overhead(bench, n_train: int) -> dict:
    data = bench.run_data(harness.SIGNAL, n_train)
    model = bench.model(harness.SIGNAL, harness.STUDENT)
    optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss = PackLoss([LossSpec()], bench.device)
    n_batches = -(-n_train // bench.batch)
    batches = [(data.batch(data.train_idx[b * bench.batch:(b + 1) * bench.batch]),
                data.labels[data.train_idx[b * bench.batch:(b + 1) * bench.batch]]) for b in range(n_batches)]

    def loop_epoch():
        train_epoch(model, data, loss, None, optimizer, [0], 0, bench.batch, n_batches)

    def preloaded_epoch():
        model.train()
        for xb, yb in batches:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb).backward()  # the loop's loss for a run without teachers
            optimizer.step()

    loop_epoch(), preloaded_epoch()
    medians = interleaved_medians({"loop": loop_epoch, "preloaded": preloaded_epoch}, bench.repeats, bench.sync)
    ours, limit = medians["loop"], medians["preloaded"]
    return {"windows": n_train, "loop_s": ours, "preloaded_s": limit, "loop_overhead": ours / limit - 1}


def measure(bench, run: Run, budget: Budget) -> dict:
    loop = loop_overhead(bench, n_train=1024 if run.quick else 8192)
    return {"loop": loop, "loop_overhead": loop["loop_overhead"]}


def describe(report: dict) -> Described:
    if "loop" not in report:
        return Described()
    return Described(ratios=[["loop_overhead (real loop vs preloaded batches)",
                              f"{report['loop']['loop_overhead'] * 100:+.1f}%", "≤ 10%"]])
