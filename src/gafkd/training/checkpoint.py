"""Per-epoch checkpoints: atomic writes, ``weights_only`` loads, refused when made by other settings."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ..faults import maybe_die
from ..io import atomic_path


def save(path, state: dict, epoch: int = 0) -> None:
    """Write ``state`` atomically; ``epoch`` (1-based, 0 for final weights) only names the fault point."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)
        maybe_die("checkpoint_write", epoch)


def load(path, digest: str | None = None) -> dict | None:
    """The checkpoint at ``path``; None when absent, damaged or made under other settings.

    In each None case training restarts from epoch 0 (a damaged checkpoint is logged and never
    read as valid; atomic writes make one unlikely even when a job is killed mid-save).
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a truncated or foreign file
        logging.warning("%s: checkpoint is unreadable (%s); training restarts from epoch 0", path, exc)
        return None
    if digest is not None and state.get("digest") != digest:
        logging.warning("%s: checkpoint was made under other settings; training restarts from epoch 0", path)
        return None
    return state
