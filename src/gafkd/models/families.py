"""Model families by name, without importing torch (the Snakefile and the config checks use this).

A family is the grammar of its architecture names (``wrn16-3``: depth 16, width 3) and the function
that builds one, imported only when a model is built. Adding a model family is one entry here and its
module; names, config checks and paths all ask this registry.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError
from ..gaf.registry import MODALITIES, SIGNAL

# The input kinds models are built for, and their dimensionality: image representations (2-D), signals (1-D).
MODALITY_DIMS = {modality: 1 if modality == SIGNAL else 2 for modality in MODALITIES}


def _wrn_args(name: str) -> dict:
    depth, width = (int(v) for v in re.fullmatch(r"wrn(\d+)-(\d+)", name).groups())
    if depth < 10 or (depth - 4) % 6 or width < 1:
        raise ValueError("a Wide ResNet has depth = 6n+4 ≥ 10 and width ≥ 1")
    return {"depth": depth, "width": width}


@dataclass(frozen=True)
class Family:
    pattern: str  # regular expression of the family's architecture names
    args: Callable[[str], dict]  # name → constructor arguments; ValueError when the name is not valid
    builder: str  # "module:function(arch, num_classes, in_channels, dims, members)"
    example: str
    # torch-free shape walks (gafkd.models.memory): "module:function(arch, in_channels, positions)" → Activations,
    # and "module:function(arch, in_channels, dims, num_classes)" → parameter count
    activations: str
    parameters: str

    def build(self):
        return _load(self.builder)

    def load(self, what: str):
        """The function named by ``activations`` or ``parameters``."""
        return _load(getattr(self, what))


def _load(spec: str):
    module, function = spec.split(":")
    return getattr(importlib.import_module(module), function)


FAMILIES = {"wrn": Family(r"wrn\d+-\d+", _wrn_args, "gafkd.models.wrn:build_wrn", "wrn16-1",
                          "gafkd.models.memory:wrn_activations", "gafkd.models.memory:wrn_parameters")}
ARCH_PATTERN = "|".join(f"(?:{f.pattern})" for f in FAMILIES.values())


def family_of(arch: str, key: str = "arch") -> Family:
    """The family of architecture ``arch``, its name checked; a ConfigError names ``key`` otherwise."""
    for family in FAMILIES.values():
        if re.fullmatch(family.pattern, str(arch)):
            try:
                family.args(arch)
            except ValueError as exc:
                raise ConfigError(f"{key}: {arch!r} is not a valid architecture ({exc})") from None
            return family
    examples = ", ".join(f.example for f in FAMILIES.values())
    raise ConfigError(f"{key}: {arch!r} is not an architecture name (known families: {examples} …)")


def arch_args(arch: str, key: str = "arch") -> dict:
    return family_of(arch, key).args(arch)
