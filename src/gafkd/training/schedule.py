"""The group's step schedule, with milestones as fractions of the run (or absolute epochs).

The protocol (the schema's defaults): lr until ⌊E/18⌋, then lr_steps[0] until ⌊E/3⌋, lr_steps[1]
until ⌊2E/3⌋, then lr_steps[2].
Epochs are 0-based: for E = 200 the rate changes at epochs 11, 66 and 133. A milestone is an
integer (an epoch) or a string "a/b" (⌊E·a/b⌋, exact integer arithmetic).
"""

from __future__ import annotations

from fractions import Fraction

from ..errors import ConfigError


def milestone_epoch(milestone, epochs: int) -> int:
    if isinstance(milestone, int):
        return milestone
    try:
        fraction = Fraction(str(milestone))
    except (ValueError, ZeroDivisionError):
        raise ConfigError(f"training.lr_milestones: {milestone!r} is neither an epoch nor a fraction like 1/18") from None
    return int(epochs * fraction.numerator // fraction.denominator)


def milestones(epochs: int, spec) -> tuple[int, ...]:
    return tuple(milestone_epoch(m, epochs) for m in spec)


def learning_rate(epoch: int, epochs: int, base: float, steps, spec) -> float:
    rate = base
    for boundary, value in zip(milestones(epochs, spec), steps):
        if epoch >= boundary:
            rate = value
    return rate
