"""A run's data, whole in memory (on the GPU when training there): no per-sample reads, no workers.

How a model reads its inputs is part of a run's protocol (``training`` settings, per dataset):

- ``signal_scaling`` — raw signals as windows.h5 holds them (``none``), or ``fixed``: each channel to
  [0, 1] by the dataset's limits and clipped as the lab clips (x' > 1 → 0.99, x' < 0 → 0;
  :func:`gafkd.images.scaling.fixed_scaled`, the same function the images' ``fixed`` scaling uses). Images
  are made by their representation's own scaling and are never scaled again here.
- ``standardisation`` — x' = (x − mean_c) / s_c per channel with the training rows' pooled mean and
  ``pooled``: s_c the pooled standard deviation over every training sample of the channel; or
  ``window``: s_c the mean over training windows of each window's own standard deviation (population,
  over its samples or pixels), the lab's ``data_loader_custom.py``; a zero s_c becomes machine epsilon,
  as the lab guards its images (pooled: 1).

A checkpoint records both (its ``inputs`` record, :func:`inputs_record`), so its teacher's logits and
live features are computed on inputs read exactly as it trained on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.store import load_windows
from ..errors import ConfigError
from ..schema import allowed
from ..images.registry import is_image
from ..images.scaling import TRAINING, scaling_of
from ..images.store import image_record, load_images

STANDARDISATIONS = allowed("standardisation")  # pooled, window
SIGNAL_SCALINGS = allowed("signal_scaling")  # none, fixed


@dataclass
class RunData:
    """Inputs in their storage dtype [N, C, ...], labels [N], split indices, per-channel statistics."""

    inputs: torch.Tensor
    labels: torch.Tensor
    train_idx: torch.Tensor
    test_idx: torch.Tensor
    mean: torch.Tensor  # [C], training-set statistics
    std: torch.Tensor
    num_classes: int
    windows_digest: str
    channels_last: bool = False  # 2-D batches in NHWC, for models converted to channels_last
    val_idx: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))  # empty: no val split
    images: dict | None = None  # the settings the image inputs were made with (None: raw signals)
    axes: int | None = None  # the windows' signal channels (windows.h5): a model's input channels follow them
    inputs_record: dict | None = None  # how the inputs were read (scaling, standardisation): checkpoints keep it

    def to(self, device) -> "RunData":
        move = lambda t: t.to(device)  # noqa: E731
        return RunData(move(self.inputs), move(self.labels), move(self.train_idx), move(self.test_idx),
                       move(self.mean), move(self.std), self.num_classes, self.windows_digest, self.channels_last,
                       move(self.val_idx), self.images, self.axes, self.inputs_record)

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        """Standardised float32 inputs of the rows ``idx``."""
        return self._layout(self._standardised(idx))

    def pack_batch(self, idx: torch.Tensor) -> torch.Tensor:
        """The input of a fused model: member m's rows ``idx[m]`` in channel block m, [B, M·C, ...]."""
        members, rows = idx.shape
        if members == 1:
            return self.batch(idx[0])
        x = self._standardised(idx)  # [M, B, C, ...]
        return self._layout(x.transpose(0, 1).reshape(rows, -1, *x.shape[3:]))

    def shared_batch(self, idx: torch.Tensor, members: int) -> torch.Tensor:
        """The input of a fused model when every member sees the same rows (evaluation)."""
        if members == 1:
            return self.batch(idx)
        x = self._standardised(idx)
        return self._layout(x.repeat(1, members, *(1,) * (x.dim() - 2)))

    def _standardised(self, idx: torch.Tensor) -> torch.Tensor:
        """float32 rows ``idx`` (any index shape) standardised per channel: [*idx.shape, C, ...]."""
        x = self.inputs[idx].float()
        shape = (1,) * idx.dim() + (-1,) + (1,) * (x.dim() - idx.dim() - 1)
        return (x - self.mean.view(shape)) / self.std.view(shape)

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        """NHWC for the 2-D batches of channels-last models (1-D models lay theirs out themselves)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x


def channel_stats(inputs: np.ndarray, rows: np.ndarray, chunk: int = 1024,
                  standardisation: str = "pooled") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and scale over ``rows`` (float64, chunked so float16 images never expand whole):
    the pooled mean, and the pooled std or (``window``) the mean of the rows' per-window stds."""
    channels = inputs.shape[1]
    total, sq, window_std, count = np.zeros(channels), np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(rows), chunk):
        x = inputs[rows[start:start + chunk]].astype(np.float64).reshape(-1, channels, int(np.prod(inputs.shape[2:])))
        total += x.sum(axis=(0, 2))
        sq += (x * x).sum(axis=(0, 2))
        if standardisation == "window":
            window_std += x.std(axis=2).sum(axis=0)
        count += x.shape[0] * x.shape[2]
    mean = total / count
    if standardisation == "window":
        std = window_std / len(rows)
        return mean, np.where(std == 0.0, np.finfo(np.float64).eps, std)
    std = np.sqrt(np.maximum(sq / count - mean * mean, 0.0))
    return mean, np.where(std > 1e-8, std, 1.0)


