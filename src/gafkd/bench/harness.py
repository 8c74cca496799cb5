"""What every bench section measures with: random inputs of the study's shapes, fresh models, warmed-up training
steps and epochs through the real loop. The architectures and the student come from the schema's defaults, the
2-D stand-in from the representations registry (:data:`gafkd.images.registry.IMAGE_STAND_IN`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distillation.pack import PackLoss
from ..distillation.spec import LossSpec
from ..images.registry import IMAGE_STAND_IN, SIGNAL
from ..models import build_model, count_parameters
from ..models.fused import build_fused
from ..schema import section_defaults
from ..training.data import RunData
from ..training.device import autocast
from ..training.settings import TrainingSettings
from ..training.loop import train_epoch
from ..training.optim import SGD
from .timing import interleaved_medians, median_time, rss_mb

ARCHS = tuple(section_defaults("teachers")["archs"])  # the study's teachers: the four WRNs
STUDENT = section_defaults("students")["arch"]  # the 1-D student the distillation steps train
KD_TEACHER = ARCHS[1]  # the live 2-D teacher of the headline ``kd_cached_vs_live``: the protocol's example pair
IMAGE = IMAGE_STAND_IN  # the 2-D input kind every image representation is timed as


def measured_as(modality: str) -> str:
    """The bench measures 2-D models on the stand-in's inputs: every image representation costs as that
    (compound's 9 input channels change only the first convolution)."""
    return SIGNAL if modality == SIGNAL else IMAGE


def input_kinds() -> tuple[str, str]:
    """The modalities the bench builds models for: the raw signal (1-D) and the 2-D stand-in."""
    return SIGNAL, IMAGE


class Bench:
    def __init__(self, device: torch.device, quick: bool, image_size: int = 64, num_classes: int = 14, axes: int = 3):
        self.device, self.quick = device, quick
        # GENEActiv's shape by default (3 axes); `gafkd bench --axes 40` times PAMAP2's
        self.image_size, self.num_classes, self.axes = image_size, num_classes, axes
        self.batch = 64
        self.repeats = 3 if quick else 7
        self.cuda = device.type == "cuda"
        self.sync = torch.cuda.synchronize if self.cuda else (lambda: None)
        self.flops = {}  # (modality, arch, length) → training FLOPs per sample

    def _shape(self, modality: str, n: int, length: int) -> tuple[int, ...]:
        return (n, self.axes, length) if modality == SIGNAL else (n, self.axes, self.image_size, self.image_size)

    def inputs(self, modality: str, n: int, length: int = 500) -> torch.Tensor:
        return torch.randn(self._shape(modality, n, length), device=self.device)

    def run_data(self, modality: str, n: int, length: int = 500) -> RunData:
        """``n`` random training windows as the training loop reads them (images as float16 in [-1, 1])."""
        generator = torch.Generator().manual_seed(0)
        inputs = torch.randn(self._shape(modality, n, length), generator=generator)
        if modality != SIGNAL:
            inputs = inputs.clamp(-1, 1).half()
        labels = torch.randint(0, self.num_classes, (n,), generator=generator)
        return RunData(inputs, labels, torch.arange(n), torch.arange(0), torch.zeros(self.axes), torch.ones(self.axes),
                       self.num_classes, "bench", axes=self.axes).to(self.device)

    def model(self, modality: str, arch: str, channels_last: bool = True):
        """A freshly initialised model (seed 0) on the device, channels-last as the pipeline runs it."""
        torch.manual_seed(0)
        model = build_model(arch, modality, self.num_classes, axes=self.axes).to(self.device)
        return model.to_channels_last() if channels_last else model

    def step_functions(self, modality: str, arch: str, length: int = 500, channels_last: bool = True,
                       precision: str = "fp32"):
        """(model, a warmed-up training step, an inference forward) on one batch of random inputs."""
        model = self.model(modality, arch, channels_last)
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = self.inputs(modality, self.batch, length), torch.randint(0, self.num_classes, (self.batch,),
                                                                         device=self.device)
        if channels_last and modality != SIGNAL:
            x = x.contiguous(memory_format=torch.channels_last)  # 1-D models lay out their own input
        cast = lambda: autocast(TrainingSettings.of({"precision": precision}), self.device)  # noqa: E731

        def step():
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with cast():
                logits = model(x)
            F.cross_entropy(logits.float(), y).backward()
            optimizer.step()

        def forward():
            model.eval()
            with torch.no_grad(), cast():
                model(x)

        step()
        return model, step, forward

    def model_speed(self, modality: str, arch: str, length: int = 500, channels_last: bool = True,
                    precision: str = "fp32") -> dict:
        """Training and evaluation samples/s of one model, and its peak memory."""
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        model, step, forward = self.step_functions(modality, arch, length, channels_last, precision)
        train = median_time(step, self.repeats, self.sync)
        forward()
        evaluate = median_time(forward, self.repeats, self.sync)
        peak = torch.cuda.max_memory_allocated() / 2**20 if self.cuda else rss_mb()
        return {"modality": modality, "arch": arch, "params": count_parameters(model), "channels_last": channels_last,
                "precision": precision, "train_samples_per_s": self.batch / train,
                "eval_samples_per_s": self.batch / evaluate, "peak_memory_mb": round(peak, 1),
                "memory_kind": "cuda allocated" if self.cuda else "process rss"}

    def train_flops_per_sample(self, modality: str, arch: str, length: int = 500) -> float:
        """Forward + backward FLOPs of one training sample (``torch.utils.flop_counter``), counted once per model."""
        from torch.utils.flop_counter import FlopCounterMode

        key = (modality, arch, length)
        if key not in self.flops:
            model = self.model(modality, arch)
            x = self.inputs(modality, 2, length)
            with FlopCounterMode(display=False) as counter:
                F.cross_entropy(model(x), torch.zeros(2, dtype=torch.long, device=self.device)).backward()
            self.flops[key] = counter.get_total_flops() / 2
        return self.flops[key]

    def pack_epoch(self, modality: str, arch: str, width: int, steps: int, length: int = 500,
                   channels_last: bool = True, precision: str = "fp32"):
        """A warmed-up training epoch of ``steps`` batches of a pack of ``width`` through the real epoch loop."""
        data = self.run_data(modality, steps * self.batch, length)
        data.channels_last = channels_last
        model = build_fused(arch, modality, self.num_classes, list(range(width)), axes=self.axes).to(self.device)
        model = model.to_channels_last() if channels_last else model
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss = PackLoss([LossSpec()] * width, self.device)
        cast = lambda: autocast(TrainingSettings.of({"precision": precision}), self.device)  # noqa: E731
        epoch = lambda: train_epoch(model, data, loss, None, optimizer, list(range(width)), 0, self.batch,  # noqa: E731
                                    precision=cast)
        epoch()
        return epoch

    def pack_speed(self, modality: str, arch: str, width: int, steps: int, length: int = 500,
                   channels_last: bool = True, precision: str = "fp32") -> dict:
        """Training samples/s (all members together) of a pack of ``width`` through the real epoch loop."""
        epoch = self.pack_epoch(modality, arch, width, steps, length, channels_last, precision)
        seconds = median_time(epoch, max(1, self.repeats // 2), self.sync)
        return {"modality": modality, "arch": arch, "width": width, "channels_last": channels_last,
                "precision": precision, "train_samples_per_s": width * steps * self.batch / seconds}

    def pack_speeds(self, modality: str, arch: str, widths, steps: int, length: int = 500) -> dict[int, float]:
        """Training samples/s (all members together) by pack width, the widths timed in alternating rounds
        (their ratios are what a choice of width reads)."""
        epochs = {w: self.pack_epoch(modality, arch, w, steps, length) for w in widths}
        seconds = interleaved_medians(epochs, max(1, self.repeats // 2), self.sync)
        return {w: w * steps * self.batch / seconds[w] for w in widths}

    def student_epoch(self, data, loss, teachers, steps, width: int = 1):
        """A warmed-up epoch of ``steps`` student steps through the real training loop (``width`` members of
        one seed, as a pack's members of one seed are)."""
        model = build_fused(STUDENT, SIGNAL, self.num_classes, list(range(width)),
                            axes=self.axes).to(self.device).to_channels_last()
        pack_loss = PackLoss([loss] * width, self.device)
        optimizer = SGD(model.parameters(), lr=0.01, momentum=0.9)
        run = lambda: train_epoch(model, data, pack_loss, teachers, optimizer, [0] * width, 0, self.batch,  # noqa: E731
                                  steps)
        run()
        return run
