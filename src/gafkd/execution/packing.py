"""Which runs train together: the study's packs, decided by the config alone (never by scheduling).

Teachers pack by (dataset, modality, arch): their seeds. Students pack by dataset: every experiment
and seed of the grid, seed-major (so a pack needs the teachers of few seeds), cut into balanced
packs of at most ``packing.students`` runs. ``auto`` widths are per device kind, chosen by
measurement (``gafkd bench``, section packs; docs/performance.md). On CPU the fused grouped
convolutions process fewer samples/s together than one run alone as a pack widens (much fewer for the
2-D teachers), so CPU teachers train alone and CPU students in packs of 4 (nearly free; start-up is paid
once per pack). On a GPU a run is launch-bound and wide packs fill the device.
"""

from __future__ import annotations

import os

from ..grid import teacher_runs, teacher_seed, trained_experiments
from ..names import Experiment, ModelId
from ..training.spec import Pack, RunSpec

AUTO_WIDTHS = {"cpu": {"teachers": 1, "students": 4}, "cuda": {"teachers": 3, "students": 64}}
OUTPUTS = ("metrics", "history", "weights")
FILES = {"metrics": "metrics.json", "history": "history.csv", "weights": "weights.pt"}


def pack_widths(config: dict, device_kind: str) -> dict:
    """{"teachers": n, "students": n} with ``auto`` resolved for ``device_kind`` (cpu | cuda)."""
    packing = config.get("packing", {})
    return {role: AUTO_WIDTHS[device_kind][role] if packing.get(role, "auto") == "auto" else int(packing[role])
            for role in ("teachers", "students")}


def balanced_chunks(items: list, width: int) -> list[list]:
    """``items`` in order, cut into the fewest chunks of at most ``width``, sizes differing by at most one."""
    if not items:
        return []
    count = -(-len(items) // width)
    size, extra = divmod(len(items), count)
    chunks, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        chunks.append(items[start:end])
        start = end
    return chunks


def teacher_dir(results: str, dataset: str, modality: str, arch: str, seed: int) -> str:
    return os.path.join(results, dataset, "teachers", f"{modality}-{arch}", f"seed{seed}")


def student_dir(results: str, dataset: str, arch: str, spec: str, seed: int) -> str:
    return os.path.join(results, dataset, "students", arch, spec, f"seed{seed}")


def logits_path(results: str, dataset: str, teacher: str, seed: int) -> str:
    """The cached logits of teacher ``modality:arch`` at ``seed``."""
    model = ModelId.parse(teacher)
    return os.path.join(teacher_dir(results, dataset, model.modality, model.arch, seed), "logits.h5")


def run_outputs(folder) -> dict:
    """A run's three output files in ``folder``."""
    return {key: os.path.join(folder, FILES[key]) for key in OUTPUTS}


def teacher_packs(config: dict, results: str, dataset: str, width: int) -> list[Pack]:
    groups: dict[tuple[str, str], list[int]] = {}
    for modality, arch, seed in teacher_runs(config):
        groups.setdefault((modality, arch), []).append(seed)
    packs = []
    for (modality, arch), seeds in groups.items():
        for chunk in balanced_chunks(seeds, width):
            name = f"{modality}-{arch}_seeds{'-'.join(map(str, chunk))}"
            members = tuple(RunSpec(dataset, modality, arch, seed,
                                    run_outputs(teacher_dir(results, dataset, modality, arch, seed))) for seed in chunk)
            packs.append(Pack(name, members, os.path.join(results, dataset, "packs", name)))
    return packs


def student_packs(config: dict, results: str, dataset: str, width: int) -> list[Pack]:
    students = config["students"]
    arch, temperature = students["arch"], float(students["temperature"])
    runs = [(experiment, seed) for seed in students["seeds"] for experiment in trained_experiments(config)]
    chunks = balanced_chunks(runs, width)
    packs = []
    for k, chunk in enumerate(chunks, 1):
        name = f"{arch}_students{k}of{len(chunks)}"
        members = tuple(_student(config, results, dataset, arch, experiment, seed, temperature)
                        for experiment, seed in chunk)
        packs.append(Pack(name, members, os.path.join(results, dataset, "packs", name)))
    return packs


def _student(config, results, dataset, arch, experiment: Experiment, seed: int, temperature: float) -> RunSpec:
    logits = tuple(logits_path(results, dataset, t, teacher_seed(config, seed)) for t in experiment.teachers)
    return RunSpec(dataset, "sig", arch, seed, run_outputs(student_dir(results, dataset, arch, experiment.spec, seed)),
                   experiment, logits, temperature)


def rule_name(stage: str, dataset: str, pack: Pack) -> str:
    """A Snakemake rule name for ``stage`` of ``pack``: ``{stage}__{dataset}__{pack}`` as an identifier."""
    clean = lambda text: "".join(c if c.isalnum() else "_" for c in text)  # noqa: E731
    return f"{stage}__{clean(dataset)}__{clean(pack.name)}"


def stage_of(rule: str) -> str:
    """The stage a (pack) rule belongs to: ``train_teachers__gene14_w500__…`` → ``train_teachers``."""
    return rule.split("__", 1)[0]
