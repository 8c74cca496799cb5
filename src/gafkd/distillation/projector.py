"""The projector loss (Miles & Mikolajczyk, "Understanding the Role of the Projector in Knowledge
Distillation", AAAI 2024): the ``projector`` entry, with trainable parameters.

The student's pooled embedding z_S (before its classifier) passes a linear projector to the teacher's
embedding size; both sides are batch-normalised without affine parameters (batch statistics, ε = 1e-4,
as the paper's code), and the LogSum distance is

    L = log Σ_{b, d} |BN(W z_S + c) − BN(z_T)|⁴

per teacher, weighted by the teachers' weights (a per-sample rule's batch mean) and scaled by γ
(``students.projector_weight``; the group's notes use CE : LogSum : KD = 1 : 2 : 1). Each member owns one
projector per teacher slot — one parameter tensor [M, T, D_T, D_S] for the pack, every member's block
initialised as ``nn.Linear`` would be under its own seed — trained with the student and dropped after.
Teachers of different widths share the tensor padded to the widest; the padding is masked out.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .signals import wide

EPS = 1e-4
POWER = 4.0


def batch_norm(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Batch normalisation without affine parameters over ``dim`` (biased variance, as training mode)."""
    mean = x.mean(dim, keepdim=True)
    var = (x - mean).pow(2).mean(dim, keepdim=True)
    return (x - mean) / torch.sqrt(var + EPS)


class ProjectorTerm(nn.Module):
    def __init__(self, specs, device="cpu", *, seeds=(), student_dim: int = 0, teacher_dims=(), **_):
        """``teacher_dims[m][t]``: the embedding size of member m's teacher t; ``seeds[m]`` initialises its projectors."""
        super().__init__()
        members, slots = len(specs), max(len(s.weights) for s in specs)
        widest = max((d for dims in teacher_dims for d in dims), default=1)
        weight = torch.zeros(members, slots, widest, student_dim)
        bias = torch.zeros(members, slots, widest)
        mask = torch.zeros(members, slots, widest)
        bound = 1 / math.sqrt(student_dim)  # nn.Linear's default initialisation
        for m, dims in enumerate(teacher_dims):
            if not specs[m].coefficient("projector"):
                continue
            for t, dim in enumerate(dims):
                generator = torch.Generator().manual_seed(int(seeds[m]) * 1_000 + t + 1)
                weight[m, t, :dim].uniform_(-bound, bound, generator=generator)
                bias[m, t, :dim].uniform_(-bound, bound, generator=generator)
                mask[m, t, :dim] = 1
        self.weight, self.bias = nn.Parameter(weight.to(device)), nn.Parameter(bias.to(device))
        self.register_buffer("mask", mask.to(device))

    def forward(self, student, teachers, weights, labels=None) -> torch.Tensor:
        widest = self.mask.shape[-1]
        projected = torch.einsum("mbs,mtds->mtbd", student.embedding, self.weight) + self.bias.unsqueeze(2)
        padded = [torch.nn.functional.pad(wide(e), (0, widest - e.shape[1])) for e in teachers.embeddings]
        entries = torch.stack(padded + [torch.zeros_like(padded[0])])  # spare slots (-1): zeros
        target = entries[teachers.entry]  # [M, T, B, D]
        distance = ((batch_norm(projected, 2) - batch_norm(target, 2)).abs().pow(POWER)
                    * self.mask.unsqueeze(2)).sum(dim=(2, 3))  # [M, T]
        active = self.mask.any(-1)
        log_sum = torch.log(torch.where(active, distance, 1.0))  # inactive slots: log 1 = 0, no NaN gradient
        return (weights.per_run * log_sum).sum(1)
