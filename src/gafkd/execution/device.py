"""Which device a job trains on, and the torch settings for it."""

from __future__ import annotations

import os

import torch

from ..errors import ConfigError
from .gpuslots import acquire_gpu_slot


def select_device(preference: str = "auto", gpus_held: int = 0) -> torch.device:
    """CUDA when the job holds a GPU (Snakemake resource ``gpu``) and CUDA exists, else CPU."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("training.device: cuda was asked for but no CUDA device is available")
        return torch.device("cuda")
    return torch.device("cuda" if gpus_held > 0 and torch.cuda.is_available() else "cpu")


def claim_device(preference: str, gpus_held: int, gpu_slots=None) -> torch.device:
    """The job's device; on a many-GPU machine first its own GPU from the slot pool (before CUDA starts)."""
    if gpus_held > 0 and gpu_slots is not None:
        acquire_gpu_slot(gpu_slots)
    return select_device(preference, gpus_held)


def configure(threads: int, deterministic: bool, device: torch.device) -> None:
    """Threads from the job; deterministic kernels (bitwise-reproducible on CPU) unless turned off."""
    torch.set_num_threads(max(1, int(threads)))
    if device.type == "cuda":
        # CPU kernels are already deterministic for a fixed thread count; the global switch is for
        # CUDA only (it also imports torch._inductor: start-up a CPU job does not need).
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(bool(deterministic), warn_only=True)
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = bool(deterministic)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{torch.get_num_threads()}threads"


def uses_channels_last(training: dict) -> bool:
    """Models run channels-last (2-D: NHWC, 1-D: NWC) unless ``training.channels_last`` is off."""
    return bool(training.get("channels_last", True))


def prepare_model(model, training: dict):
    """The fast paths: channels-last activations, optional torch.compile."""
    if uses_channels_last(training):
        model = model.to_channels_last()
    if training.get("compile", False):
        model.compile()  # in place: state_dict keys stay as they are
    return model


def autocast(training: dict, device: torch.device):
    """bf16 autocast when ``training.precision`` is bf16, else a no-op context."""
    enabled = training.get("precision", "fp32") == "bf16"
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=enabled)
