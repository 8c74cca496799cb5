"""Model families by name, without importing torch (the Snakefile and the config checks use this).

A family is a package (``gafkd.models.wrn``): the grammar of its architecture names (``wrn16-3``: depth 16,
width 3), its shape walk and parameter count, torch-free, and its network in ``net.py``, imported only when a
model is built. Adding a model family is its package and one entry here; names, config checks, memory plans
and paths all ask this registry.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Callable

from ..errors import ConfigError
from ..images.registry import MODALITIES, SIGNAL

# The input kinds models are built for, and their dimensionality: image representations (2-D), signals (1-D).
MODALITY_DIMS = {modality: 1 if modality == SIGNAL else 2 for modality in MODALITIES}


@dataclass(frozen=True)
class Family:
    """A registry entry: what the registry answers without importing the family (its names, label, input kinds);
    the rest is its package ``module``, torch-free (``args(name)`` → constructor arguments or ValueError,
    ``activations`` and ``parameters``: the shape walk and parameter count, :mod:`gafkd.models.memory`), and the
    network in ``module.net`` (``build(arch, num_classes, in_channels, dims, members)``), imported to build one."""

    module: str
    pattern: str  # regular expression of the family's architecture names
    example: str
    label: Callable[[str], str] = str.upper  # in tables: wrn16-3 → WRN16-3
    dims: tuple[int, ...] = (1, 2)  # the inputs it is built for: 1-D signals, 2-D images

    def spec(self):
        return importlib.import_module(self.module)

    def args(self, arch: str) -> dict:
        return self.spec().args(arch)

    def build(self):
        return importlib.import_module(f"{self.module}.net").build

    def load(self, what: str):
        """The package's ``activations`` or ``parameters``."""
        return getattr(self.spec(), what)


def _renamed(prefix: str, label: str) -> Callable[[str], str]:
    return lambda arch: arch.replace(prefix, label)


FAMILIES = {
    "wrn": Family("gafkd.models.wrn", r"wrn\d+-\d+", "wrn16-1"),
    "resnet": Family("gafkd.models.resnet", r"resnet\d+", "resnet8", _renamed("resnet", "ResNet")),
    "vgg": Family("gafkd.models.vgg", r"vgg\d+", "vgg8"),
    "mobilenetv2": Family("gafkd.models.mobilenetv2", r"mobilenetv2-\d+(?:\.\d+)?", "mobilenetv2-0.5",
                          _renamed("mobilenetv2", "MobileNetV2")),
    "transformer": Family("gafkd.models.transformer", r"transformer\d+-\d+(?:-p\d+s\d+)?", "transformer3-64",
                          _renamed("transformer", "Transformer"), dims=(1,)),
}


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


def arch_label(arch: str) -> str:
    """An architecture's name in tables and plots: WRN16-3, ResNet8, VGG8."""
    return family_of(arch).label(arch)
