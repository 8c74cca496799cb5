"""A run's data, whole in memory (on the GPU when training there): no per-sample reads, no workers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..data.store import load_windows
from ..gaf.registry import is_image
from ..gaf.store import image_record, load_images


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

    def to(self, device) -> "RunData":
        move = lambda t: t.to(device)  # noqa: E731
        return RunData(move(self.inputs), move(self.labels), move(self.train_idx), move(self.test_idx),
                       move(self.mean), move(self.std), self.num_classes, self.windows_digest, self.channels_last,
                       move(self.val_idx), self.images, self.axes)

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


def channel_stats(inputs: np.ndarray, rows: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std over ``rows`` (float64, chunked so float16 images never expand whole)."""
    channels = inputs.shape[1]
    total, sq, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(rows), chunk):
        x = inputs[rows[start:start + chunk]].astype(np.float64).reshape(-1, channels, int(np.prod(inputs.shape[2:])))
        total += x.sum(axis=(0, 2))
        sq += (x * x).sum(axis=(0, 2))
        count += x.shape[0] * x.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean * mean, 0.0))
    return mean, np.where(std > 1e-8, std, 1.0)


def load_run_data(modality: str, windows_path, images_path=None) -> RunData:
    """The windows' signals, or for an image modality the images of ``images_path`` (``{representation}.h5``)."""
    windows = load_windows(windows_path)
    digest = str(windows.attrs.get("settings_digest", ""))
    image = is_image(modality)
    inputs = load_images(images_path, digest, windows.attrs.get("signals_digest")) if image else windows.signals
    train = windows.indices("train")
    mean, std = channel_stats(inputs, train)
    return RunData(
        inputs=torch.from_numpy(np.ascontiguousarray(inputs)),
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
    )
