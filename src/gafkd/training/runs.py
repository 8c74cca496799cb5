"""Runs end to end: what the training rules call. A pack of runs trains as one fused model in one process.

Outputs per member (atomic, in its own run folder): ``metrics.json`` (accuracies in %, its status — ``ok``
or ``diverged`` —, provenance, resolved settings and digest, the numerics used, the pack it trained in),
``history.csv`` (one row per epoch) and ``weights.pt`` (final, best-test-epoch and, with a validation
split, best-validation-epoch weights of the plain, unfused model plus the input normalisation; loadable
with ``torch.load(..., weights_only=True)``). The pack's ``checkpoint.pt`` is written every epoch and
removed when every member has its result; the job's manifest (its Snakemake output) is written last.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from ..distillation.pack import PackLoss
from ..distillation.registry import FEATURES, MAP, VARIANTS
from ..distillation.spec import LossSpec
from ..errors import DataError, GafkdError
from ..images.registry import SIGNAL
from ..io import remove_stale_temporaries, write_json_atomic, write_text_atomic
from ..models import count_parameters, embedding_size
from ..models.fused import build_fused, load_member, member_state
from ..models.families import MODALITY_DIMS
from ..models.memory import PackMemory, job_memory_share, live_teacher_memory, pack_memory, widest
from ..names import Experiment
from ..provenance import provenance
from .checkpoint import save as save_weights
from .data import RunData, load_run_data
from .device import (autocast, configure, determinism_error, device_environment, device_memory, device_name,
                     free_device_memory, prepare_model, select_device, uses_channels_last)
from .fit import PackResult, fit
from .settings import TrainingSettings
from .spec import Pack, RunSpec
from .targets import CachedTeachers, LiveTeachers
from .teachers import load_teacher, read_teacher_logits, teacher_inputs

HISTORY_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "val_loss", "val_acc", "seconds")
FITS = 0.9  # share of a device's memory a pack may be planned to use when an error suggests a width


class PackMemoryError(GafkdError):
    """A pack ran out of device memory."""


def train_pack(pack: Pack, windows, images=None, *, training: TrainingSettings | dict, threads: int = 1,
               gpus: int = 0, live_teachers=None, manifest=None) -> dict:
    """Train every member of ``pack`` and write its outputs; start-up and data loading are paid once.

    ``training`` is the config's section (missing keys take the schema's defaults). A member that
    diverges is written as a result (``status: diverged``) and the job succeeds; running out of memory
    or a kill fails the job and the next attempt resumes from the checkpoint. ``live_teachers`` (tests
    and benchmarks, packs of one) replaces the cached logits by teachers run on every batch. ``manifest``
    (the workflow's output of the job) is written last: the members' run folders and statuses.
    """
    job = PackJob.prepare(pack, windows, images, TrainingSettings.of(training).for_stage(_role(pack)), threads,
                          gpus, live_teachers)
    summary = job.write(job.train())
    if manifest is not None:
        write_json_atomic(manifest, summary)
    return summary


@dataclass
class PackJob:
    """A pack's training job, set up: what training reads and what the writers record."""

    pack: Pack
    training: TrainingSettings  # the pack's stage's
    device: torch.device
    numerics: dict
    data: RunData
    model: torch.nn.Module
    teachers: object  # a teacher provider (gafkd.training.targets), or None for teacher packs
    loss: PackLoss
    records: list[dict]  # each member's provenance: resolved settings and their digest
    params: int  # each member's parameter count (a plain model's)
    memory: PackMemory
    sources: list  # the distinct teachers' cached logits (memory estimates)
    live: list  # the live teachers' memory (memory estimates)

    @classmethod
    def prepare(cls, pack: Pack, windows, images, training: TrainingSettings, threads: int, gpus: int,
                live_teachers=None):
        device = select_device(training.device, gpus)
        numerics = configure(threads, training, device)
        first = pack.members[0]
        data = load_run_data(first.modality, windows, images, training.inputs)
        losses = [_member_loss(m) for m in pack.members]
        teachers = _teacher_provider(pack, losses, data.windows_digest, windows, training, device, live_teachers)
        records = [provenance(m.settings(data.windows_digest, training, d)) for m, d in zip(pack.members,
                                                                                           teachers.digests)]
        if data.images is not None:  # which representation settings (a PI recipe, say) made the inputs
            records = [{**r, "images": data.images} for r in records]
        if teachers.records is not None:  # live teachers: which checkpoints ran
            records = [{**r, "live_teachers": t} for r, t in zip(records, teachers.records)]
        fused = build_fused(first.arch, first.modality, data.num_classes, [m.seed for m in pack.members], axes=data.axes)
        for m, member in enumerate(pack.members):
            if member.init_from:  # annealed: this member starts from the student alone's weights
                records[m]["init"] = _anneal(fused, m, pack.width, member, data.windows_digest)
        model = prepare_model(fused.to(device), training)
        params = count_parameters(model) // pack.width
        memory = estimate_memory(first.arch, data, pack.width, training.batch_size, params, teachers.resident,
                                 teachers.live)
        data = data.to(device)
        data.channels_last = uses_channels_last(training)  # the 2-D batches; 1-D models lay theirs out themselves
        heads = teachers.provider.heads() if any(MAP in spec.needs for spec in losses) else None  # CA-MKD's adapters
        loss = PackLoss(losses, device, seeds=[m.seed for m in pack.members], student_dim=embedding_size(model),
                        teacher_dims=getattr(teachers.provider, "embedding_dims", None), teacher_heads=heads,
                        cross_entropy=training.cross_entropy)
        return cls(pack, training, device, numerics, data, model, teachers.provider, loss, records, params, memory,
                   teachers.resident, teachers.live)

    @property
    def checkpoint(self) -> Path:
        return Path(self.pack.folder) / "checkpoint.pt"

    @cached_property
    def pack_record(self) -> dict:
        return self.pack.record(r["settings_digest"] for r in self.records)

    def train(self) -> PackResult:
        """Every member's epochs (resuming from the checkpoint); out-of-memory and determinism errors in one sentence."""
        pack, first = self.pack, self.pack.members[0]
        remove_stale_temporaries(self.checkpoint.parent)
        for member in pack.members:
            remove_stale_temporaries(member.run_dir)
        logging.info("pack %s: %d × %s %s:%s on %s (%s), %d parameters each, %d train / %d test windows", pack.name,
                     pack.width, first.dataset, first.modality, first.arch, device_name(self.device),
                     self.numerics["computed_in"], self.params, len(self.data.train_idx), len(self.data.test_idx))
        _check_memory(pack, self.memory, self.device, self.training.gpu_jobs_per_device)
        precision = lambda: autocast(self.training, self.device)  # noqa: E731 — a fresh context per use
        try:
            return fit(self.model, self.data, self.loss, self.teachers, self.training, pack, self.checkpoint,
                       self.pack_record["members_digest"], precision, self.memory.eval_rows)
        except torch.cuda.OutOfMemoryError:
            raise self._out_of_memory() from None
        except RuntimeError as exc:
            if "can't allocate memory" in str(exc):  # the CPU allocator's out-of-memory
                raise self._out_of_memory() from None
            raise determinism_error(exc) or exc

    def write(self, result: PackResult) -> dict:
        """Each member's files (a diverged one's too), then the checkpoint goes; the job's summary."""
        for m, member in enumerate(self.pack.members):
            _write_member(self, member, m, result)
        self.checkpoint.unlink(missing_ok=True)
        return {"pack": self.pack.name, "width": self.pack.width, "seconds": round(result.seconds, 3),
                "members": [{"run": str(member.run_dir), "metrics": member.outputs["metrics"], "status": r.status,
                             "best_test_acc": r.best_test_acc, "best_epoch": r.best_epoch,
                             "final_test_acc": r.final_test_acc}
                            for member, r in zip(self.pack.members, result.members)]}

    def _out_of_memory(self) -> "PackMemoryError":
        pack, capacity = self.pack, device_memory(self.device)
        fits = ("" if capacity is None else
                f"; set packing.{_role(pack)}: "
                f"{widest_fitting(pack.members[0].arch, self.data, self.training.batch_size, self.params, self.sources, capacity, self.live)}"
                f" (the widest pack whose estimate fits {FITS:.0%} of the device's {capacity / 2**30:.1f} GiB)")
        return PackMemoryError(f"pack {pack.name} ({pack.width} runs) ran out of memory on {device_name(self.device)}: "
                               f"{self.memory.describe()}{fits}; its last finished epoch is kept in {pack.folder}")


def estimate_memory(arch: str, data: RunData, width: int, batch_size: int, params: int, sources=(),
                    live=()) -> PackMemory:
    """The pack's peak device memory from the model's shapes, the data it keeps on the device and, for live
    teachers (:class:`~gafkd.models.memory.LiveTeacherMemory` each), what they keep and run."""
    resident = (data.inputs.nbytes + data.labels.nbytes + sum(s.nbytes for s in sources
                                                              if isinstance(s, torch.Tensor)))
    return pack_memory(arch, data.inputs.shape[1], tuple(data.inputs.shape[2:]), width, batch_size, params, resident,
                       live)


def widest_fitting(arch: str, data: RunData, batch_size: int, params: int, sources, capacity: int, live=()) -> int:
    """The widest pack whose estimate fits ``FITS`` of ``capacity`` bytes (at least 1)."""
    return widest(lambda w: estimate_memory(arch, data, w, batch_size, params, sources, live).peak, FITS * capacity)


def _role(pack: Pack) -> str:
    return pack.members[0].stage


def _check_memory(pack: Pack, memory: PackMemory, device, jobs_per_device: int = 1) -> None:
    """Log the estimate against what this job may use: its share of the card (shared by ``jobs_per_device``
    jobs) and the memory free when it starts (other processes may hold some)."""
    capacity = device_memory(device)
    logging.info("pack %s: %s%s", pack.name, memory.describe(),
                 "" if capacity is None else f" of {capacity / 2**30:.1f} GiB on the device")
    if capacity is None:
        return
    free, _ = free_device_memory(device)
    share = job_memory_share(capacity, jobs_per_device)
    logging.info("pack %s: %.2f GiB free on the device at start; this job's share %.2f GiB (%d job(s) per device)",
                 pack.name, free / 2**30, share / 2**30, jobs_per_device)
    if memory.peak > min(share, free):
        logging.warning("pack %s: the estimate exceeds %s; lower packing.%s (or training.gpu_jobs_per_device) if it "
                        "runs out", pack.name, "the memory free now" if free < share else "this job's share",
                        _role(pack))


def _member_loss(member: RunSpec) -> LossSpec:
    if member.is_teacher:
        return LossSpec()
    e = member.experiment
    recipe = VARIANTS[e.variant].authors if member.authors_recipe and e.teachers else None
    if recipe is None:
        return LossSpec(e.teacher_weights, e.lam or 0.0, member.temperature, e.weighting, e.extras, member.kd)
    lam = e.lam or 0.0
    kd_weight = (lam if recipe.kd_weight is None else recipe.kd_weight) * \
        (recipe.kd_scale(len(e.teachers)) if recipe.kd_scale else 1.0)
    extras = tuple((name, recipe.coefficients.get(name, value)) for name, value in e.extras) + \
        tuple((name, recipe.coefficients[name]) for name in recipe.extras)
    return LossSpec(e.teacher_weights, lam, recipe.temperature or member.temperature, e.weighting, extras, member.kd,
                    ce_weight=recipe.ce_weight, kd_weight=kd_weight)


@dataclass
class _Teachers:
    """A pack's teachers, read: what makes its provider, each member's teacher digests (its identity) and
    live-teacher records, and what the memory estimate counts."""

    provider: object  # CachedTeachers, LiveTeachers, or None (no member has teachers)
    digests: list
    records: list | None = None
    resident: list = ()
    live: list = ()


def _teacher_provider(pack: Pack, losses: list[LossSpec], windows_digest: str, windows,
                      training: TrainingSettings, device, live_teachers=None) -> _Teachers:
    """Cached logits, or teachers run live when a member's losses need what no cache holds (or a test or
    benchmark hands its own ``live_teachers``: (model, RunData) pairs, for a pack of one)."""
    needs = frozenset().union(*(loss.needs for loss in losses))
    if live_teachers is not None:
        if pack.width != 1:
            raise ValueError("live teachers are for packs of one")
        return _Teachers(LiveTeachers(list(live_teachers), [list(range(len(live_teachers)))], needs), [()])
    if any(m.live_teachers for m in pack.members):
        return _live_teachers(pack, needs, windows, training, device)
    sources, slots, digests = _cached_logits(pack, windows_digest)
    return _Teachers(CachedTeachers(sources, slots, device) if sources else None, digests, resident=sources)


def _cached_logits(pack: Pack, windows_digest: str):
    """(distinct teacher logits, each member's slots into them, each member's logits digests)."""
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


def _live_teachers(pack: Pack, needs, windows, training: TrainingSettings, device) -> _Teachers:
    """The pack's teachers, run live (:class:`~gafkd.training.targets.LiveTeachers`): each distinct teacher
    loaded once, on its own inputs (each modality's read once) with its own training statistics, set up as
    training sets models up; what each member's metrics.json records about them (their digests: identity)."""
    index, teachers, slots, records, loaded = {}, [], [], [], {}
    for member in pack.members:
        member_slots, member_records = [], []
        for weights, which, images in member.live_teachers:
            if (weights, which) not in index:
                model, record = load_teacher(weights, which, device)
                data = teacher_inputs(loaded, record, weights, windows, images or None, training, device)
                index[weights, which] = len(teachers)
                teachers.append((prepare_model(model, training), data, record))
            member_slots.append(index[weights, which])
            member_records.append({"weights": weights, "checkpoint": which,
                                   "settings_digest": teachers[index[weights, which]][2]["settings_digest"]})
        slots.append(member_slots)
        records.append(member_records)
    live, modalities = [], set()
    for _, data, record in teachers:  # a modality's inputs are loaded once, for its first teacher
        inputs = 0 if record["modality"] in modalities else data.inputs.nbytes
        modalities.add(record["modality"])
        live.append(live_teacher_memory(record["arch"], data.inputs.shape[1], tuple(data.inputs.shape[2:]),
                                        data.num_classes, MODALITY_DIMS[record["modality"]], inputs,
                                        bool(needs & FEATURES)))
    provider = LiveTeachers([(model, data) for model, data, _ in teachers], slots, needs,
                            lambda: autocast(training, device))
    digests = [tuple(t["settings_digest"] for t in member) for member in records]
    return _Teachers(provider, digests, records, live=live)


def _anneal(fused, m: int, width: int, member: RunSpec, windows_digest: str) -> dict:
    """Load the member's starting weights (the student alone's chosen checkpoint) into the fused model;
    what metrics.json records about them."""
    path, which = member.init_from
    start, record = load_teacher(path, which)
    if record["windows_digest"] != windows_digest or (record["arch"], record["modality"]) != (member.arch,
                                                                                             member.modality):
        raise DataError(f"{path}: not a {member.modality}:{member.arch} run on these windows; rerun the student "
                        "alone it should be (students.baseline)")
    load_member(fused, m, width, start.state_dict())
    return {"from": str(path), "weights": which, "epoch": record.get(f"{which}_epoch") if which != "final"
            else None, "epochs_total": record.get("epochs_total"), "settings_digest": record["settings_digest"]}


def _epochs_total(epochs: int, record: dict) -> int | None:
    """The epochs behind a run: its own and, annealed, its start's (None when the start does not say)."""
    start = record.get("init", {}).get("epochs_total", 0) if "init" in record else 0
    return None if start is None else epochs + start


def _write_member(job: PackJob, member: RunSpec, m: int, result: PackResult) -> None:
    """The member's weights, history and metrics; a diverged member's say where, and keep its best epoch."""
    run, data, device, record = result.members[m], job.data, job.device, job.records[m]
    final = None if run.diverged else member_state(result.final_state, m, job.pack.width)
    weights = {"arch": member.arch, "modality": member.modality, "num_classes": data.num_classes, "axes": data.axes,
               "final": final,
               "best": run.best_state, "best_epoch": run.best_epoch, "best_val": run.best_val_state,
               "best_val_epoch": run.best_val_epoch, "mean": data.mean.cpu(), "std": data.std.cpu(),
               "inputs": data.inputs_record,
               "windows_digest": data.windows_digest, "settings_digest": record["settings_digest"],
               "status": run.status, "epochs_total": _epochs_total(job.training.epochs, record),
               "environment": device_environment(device)}
    save_weights(member.outputs["weights"], weights)
    write_text_atomic(member.outputs["history"], _history_csv(run.history))
    metrics = {"dataset": member.dataset, **member.labels, "seed": member.seed, "status": run.status,
               "diverged": run.diverged,
               "best_test_acc": run.best_test_acc if run.best_epoch else None, "best_epoch": run.best_epoch,
               "final_test_acc": None if run.diverged else run.final_test_acc,
               "best_val_epoch": run.best_val_epoch or None, "best_val_acc": run.best_val_acc if run.best_val_epoch
               else None, "test_acc_at_best_val": run.test_acc_at_best_val,
               "epochs": job.training.epochs, "epochs_total": _epochs_total(job.training.epochs, record),
               "params": job.params, "seconds": round(result.seconds, 3),
               "device": device_name(device), "environment": device_environment(device), "numerics": job.numerics,
               "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
               "resumed_from_epoch": result.resumed_from, "pack": job.pack_record,
               "memory_estimate_bytes": job.memory.peak, "confusion_best": run.confusion, **record}
    write_json_atomic(member.outputs["metrics"], metrics)


# -- one run: a pack of one (the API of tests, benchmarks and notebooks) ----------------------------

def train_teacher(windows, images, outputs: dict, *, dataset: str, modality: str, arch: str, seed: int,
                  training: TrainingSettings | dict, threads: int = 1, gpus: int = 0) -> dict:
    member = RunSpec(dataset, modality, arch, seed, dict(outputs))
    return _single(member, windows, images, training, threads, gpus)


def distill(windows, logits_paths, outputs: dict, *, dataset: str, spec: str, student_arch: str, seed: int,
            temperature: float, training: TrainingSettings | dict, threads: int = 1, gpus: int = 0,
            live_teachers=None, init_from: tuple[str, str] | None = None) -> dict:
    """Train the 1-D student of experiment ``spec`` from cached teacher logits (or ``live_teachers``);
    ``init_from`` (weights.pt, which checkpoint): an annealed student's start."""
    member = RunSpec(dataset, SIGNAL, student_arch, seed, dict(outputs), Experiment.parse(spec),
                     tuple(str(p) for p in logits_paths), float(temperature), init_from)
    return _single(member, windows, None, training, threads, gpus, live_teachers)


def _single(member, windows, images, training, threads, gpus, live_teachers=None) -> dict:
    pack = Pack(member.run_dir.name, (member,), str(member.run_dir))
    result = train_pack(pack, windows, images, training=training, threads=threads, gpus=gpus,
                        live_teachers=live_teachers)
    return {**result["members"][0], "seconds": result["seconds"]}


def _history_csv(history) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: (round(v, 6) if isinstance(v, float) else "" if v is None else v) for k, v in row.items()}
                     for row in history)
    return buffer.getvalue()
