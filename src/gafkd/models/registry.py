"""Models by name and modality: ``gaf`` inputs are images (2-D), ``sig`` inputs are signals (1-D)."""

from __future__ import annotations

from torch import nn

from ..errors import ConfigError
from .families import FAMILIES, MODALITY_DIMS, family_of  # noqa: F401 — the registry of families


def build_model(arch: str, modality: str, num_classes: int, in_channels: int = 3, members: int = 1) -> nn.Module:
    """A model of ``arch`` for ``modality`` inputs; ``members`` > 1 fuses that many (models.fused)."""
    if modality not in MODALITY_DIMS:
        raise ConfigError(f"modality: {modality!r} is not one of {sorted(MODALITY_DIMS)}")
    return family_of(arch).build()(arch, num_classes, in_channels, MODALITY_DIMS[modality], members)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
