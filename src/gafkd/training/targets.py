"""The teacher interface: what a pack's teachers give each training step, whoever provides it.

A provider is called once per step with the members' rows ``idx`` [M, B] and answers a
:class:`~gafkd.distillation.signals.TeacherSignals`: logits [M, T, B, K] per member and teacher slot,
and the features the pack's losses asked for (``needs``: stage outputs, embeddings). The loop never asks
which provider it has.

- :class:`CachedTeachers`: logits computed once by the ``teacher_logits`` rule. One gather over a stacked
  [U + 1, N, K] tensor serves every member and slot (the extra table is zeros, for slots a member does not
  use: their weight is 0) — one operation per step however wide the pack, which matters where a step is
  launch-bound (GPUs).
- :class:`LiveTeachers`: teachers run on the device (eval mode, no gradients), for what a cache cannot hold
  (stage outputs, embeddings) and for tests and benchmarks that prove both give the same student. Each
  distinct teacher runs once per step over the union of the rows its members drew; members that drew the
  same rows (the same seed) share one feature entry, so feature losses compute a teacher's side once.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from ..distillation.registry import EMBEDDING, FEATURES, MAP, STAGES
from ..distillation.signals import TeacherSignals, wide
from ..models import embedding_size


class CachedTeachers:
    def __init__(self, tables: list[torch.Tensor], slots: list[list[int]], device="cpu"):
        """``tables``: the distinct teachers' logits [N, K]; ``slots[m]``: indices into them of member m's teachers."""
        self.width = max((len(s) for s in slots), default=0)
        spare = len(tables)  # the zeros table
        self.slots = torch.tensor([list(s) + [spare] * (self.width - len(s)) for s in slots], dtype=torch.long,
                                  device=device).view(len(slots), self.width)
        self.table = torch.stack(tables + [torch.zeros_like(tables[0])]).to(device) if self.width else None

    def __call__(self, idx: torch.Tensor) -> TeacherSignals | None:
        """The members' teacher logits for rows ``idx`` [M, B]; None when no member has teachers."""
        if self.width == 0:
            return None
        return TeacherSignals(self.table[self.slots.unsqueeze(2), idx.unsqueeze(1)].float())


class LiveTeachers:
    """``teachers``: (model, its RunData: own inputs and training statistics) per distinct teacher;
    ``slots[m]``: member m's teachers, in order; ``needs``: what the pack's losses ask for."""

    def __init__(self, teachers: list, slots: list[list[int]], needs=frozenset(), precision=None):
        self.teachers, self.precision = teachers, precision or nullcontext
        self.width = max(len(s) for s in slots)
        self.slots = [list(s) for s in slots]
        # per teacher: which (member, slot) pairs it serves, as index tensors (fixed for the pack)
        pairs = [(u, m, t) for m, member in enumerate(self.slots) for t, u in enumerate(member)]
        self.users = {u: (torch.tensor([m for v, m, _ in pairs if v == u]),
                          torch.tensor([t for v, _, t in pairs if v == u]))
                      for u in dict.fromkeys(u for u, _, _ in pairs)}
        self.features = bool(needs & FEATURES)
        self.stages, self.embedding, self.maps = STAGES in needs, EMBEDDING in needs, MAP in needs  # what entries hold

    @property
    def embedding_dims(self) -> list[list[int]]:
        """Per member and slot: the size of that teacher's pooled embedding (its classifier's input)."""
        return [[embedding_size(self.teachers[u][0]) for u in member] for member in self.slots]

    def heads(self) -> list[list[tuple]]:
        """Per member and slot: that teacher's classifier (weight [K, D], bias [K], frozen copies) and the shape of
        its final map (D, *positions), from one forward pass on two of its rows (CA-MKD's adapters are sized by it).
        A method, not a property: it runs the teachers."""
        shapes = {}
        for u, (model, data) in enumerate(self.teachers):
            with torch.no_grad():
                final = model(data.batch(data.train_idx[:2]), features=True)[3]
            shapes[u] = (model.fc.weight.detach().clone(), model.fc.bias.detach().clone(), tuple(final.shape[1:]))
        return [[shapes[u] for u in member] for member in self.slots]

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor) -> TeacherSignals:
        members, batch = idx.shape
        logits = None
        entry = torch.full((members, self.width), -1, dtype=torch.long, device=idx.device)
        stages, embeddings, maps = [], [], []
        for j, (model, data) in enumerate(self.teachers):
            if j not in self.users:
                continue
            if self.users[j][0].device != idx.device:  # moved to the device once
                self.users[j] = tuple(t.to(idx.device) for t in self.users[j])
            user_members, user_slots = self.users[j]
            drawn_by_user = idx[user_members]  # [users, B]: the rows each (member, slot) drew
            rows = torch.unique(drawn_by_user)  # sorted
            with self.precision():
                out = model(data.batch(rows), features=self.features)
            out_logits = out[0] if self.features else out
            if logits is None:
                logits = torch.zeros(members, self.width, batch, out_logits.shape[1], device=idx.device,
                                     dtype=wide(out_logits).dtype)
            logits[user_members, user_slots] = out_logits[torch.searchsorted(rows, drawn_by_user)].to(logits.dtype)
            if not self.features:
                continue
            flat = [s.reshape(len(rows), -1) for s in out[1]] if self.stages else []
            drawn, group = torch.unique(drawn_by_user, dim=0, return_inverse=True)
            first = len(stages)
            for rows_drawn in drawn:  # one entry per distinct set of rows
                at = torch.searchsorted(rows, rows_drawn)
                stages.append([wide(f[at]) for f in flat] if self.stages else [])
                embeddings.append(wide(out[2][at]) if self.embedding else None)
                maps.append(wide(out[3][at]) if self.maps else None)
            entry[user_members, user_slots] = first + group
        return TeacherSignals(logits, entry if self.features else None, stages, embeddings, maps)
