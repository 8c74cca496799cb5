"""One GPU per training job on a many-GPU workstation.

Snakemake counts GPUs (``--resources gpu=N``) but does not say *which* GPU a job may use (an open
upstream request). Each GPU job therefore takes a slot from a pool of lock files, one per visible
device, and sets ``CUDA_VISIBLE_DEVICES`` to that device before CUDA starts. The lock is an
``flock`` held by the job's process: the kernel releases it when the process exits, also on a crash
or ``kill -9``, so a slot is never lost.

Where a scheduler already assigned the GPU (SLURM sets ``CUDA_VISIBLE_DEVICES`` to the job's device),
the pool is not used. ``GAFKD_GPUS`` (e.g. ``0,1,2,3``) overrides the detected devices, for tests.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import GafkdError
from .resources import cuda_gpus

_HELD: list = []  # open lock files of this process: released when it exits


def visible_devices() -> list[str]:
    override = os.environ.get("GAFKD_GPUS")
    if override is not None:
        return [d for d in override.split(",") if d.strip()]
    return [str(i) for i in range(cuda_gpus())]


def acquire_gpu_slot(lock_dir, timeout: float = 600.0, poll: float = 0.5) -> str | None:
    """Take a free GPU for this process; return its id (None without GPUs or when already assigned)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ and "GAFKD_GPUS" not in os.environ:
        return os.environ["CUDA_VISIBLE_DEVICES"] or None
    devices = visible_devices()
    if not devices:
        return None
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        for device in devices:
            handle = open(lock_dir / f"gpu{device}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            _HELD.append(handle)
            os.environ["CUDA_VISIBLE_DEVICES"] = device
            return device
        if time.monotonic() > deadline:
            raise GafkdError(f"{lock_dir}: no GPU slot became free in {timeout:.0f} s (devices {devices}); "
                             "is --resources gpu larger than the number of GPUs?")
        time.sleep(poll)


def release_gpu_slots() -> None:
    while _HELD:
        handle = _HELD.pop()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