def input_settings(training: dict) -> dict:
    """The ``training`` settings that decide how a run reads its inputs (its checkpoint's ``inputs`` record)."""
    standardisation = training.get("standardisation", "pooled")
    scaling = training.get("signal_scaling", "none")
    if standardisation not in STANDARDISATIONS:
        raise ConfigError(f"training.standardisation: {standardisation!r} is not one of {STANDARDISATIONS}")
    if (scaling if isinstance(scaling, str) else scaling.get("kind")) not in SIGNAL_SCALINGS:
        raise ConfigError(f"training.signal_scaling: {scaling!r} is not one of {SIGNAL_SCALINGS}")
    return {"standardisation": standardisation, "signal_scaling": scaling}


def inputs_record(settings: dict, scaling) -> dict:
    """What a checkpoint says of its inputs: the standardisation and the signal scaling with its limits."""
    record = {"standardisation": settings["standardisation"], "signal_scaling": "none"}
    if scaling is not None:
        record["signal_scaling"] = {"kind": "fixed", "limits": {"min": scaling.low.tolist(),
                                                               "max": scaling.high.tolist()}}
    return record


def load_run_data(modality: str, windows_path, images_path=None, inputs: dict | None = None) -> RunData:
    """The windows' signals, or for an image modality the images of ``images_path`` (``{representation}.h5``),
    read as ``inputs`` (:func:`input_settings` of a training section; absent: raw signals, pooled)."""
    settings = input_settings(inputs or {})
    windows = load_windows(windows_path)
    digest = str(windows.attrs.get("settings_digest", ""))
    image = is_image(modality)
    values = load_images(images_path, digest, windows.attrs.get("signals_digest")) if image else windows.signals
    scaling = None
    if not image and settings["signal_scaling"] != "none":
        scaling = _signal_scaling(settings["signal_scaling"], windows, windows_path)
        values = scaling.apply(values)[0].astype(np.float32)
    train = windows.indices("train")
    mean, std = channel_stats(values, train, standardisation=settings["standardisation"])
    return RunData(
        inputs=torch.from_numpy(np.ascontiguousarray(values)),
        labels=torch.from_numpy(windows.labels),
        train_idx=torch.from_numpy(train),
        test_idx=torch.from_numpy(windows.indices("test")),
        val_idx=torch.from_numpy(windows.indices("val")),
        mean=torch.from_numpy(mean).float(),
        std=torch.from_numpy(std).float(),
        num_classes=len(windows.class_names),
        windows_digest=digest,
        images=image_record(images_path) if image else None,
        axes=int(windows.signals.shape[1]),
        inputs_record=inputs_record(settings, scaling),
    )


def _signal_scaling(setting, windows, where):
    """The fixed scaling a ``signal_scaling`` setting resolves to: ``fixed`` (limits from the training windows)
    or ``{kind: fixed, limits: {min, max} | "train"}`` (the workflow resolves the dataset's limits into it)."""
    limits = TRAINING if isinstance(setting, str) else setting.get("limits", TRAINING)
    return scaling_of({"scaling": "fixed", "limits": limits}, windows, str(where))
