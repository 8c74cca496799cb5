"""Runs end to end: what the training rules call. A pack of runs trains as one fused model in one process.

Outputs per member (atomic, in its own run folder): ``metrics.json`` (accuracies in %, provenance,
resolved settings and digest, the pack it trained in), ``history.csv`` (one row per epoch) and
``weights.pt`` (final and best-epoch weights of the plain, unfused model plus the input normalisation;
loadable with ``torch.load(..., weights_only=True)``). The pack's ``checkpoint.pt`` is written every
epoch and removed when every member has completed.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from pathlib import Path

from ..distillation import DistillationLoss
from ..distillation.pack import PackLoss
from ..names import Experiment
from ..io import remove_stale_temporaries, write_json_atomic, write_text_atomic
from ..models import count_parameters
from ..models.fused import build_fused, member_state
from ..provenance import provenance
from .checkpoint import save as save_weights
from .data import load_run_data
from ..execution.device import autocast, claim_device, configure, device_name, prepare_model, uses_channels_last
from .fit import PackResult, fit
from .loop import TrainingError
from .spec import Pack, RunSpec
from .targets import PackTeachers
from .teachers import CachedLogits, read_teacher_logits

HISTORY_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")


def train_pack(pack: Pack, windows, gaf=None, *, training: dict, threads: int = 1, gpus: int = 0, gpu_slots=None,
               live_teachers=None) -> dict:
    """Train every member of ``pack`` and write its outputs; start-up and data loading are paid once.

    ``live_teachers`` (tests and benchmarks, packs of one) replaces the cached logits by teachers run
    on every batch.
    """
    device = claim_device(training.get("device", "auto"), gpus, gpu_slots)
    configure(threads, training.get("deterministic", True), device)
    first, seeds = pack.members[0], [m.seed for m in pack.members]
    data = load_run_data(first.modality, windows, gaf)
    sources, slots, digests = _teacher_sources(pack, data.windows_digest, live_teachers)
    records = [provenance(m.settings(data.windows_digest, training, d)) for m, d in zip(pack.members, digests)]
    pack_record = pack.record(r["settings_digest"] for r in records)
    model = prepare_model(build_fused(first.arch, first.modality, data.num_classes, seeds)
                          .to(device), training)
    data = data.to(device)
    data.channels_last = uses_channels_last(training)  # the 2-D batches; 1-D models lay theirs out themselves
    teachers = PackTeachers([s if live_teachers is not None else CachedLogits(s.to(device)) for s in sources],
                            slots, device)
    loss = PackLoss([_member_loss(m) for m in pack.members], device)
    checkpoint = Path(pack.folder) / "checkpoint.pt"
    remove_stale_temporaries(checkpoint.parent)
    for member in pack.members:
        remove_stale_temporaries(member.run_dir)
    params = count_parameters(model) // pack.width  # each member's: a plain model's count
    logging.info("pack %s: %d × %s %s:%s on %s, %d parameters each, %d train / %d test windows", pack.name,
                 pack.width, first.dataset, first.modality, first.arch, device_name(device), params,
                 len(data.train_idx), len(data.test_idx))
    precision = lambda: autocast(training, device)  # noqa: E731 — a fresh context per use
    result = fit(model, data, loss, teachers, training, seeds,
                 [str(m.run_dir) for m in pack.members], checkpoint, pack_record["members_digest"], precision)
    context = {"data": data, "device": device, "training": training, "pack": pack_record, "params": params}
    for m, member in enumerate(pack.members):
        if result.members[m].failure is None:
            _write_member(member, m, result, records[m], context, pack.width)
    failures = [r.failure for r in result.members if r.failure is not None]
    if failures:
        raise TrainingError(f"{len(failures)} of {pack.width} runs of pack {pack.name} diverged (the others' results "
                            f"are written and kept in {checkpoint}): " + "; ".join(failures))
    checkpoint.unlink(missing_ok=True)
    return {"pack": pack.name, "width": pack.width, "seconds": round(result.seconds, 3),
            "members": [{"run": str(member.run_dir), "best_test_acc": r.best_test_acc, "best_epoch": r.best_epoch,
                         "final_test_acc": r.final_test_acc} for member, r in zip(pack.members, result.members)]}


def _member_loss(member: RunSpec) -> DistillationLoss:
    if member.is_teacher:
        return DistillationLoss()
    e = member.experiment
    return DistillationLoss(e.weights, e.lam or 0.0, member.temperature)


def _teacher_sources(pack: Pack, windows_digest: str, live_teachers=None):
    """(distinct teacher logits or live teachers, each member's slots into them, each member's logits digests)."""
    if live_teachers is not None:
        if pack.width != 1:
            raise ValueError("live teachers are for packs of one")
        return list(live_teachers), [list(range(len(live_teachers)))], [()]
    index, sources, source_digests, slots, digests = {}, [], [], [], []
    for member in pack.members:
        member_slots = []
        for path in member.teacher_logits:
            if path not in index:
                tensor, digest = read_teacher_logits(path, windows_digest)
                index[path] = len(sources)
                sources.append(tensor)
                source_digests.append(digest)
            member_slots.append(index[path])
        slots.append(member_slots)
        digests.append(tuple(source_digests[i] for i in member_slots))
    return sources, slots, digests


def _write_member(member: RunSpec, m: int, result: PackResult, record: dict, context: dict, width: int) -> None:
    run, data, device = result.members[m], context["data"], context["device"]
    final = member_state(result.final_state, m, width)
    weights = {"arch": member.arch, "modality": member.modality, "num_classes": data.num_classes, "final": final,
               "best": run.best_state, "best_epoch": run.best_epoch, "mean": data.mean.cpu(), "std": data.std.cpu(),
               "windows_digest": data.windows_digest, "settings_digest": record["settings_digest"]}
    save_weights(member.outputs["weights"], weights)
    write_text_atomic(member.outputs["history"], _history_csv(run.history))
    metrics = {"dataset": member.dataset, **member.labels, "seed": member.seed, "best_test_acc": run.best_test_acc,
               "best_epoch": run.best_epoch, "final_test_acc": run.final_test_acc,
               "epochs": context["training"]["epochs"], "params": context["params"], "seconds": round(result.seconds, 3),
               "device": device_name(device), "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
               "resumed_from_epoch": result.resumed_from, "pack": context["pack"], "confusion_best": run.confusion,
               **record}
    write_json_atomic(member.outputs["metrics"], metrics)


# -- one run: a pack of one (the API of tests, benchmarks and notebooks) ----------------------------

def train_teacher(windows, gaf, outputs: dict, *, dataset: str, modality: str, arch: str, seed: int,
                  training: dict, threads: int = 1, gpus: int = 0, gpu_slots=None) -> dict:
    member = RunSpec(dataset, modality, arch, seed, dict(outputs))
    return _single(member, windows, gaf, training, threads, gpus, gpu_slots)


def distill(windows, logits_paths, outputs: dict, *, dataset: str, spec: str, student_arch: str, seed: int,
            temperature: float, training: dict, threads: int = 1, gpus: int = 0, gpu_slots=None,
            live_teachers=None) -> dict:
    """Train the 1-D student of experiment ``spec`` from cached teacher logits (or ``live_teachers``)."""
    member = RunSpec(dataset, "sig", student_arch, seed, dict(outputs), Experiment.parse(spec),
                     tuple(str(p) for p in logits_paths), float(temperature))
    return _single(member, windows, None, training, threads, gpus, gpu_slots, live_teachers)


def _single(member, windows, gaf, training, threads, gpus, gpu_slots, live_teachers=None) -> dict:
    pack = Pack(member.run_dir.name, (member,), str(member.run_dir))
    result = train_pack(pack, windows, gaf, training=training, threads=threads, gpus=gpus, gpu_slots=gpu_slots,
                        live_teachers=live_teachers)
    return {**result["members"][0], "seconds": result["seconds"]}


def _history_csv(history) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in history)
    return buffer.getvalue()
