"""The epoch loop shared by teachers and students, for a pack of M runs trained as one fused model.

Member m's batches are index slices of its own permutation, seeded by (its seed, epoch), so an
interrupted pack that resumes from its last checkpoint continues exactly as an uninterrupted one,
and a pack of one is the single run. Metrics are accumulated on the device (no host sync per
step); a non-finite loss is detected at the end of the epoch and named by member, epoch and batch.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..distillation.registry import FEATURES
from ..distillation.signals import StudentOutputs
from ..faults import maybe_die
from ..models.memory import EVAL_ROWS_MAX
from .data import RunData


@dataclass
class EpochResult:
    """Per member: mean training loss and accuracy (%), and the first non-finite batch (1-based; 0: none)."""

    loss: list[float]
    acc: list[float]
    bad_batch: list[int]
    bad_loss: list[float]


def epoch_permutation(train_idx: torch.Tensor, seed: int, epoch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    return train_idx[torch.randperm(len(train_idx), generator=generator).to(train_idx.device)]


def member_orders(train_idx: torch.Tensor, seeds, epoch: int) -> torch.Tensor:
    """[M, n]: member m's order of the training rows in this epoch."""
    return torch.stack([epoch_permutation(train_idx, seed, epoch) for seed in seeds])


def pack_logits(model, x: torch.Tensor) -> torch.Tensor:
    """Logits [M, B, K] of a fused model (a plain model is a pack of one)."""
    out = model(x)
    return out.unsqueeze(0) if getattr(model, "members", 1) == 1 else out


@torch.no_grad()
def predict(model, data: RunData, idx: torch.Tensor, precision=nullcontext, rows: int = EVAL_ROWS_MAX
            ) -> torch.Tensor:
    """float32 logits of a plain model on rows ``idx`` in eval mode, ``rows`` at a time."""
    return predict_pack(model, data, idx, precision, rows)[0]


@torch.no_grad()
def predict_pack(model, data: RunData, idx: torch.Tensor, precision=nullcontext, rows: int = EVAL_ROWS_MAX
                 ) -> torch.Tensor:
    """float32 logits [M, n, K] of every member on the same rows ``idx``, in eval mode.

    ``rows`` per pass (every member sees them): :func:`gafkd.models.memory.eval_rows` shrinks it as a
    pack widens, so evaluation memory does not grow with the width.
    """
    model.eval()
    members = getattr(model, "members", 1)
    with precision():
        logits = torch.cat([pack_logits(model, data.shared_batch(idx[s:s + rows], members)).float()
                            for s in range(0, len(idx), rows)], dim=1)
    return logits


@torch.no_grad()
def evaluate(model, data: RunData, idx: torch.Tensor, precision=nullcontext, rows: int = EVAL_ROWS_MAX
             ) -> tuple[list, list, torch.Tensor]:
    """Per member (mean CE loss, accuracy in %) over rows ``idx`` in eval mode, and the logits [M, n, K]."""
    logits = predict_pack(model, data, idx, precision, rows)
    labels = data.labels[idx]
    members, n, classes = logits.shape
    losses = F.cross_entropy(logits.reshape(-1, classes), labels.repeat(members), reduction="none").view(members, n)
    correct = (logits.argmax(2) == labels).sum(1)
    # exact count ratio, as the notes
    return losses.mean(1).tolist(), [c / n * 100 for c in correct.tolist()], logits


def train_epoch(model, data: RunData, loss_fn, teachers, optimizer, seeds, epoch: int, batch_size: int,
                n_batches: int | None = None, precision=nullcontext, active: torch.Tensor | None = None,
                poison: torch.Tensor | None = None) -> EpochResult:
    """One epoch of every member; ``active`` [M] (bool) leaves diverged members out of the summed loss.

    ``loss_fn`` is a :class:`~gafkd.distillation.pack.PackLoss`; ``teachers`` a teacher provider
    (:mod:`gafkd.training.targets`: rows → teacher signals) or None. The student's stage outputs and
    embedding are computed only when one of the pack's losses needs them.

    ``poison`` [M] (bool; fault injection, :func:`gafkd.faults.diverging`) makes those members' loss NaN.

    Members' parameters are disjoint, so the gradient of the summed loss with respect to member m's
    parameters is the gradient of member m's own loss: exactly what training it alone computes.
    """
    model.train()
    orders = member_orders(data.train_idx, seeds, epoch)
    loss_fn.set_epoch(epoch)  # terms that start later (CA-MKD's features) know which epoch runs
    members, n = orders.shape
    n_batches = -(-n // batch_size) if n_batches is None else n_batches
    device = data.labels.device
    losses = torch.zeros(n_batches, members, device=device)
    correct = torch.zeros(members, device=device, dtype=torch.long)
    seen = 0
    features = bool(loss_fn.needs & FEATURES)  # the student's side of a feature loss
    for b in range(n_batches):
        idx = orders[:, b * batch_size:(b + 1) * batch_size]
        labels = data.labels[idx]
        with precision():
            output = model(data.pack_batch(idx), features=features)
        student = StudentOutputs.of(output, members)
        logits = student.logits
        member_losses = loss_fn(student, labels, teachers(idx) if teachers is not None else None)
        if poison is not None:  # NaN loss and NaN gradients for those members alone (no 0·NaN elsewhere)
            member_losses = member_losses * (1 + torch.where(poison, float("nan"), 0.0))
        total = member_losses.sum() if active is None else torch.where(active, member_losses, 0.0).sum()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        losses[b] = member_losses.detach() * idx.shape[1]
        correct += (logits.detach().argmax(2) == labels).sum(1)
        seen += idx.shape[1]
        if b == 0:
            maybe_die("mid_epoch", epoch + 1)
    finite = torch.isfinite(losses)
    first_bad = torch.where(finite.all(0), -1, (~finite).int().argmax(0))
    bad_loss = losses.gather(0, first_bad.clamp(min=0).view(1, -1))[0] / batch_size
    return EpochResult(loss=(losses.sum(0) / seen).tolist(), acc=(correct / seen * 100).tolist(),
                       bad_batch=(first_bad + 1).tolist(), bad_loss=bad_loss.tolist())
