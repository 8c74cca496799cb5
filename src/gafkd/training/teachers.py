"""Teacher logits as the student loop sees them: cached from logits.h5, or computed live.

Teachers are frozen and see no augmentation, so their logits on a window never change: the
``teacher_logits`` rule computes them once and every student reads them: a student step then costs
what a cross-entropy step costs, many times less than a step with a live 2-D teacher
(``gafkd bench``: ``kd_cached_vs_live``; numbers in docs/performance.md). Teachers run live
(:class:`gafkd.training.targets.LiveTeachers`) are the slow path: for what no cache holds (stage outputs,
embeddings), and for tests and benchmarks that prove both give the same student.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..io import atomic_h5, open_h5, read_json, write_json_atomic
from ..models import build_model
from ..provenance import provenance
from .data import RunData, load_run_data
from .device import autocast, configure, prepare_model, select_device, uses_channels_last
from .loop import predict
from .settings import TrainingSettings


def load_teacher(weights_path, which: str = "best", device="cpu"):
    """(model in eval mode, its saved record) from a weights.pt written by a teacher run."""
    record = torch.load(weights_path, map_location="cpu", weights_only=True)
    if which == "best_val" and not record.get("best_val_epoch"):
        raise DataError(f"{weights_path}: the teacher was trained without a validation split, so it has no "
                        "best_val weights (training.teacher_weights: best_val needs datasets.<name>.split.val)")
    if record.get(which) is None:
        raise DataError(f"{weights_path}: the teacher has no {which} weights: it diverged "
                        f"({record.get('status', 'diverged')}, see its metrics.json); lower training.lr and rerun it")
    model = build_model(record["arch"], record["modality"], record["num_classes"], axes=recorded_axes(record, which))
    model.load_state_dict(record[which])
    return model.to(device).eval(), record


def recorded_axes(record: dict, which: str) -> int:
    """The signal channels a checkpoint was trained on: recorded since PAMAP2; before, its first
    convolution's input channels over its representation's channels per axis."""
    if record.get("axes"):
        return int(record["axes"])
    from ..images.registry import input_channels

    first = next(t for t in record[which].values() if t.dim() >= 3)  # the stem convolution's weight
    return int(first.shape[1]) // input_channels(record["modality"], 1)


def teacher_inputs(loaded: dict, record: dict, weights_path, windows_path, images_path,
                   training: TrainingSettings, device) -> RunData:
    """A teacher's inputs as it trained on them: its modality's data read as its checkpoint's ``inputs`` record
    says (signal scaling, standardisation; absent in checkpoints older than the record: raw, pooled), read and
    moved to the device once per ``loaded`` (a cache the caller keeps), with the teacher's own statistics."""
    modality, inputs = record["modality"], record.get("inputs") or {}
    key = (modality, json.dumps(inputs, sort_keys=True))
    if key not in loaded:
        data = load_run_data(modality, windows_path, images_path, inputs).to(device)
        data.channels_last = uses_channels_last(training)
        loaded[key] = data
    data = copy.copy(loaded[key])
    if data.windows_digest != record["windows_digest"]:
        raise DataError(f"{weights_path}: teacher was trained on other windows than {windows_path}; rerun train_teacher")
    data.mean, data.std = record["mean"].to(device), record["std"].to(device)
    return data


