"""A pack's epochs: schedule, per-epoch checkpoint and resume, each member's best epoch and history.

The checkpoint (written atomically after every epoch) holds the fused model, the optimizer's
momentum buffers and every member's :class:`MemberState`; a killed pack resumes from it exactly as
if it had not been interrupted. A member whose loss turns non-finite is a result, not a failure: it
is left out of the summed loss from then on (its parameters are its own, so the others train on
unchanged), and its state records where it diverged and its best epoch before that. When every
member has diverged the pack stops early.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import torch

from ..faults import diverging, maybe_die
from ..models.fused import host_state, member_state
from ..models.memory import EVAL_ROWS_MAX
from ..names import DIVERGED, OK
from . import checkpoint
from .data import RunData
from .loop import evaluate, train_epoch
from .optim import SGD
from .schedule import learning_rate
from .settings import TrainingSettings
from .spec import Pack

@dataclass
class MemberState:
    """One member's training record: what the loop updates, the checkpoint stores and the writers read."""

    history: list[dict] = field(default_factory=list)
    best_test_acc: float = -1.0
    best_epoch: int = 0  # 1-based; 0: no epoch completed
    best_state: dict | None = None
    confusion: list[list[int]] | None = None  # test set, at the best epoch (rows: true class)
    diverged: dict | None = None  # {"epoch", "batch", "loss", "message"} once the loss turned non-finite
    # with a validation split: the epoch chosen on it, and the test accuracy there (the honest number)
    best_val_acc: float = -1.0
    best_val_epoch: int = 0
    test_acc_at_best_val: float | None = None
    best_val_state: dict | None = None

    @property
    def status(self) -> str:
        return DIVERGED if self.diverged else OK

    @property
    def final_test_acc(self) -> float:
        return self.history[-1]["test_acc"] if self.history else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PackResult:
    members: list[MemberState]
    final_state: dict
    seconds: float
    resumed_from: int = 0


