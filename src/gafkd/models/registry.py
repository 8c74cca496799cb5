"""Models by name and modality: image representations (``gaf``, ``pi``, …) are 2-D inputs, ``sig`` signals 1-D."""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from ..images.registry import input_channels
from .families import FAMILIES, MODALITY_DIMS, family_of  # noqa: F401 — the registry of families


def build_model(arch: str, modality: str, num_classes: int, *, axes: int, members: int = 1) -> nn.Module:
    """A model of ``arch`` for ``modality`` inputs made of windows with ``axes`` signal channels (the input
    channels: the modality's, :mod:`gafkd.images.registry`); ``members`` > 1 fuses that many (models.fused)."""
    if modality not in MODALITY_DIMS:
        raise ConfigError(f"modality: {modality!r} is not one of {sorted(MODALITY_DIMS)}")
    channels = input_channels(modality, axes)
    return family_of(arch).build()(arch, num_classes, channels, MODALITY_DIMS[modality], members)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def embedding_size(model: nn.Module) -> int:
    """The size of a model's pooled embedding: its classifier's input (per member of a fused model)."""
    return model.fc.in_features
