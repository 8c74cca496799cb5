"""What one training step hands the losses: the student's outputs and its teachers' signals, per member.

:class:`StudentOutputs` holds the fused student's logits and, when a pack's losses ask for them, each
member's stage outputs and pooled embedding. :class:`TeacherSignals` is what a teacher provider
(:mod:`gafkd.training.targets`) answers for a step: logits per member and teacher slot and, for live
teachers, their features *per distinct (teacher, rows)*: members that drew the same rows from the same
teacher share one entry, so a feature loss computes a teacher's side once however many members use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


def wide(t: torch.Tensor) -> torch.Tensor:
    """At least float32 (autocast's bf16/fp16 outputs widened; float64 kept, for the float64 tests)."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


@dataclass
class StudentOutputs:
    logits: torch.Tensor  # [M, B, K]
    stages: list[torch.Tensor] | None = None  # per stage: [M, B, d] (member m's map, flattened)
    embedding: torch.Tensor | None = None  # [M, B, D]: the pooled features before the classifier
    map: torch.Tensor | None = None  # [M, B, D, *positions]: the final map the embedding pools

    @classmethod
    def of(cls, output, members: int) -> "StudentOutputs":
        """From a model's output: logits, or (logits, stages, embedding, map) with ``features=True``."""
        if isinstance(output, torch.Tensor):
            return cls(wide(_members_first(output, members)))
        logits, stages, embedding, final = output
        batch = embedding.shape[0]
        return cls(wide(_members_first(logits, members)),
                   [wide(s.reshape(batch, members, -1).transpose(0, 1)) for s in stages],
                   wide(embedding.reshape(batch, members, -1).transpose(0, 1)),
                   wide(final.reshape(batch, members, -1, *final.shape[2:]).transpose(0, 1)))


def _members_first(logits: torch.Tensor, members: int) -> torch.Tensor:
    return logits.unsqueeze(0) if members == 1 and logits.dim() == 2 else logits


@dataclass
class TeacherSignals:
    logits: torch.Tensor | None  # [M, T, B, K]; zeros in a member's spare slots
    entry: torch.Tensor | None = None  # [M, T] long: which feature entry member m's teacher t is; -1: spare
    stages: list[list[torch.Tensor]] = field(default_factory=list)  # per entry: per stage [B, d]
    embeddings: list[torch.Tensor] = field(default_factory=list)  # per entry: [B, D]
    maps: list[torch.Tensor] = field(default_factory=list)  # per entry: [B, D, *positions] (the final map)

    @classmethod
    def wrap(cls, teachers) -> "TeacherSignals | None":
        """A plain tensor of logits (tests, benchmarks) as signals; signals and None as they are."""
        return cls(teachers) if isinstance(teachers, torch.Tensor) else teachers
