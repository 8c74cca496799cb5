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


def _resnet_args(name: str) -> dict:
    depth = int(re.fullmatch(r"resnet(\d+)", name).group(1))
    if depth < 8 or (depth - 2) % 6:
        raise ValueError("a CIFAR ResNet has depth = 6n+2 ≥ 8 (resnet8, resnet20, resnet44, …)")
    return {"depth": depth}


# VGG's convolutions per block, by depth (RepDistiller's cfg S, A, B): five blocks, pooling between them
VGG_BLOCKS = {8: ((64,), (128,), (256,), (512,), (512,)),
              11: ((64,), (128,), (256, 256), (512, 512), (512, 512)),
              13: ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512))}


def _vgg_args(name: str) -> dict:
    depth = int(re.fullmatch(r"vgg(\d+)", name).group(1))
    if depth not in VGG_BLOCKS:
        raise ValueError(f"VGG depth is one of {', '.join(map(str, VGG_BLOCKS))}")
    return {"depth": depth, "blocks": VGG_BLOCKS[depth]}


def _mobilenetv2_args(name: str) -> dict:
    width = float(re.fullmatch(r"mobilenetv2-(\d+(?:\.\d+)?)", name).group(1))
    if not 0 < width <= 4:
        raise ValueError("a MobileNetV2's width multiplier is in (0, 4], e.g. mobilenetv2-0.5")
    return {"width": width}


def _transformer_args(name: str) -> dict:
    layers, dim, patch, stride = re.fullmatch(r"transformer(\d+)-(\d+)(?:-p(\d+)s(\d+))?", name).groups()
    # learned positions for at most 256 patches: windows of up to 16 + 255·8 = 2,056 samples by default
    args = {"layers": int(layers), "dim": int(dim), "patch": int(patch or 16), "stride": int(stride or 8),
            "max_patches": 256}
    if args["layers"] < 1 or args["dim"] < 16 or args["dim"] % 16 or args["patch"] < 1 or args["stride"] < 1:
        raise ValueError("a patch Transformer has ≥ 1 layer and a width that is a multiple of 16 (16 per head), "
                         "e.g. transformer3-64 or transformer3-64-p16s8")
    return args


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
    label: Callable[[str], str] = str.upper  # in tables: wrn16-3 → WRN16-3
    dims: tuple[int, ...] = (1, 2)  # the inputs it is built for: 1-D signals, 2-D images

    def build(self):
        return _load(self.builder)

    def load(self, what: str):
        """The function named by ``activations`` or ``parameters``."""
        return _load(getattr(self, what))


def _load(spec: str):
    module, function = spec.split(":")
    return getattr(importlib.import_module(module), function)


FAMILIES = {
    "wrn": Family(r"wrn\d+-\d+", _wrn_args, "gafkd.models.wrn:build_wrn", "wrn16-1",
                  "gafkd.models.memory:wrn_activations", "gafkd.models.memory:wrn_parameters"),
    "resnet": Family(r"resnet\d+", _resnet_args, "gafkd.models.resnet:build_resnet", "resnet8",
                     "gafkd.models.memory:resnet_activations", "gafkd.models.memory:resnet_parameters",
                     lambda arch: arch.replace("resnet", "ResNet")),
    "vgg": Family(r"vgg\d+", _vgg_args, "gafkd.models.vgg:build_vgg", "vgg8",
                  "gafkd.models.memory:vgg_activations", "gafkd.models.memory:vgg_parameters"),
    "mobilenetv2": Family(r"mobilenetv2-\d+(?:\.\d+)?", _mobilenetv2_args, "gafkd.models.mobilenetv2:build_mobilenetv2",
                          "mobilenetv2-0.5", "gafkd.models.memory:mobilenetv2_activations",
                          "gafkd.models.memory:mobilenetv2_parameters",
                          lambda arch: arch.replace("mobilenetv2", "MobileNetV2")),
    "transformer": Family(r"transformer\d+-\d+(?:-p\d+s\d+)?", _transformer_args,
                          "gafkd.models.transformer:build_transformer", "transformer3-64",
                          "gafkd.models.memory:transformer_activations", "gafkd.models.memory:transformer_parameters",
                          lambda arch: arch.replace("transformer", "Transformer"), dims=(1,)),
}


def mobilenetv2_plan(width: float) -> tuple[int, list[list[tuple[int, int, int]]], int]:
    """(stem channels, per group of inverted residual blocks [(expansion, out channels, stride), …], head channels)
    of a MobileNetV2 with width multiplier ``width`` (RepDistiller's CIFAR layout: T = 6, the stem at stride 2,
    the second group at stride 1)."""
    groups = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
              (6, 320, 1, 1)]
    blocks = [[(t, int(c * width), s if i == 0 else 1) for i in range(n)] for t, c, n, s in groups]
    return int(32 * width), blocks, int(1280 * width) if width > 1 else 1280


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
