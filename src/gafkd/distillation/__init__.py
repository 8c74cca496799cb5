"""Distillation methods, RepDistiller style: one small module per loss (``kd``, ``sp``, ``projector``) and per
teacher-weighting rule (``fixed``, ``camkd``, ``ebkd``), named in :mod:`.registry` (torch-free); a run's loss
definition (``spec``), what a step hands the losses (``signals``), and the loss of a pack of runs at once
(``pack``, what training runs). The torch modules load on first use, so the registry imports without torch."""

import importlib

_LAZY = {"kd_loss": ".kd", "LossSpec": ".spec"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)
