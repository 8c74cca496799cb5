"""SGD with momentum as ``torch.optim.SGD`` computes it, without the ``Optimizer`` class.

``torch.optim.Optimizer`` imports ``torch._dynamo`` the first time any of its methods runs, a large
part of a short training process's start-up (``python -X importtime``; docs/performance.md). This class keeps the momentum buffers
itself and calls the same update function ``torch.optim.SGD.step`` calls
(``torch.optim.sgd.sgd``), so the numbers are identical — a test compares them bitwise.
"""

from __future__ import annotations

import torch
from torch.optim.sgd import sgd


class SGD:
    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.momentum_buffers: list[torch.Tensor | None] = [None] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        active = [i for i, p in enumerate(self.params) if p.grad is not None]
        buffers = [self.momentum_buffers[i] for i in active]
        sgd([self.params[i] for i in active], [self.params[i].grad for i in active], buffers,
            weight_decay=self.weight_decay, momentum=self.momentum, lr=self.lr, dampening=0.0, nesterov=False,
            maximize=False, has_sparse_grad=False, foreach=None)
        for i, buffer in zip(active, buffers):
            self.momentum_buffers[i] = buffer

    def state_dict(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "momentum_buffers": list(self.momentum_buffers)}

    def load_state_dict(self, state: dict) -> None:
        self.lr = state["lr"]
        self.momentum_buffers = [None if b is None else b.to(p.device) for b, p in
                                 zip(state["momentum_buffers"], self.params)]
