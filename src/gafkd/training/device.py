"""Which device a job trains on, and the torch numerics for it: nothing silent.

``training.device`` says where training runs (``cpu`` or ``cuda``); the workflow plans packs and GPU
resources from it, and a job stops, saying why, when it was planned for CUDA but sees none (a CPU-only
torch, ``CUDA_VISIBLE_DEVICES`` hiding every card) instead of training for days on the CPU.

``precision`` means what it says: ``fp32`` turns TF32 off for convolutions *and* matmuls (PyTorch
leaves cuDNN's TF32 on by default, so "fp32" convolutions on Ampere and newer would be TF32), ``tf32``
turns it on, ``bf16`` autocasts forward passes. ``deterministic`` is strict on CUDA: an op without a
deterministic kernel is an error naming it, not a warning in a log.
"""

from __future__ import annotations

import logging
import os
import re

import torch

from ..errors import GafkdError
from .settings import TrainingSettings


class DeviceError(GafkdError):
    """The job cannot run on the device its config plans for."""


def select_device(preference: str, gpus_held: int = 0) -> torch.device:
    """The device of ``training.device`` (cpu | cuda); cuda without CUDA is a :class:`DeviceError`."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference != "cuda":
        raise DeviceError(f"training.device: {preference!r} is not cpu or cuda")
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        held = f"holds {gpus_held} GPU(s) but " if gpus_held else ""
        raise DeviceError(
            f"training.device is cuda, but this job {held}sees no CUDA device (torch {torch.__version__}, {build}; "
            f"CUDA_VISIBLE_DEVICES={visible!r}): install PyTorch's CUDA build on the machine that runs the job "
            "(README, 'Running on a GPU workstation'), or set training.device: cpu")
    return torch.device("cuda")


def configure(threads: int, training: TrainingSettings, device: torch.device) -> dict:
    """Threads, determinism and TF32 for ``device`` from ``training``; returns what was actually set.

    The returned record (``numerics`` in metrics.json and logits.h5) says the precision the kernels
    really used: TF32 only exists on CUDA, so a CPU run of ``tf32`` computes in fp32 and says so.
    """
    deterministic, precision = bool(training.deterministic), training.precision
    torch.set_num_threads(max(1, int(threads)))
    tf32 = precision == "tf32" and device.type == "cuda"
    if device.type == "cuda":
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # strict: an op without a deterministic kernel raises (DeterminismError names it)
        torch.use_deterministic_algorithms(deterministic)
        set_tf32(tf32)
        if precision == "bf16" and not torch.cuda.is_bf16_supported(including_emulation=False):
            logging.getLogger(__name__).warning(
                "precision bf16 on %s (compute capability %s): no bf16 tensor cores before Ampere (8.0), so bf16 is "
                "emulated and slower than fp32 here; use fp32 (or tf32 on Ampere and newer)",
                torch.cuda.get_device_name(device), ".".join(map(str, torch.cuda.get_device_capability(device))))
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    used = {"fp32": "fp32", "tf32": "tf32" if tf32 else "fp32", "bf16": "bf16 autocast"}[precision]
    return {"precision": precision, "computed_in": used, "tf32": tf32,
            "deterministic": ("strict" if device.type == "cuda" else "cpu kernels") if deterministic else "off"}


def set_tf32(on: bool) -> None:
    """TF32 for convolutions and matmuls through torch's ``fp32_precision`` API (the ``allow_tf32`` flags are
    deprecated, and mixing the two has raised errors under ``torch.compile``); the old flags only on a torch
    without it."""
    mode = "tf32" if on else "ieee"
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        torch.backends.cuda.matmul.fp32_precision = mode
        torch.backends.cudnn.conv.fp32_precision = mode
    else:  # pragma: no cover — torch before 2.9
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = on


def tf32_enabled() -> bool:
    """Whether convolutions and matmuls may use TF32 (both, as :func:`set_tf32` sets them)."""
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        return torch.backends.cuda.matmul.fp32_precision == "tf32" and torch.backends.cudnn.conv.fp32_precision == "tf32"
    return torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32  # pragma: no cover


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{torch.get_num_threads()}threads"


def device_environment(device: torch.device) -> dict:
    """What a checkpoint came from: the device, torch, CUDA and cuDNN (cuDNN's kernels differ by version)."""
    record = {"device": device_name(device), "torch": str(torch.__version__), "cuda": torch.version.cuda, "cudnn": None}
    if device.type == "cuda":
        record.update(cudnn=torch.backends.cudnn.version(),
                      capability=".".join(map(str, torch.cuda.get_device_capability(device))))
    return record


def free_device_memory(device: torch.device) -> tuple[int, int]:
    """(free, total) bytes of a CUDA device now, as the driver sees them (other processes included)."""
    return torch.cuda.mem_get_info(device)


def device_memory(device: torch.device) -> int | None:
    """Total bytes of ``device``'s memory (None on the CPU: no fixed budget)."""
    if device.type != "cuda":
        return None
    return torch.cuda.get_device_properties(device).total_memory


def uses_channels_last(training: TrainingSettings) -> bool:
    """Models run channels-last (2-D: NHWC, 1-D: NWC) unless ``training.channels_last`` is off."""
    return bool(training.channels_last)


def prepare_model(model, training: TrainingSettings):
    """The fast paths: channels-last activations, optional torch.compile."""
    if uses_channels_last(training):
        model = model.to_channels_last()
    if training.compile:
        model.compile()  # in place: state_dict keys stay as they are
    return model


def autocast(training: TrainingSettings, device: torch.device):
    """bf16 autocast when ``training.precision`` is bf16, else a no-op context."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=training.precision == "bf16")


_NONDETERMINISTIC = re.compile(r"^(\S+) does not have a deterministic implementation")


def determinism_error(error: RuntimeError) -> DeviceError | None:
    """A one-sentence error for torch's "X does not have a deterministic implementation" (else None)."""
    match = _NONDETERMINISTIC.search(str(error))
    if match is None:
        return None
    return DeviceError(f"training.deterministic is true, but {match[1]} has no deterministic CUDA kernel: set "
                       "training.deterministic: false for this run (results then vary slightly between reruns)")
