"""Fault injection for the reliability tests: ``GAFKD_FAULT=<point>:<epoch>`` kills the process.

Points: ``mid_epoch`` (after the first batch of that epoch), ``after_epoch`` (after its checkpoint),
``checkpoint_write`` (inside the checkpoint write, before the atomic rename). The process sends
itself SIGKILL — nothing runs after it, exactly like ``kill -9`` or a node failure. Unset (always,
outside the tests), this is a dictionary lookup per epoch.
"""

from __future__ import annotations

import os
import signal


def maybe_die(point: str, epoch: int) -> None:
    """Die here if ``GAFKD_FAULT`` names this point and this (1-based) epoch."""
    fault = os.environ.get("GAFKD_FAULT")
    if fault and fault == f"{point}:{epoch}":
        os.kill(os.getpid(), signal.SIGKILL)
