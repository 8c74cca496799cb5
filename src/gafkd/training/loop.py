"""The epoch loop shared by teachers and students.

Batches are index slices of a permutation seeded by (seed, epoch), so an interrupted run that
resumes from its last checkpoint (model, optimizer, history, best weights) continues exactly as
the uninterrupted run would. Metrics are accumulated on the device (no host sync per step); a
non-finite loss is detected at the end of the epoch and named by epoch and batch.
"""

from __future__ import annotations

import copy
import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import GafkdError
from ..faults import maybe_die
from . import checkpoint
from .data import RunData
from .optim import SGD
from .schedule import DEFAULT_MILESTONES, learning_rate

EVAL_BATCH = 512


class TrainingError(GafkdError):
    """Training diverged (NaN/Inf loss)."""


@dataclass
class FitResult:
    history: list[dict]
    best_state: dict
    best_epoch: int  # 1-based
    best_test_acc: float
    final_test_acc: float
    seconds: float
    resumed_from: int = 0


def epoch_permutation(train_idx: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return train_idx[torch.randperm(len(train_idx), generator=generator).to(train_idx.device)]


@torch.no_grad()
def predict(model, data: RunData, idx: torch.Tensor, precision=nullcontext) -> torch.Tensor:
    """float32 logits of rows ``idx`` in eval mode, ``EVAL_BATCH`` rows at a time."""
    model.eval()
    with precision():
        logits = torch.cat([model(data.batch(idx[s:s + EVAL_BATCH])) for s in range(0, len(idx), EVAL_BATCH)])
    return logits.float()


@torch.no_grad()
def evaluate(model, data: RunData, idx: torch.Tensor, precision=nullcontext) -> tuple[float, float, torch.Tensor]:
    """(mean CE loss, accuracy in %, logits) over rows ``idx`` in eval mode."""
    logits = predict(model, data, idx, precision)
    labels = data.labels[idx]
    loss = F.cross_entropy(logits, labels).item()
    acc = (logits.argmax(1) == labels).sum().item() / len(idx) * 100  # exact count ratio, as the notes
    return loss, acc, logits


def fit(model, data: RunData, loss_fn, teachers, settings: dict, seed: int, checkpoint_path, digest: str,
        precision=nullcontext) -> FitResult:
    """Train ``model`` on ``data`` for ``settings['epochs']`` epochs, resuming from ``checkpoint_path``.

    ``teachers`` are callables mapping a batch's row indices to teacher logits (cached or live);
    ``precision`` makes the autocast context of the forward passes (bf16 fast path).
    """
    epochs, batch_size = settings["epochs"], settings["batch_size"]
    optimizer = SGD(model.parameters(), lr=settings["lr"], momentum=settings["momentum"],
                    weight_decay=settings["weight_decay"])
    history, best = [], {"acc": -1.0, "epoch": 0, "state": None}
    state = checkpoint.load(checkpoint_path, digest)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history, best = state["history"], state["best"]
        logging.info("resuming after epoch %d from %s", len(history), checkpoint_path)
    resumed_from = len(history)
    n_batches = -(-len(data.train_idx) // batch_size)
    for epoch in range(len(history), epochs):
        started = time.perf_counter()
        lr = learning_rate(epoch, epochs, settings["lr"], settings["lr_steps"],
                           settings.get("lr_milestones", DEFAULT_MILESTONES))
        optimizer.lr = lr
        train_loss, train_acc = _train_epoch(model, data, loss_fn, teachers, optimizer, seed, epoch, batch_size,
                                             n_batches, precision)
        test_loss, test_acc, _ = evaluate(model, data, data.test_idx, precision)
        row = {"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
               "test_loss": test_loss, "test_acc": test_acc, "seconds": time.perf_counter() - started}
        history.append(row)
        if test_acc > best["acc"]:
            best = {"acc": test_acc, "epoch": epoch + 1, "state": copy.deepcopy(model.state_dict())}
        logging.info("epoch %d/%d lr %.4g train loss %.4f acc %.2f | test loss %.4f acc %.2f | %.1f s",
                     epoch + 1, epochs, lr, train_loss, train_acc, test_loss, test_acc, row["seconds"])
        checkpoint.save(checkpoint_path, {"digest": digest, "model": model.state_dict(),
                                          "optimizer": optimizer.state_dict(), "history": history, "best": best})
        maybe_die("after_epoch", epoch + 1)
    return FitResult(history=history, best_state=best["state"], best_epoch=best["epoch"], best_test_acc=best["acc"],
                     final_test_acc=history[-1]["test_acc"], seconds=sum(r["seconds"] for r in history),
                     resumed_from=resumed_from)


def _train_epoch(model, data, loss_fn, teachers, optimizer, seed, epoch, batch_size, n_batches,
                 precision=nullcontext):
    model.train()
    order = epoch_permutation(data.train_idx, seed, epoch)
    losses = torch.zeros(n_batches, device=data.labels.device)
    correct = torch.zeros((), device=data.labels.device, dtype=torch.long)
    for b in range(n_batches):
        idx = order[b * batch_size:(b + 1) * batch_size]
        labels = data.labels[idx]
        with precision():
            logits = model(data.batch(idx)).float()
        loss = loss_fn(logits, labels, [teacher(idx).float() for teacher in teachers])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses[b] = loss.detach() * len(idx)
        correct += (logits.detach().argmax(1) == labels).sum()
        if b == 0:
            maybe_die("mid_epoch", epoch + 1)
    finite = torch.isfinite(losses)
    if not bool(finite.all()):
        bad = int((~finite).nonzero()[0])
        raise TrainingError(f"epoch {epoch + 1}, batch {bad + 1}: the loss is {losses[bad].item() / batch_size}; "
                            "training diverged (lower training.lr or check the inputs)")
    n = len(data.train_idx)
    return losses.sum().item() / n, correct.item() / n * 100
