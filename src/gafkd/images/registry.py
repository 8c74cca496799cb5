"""The image representations by name — one entry each, without importing torch.

An entry says what a representation is: its transform (a class with ``from_settings``, imported only
when images are made), its channels per signal axis, the settings it reads from the config's
``images`` section (their types and defaults: the schema), its name in tables and plots, its
references (callables of the reference libraries the tests hold it to and ``gafkd bench`` times it
against) and its speed target over the fastest of them. The ``images`` stage writes
``results/{dataset}/{name}.h5`` for every representation a teacher uses; model families, names, the
grid, packs, status, bench and report ask this registry, so a new representation is its module, one
entry here and its settings in the schema (a test keeps those two in step): docs/representations.md.

``gaf`` is the group's name for the Gramian angular *summation* field (GASF) and stays so.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ConfigError
from .scaling import TRAINING

SIGNAL = "sig"  # the raw-signal modality (1-D models); every other modality is an image representation
SHARED = ("image_size", "dtype", "chunk_size")  # images.* settings every representation reads


@dataclass(frozen=True)
class Reference:
    """A reference implementation: ``call`` is ``module:function``, (windows [N, C, L] float64 as the
    scaling left them, settings) → images [N, C·per_axis, S, S], importing its library when called
    (ImportError: not installed)."""

    name: str  # in the bench and docs: "ripser + persim"
    call: str

    def images(self, windows, settings: dict):
        module, name = self.call.split(":")
        return getattr(importlib.import_module(module), name)(windows, settings)


@dataclass(frozen=True)
class Representation:
    name: str
    label: str  # in tables and plots: "WRN16-1(PI)"
    title: str  # what it is, in a line
    transform: str  # "module:Class", built by Class.from_settings(settings)
    references: tuple[Reference, ...]  # the first is the one the tests hold it to
    per_axis: int = 1  # image channels per signal axis
    parts: tuple[str, ...] = ()  # the names of a multi-channel representation's channels of one axis
    value_range: tuple[float, float] = (0.0, 1.0)  # of its pixels (plots share one colour scale)
    fixed: dict = field(default_factory=dict)  # settings the representation implies
    own: Callable[[dict], dict] | None = None  # its own settings from the images section
    speed_target: float = 3.0  # ``gafkd bench``: windows/s over the fastest reference's, at least

    def channels(self, axes: int) -> int:
        """Image channels of windows with ``axes`` signal channels (read from windows.h5 or the source's format)."""
        return axes * self.per_axis

    def settings(self, images: dict, limits: dict | None = None) -> dict:
        """What makes its images: the ``images`` rule's params and the digest in ``{name}.h5``, keys sorted
        (Snakemake compares params as text). A ``fixed`` scaling adds the dataset's ``limits`` (None: the
        training windows'), so each dataset's images have their own settings."""
        merged = {**{key: images[key] for key in SHARED}, **self.fixed, **(self.own(images) if self.own else {})}
        if merged.get("scaling") == "fixed":
            merged["limits"] = limits if limits is not None else TRAINING
        return {key: dict(sorted(v.items())) if isinstance(v, dict) else v for key, v in sorted(merged.items())}

    def transformer(self, settings: dict):
        module, name = self.transform.split(":")
        return getattr(importlib.import_module(module), name).from_settings(settings)


def _pi_settings(images: dict) -> dict:
    """images.pi, the Rips options only when the Rips recipe is chosen (they change no sublevel image)."""
    pi = dict(images["pi"])
    rips = pi.pop("rips")
    return {**pi, "rips": rips} if pi["recipe"] == "rips" else pi


def _pyts(module: str) -> tuple[Reference, ...]:
    return (Reference("pyts", f"{module}:pyts_images"),)


REPRESENTATIONS = {r.name: r for r in (
    # gaf's settings are {image_size, method, dtype, chunk_size}, as before the registry: gaf.h5 files
    # made then stay valid (same params, same digest); every other entry names itself in its settings.
    Representation("gaf", "GAF", "Gramian angular summation field (GASF)", "gafkd.images.transform:GramianAngularField",
                   _pyts("gafkd.images.transform"), fixed={"method": "summation"}, value_range=(-1.0, 1.0)),
    Representation("gadf", "GADF", "Gramian angular difference field", "gafkd.images.transform:GramianAngularField",
                   _pyts("gafkd.images.transform"), fixed={"representation": "gadf", "method": "difference"},
                   value_range=(-1.0, 1.0)),
    Representation("mtf", "MTF", "Markov transition field (quantile bins)", "gafkd.images.mtf:MarkovTransitionField",
                   _pyts("gafkd.images.mtf"), fixed={"representation": "mtf"}, own=lambda images: dict(images["mtf"])),
    Representation("compound", "GASF+GADF+MTF", "GASF, GADF and MTF of each axis (Wang & Oates)",
                   "gafkd.images.compound:CompoundImage", _pyts("gafkd.images.compound"), per_axis=3,
                   parts=("GASF", "GADF", "MTF"), value_range=(-1.0, 1.0),
                   fixed={"representation": "compound"}, own=lambda images: dict(images["mtf"])),
    Representation("pi", "PI", "persistence image", "gafkd.images.persistence:PersistenceImage",
                   (Reference("ripser + persim", "gafkd.images.persistence:ripser_persim_images"),
                    Reference("gudhi + numpy image", "gafkd.images.persistence:gudhi_images"),
                    Reference("giotto-ph + numpy image", "gafkd.images.persistence:giotto_images")),
                   own=_pi_settings, fixed={"representation": "pi"}),
    Representation("qgaf", "Q-GAF", "quantum Gramian angular field (Xu et al. 2024)", "gafkd.images.qgaf:QuantumGAF",
                   (Reference("qts2d", "gafkd.images.qgaf:qts2d_images"),), fixed={"representation": "qgaf"},
                   own=lambda images: dict(images["qgaf"]), value_range=(-1.0, 1.0), speed_target=100.0),
    Representation("rp", "RP", "recurrence plot of the PAA series", "gafkd.images.recurrence:RecurrencePlot",
                   _pyts("gafkd.images.recurrence"), fixed={"representation": "rp"},
                   own=lambda images: dict(images["rp"])),
)}
MODALITIES = (*REPRESENTATIONS, SIGNAL)
# The image modality that stands for all of them where only a 2-D model's cost matters (gafkd bench, the device
# check): a model costs the same on any representation's images (compound's 9 channels change only the first
# convolution). The group's GASF.
IMAGE_STAND_IN = "gaf"


def representation(name: str, key: str = "representation") -> Representation:
    """The entry ``name``; a ConfigError names ``key`` and the known names otherwise."""
    try:
        return REPRESENTATIONS[name]
    except (KeyError, TypeError):
        raise ConfigError(f"{key}: {name!r} is not an image representation "
                          f"(known: {', '.join(REPRESENTATIONS)}; {SIGNAL} is the raw signal)") from None


def of_settings(settings: dict) -> Representation:
    """The representation that ``settings`` (a ``{name}.h5`` file's) describe: gaf's do not name it."""
    return representation(settings.get("representation", "gaf"), "settings.representation")


def is_image(modality: str) -> bool:
    return modality in REPRESENTATIONS


def input_channels(modality: str, axes: int) -> int:
    """Channels of a model's input on windows of ``axes`` signal channels: the representation's images, or the
    signal's own."""
    return axes if modality == SIGNAL else representation(modality, "modality").channels(axes)


def label(modality: str) -> str:
    """The modality's name in tables: GAF, PI, …, Sig."""
    return "Sig" if modality == SIGNAL else representation(modality, "modality").label
