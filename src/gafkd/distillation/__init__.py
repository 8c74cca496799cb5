"""Distillation losses, one small module each (RepDistiller style): the KD term (``kd``), a run's loss
definition (``spec``), and the loss of a pack of runs at once (``pack``, what training runs)."""

from .kd import kd_loss  # noqa: F401
from .spec import LossSpec  # noqa: F401
