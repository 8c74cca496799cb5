"""Scheduling resources computed at workflow start (cheap: no torch import in the Snakefile)."""

from __future__ import annotations

import shutil
import subprocess


def cuda_gpus() -> int:
    """Number of NVIDIA GPUs visible here (0 without a driver)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(line.startswith("GPU ") for line in listing.splitlines())


def gpus_per_training_job(device: str) -> int:
    """1 when training jobs will use a GPU, else 0.

    With 0, `--resources gpu=1` on a CPU-only machine does not serialise the training jobs.
    """
    if device == "cpu":
        return 0
    if device == "cuda":
        return 1
    return 1 if cuda_gpus() > 0 else 0
