"""Distillation losses, one small module each (RepDistiller style)."""

from .kd import kd_loss  # noqa: F401
from .multi import DistillationLoss  # noqa: F401
