"""A pack's epochs: schedule, per-epoch checkpoint and resume, each member's best epoch and history.

The checkpoint (written atomically after every epoch) holds the fused model, the optimizer's
momentum buffers, every member's history, best epoch, best weights and confusion matrix, and the
members that diverged; a killed pack resumes from it exactly as if it had not been interrupted.
A member whose loss turns non-finite is left out of the summed loss from then on (its parameters
are its own, so the others train on unchanged) and reported at the end; when every member has
diverged the pack stops at once.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from ..faults import maybe_die
from ..models.fused import member_state
from . import checkpoint
from .data import RunData
from .loop import TrainingError, evaluate, train_epoch
from .optim import SGD
from .schedule import learning_rate


@dataclass
class MemberResult:
    history: list[dict]
    best_state: dict
    best_epoch: int  # 1-based
    best_test_acc: float
    final_test_acc: float
    confusion: list[list[int]]  # test set, at the best epoch (rows: true class)
    failure: str | None = None


@dataclass
class PackResult:
    members: list[MemberResult]
    final_state: dict
    seconds: float
    resumed_from: int = 0


def fit(model, data: RunData, loss_fn, teachers, settings: dict, seeds, names, checkpoint_path, digest: str,
        precision=nullcontext) -> PackResult:
    """Train the pack's fused ``model`` for ``settings['epochs']`` epochs, resuming from ``checkpoint_path``.

    ``seeds`` and ``names`` (each member's run folder, for messages) are per member; ``teachers``
    maps the members' rows to their teacher logits (:class:`~gafkd.training.targets.PackTeachers`).
    """
    members = len(seeds)
    epochs, batch_size = settings["epochs"], settings["batch_size"]
    optimizer = SGD(model.parameters(), lr=settings["lr"], momentum=settings["momentum"],
                    weight_decay=settings["weight_decay"])
    state = checkpoint.load(checkpoint_path, digest)
    if state is None:
        state = {"history": [[] for _ in seeds], "best_acc": [-1.0] * members, "best_epoch": [0] * members,
                 "best_states": [None] * members, "confusion": [None] * members, "failed": [None] * members}
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        logging.info("resuming after epoch %d from %s", len(state["history"][0]), checkpoint_path)
    resumed_from = len(state["history"][0])
    for epoch in range(resumed_from, epochs):
        started = time.perf_counter()
        lr = learning_rate(epoch, epochs, settings["lr"], settings["lr_steps"], settings["lr_milestones"])
        optimizer.lr = lr
        active = torch.tensor([f is None for f in state["failed"]], device=data.labels.device)
        train = train_epoch(model, data, loss_fn, teachers, optimizer, seeds, epoch, batch_size, precision=precision,
                            active=None if bool(active.all()) else active)
        _record_divergence(state, train, epoch, names)
        test_loss, test_acc, logits = evaluate(model, data, data.test_idx, precision)
        seconds = time.perf_counter() - started
        current = model.state_dict()
        for m in range(members):
            if state["failed"][m] is not None:
                continue
            state["history"][m].append({"epoch": epoch + 1, "lr": lr, "train_loss": train.loss[m],
                                        "train_acc": train.acc[m], "test_loss": test_loss[m],
                                        "test_acc": test_acc[m], "seconds": seconds})
            if test_acc[m] > state["best_acc"][m]:
                state["best_acc"][m], state["best_epoch"][m] = test_acc[m], epoch + 1
                state["best_states"][m] = member_state(current, m, members)
                state["confusion"][m] = _confusion(logits[m], data.labels[data.test_idx], data.num_classes)
        _log_epoch(epoch, epochs, lr, train, test_loss, test_acc, seconds, state["failed"])
        checkpoint.save(checkpoint_path, {"digest": digest, "model": model.state_dict(),
                                          "optimizer": optimizer.state_dict(), **state}, epoch + 1)
        maybe_die("after_epoch", epoch + 1)
    results = [MemberResult(history=h, best_state=s, best_epoch=e, best_test_acc=a,
                            final_test_acc=h[-1]["test_acc"] if h else float("nan"), confusion=c, failure=f)
               for h, s, e, a, c, f in zip(state["history"], state["best_states"], state["best_epoch"],
                                           state["best_acc"], state["confusion"], state["failed"])]
    seconds = sum(r["seconds"] for r in max(state["history"], key=len))
    return PackResult(members=results, final_state=model.state_dict(), seconds=seconds, resumed_from=resumed_from)


def _record_divergence(state: dict, train, epoch: int, names) -> None:
    """Mark members whose loss turned non-finite this epoch; raise when none is left."""
    for m, bad in enumerate(train.bad_batch):
        if bad and state["failed"][m] is None:
            state["failed"][m] = (f"{names[m]}: epoch {epoch + 1}, batch {bad}: the loss is {train.bad_loss[m]}; "
                                  "training diverged (lower training.lr or check the inputs)")
            logging.error("%s", state["failed"][m])
    if all(f is not None for f in state["failed"]):
        raise TrainingError("; ".join(state["failed"]))


def _confusion(logits: torch.Tensor, labels: torch.Tensor, classes: int) -> list[list[int]]:
    pairs = labels.cpu() * classes + logits.argmax(1).cpu()
    return torch.bincount(pairs, minlength=classes**2).view(classes, classes).tolist()


def _log_epoch(epoch, epochs, lr, train, test_loss, test_acc, seconds, failed) -> None:
    alive = [m for m, f in enumerate(failed) if f is None]
    if len(failed) == 1:
        logging.info("epoch %d/%d lr %.4g train loss %.4f acc %.2f | test loss %.4f acc %.2f | %.1f s", epoch + 1,
                     epochs, lr, train.loss[0], train.acc[0], test_loss[0], test_acc[0], seconds)
        return
    accs = [test_acc[m] for m in alive]
    logging.info("epoch %d/%d lr %.4g | %d members: train loss %.4f (mean) | test acc %.2f–%.2f | %.1f s",
                 epoch + 1, epochs, lr, len(alive), sum(train.loss[m] for m in alive) / len(alive), min(accs),
                 max(accs), seconds)
