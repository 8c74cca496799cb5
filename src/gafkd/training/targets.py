"""Teacher logits for every member of a pack, for one step: [M, T, B, K] from the members' row indices.

Sources are the distinct teachers of the pack (each a callable: rows → logits). Cached tables: one
gather over a stacked [U + 1, N, K] tensor serves every member and slot (the extra table is zeros, for
slots a member does not use: their weight is 0) — one operation per step however wide the pack, which
matters where a step is launch-bound (GPUs). Live teachers (tests, benchmarks) serve packs of one,
which have no spare slots.
"""

from __future__ import annotations

import torch

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