def write_teacher_logits(weights_paths, windows_path, images_path, outputs,
                         training: TrainingSettings | dict | None = None, gpus: int = 0,
                         threads: int = 1, manifest=None) -> dict:
    """Logits [N, C] of each teacher (a pack's members) on the train and test windows, float32 (NaN on the
    validation windows and those no split uses: students never read them).

    The device is set up exactly as training set it up (device, numerics, channels-last, autocast), so
    the logits are the teacher's own: each file records the test accuracy they give next to the one the
    teacher's metrics.json reported (``training.teacher_weights`` picks its best or final epoch).
    ``weights_paths`` and ``outputs`` are one path or lists of the same length; the windows are read once.
    ``manifest`` (the workflow's output of the job) is written last: each logits file and its accuracies.
    """
    if isinstance(weights_paths, (str, os.PathLike)):
        weights_paths, outputs = [weights_paths], [outputs]
    training = TrainingSettings.of(training).for_stage("teachers")
    which = training.teacher_weights
    device = select_device(training.device, gpus)
    numerics = configure(threads, training, device)
    loaded = {}
    accuracies = {}
    for weights_path, output in zip(weights_paths, outputs):
        record = torch.load(weights_path, map_location="cpu", weights_only=True)
        if record.get(which) is None and record.get("status") == "diverged" and which != "best_val":
            # diverged before any epoch it could keep: its students get NaN targets and diverge at their
            # first step — recorded results, and the report says so — instead of a failed workflow
            accuracies[str(output)] = _diverged_logits(output, record, weights_path, windows_path, which)
            continue
        model, record = load_teacher(weights_path, which, device)
        model = prepare_model(model, training)
        data = teacher_inputs(loaded, record, weights_path, windows_path, images_path, training, device)
        # the rows students learn from (train) and the check's (test): validation rows and windows no split
        # uses are never asked for a teacher's logits, and stay NaN
        rows = torch.cat([data.train_idx, data.test_idx]).sort().values
        logits = np.full((len(data.labels), data.num_classes), np.nan, dtype=np.float32)
        logits[rows.cpu().numpy()] = predict(model, data, rows, lambda: autocast(training, device)).cpu().numpy()
        test = data.test_idx.cpu().numpy()
        reproduced = float((logits[test].argmax(1) == data.labels.cpu().numpy()[test]).sum()) / len(test) * 100
        reported = _reported_accuracy(weights_path, which)
        if reported is not None and reproduced != reported:
            logging.warning("%s: these logits give %.4f %% on the test split, the teacher reported %.4f %% (%s epoch)",
                            output, reproduced, reported, which)
        settings = {"teacher_digest": record["settings_digest"], "weights": which}
        with atomic_h5(output, {**provenance(settings), "windows_digest": data.windows_digest,
                                "teacher": f"{record['modality']}:{record['arch']}", "numerics": numerics["computed_in"],
                                "test_acc": reproduced, "teacher_reported_test_acc":
                                    float("nan") if reported is None else reported}) as h5:
            h5.create_dataset("logits", data=logits)
        accuracies[str(output)] = {"test_acc": reproduced, "teacher_reported": reported}
    summary = {"teacher_test_acc": accuracies}
    if manifest is not None:
        write_json_atomic(manifest, summary)
    return summary


def _diverged_logits(output, record: dict, weights_path, windows_path, which: str) -> dict:
    """NaN logits for a teacher that has no ``which`` weights because it diverged; says so in the file."""
    from ..data.store import load_windows

    windows = load_windows(windows_path)
    logging.warning("%s: the teacher diverged before it had %s weights (%s): its logits are NaN, and the students "
                    "that learn from it will diverge", output, which, weights_path)
    logits = np.full((len(windows.labels), len(windows.class_names)), np.nan, dtype=np.float32)
    settings = {"teacher_digest": record["settings_digest"], "weights": which}
    with atomic_h5(output, {**provenance(settings), "windows_digest": record["windows_digest"],
                            "teacher": f"{record['modality']}:{record['arch']}", "teacher_status": "diverged",
                            "test_acc": float("nan"), "teacher_reported_test_acc": float("nan")}) as h5:
        h5.create_dataset("logits", data=logits)
    return {"test_acc": None, "teacher_reported": None, "teacher_status": "diverged"}


REPORTED = {"best": "best_test_acc", "final": "final_test_acc", "best_val": "test_acc_at_best_val"}


def _reported_accuracy(weights_path, which: str) -> float | None:
    """The test accuracy the teacher's metrics.json (beside its weights) reports for ``which`` epoch."""
    path = Path(weights_path).with_name("metrics.json")
    if not path.exists():
        return None
    return read_json(path).get(REPORTED[which])


def read_teacher_logits(path, windows_digest: str) -> tuple[torch.Tensor, str]:
    """(logits, their settings digest); refuses logits computed on other windows."""
    with open_h5(path, ("logits",)) as h5:
        if h5.attrs.get("windows_digest") != windows_digest:
            raise DataError(f"{path}: teacher logits were computed on other windows; rerun teacher_logits")
        return torch.from_numpy(h5["logits"][...]), str(h5.attrs["settings_digest"])
