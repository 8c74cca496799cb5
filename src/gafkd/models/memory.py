"""Device memory of a pack, estimated from the model's shapes (pure Python: the Snakefile plans with it).

A training step keeps, per sample and member, the tensors autograd saves for the backward pass: each
family's package walks its own layers (its ``activations``: :class:`gafkd.models.families.Family`). The
backward pass adds gradient buffers of about the largest activations. Evaluation (no gradients) holds about
one block's tensors at a time. ``tests/test_gpu_readiness.py`` checks these counts against what autograd
really saves, so the estimate cannot drift from the model.

:func:`pack_memory` adds parameters, gradients and momentum (3 copies), the resident data and the
evaluation pass; :func:`eval_rows` sizes evaluation passes so they stay inside a byte budget whatever
the pack's width.
"""

from __future__ import annotations

from dataclasses import dataclass

from .families import family_of
from .shapes import Activations

FLOAT = 4  # bytes: activations are float32 (bf16 autocast keeps batch norm in fp32: an upper bound)
EVAL_BUDGET = 256 * 2**20  # bytes of activations per evaluation pass
EVAL_ROWS_MAX = 512  # rows per pass at most (a pack of one: the size results were made with)
BACKWARD_BUFFERS = 3  # the backward pass holds about this many of the largest activation's gradients
CUDA_CONTEXT = 0.6 * 2**30  # bytes each process's CUDA context takes on its card (0.3–0.6 GiB), besides its tensors


def job_memory_share(card_bytes: int, jobs_per_device: int) -> float:
    """Bytes one of ``jobs_per_device`` jobs sharing a card of ``card_bytes`` may plan to use: its part of the
    card, less its own CUDA context (each caching allocator also keeps its peak: the shares must not overlap)."""
    return card_bytes / jobs_per_device - CUDA_CONTEXT


@dataclass(frozen=True)
class LiveTeacherMemory:
    """What one teacher run live in a pack keeps on the device, in bytes (:func:`live_teacher_memory`)."""

    parameters: int  # its weights (eval: no gradients, no momentum)
    inputs: int  # its inputs resident on the device (a modality's are counted with its first teacher)
    forward: int  # per row of a step: its no-grad forward
    features: int  # per row: the stage outputs and embedding it hands the losses, and their per-entry copies


def live_teacher_memory(arch: str, in_channels: int, positions: tuple[int, ...], num_classes: int, dims: int,
                        inputs_bytes: int, features: bool) -> LiveTeacherMemory:
    """A live teacher of ``arch``; a step runs it on at most the pack's width × batch rows (every member
    drawing its own rows)."""
    acts = activations(arch, in_channels, positions)
    return LiveTeacherMemory(parameters=parameters(arch, in_channels, dims, num_classes) * FLOAT, inputs=inputs_bytes,
                             forward=acts.eval_peak * FLOAT, features=2 * acts.features * FLOAT if features else 0)


@dataclass(frozen=True)
class PackMemory:
    """Estimated peak device memory of a pack job, in bytes, by part."""

    parameters: int  # weights, gradients, momentum
    data: int  # inputs, labels and teacher logits resident on the device (and live teachers' weights and inputs)
    training: int  # one training step's activations and gradient buffers (and live teachers' forward and features)
    evaluation: int  # one evaluation pass
    eval_rows: int

    @property
    def peak(self) -> int:
        return self.parameters + self.data + max(self.training, self.evaluation)

    def describe(self) -> str:
        gib = lambda b: f"{b / 2**30:.2f} GiB"  # noqa: E731
        return (f"estimated peak device memory {gib(self.peak)} (parameters and optimizer {gib(self.parameters)}, "
                f"data {gib(self.data)}, training step {gib(self.training)}, evaluation {gib(self.evaluation)} "
                f"at {self.eval_rows} rows per pass)")


def activations(arch: str, in_channels: int, positions: tuple[int, ...]) -> Activations:
    """The activations of ``arch``'s family (its shape walk in the model registry)."""
    return family_of(arch).load("activations")(arch, in_channels, positions)


def parameters(arch: str, in_channels: int, dims: int, num_classes: int) -> int:
    """The parameter count of ``arch``'s family, without building the model."""
    return family_of(arch).load("parameters")(arch, in_channels, dims, num_classes)


def eval_rows(acts: Activations, members: int, budget: int = EVAL_BUDGET) -> int:
    """Rows per evaluation pass: as many as fit ``budget`` for all members, 1 … ``EVAL_ROWS_MAX``."""
    per_row = acts.eval_peak * members * FLOAT
    return max(1, min(EVAL_ROWS_MAX, budget // per_row))


def pack_memory(arch: str, in_channels: int, positions: tuple[int, ...], members: int, batch_size: int,
                parameters: int, data_bytes: int = 0, live=()) -> PackMemory:
    """The estimate for ``members`` fused runs of ``arch`` (``parameters``: one member's count); ``live``:
    the :class:`LiveTeacherMemory` of each teacher run live (then the student's features are copied too)."""
    acts = activations(arch, in_channels, positions)
    rows = eval_rows(acts, members)
    step = batch_size * members * (acts.saved + BACKWARD_BUFFERS * acts.largest) * FLOAT
    if any(t.features for t in live):  # the losses' per-member copies of the student's stage outputs
        step += batch_size * members * acts.features * FLOAT
    step += batch_size * members * sum(t.forward + t.features for t in live)
    evaluation = rows * members * acts.eval_peak * FLOAT
    return PackMemory(parameters=3 * parameters * members * FLOAT,
                      data=data_bytes + sum(t.parameters + t.inputs for t in live), training=step,
                      evaluation=evaluation, eval_rows=rows)


def widest(peak_at_width, budget: float, most: int = 4096) -> int:
    """The widest pack, 1 … ``most``, whose ``peak_at_width(width)`` stays within ``budget`` (at least 1).

    Peaks grow with the width, so the first width over the budget ends the search.
    """
    width = 1
    while width < most and peak_at_width(width + 1) <= budget:
        width += 1
    return width
