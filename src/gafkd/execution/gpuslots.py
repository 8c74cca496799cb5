"""Which GPU a training job uses on a many-GPU machine.

Snakemake counts GPUs (``--resources gpu=N``) but does not say *which* GPU a job may use (an open
upstream request). Each GPU job therefore takes a slot from a pool of lock files and sets
``CUDA_VISIBLE_DEVICES`` to that slot's device before CUDA starts. The lock is an ``flock`` held by the
job's process: the kernel releases it when the process exits, also on a crash or ``kill -9``, so a slot
is never lost.

- The pool is the devices this job may see: a ``CUDA_VISIBLE_DEVICES`` list already set (the user's
  shell, or a scheduler that gave the job several GPUs), else every device ``nvidia-smi`` lists. A
  single preset device (SLURM gave the job its GPU) is used as it is, without locks.
- ``jobs_per_device`` slots per device (``training.gpu_jobs_per_device``) let several small jobs share
  one large GPU through the same pool.
- Lock files live on this host (``$GAFKD_GPU_LOCKS``, else a per-user folder in the system temporary
  directory), never on the results filesystem: on NFS, jobs on different nodes would contend for the
  same ``gpu0.lock``, and some parallel filesystems refuse ``flock`` altogether.

``GAFKD_GPUS`` (e.g. ``0,1,2,3``) sets the devices, for tests.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from pathlib import Path

from ..errors import GafkdError
from .resources import cuda_gpus

_HELD: list = []  # open lock files of this process: released when it exits


def _listed(value: str) -> list[str]:
    return [d.strip() for d in value.split(",") if d.strip()]


def visible_devices() -> list[str]:
    """The devices this job may use: ``GAFKD_GPUS``, a preset ``CUDA_VISIBLE_DEVICES``, or all listed."""
    for variable in ("GAFKD_GPUS", "CUDA_VISIBLE_DEVICES"):
        if os.environ.get(variable) is not None:
            return _listed(os.environ[variable])
    return [str(i) for i in range(cuda_gpus())]


def default_lock_dir() -> Path:
    """This host's lock folder: ``$GAFKD_GPU_LOCKS`` or ``<tmp>/gafkd-gpu-slots-<uid>``."""
    return Path(os.environ.get("GAFKD_GPU_LOCKS") or Path(tempfile.gettempdir(), f"gafkd-gpu-slots-{os.getuid()}"))


def acquire_gpu_slot(lock_dir=None, jobs_per_device: int = 1, timeout: float = 600.0,
                     poll: float = 0.5) -> str | None:
    """Take a free slot for this process and show CUDA only its device; return the device id.

    None without GPUs; the preset device, without a lock, when exactly one is preset.
    """
    devices = visible_devices()
    if not devices:
        return None
    if len(devices) == 1 and "GAFKD_GPUS" not in os.environ and "CUDA_VISIBLE_DEVICES" in os.environ:
        return devices[0]
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GafkdError(f"{lock_dir}: the GPU slot folder cannot be made ({exc.strerror}); "
                         "set GAFKD_GPU_LOCKS to a local folder") from None
    slots = [(device, k) for k in range(max(1, int(jobs_per_device))) for device in devices]
    deadline = time.monotonic() + timeout
    while True:
        for device, k in slots:
            path = lock_dir / (f"gpu{device}.lock" if k == 0 else f"gpu{device}-{k}.lock")
            if _try_lock(path):
                os.environ["CUDA_VISIBLE_DEVICES"] = device
                return device
        if time.monotonic() > deadline:
            raise GafkdError(f"{lock_dir}: no GPU slot became free in {timeout:.0f} s (devices {devices}, "
                             f"{jobs_per_device} job(s) each); is --resources gpu larger than that?")
        time.sleep(poll)


def _try_lock(path: Path) -> bool:
    """Hold ``path``'s lock for the life of this process; False when another process holds it."""
    try:
        handle = open(path, "a+")
    except OSError as exc:
        raise GafkdError(f"{path}: the GPU slot lock cannot be opened ({exc.strerror}); "
                         "set GAFKD_GPU_LOCKS to a local folder") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    except OSError as exc:
        handle.close()
        raise GafkdError(f"{path}: the filesystem refuses a lock ({exc.strerror}); "
                         "set GAFKD_GPU_LOCKS to a folder on a local disk") from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _HELD.append(handle)
    return True
