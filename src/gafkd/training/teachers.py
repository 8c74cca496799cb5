"""Teacher logits as the student loop sees them: cached from logits.h5, or computed live.

Teachers are frozen and see no augmentation, so their logits on a window never change: the
``teacher_logits`` rule computes them once and every student reads them: a student step then costs
what a cross-entropy step costs, many times less than a step with a live 2-D teacher
(``gafkd bench``: ``kd_cached_vs_live``; numbers in docs/performance.md). :class:`LiveTeacher` is the slow path, kept for
tests and benchmarks that prove both give the same student.
"""

from __future__ import annotations

import copy
import os

import torch

from ..errors import DataError
from ..io import atomic_h5, open_h5
from ..models import build_model
from ..provenance import provenance
from .data import RunData, load_run_data
from ..execution.device import claim_device
from .loop import predict


def load_teacher(weights_path, which: str = "best", device="cpu"):
    """(model in eval mode, its saved record) from a weights.pt written by a teacher run."""
    record = torch.load(weights_path, map_location="cpu", weights_only=True)
    model = build_model(record["arch"], record["modality"], record["num_classes"])
    model.load_state_dict(record[which])
    return model.to(device).eval(), record


class LiveTeacher:
    """Runs the teacher on the rows of each batch (its own inputs and normalisation)."""

    def __init__(self, model, data: RunData):
        self.model, self.data = model.eval(), data

    @torch.no_grad()
    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model(self.data.batch(idx))


class CachedLogits:
    def __init__(self, logits: torch.Tensor):
        self.logits = logits

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        return self.logits[idx]


def write_teacher_logits(weights_paths, windows_path, gaf_path, outputs, which: str = "best", gpus: int = 0,
                         gpu_slots=None, threads: int = 1) -> dict:
    """Logits [N, C] of each teacher (a pack's members) on every window (train, test and unused), float32.

    ``weights_paths`` and ``outputs`` are one path or lists of the same length; the windows are read once.
    """
    if isinstance(weights_paths, (str, os.PathLike)):
        weights_paths, outputs = [weights_paths], [outputs]
    device = claim_device("auto", gpus, gpu_slots)
    torch.set_num_threads(max(1, int(threads)))
    loaded = {}
    accuracies = {}
    for weights_path, output in zip(weights_paths, outputs):
        model, record = load_teacher(weights_path, which, device)
        if record["modality"] not in loaded:  # read and moved to the device once per modality
            loaded[record["modality"]] = load_run_data(record["modality"], windows_path, gaf_path).to(device)
        data = copy.copy(loaded[record["modality"]])
        if data.windows_digest != record["windows_digest"]:
            raise DataError(f"{weights_path}: teacher was trained on other windows than {windows_path}; "
                            "rerun train_teacher")
        # the teacher's own training statistics
        data.mean, data.std = record["mean"].to(device), record["std"].to(device)
        logits = predict(model, data, torch.arange(len(data.labels), device=device)).cpu().numpy()
        settings = {"teacher_digest": record["settings_digest"], "weights": which}
        with atomic_h5(output, {**provenance(settings), "windows_digest": data.windows_digest,
                                "teacher": f"{record['modality']}:{record['arch']}"}) as h5:
            h5.create_dataset("logits", data=logits)
        test = data.test_idx.cpu().numpy()
        accuracies[str(output)] = float((logits[test].argmax(1) == data.labels.cpu().numpy()[test]).mean()) * 100
    return {"teacher_test_acc": accuracies}


def read_teacher_logits(path, windows_digest: str) -> tuple[torch.Tensor, str]:
    """(logits, their settings digest); refuses logits computed on other windows."""
    with open_h5(path, ("logits",)) as h5:
        if h5.attrs.get("windows_digest") != windows_digest:
            raise DataError(f"{path}: teacher logits were computed on other windows; rerun teacher_logits")
        return torch.from_numpy(h5["logits"][...]), str(h5.attrs["settings_digest"])
