"""The study's loss for every member of a pack at once (members: see gafkd.training.spec).

Member m's loss is the one its :class:`~gafkd.distillation.spec.LossSpec` defines:

    L_m = (1 − lam_m) · CE(z_m, y_m) + Σ_e c_me · term_e(m),

summed over the loss entries of :mod:`.registry` that some member uses, each computed for all members
at once by its module; c_me is member m's coefficient of entry e (its KD form: lam_m; an extra: its γ; 0
where the member lacks it; a baseline's authors' recipe may set 1 − lam_m and lam_m otherwise). The
cross-entropy reads the logits as they are, or (``cross_entropy="standardised"``, the lab's, for the whole
pack: one dataset's protocol) divided by each sample's standard deviation (:mod:`.lab_kd`). Teacher weights w_mt come from each member's weighting rule (``fixed``: the
configured ones; a member with fewer teachers than the pack's widest has weight 0 in its spare slots; a
member with no teacher — a teacher run, or the cross-entropy baseline — has lam 0, so its loss is its
cross-entropy). Nothing here branches on an entry's name: entries say what they need, rules what they use.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..schema import allowed
from .lab_kd import standardised
from .registry import LOSSES, WEIGHTINGS

CROSS_ENTROPIES = allowed("cross_entropy")  # training.cross_entropy: plain, standardised
from .signals import StudentOutputs, TeacherSignals
from .spec import LossSpec


@dataclass
class TeacherWeights:
    """Each member's teacher weights: per run [M, T] (a per-sample rule's batch mean), and [M, T, B] when
    some member's rule is per sample (``adaptive`` [M] marks those members)."""

    per_run: torch.Tensor
    per_sample: torch.Tensor | None = None
    adaptive: torch.Tensor | None = None


class PackLoss(nn.Module):
    """``loss(student, labels, teachers) → [M]``: ``student`` a :class:`StudentOutputs` or logits [M, B, K],
    ``teachers`` a :class:`TeacherSignals`, teacher logits [M, T, B, K], or None.

    ``seeds``, ``student_dim``, ``teacher_dims`` and ``teacher_heads`` (per member, per teacher slot) size and
    initialise the parameters an entry owns (the projector's, CA-MKD's adapters); they are trained with the
    student (:meth:`parameters`).
    """

    def __init__(self, losses: list[LossSpec], device="cpu", *, seeds=None, student_dim: int = 0,
                 teacher_dims=None, teacher_heads=None, cross_entropy: str = "plain"):
        super().__init__()
        if cross_entropy not in CROSS_ENTROPIES:
            raise ValueError(f"cross_entropy: {cross_entropy!r} is not one of {CROSS_ENTROPIES}")
        self.standardised_ce = cross_entropy == "standardised"
        slots = max(len(loss.weights) for loss in losses)
        self.slots = slots
        weights = torch.zeros(len(losses), slots, dtype=torch.float64)
        for m, loss in enumerate(losses):
            weights[m, :len(loss.weights)] = torch.tensor(loss.weights, dtype=torch.float64)
        self.register_buffer("weights", weights.float().to(device))
        self.register_buffer("present", torch.tensor([[t < len(s.weights) for t in range(slots)] for s in losses],
                                                     dtype=torch.bool, device=device).view(len(losses), slots))
        self.register_buffer("lam", torch.tensor([loss.lam for loss in losses], device=device))
        # 1 − lam computed as before recipes existed (float32, on the device): the protocol's bits unchanged
        recipe = torch.tensor([loss.ce_weight is not None for loss in losses], device=device)
        given = torch.tensor([loss.ce_weight or 0.0 for loss in losses], device=device)
        self.register_buffer("ce_weight", torch.where(recipe, given, 1 - self.lam))
        self.rules = list(dict.fromkeys(s.weighting for s in losses if s.weights))
        self.register_buffer("rule_members", torch.tensor([[s.weighting == name for s in losses] for name in self.rules],
                                                          dtype=torch.bool, device=device).view(len(self.rules), len(losses)))
        self.register_buffer("adaptive", torch.tensor([bool(s.weights) and not WEIGHTINGS[s.weighting].uses_fixed
                                                       for s in losses], device=device))
        self.any_adaptive = bool(self.adaptive.any())  # fixed-only packs keep the protocol's per-run arithmetic
        used = [name for name in LOSSES if any(name in s.losses for s in losses)]
        context = {"seeds": seeds or [0] * len(losses), "student_dim": student_dim,
                   "teacher_dims": teacher_dims or [[] for _ in losses],
                   "teacher_heads": teacher_heads or [[] for _ in losses]}
        self.terms = nn.ModuleDict({name: LOSSES[name].load()(losses, device, **context) for name in used})
        self.coefficients = {name: torch.tensor([s.coefficient(name) for s in losses], device=device) for name in used}
        self.needs = frozenset().union(*(s.needs for s in losses))

    def teacher_weights(self, teacher_logits: torch.Tensor, labels: torch.Tensor) -> TeacherWeights:
        """Each member's teacher weights from its rule; fixed-only packs stay per run (the arithmetic of
        the protocol's loss, unchanged)."""
        if not self.any_adaptive:
            return TeacherWeights(self.weights)
        per_sample = torch.zeros(*self.weights.shape, labels.shape[-1], device=labels.device)
        for name, members in zip(self.rules, self.rule_members):
            rule = WEIGHTINGS[name].load()(teacher_logits, labels, self.weights, self.present)
            per_sample = torch.where(members.view(-1, 1, 1), rule, per_sample)
        per_run = torch.where(self.adaptive.view(-1, 1), per_sample.mean(-1), self.weights)
        return TeacherWeights(per_run, per_sample, self.adaptive)

    def forward(self, student, labels: torch.Tensor, teachers=None) -> torch.Tensor:
        if isinstance(student, torch.Tensor):
            student = StudentOutputs(student)
        logits = standardised(student.logits) if self.standardised_ce else student.logits
        members, batch, classes = logits.shape
        ce = F.cross_entropy(logits.reshape(-1, classes), labels.reshape(-1), reduction="none").view(members, batch)
        ce = ce.mean(1)
        teachers = TeacherSignals.wrap(teachers)
        if self.slots == 0 or teachers is None:
            return ce
        weights = self.teacher_weights(teachers.logits, labels)
        loss = self.ce_weight * ce
        for name, term in self.terms.items():
            loss = loss + self.coefficients[name] * term(student, teachers, weights, labels)
        return loss

    def set_epoch(self, epoch: int) -> None:
        """Tell the terms that change with the epoch (CA-MKD's feature term starts at its second) which one runs."""
        for term in self.terms.values():
            if hasattr(term, "set_epoch"):
                term.set_epoch(epoch)
