"""One training run end to end: what the ``train_teacher`` and ``distill`` rules call.

Outputs (atomic): ``metrics.json`` (accuracies in %, provenance, resolved settings and digest),
``history.csv`` (one row per epoch) and ``weights.pt`` (final and best-epoch weights plus the input
normalisation; loadable with ``torch.load(..., weights_only=True)``). ``checkpoint.pt`` beside them
is written every epoch and removed when the run completes.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

import torch

from .distillation import DistillationLoss
from .grid import Experiment
from .io import remove_stale_temporaries, write_json_atomic, write_text_atomic
from .models import build_model, count_parameters
from .provenance import provenance
from .training.loop import evaluate, fit
from .training.checkpoint import save as save_weights
from .training.data import RunData, load_run_data
from .training.device import autocast, claim_device, configure, device_name, prepare_model, uses_channels_last
from .training.teachers import CachedLogits, read_teacher_logits

HISTORY_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")


def hyperparameters(training: dict) -> dict:
    """The training settings that shape the numbers (threads only decide how fast)."""
    return {k: v for k, v in training.items() if k != "threads"}


def teacher_settings(dataset, windows_digest, modality, arch, seed, training) -> dict:
    return {"role": "teacher", "dataset": dataset, "windows_digest": windows_digest, "modality": modality,
            "arch": arch, "seed": seed, "training": hyperparameters(training)}


def student_settings(dataset, windows_digest, arch, seed, training, experiment: Experiment, temperature,
                     logits_digests) -> dict:
    return {"role": "student", "dataset": dataset, "windows_digest": windows_digest, "modality": "sig",
            "arch": arch, "seed": seed, "training": hyperparameters(training), "experiment": experiment.spec,
            "teachers": list(experiment.teachers), "weights": list(experiment.weights), "lam": experiment.lam,
            "temperature": temperature, "teacher_logits": list(logits_digests)}


def train_teacher(windows, gaf, outputs: dict, *, dataset: str, modality: str, arch: str, seed: int,
                  training: dict, threads: int = 1, gpus: int = 0, gpu_slots=None) -> dict:
    data = load_run_data(modality, windows, gaf)
    settings = teacher_settings(dataset, data.windows_digest, modality, arch, seed, training)
    labels = {"kind": "teacher", "teachers": f"{modality}:{arch}", "student": "", "alpha": None, "lam": None}
    return _run(data, modality, arch, seed, training, settings, labels, [], DistillationLoss(), outputs,
                threads, gpus, dataset, gpu_slots=gpu_slots)


def distill(windows, logits_paths, outputs: dict, *, dataset: str, spec: str, student_arch: str, seed: int,
            temperature: float, training: dict, threads: int = 1, gpus: int = 0, gpu_slots=None,
            live_teachers=None) -> dict:
    """Train the 1-D student of experiment ``spec`` from cached teacher logits (or ``live_teachers``)."""
    experiment = Experiment.parse(spec)
    data = load_run_data("sig", windows)
    logits, digests = [], []
    for path in logits_paths:
        tensor, digest = read_teacher_logits(path, data.windows_digest)
        logits.append(tensor)
        digests.append(digest)
    settings = student_settings(dataset, data.windows_digest, student_arch, seed, training, experiment, temperature,
                                digests)
    labels = {"kind": experiment.kind, "teachers": "+".join(experiment.teachers), "student": f"sig:{student_arch}",
              "alpha": experiment.alpha, "lam": experiment.lam}
    loss = DistillationLoss(experiment.weights, experiment.lam or 0.0, temperature)
    return _run(data, "sig", student_arch, seed, training, settings, labels, logits, loss, outputs, threads, gpus,
                dataset, live_teachers, gpu_slots)


def _run(data: RunData, modality, arch, seed, training, settings, labels, logits, loss, outputs, threads, gpus,
         dataset, live_teachers=None, gpu_slots=None) -> dict:
    device = claim_device(training.get("device", "auto"), gpus, gpu_slots)
    configure(threads, training.get("deterministic", True), device)
    record = provenance(settings)
    torch.manual_seed(seed)
    model = build_model(arch, modality, data.num_classes).to(device)
    model = prepare_model(model, training)
    data = data.to(device)
    data.channels_last = uses_channels_last(training)  # the 2-D batches; 1-D models lay theirs out themselves
    teachers = live_teachers if live_teachers is not None else [CachedLogits(t.to(device)) for t in logits]
    checkpoint = Path(outputs["metrics"]).with_name("checkpoint.pt")
    remove_stale_temporaries(checkpoint.parent)
    logging.info("%s %s:%s seed %d on %s, %d parameters, %d train / %d test windows", dataset, modality, arch,
                 seed, device_name(device), count_parameters(model), len(data.train_idx), len(data.test_idx))
    precision = lambda: autocast(training, device)  # noqa: E731 — a fresh context per use
    result = fit(model, data, loss, teachers, training, seed, checkpoint, record["settings_digest"], precision)
    weights = {"arch": arch, "modality": modality, "num_classes": data.num_classes, "final": _cpu(model.state_dict()),
               "best": _cpu(result.best_state), "best_epoch": result.best_epoch, "mean": data.mean.cpu(),
               "std": data.std.cpu(), "windows_digest": data.windows_digest,
               "settings_digest": record["settings_digest"]}
    save_weights(outputs["weights"], weights)
    model.load_state_dict(result.best_state)
    confusion = confusion_matrix(model, data, data.test_idx, precision)
    write_text_atomic(outputs["history"], _history_csv(result.history))
    metrics = {"dataset": dataset, **labels, "seed": seed, "best_test_acc": result.best_test_acc,
               "best_epoch": result.best_epoch, "final_test_acc": result.final_test_acc,
               "epochs": training["epochs"], "params": count_parameters(model), "seconds": round(result.seconds, 3),
               "device": device_name(device), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
               "resumed_from_epoch": result.resumed_from,
               "confusion_best": confusion, **record}
    write_json_atomic(outputs["metrics"], metrics)
    checkpoint.unlink(missing_ok=True)
    return {k: metrics[k] for k in ("best_test_acc", "best_epoch", "final_test_acc", "seconds")}


def confusion_matrix(model, data: RunData, idx, precision) -> list[list[int]]:
    """Test-set confusion matrix (rows: true class, columns: predicted) of ``model``."""
    _, _, logits = evaluate(model, data, idx, precision)
    pairs = data.labels[idx].cpu() * data.num_classes + logits.argmax(1).cpu()
    counts = torch.bincount(pairs, minlength=data.num_classes**2)
    return counts.view(data.num_classes, data.num_classes).tolist()


def _cpu(state: dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in state.items()}


def _history_csv(history) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in history)
    return buffer.getvalue()
