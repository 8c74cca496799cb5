"""Teacher logits for every member of a pack, for one step: [M, T, B, K] from the members' row indices.

Sources are the distinct teachers of the pack (each a callable: rows → logits). Cached tables: one
gather over a stacked [U + 1, N, K] tensor serves every member and slot (the extra table is zeros, for
slots a member does not use: their weight is 0) — one operation per step however wide the pack, which
matters where a step is launch-bound (GPUs). Live teachers (tests, benchmarks) serve packs of one,
which have no spare slots.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from ..distillation.sp import gram
from .teachers import CachedLogits


class PackTeachers:
    def __init__(self, sources: list, slots: list[list[int]], device="cpu"):
        """``sources``: callables; ``slots[m]``: indices into ``sources`` of member m's teachers, in order."""
        self.width = max((len(s) for s in slots), default=0)
        self.sources = sources
        spare = len(sources)  # the zeros table (cached) or "no teacher" (live)
        self.slots = torch.tensor([list(s) + [spare] * (self.width - len(s)) for s in slots], dtype=torch.long,
                                  device=device).view(len(slots), self.width)
        self.table = None
        if self.width and all(isinstance(s, CachedLogits) for s in sources):
            tables = [s.logits for s in sources]
            self.table = torch.stack(tables + [torch.zeros_like(tables[0])])

    def __call__(self, idx: torch.Tensor) -> torch.Tensor | None:
        """Teacher logits [M, T, B, K] for the members' rows ``idx`` [M, B]; None when no member has teachers."""
        if self.width == 0:
            return None
        if self.table is not None:
            return self.table[self.slots.unsqueeze(2), idx.unsqueeze(1)].float()
        return torch.stack([torch.stack([self.sources[u](idx[m]) for u in member_slots])
                            for m, member_slots in enumerate(self.slots.tolist())]).float()


class StageTeachers:
    """Teachers run live for similarity-preserving KD: their logits [M, T, B, K] and the Gram matrices of
    their three stage outputs [M, T, S, B, B] on each member's rows.

    Stage outputs are a map per window and stage: too large to cache, so each step runs every distinct
    teacher once, in eval mode and without gradients, over the union of the rows the members it teaches
    drew, then hands each member its rows. ``teachers``: (model, its RunData: own inputs and training
    statistics) per distinct teacher; ``slots[m]``: member m's teachers, in order.
    """

    spkd = True

    def __init__(self, teachers: list, slots: list[list[int]], precision=None):
        self.teachers, self.precision = teachers, precision or nullcontext
        self.width = max(len(s) for s in slots)
        self.slots = [list(s) for s in slots]

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        members, batch = idx.shape
        logits = grams = None
        for j, (model, data) in enumerate(self.teachers):
            users = [(m, t) for m, member in enumerate(self.slots) for t, u in enumerate(member) if u == j]
            if not users:
                continue
            rows = torch.unique(torch.cat([idx[m] for m, _ in users]))  # sorted
            with self.precision():
                out, stages = model(data.batch(rows), stage_outputs=True)
            flat = [s.reshape(len(rows), -1).float() for s in stages]
            if logits is None:
                logits = torch.zeros(members, self.width, batch, out.shape[1], device=idx.device)
                grams = torch.zeros(members, self.width, len(flat), batch, batch, device=idx.device)
            for m, t in users:
                where = torch.searchsorted(rows, idx[m])
                logits[m, t] = out[where].float()
                grams[m, t] = torch.stack([gram(f[where]) for f in flat])
        return logits, grams