def fit(model, data: RunData, loss_fn, teachers, settings: TrainingSettings, pack: Pack, checkpoint_path, digest: str,
        precision=nullcontext, eval_rows: int = EVAL_ROWS_MAX) -> PackResult:
    """Train ``pack``'s fused ``model`` for ``settings.epochs`` epochs, resuming from ``checkpoint_path``.

    Each member's seed orders its batches; its run folder names it in messages. ``teachers`` maps the
    members' rows to their teacher signals (a provider of :mod:`gafkd.training.targets`); ``loss_fn`` is the
    pack's :class:`~gafkd.distillation.pack.PackLoss`, whose own parameters (if an entry has some) train too.
    """
    seeds, names = [m.seed for m in pack.members], [str(m.run_dir) for m in pack.members]
    width = pack.width
    epochs, batch_size = settings.epochs, settings.batch_size
    # a loss entry's own parameters (the projector's) train with the student
    optimizer = SGD([*model.parameters(), *loss_fn.parameters()], lr=settings.lr, momentum=settings.momentum,
                    weight_decay=settings.weight_decay)
    saved = checkpoint.load(checkpoint_path, digest)
    if saved is not None and len(saved.get("members", ())) == width:
        model.load_state_dict(saved["model"])
        loss_fn.load_state_dict(saved.get("loss", {}), strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        members = [MemberState(**m) for m in saved["members"]]
        resumed_from = saved["epoch"]
        logging.info("resuming after epoch %d from %s", resumed_from, checkpoint_path)
    else:
        members, resumed_from = [MemberState() for _ in seeds], 0
    for epoch in range(resumed_from, epochs):
        if all(m.diverged for m in members):
            logging.error("every member has diverged: the pack stops after epoch %d", epoch)
            break
        started = time.perf_counter()
        lr = learning_rate(epoch, epochs, settings.lr, settings.lr_steps, settings.lr_milestones)
        optimizer.lr = lr
        alive = [m.diverged is None for m in members]
        poison = diverging(names, epoch + 1)
        train = train_epoch(model, data, loss_fn, teachers, optimizer, seeds, epoch, batch_size, precision=precision,
                            active=None if all(alive) else torch.tensor(alive, device=data.labels.device),
                            poison=None if poison is None else torch.tensor(poison, device=data.labels.device))
        _record_divergence(members, train, epoch, names)
        test_loss, test_acc, logits = evaluate(model, data, data.test_idx, precision, eval_rows)
        val_loss, val_acc = (evaluate(model, data, data.val_idx, precision, eval_rows)[:2] if len(data.val_idx)
                             else ([None] * width, [None] * width))
        seconds = time.perf_counter() - started
        current, host = model.state_dict(), None  # host: the state on the CPU, copied once if a member improved
        for m, member in enumerate(members):
            if member.diverged is not None:
                continue
            member.history.append({"epoch": epoch + 1, "lr": lr, "train_loss": train.loss[m],
                                   "train_acc": train.acc[m], "test_loss": test_loss[m], "test_acc": test_acc[m],
                                   "val_loss": val_loss[m], "val_acc": val_acc[m], "seconds": seconds})
            if test_acc[m] > member.best_test_acc:
                member.best_test_acc, member.best_epoch = test_acc[m], epoch + 1
                host = host or host_state(current)
                member.best_state = member_state(host, m, width)
                member.confusion = _confusion(logits[m], data.labels[data.test_idx], data.num_classes)
            if val_acc[m] is not None and val_acc[m] > member.best_val_acc:
                member.best_val_acc, member.best_val_epoch, member.test_acc_at_best_val = (val_acc[m], epoch + 1,
                                                                                          test_acc[m])
                host = host or host_state(current)
                member.best_val_state = member_state(host, m, width)
        _log_epoch(epoch, epochs, lr, train, test_loss, test_acc, seconds, members)
        checkpoint.save(checkpoint_path, {"digest": digest, "epoch": epoch + 1, "model": model.state_dict(),
                                          "loss": loss_fn.state_dict(), "optimizer": optimizer.state_dict(),
                                          "members": [m.to_dict() for m in members]}, epoch + 1)
        maybe_die("after_epoch", epoch + 1)
    seconds = sum(r["seconds"] for r in max((m.history for m in members), key=len))
    return PackResult(members=members, final_state=model.state_dict(), seconds=seconds, resumed_from=resumed_from)


def _record_divergence(members: list[MemberState], train, epoch: int, names) -> None:
    """Mark members whose loss turned non-finite this epoch (logged; their results say so)."""
    for m, bad in enumerate(train.bad_batch):
        if bad and members[m].diverged is None:
            loss = train.bad_loss[m]
            message = (f"{names[m]}: epoch {epoch + 1}, batch {bad}: the loss is {loss}; training diverged "
                       "(lower training.lr or check the inputs)")
            members[m].diverged = {"epoch": epoch + 1, "batch": int(bad),
                                   "loss": str(loss) if not math.isfinite(loss) else loss, "message": message}
            logging.error("%s", message)


def _confusion(logits: torch.Tensor, labels: torch.Tensor, classes: int) -> list[list[int]]:
    pairs = labels.cpu() * classes + logits.argmax(1).cpu()
    return torch.bincount(pairs, minlength=classes**2).view(classes, classes).tolist()


def _log_epoch(epoch, epochs, lr, train, test_loss, test_acc, seconds, members) -> None:
    alive = [m for m, member in enumerate(members) if member.diverged is None]
    if not alive:
        return
    if len(members) == 1:
        logging.info("epoch %d/%d lr %.4g train loss %.4f acc %.2f | test loss %.4f acc %.2f | %.1f s", epoch + 1,
                     epochs, lr, train.loss[0], train.acc[0], test_loss[0], test_acc[0], seconds)
        return
    accs = [test_acc[m] for m in alive]
    logging.info("epoch %d/%d lr %.4g | %d members: train loss %.4f (mean) | test acc %.2f–%.2f | %.1f s",
                 epoch + 1, epochs, lr, len(alive), sum(train.loss[m] for m in alive) / len(alive), min(accs),
                 max(accs), seconds)
