"""``gafkd bench --pack-widths FILE``: the pack width that pays on this machine, per role and model, as a config
overlay (``packing.measured``) that ``packing: auto`` then follows (:func:`gafkd.plan.packing.pack_width`).

For every model the config trains — each teacher ``modality:arch`` and each student architecture — a pack of
each candidate width trains through the real epoch loop (:meth:`Bench.pack_speeds`, all members' samples/s
together, the widths in alternating rounds) against one run alone, on this machine's device (CUDA when there
is one; ``--device`` chooses), and the overlay is keyed by that device. A width is chosen where its pack trains
its runs at least :data:`PAYS` times as fast as one run at a time, the fastest such width; 1 where every
pack loses, as on the CPUs measured so far (docs/performance.md, "Pack widths"). Process start-up, which a
pack pays once, is not counted: at the study's sizes a run trains for minutes, not seconds (the demo's
2-epoch runs set their widths in demo.yaml instead).

Image representations share a measurement (a 2-D model costs the same on any of them; :func:`measured_as`),
but each is recorded under its own name, as the packs are planned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import torch
import yaml

from ..classes import class_names
from ..data.formats import channel_count
from ..images.registry import SIGNAL
from ..grid import for_dataset, student_runs, student_views, teacher_runs
from ..models.families import MODALITY_DIMS, family_of
from ..models.memory import parameters
from ..provenance import cpu_model
from .budget import Budget
from .harness import Bench, measured_as
from .timing import bench_device

# widths tried per device and role (never more than the runs there are to pack); a CUDA card has room for more
CANDIDATES = {"cpu": {"teachers": (1, 2, 3), "students": (1, 2, 4, 8)},
              "cuda": {"teachers": (1, 2, 3), "students": (1, 4, 16, 64)}}
PAYS = 1.1  # a pack must train its runs this much faster than one at a time: below it, noise and start-up decide
BUDGET = 120.0  # seconds, unless --budget says otherwise
STEPS = 2  # batches per timed epoch and member


@dataclass(frozen=True)
class Model:
    """A model the config trains in ``role``'s packs, with the shape of the first dataset that trains it and
    the most runs one pack of it could hold there."""

    role: str
    modality: str
    arch: str
    length: int
    axes: int
    classes: int
    runs: int

    @property
    def name(self) -> str:
        return f"{self.modality}:{self.arch}"


def trained_models(config: dict) -> list[Model]:
    """Every (role, modality:arch) the config trains, cheapest first (so that a short budget measures the most
    models): students, then teachers, 1-D before 2-D, by parameter count."""
    found: dict[tuple[str, str, str], Model] = {}

    def add(role, modality, arch, dataset, runs):
        key = (role, modality, arch)
        if key in found:  # the first dataset's shape; the most runs of any
            found[key] = replace(found[key], runs=max(runs, found[key].runs))
            return
        settings = config["datasets"][dataset]
        found[key] = Model(role, modality, arch, settings["window"], channel_count(settings["source"]),
                           len(class_names(settings["classes"], f"datasets.{dataset}.classes")), runs)

    for dataset in config["datasets"]:
        view = for_dataset(config, dataset)
        for student_view in student_views(view):
            students = student_view["students"]
            add("students", SIGNAL, students["arch"], dataset, len(student_runs(student_view)) * len(students["seeds"]))
        seeds: dict[tuple[str, str], int] = {}
        for modality, arch, _ in teacher_runs(view):
            seeds[modality, arch] = seeds.get((modality, arch), 0) + 1
        for (modality, arch), runs in seeds.items():
            add("teachers", modality, arch, dataset, runs)
    return sorted(found.values(), key=lambda m: (m.role != "students", MODALITY_DIMS[m.modality],
                                                 parameters(m.arch, m.axes, MODALITY_DIMS[m.modality], m.classes)))


def choose(rates: dict[int, float]) -> int:
    """The width to train at from aggregate samples/s by width (1 measured): the fastest width whose pack beats
    one run by :data:`PAYS`, else 1."""
    alone = rates[1]
    paying = {w: r for w, r in rates.items() if w == 1 or r >= PAYS * alone}
    return max(paying, key=lambda w: (paying[w], -w))


def measure(config: dict, device: str = "auto", threads: int | None = None, budget: float | None = BUDGET) -> dict:
    """Per model: samples/s by width (timed in alternating rounds) and the chosen width, on ``device`` (auto:
    CUDA when there is one). Models that do not fit the ``budget`` keep the default width and are listed."""
    dev = bench_device(device, threads)
    clock = Budget(budget)
    image_size = config["images"]["image_size"]
    shared: dict[tuple, dict[int, float]] = {}  # image representations share a measurement

    def rates(model):
        widths = [w for w in CANDIDATES[dev.type][model.role] if w <= max(model.runs, 1)]
        key = (measured_as(model.modality), model.arch, model.length, model.axes, model.classes, tuple(widths))
        if key not in shared:
            bench = Bench(dev, quick=False, image_size=image_size, num_classes=model.classes, axes=model.axes)
            shared[key] = bench.pack_speeds(measured_as(model.modality), model.arch, widths, STEPS, model.length)
        return model, shared[key]

    models = [m for m in trained_models(config) if MODALITY_DIMS[m.modality] in family_of(m.arch).dims]
    measured = clock.each(models, rates, lambda m: f"{m.role} {m.name}")
    chosen = [{"role": m.role, "model": m.name, "samples_per_s": r, "width": choose(r)} for m, r in measured]
    return {"device": dev.type, "device_name": machine_name(dev), "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "date": date.today().isoformat(), "pays": PAYS, "models": chosen, "skipped": clock.skipped,
            "seconds": round(clock.clock() - clock.start, 1)}


def machine_name(dev: torch.device) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()


def overlay(report: dict) -> dict:
    """The config overlay that records the choice: ``packing.measured.<device>``."""
    entry = {"bench": f"{report['device_name']}, {report['threads']} threads, torch {report['torch']}, CPU capability "
                      f"{report['cpu_capability']}, {report['date']}"}
    for role in ("teachers", "students"):
        widths = {m["model"]: m["width"] for m in report["models"] if m["role"] == role}
        if widths:
            entry[role] = widths
    return {"packing": {"measured": {report["device"]: entry}}}


def format_report(report: dict) -> str:
    """What was measured, as comment lines above the overlay (the file says why it holds what it holds)."""
    lines = [f"Pack widths measured by `gafkd bench --pack-widths` on {report['device_name']} ({report['device']}, "
             f"{report['threads']} threads, CPU capability {report['cpu_capability']}), {report['date']}, "
             f"{report['seconds']:g} s.",
             f"Aggregate training samples/s of a pack against one run; chosen: the fastest width at least "
             f"{report['pays']:g}× one run, else 1.",
             "Use: snakemake ... --configfile config.yaml THIS_FILE (packing: auto then follows it)."]
    for m in report["models"]:
        alone = m["samples_per_s"][1]
        ratios = ", ".join(f"{w} → {r / alone:.2f}×" for w, r in sorted(m["samples_per_s"].items()))
        lines.append(f"  {m['role']} {m['model']}: {alone:,.0f} samples/s alone; {ratios}; chosen {m['width']}")
    for skip in report["skipped"]:
        lines.append(f"  not measured (the budget): {skip['what']}; auto keeps the default width")
    return "\n".join(lines)


def write_overlay(report: dict, path) -> None:
    """The overlay with its report as comments, written atomically (a half-written config would be read)."""
    from ..io import write_text_atomic

    comments = "".join(f"# {line}\n" for line in format_report(report).splitlines())
    write_text_atomic(path, comments + yaml.safe_dump(overlay(report), sort_keys=False, allow_unicode=True))
