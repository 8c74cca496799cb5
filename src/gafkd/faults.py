"""Fault injection for the reliability tests.

``GAFKD_FAULT=<point>:<epoch>`` kills the process. Points: ``mid_epoch`` (after the first batch of that
epoch), ``after_epoch`` (after its checkpoint), ``checkpoint_write`` (inside the checkpoint write, before
the atomic rename). The process sends itself SIGKILL — nothing runs after it, exactly like ``kill -9``
or a node failure.

``GAFKD_FAULT=diverge:<text>:<epoch>`` makes the loss of every pack member whose run folder contains
``<text>`` NaN from that epoch on: a real divergence (NaN gradients, NaN weights) of that member alone.

Unset (always, outside the tests), each is a dictionary lookup per epoch.
"""

from __future__ import annotations

import os
import signal


def maybe_die(point: str, epoch: int) -> None:
    """Die here if ``GAFKD_FAULT`` names this point and this (1-based) epoch."""
    fault = os.environ.get("GAFKD_FAULT")
    if fault and fault == f"{point}:{epoch}":
        os.kill(os.getpid(), signal.SIGKILL)


def diverging(names, epoch: int) -> list[bool] | None:
    """Per member (``names``: run folders), whether ``GAFKD_FAULT`` makes its loss NaN in this (1-based)
    epoch; None when no member is affected."""
    fault = os.environ.get("GAFKD_FAULT", "")
    if not fault.startswith("diverge:"):
        return None
    text, _, start = fault[len("diverge:"):].rpartition(":")
    hit = [text in str(name) and epoch >= int(start) for name in names]
    return hit if any(hit) else None
