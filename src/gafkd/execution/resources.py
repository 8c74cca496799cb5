"""GPUs: the training jobs' resource (from the config) and, inside a job, the devices this host has."""

from __future__ import annotations

import re
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


def gpu_memory() -> list[int]:
    """Each visible NVIDIA GPU's total memory in bytes (empty without a driver: a login node plans alone)."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    lines = [line.strip() for line in listing.splitlines()]
    return [int(float(line)) * 2**20 for line in lines if re.fullmatch(r"\d+(\.\d+)?", line)]  # one MiB count a line


def gpus_per_training_job(device: str) -> int:
    """1 when the config trains on CUDA, else 0 — from the config, never from this host's driver.

    With 0, `--resources gpu=1` on a CPU-only machine does not serialise the training jobs.
    """
    return 1 if device == "cuda" else 0
