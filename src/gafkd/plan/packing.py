"""Which runs train together: the study's packs, decided by the config alone (never by the host).

Teachers pack by (dataset, modality, arch): their seeds. Students pack by dataset: every experiment
and seed of the grid, seed-major (so a pack needs the teachers of few seeds), cut into balanced
packs of at most the student width. ``auto`` widths follow ``training.device`` — what the config says
about where training runs, so that ``snakemake -n`` plans the same jobs on a GPU node, a login node
without a driver and a laptop — and never plan a pack whose estimated peak device memory
(:mod:`gafkd.models.memory`, with ``DATA_ALLOWANCE`` for the resident data) exceeds ``MEMORY_BUDGET``.

The widths themselves: ``packing.measured`` — what ``gafkd bench --pack-widths`` measured on the
machine that trains, per device, role and ``modality:arch`` (:mod:`gafkd.bench.widths`; the overlay it
writes is part of the config, so every plan and result records the choice). Without a measurement,
:data:`AUTO_WIDTHS`: on CPU, teachers alone and students 4 a pack (start-up paid once per pack;
docs/performance.md, "Run packs"); on CUDA, 3 teachers (every seed) and 64 students, *not yet measured*
with grouped convolutions (the device check, ``gafkd bench --cuda-check``, measures them).
"""

from __future__ import annotations

import os

from ..classes import class_names
from ..data.formats import channel_count
from ..images.registry import SIGNAL, input_channels, is_image
from ..grid import (annealing_source, for_dataset, image_source, student_runs, student_views, teacher_runs,
                    teacher_seed)
from ..models.families import MODALITY_DIMS
from ..models.memory import CUDA_CONTEXT, PackMemory, job_memory_share, pack_memory, parameters, widest
from ..distillation.registry import KD, KD_FORMS, live, recipe_of
from ..errors import ConfigError
from ..kinds import ALONE_KIND, TEACHER
from ..names import Experiment, ModelId
from ..training.settings import TrainingSettings
from ..training.spec import Pack, RunSpec

AUTO_WIDTHS = {"cpu": {"teachers": 1, "students": 4}, "cuda": {"teachers": 3, "students": 64}}
MEMORY_BUDGET = 8 * 2**30  # bytes a planned pack may use: a 10 GB card (RTX 3080) after CUDA's context
DATA_ALLOWANCE = 2**30  # planning's room for the resident data (inputs, logits), unknown before windowing


HEAVY_TEACHER = 2_000_000  # parameters of a 2-D teacher (3 channels, 14 classes) from which FP32 cores take hours


def fp32_teacher_note(config: dict) -> str | None:
    """A sentence when CUDA teachers train in fp32 and some 2-D teacher is large (WRN28-3: 3.3 M parameters): on
    FP32 cores, not TF32 tensor cores, a gene14 pack of them is estimated (unmeasured) at about 2 h, at the edge of
    the SLURM profile's 120-minute runtime."""
    training = TrainingSettings.of(config["training"])
    if training.device != "cuda" or training.for_stage("teachers").precision != "fp32":
        return None
    heavy = sorted({arch for d in config["datasets"] for modality, arch, _ in teacher_runs(for_dataset(config, d))
                    if is_image(modality) and parameters(arch, 3, 2, 14) >= HEAVY_TEACHER})
    if not heavy:
        return None
    return (f"training.precision fp32 trains the 2-D {', '.join(heavy)} teachers on the GPU's FP32 cores, not its "
            "TF32 tensor cores: about 2 h per gene14 pack (an estimate, not measured), at the edge of profiles/slurm's "
            "120-minute runtime. precision: {teachers: tf32, students: fp32} keeps the students in fp32.")


def check_gpu_sharing(config: dict, packs, cards: list[int]) -> None:
    """Refuse, before any job starts, packs whose planned peak does not fit their share of the smallest card
    (``cards``: this host's GPUs' memory in bytes, :func:`gafkd.execution.resources.gpu_memory`); ``packs``:
    (dataset, :class:`Pack`) pairs. Nothing to check off CUDA or where no card is visible (a login node)."""
    if config["training"]["device"] != "cuda" or not cards:
        return
    jobs = config["training"]["gpu_jobs_per_device"]
    share = job_memory_share(min(cards), jobs)
    over = []
    for dataset, pack in packs:
        first = pack.members[0]
        peak = planned_memory(config, dataset, first.modality, first.arch, pack.width).peak
        if peak > share:
            over.append(f"{dataset}/{pack.name} ({pack.width} × {first.modality}:{first.arch}, "
                        f"{peak / 2**30:.2f} GiB)")
    if over:
        raise ConfigError(
            f"training.gpu_jobs_per_device: {jobs} jobs sharing a {min(cards) / 2**30:.1f} GiB card leave each "
            f"{share / 2**30:.2f} GiB (its part, less {CUDA_CONTEXT / 2**30:.1f} GiB of CUDA context), and "
            f"{len(over)} pack(s) are planned above it: {', '.join(over[:5])}{' …' if len(over) > 5 else ''}; "
            "lower training.gpu_jobs_per_device, or the packing width of those packs' role")
OUTPUTS = ("metrics", "history", "weights")
FILES = {"metrics": "metrics.json", "history": "history.csv", "weights": "weights.pt"}


def pack_widths(config: dict) -> dict:
    """{"teachers": n, "students": n}: the configured widths, ``auto`` resolved for ``training.device``.

    The most runs per pack; :func:`pack_width` lowers ``auto`` further where memory requires it.
    """
    kind, packing = config["training"]["device"], config["packing"]
    return {role: AUTO_WIDTHS[kind][role] if packing[role] == "auto" else int(packing[role])
            for role in ("teachers", "students")}


def planned_memory(config: dict, dataset: str, modality: str, arch: str, width: int,
                   data_bytes: int = DATA_ALLOWANCE) -> PackMemory:
    """The memory estimate of a pack of ``width`` runs of ``modality:arch`` on ``dataset``, from the config."""
    settings = config["datasets"][dataset]
    positions = (settings["window"],) if modality == SIGNAL else (config["images"]["image_size"],) * 2
    classes = len(class_names(settings["classes"], f"datasets.{dataset}.classes"))
    channels = input_channels(modality, channel_count(settings["source"]))
    params = parameters(arch, channels, MODALITY_DIMS[modality], classes)
    batch_size = for_dataset(config, dataset)["training"]["batch_size"]  # the dataset's protocol
    return pack_memory(arch, channels, positions, width, batch_size, params, data_bytes)


def measured_width(config: dict, role: str, modality: str, arch: str) -> int | None:
    """The width ``gafkd bench --pack-widths`` chose for ``role``'s packs of ``modality:arch`` on the config's
    training device (``packing.measured``), or None where it measured none."""
    measured = config["packing"].get("measured", {}).get(config["training"]["device"], {})
    return measured.get(role, {}).get(f"{modality}:{arch}")


def pack_width(config: dict, dataset: str, role: str, modality: str, arch: str) -> int:
    """The width of ``role``'s packs of ``modality:arch`` on ``dataset``: an integer setting as it is;
    ``auto``, the measured width (else the device's default) lowered until the planned peak fits
    ``MEMORY_BUDGET``."""
    if config["packing"][role] != "auto":
        return int(config["packing"][role])
    width = measured_width(config, role, modality, arch) or pack_widths(config)[role]
    return widest(lambda w: planned_memory(config, dataset, modality, arch, w).peak, MEMORY_BUDGET, most=width)


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


def images_path(results: str, dataset: str, representation: str) -> str:
    """A representation's images of ``dataset`` (``gaf.h5``: the group's GASF)."""
    return os.path.join(results, dataset, f"{representation}.h5")


def images_of(config: dict, results: str, dataset: str, representation: str) -> str:
    """The images ``dataset``'s models train on in ``representation`` (a fold may share its dataset's)."""
    return images_path(results, image_source(config, dataset, representation), representation)


def logits_path(results: str, dataset: str, teacher: str, seed: int) -> str:
    """The cached logits of teacher ``modality:arch`` at ``seed``."""
    model = ModelId.parse(teacher)
    return os.path.join(teacher_dir(results, dataset, model.modality, model.arch, seed), "logits.h5")


def run_outputs(folder) -> dict:
    """A run's three output files in ``folder``."""
    return {key: os.path.join(folder, FILES[key]) for key in OUTPUTS}


def teacher_packs(config: dict, results: str, dataset: str, width: int | None = None) -> list[Pack]:
    """The teacher packs of ``dataset`` (``width``: instead of the configured one, for tests)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for modality, arch, seed in teacher_runs(for_dataset(config, dataset)):
        groups.setdefault((modality, arch), []).append(seed)
    packs = []
    for (modality, arch), seeds in groups.items():
        size = width or pack_width(config, dataset, "teachers", modality, arch)
        for chunk in balanced_chunks(seeds, size):
            name = f"{modality}-{arch}_seeds{'-'.join(map(str, chunk))}"
            members = tuple(RunSpec(dataset, modality, arch, seed,
                                    run_outputs(teacher_dir(results, dataset, modality, arch, seed))) for seed in chunk)
            packs.append(Pack(name, members, os.path.join(results, dataset, "packs", name)))
    return packs


# Student packs by what their members need, so that no member waits on another's needs: cached logits
# from a random start (the study's first protocol), annealed starts (they train after the student alone),
# and live teachers, for losses that need what no cache holds (stage outputs, embeddings: SPKD, the
# projector); cached members never pay for those.
STUDENT_GROUPS = {(False, False): "students", (True, False): "annealed", (False, True): "live",
                  (True, True): "annealed_live"}


def _student_group(experiment: Experiment, students: dict) -> str:
    return STUDENT_GROUPS[experiment.method.annealed, _live(experiment, students)]


def _live(experiment: Experiment, students: dict) -> bool:
    return bool(experiment.teachers) and live(experiment.variant, students)


def student_packs(config: dict, results: str, dataset: str, width: int | None = None) -> list[Pack]:
    """The student packs of ``dataset`` (``width``: instead of the configured one, for tests)."""
    packs = []
    for view in student_views(for_dataset(config, dataset)):  # each student architecture
        students = view["students"]
        arch, temperature = students["arch"], float(students["temperature"])
        runs = [(experiment, seed) for seed in students["seeds"] for experiment in student_runs(view)]
        size = width or pack_width(view, dataset, "students", SIGNAL, arch)
        for group in STUDENT_GROUPS.values():
            chunks = balanced_chunks([r for r in runs if _student_group(r[0], students) == group], size)
            for k, chunk in enumerate(chunks, 1):
                name = f"{arch}_{group}{k}of{len(chunks)}"
                members = tuple(_student(view, results, dataset, arch, experiment, seed, temperature)
                                for experiment, seed in chunk)
                packs.append(Pack(name, members, os.path.join(results, dataset, "packs", name)))
    return packs


def annealing_weights(config: dict, results: str, dataset: str, seed: int) -> str:
    """The weights.pt an annealed student of ``seed`` starts from: the student alone's run (the signal
    teacher's when it is that run, :func:`gafkd.grid.baseline_is_teacher`)."""
    arch = config["students"]["arch"]
    folder = (teacher_dir(results, dataset, SIGNAL, arch, seed) if annealing_source(config) == TEACHER
              else student_dir(results, dataset, arch, ALONE_KIND, seed))
    return run_outputs(folder)["weights"]


def _student(config, results, dataset, arch, experiment: Experiment, seed: int, temperature: float) -> RunSpec:
    logits = tuple(logits_path(results, dataset, t, teacher_seed(config, seed)) for t in experiment.teachers)
    # the checkpoint students learn from (and, annealed, start from): the one teacher_logits caches
    which = lambda: config["training"]["teacher_weights"]  # noqa: E731 — asked only by annealed and live runs
    init = (annealing_weights(config, results, dataset, seed), which()) if experiment.method.annealed else None
    live = ()
    if _live(experiment, config["students"]):  # the teachers run live, on their own inputs
        models = [ModelId.parse(t) for t in experiment.teachers]
        live = tuple((run_outputs(teacher_dir(results, dataset, m.modality, m.arch, teacher_seed(config, seed)))
                      ["weights"], which(), images_of(config, results, dataset, m.modality) if is_image(m.modality) else "")
                     for m in models)
    students = config["students"]
    kd = KD_FORMS[students["kd_loss"]] if experiment.teachers else KD
    authors = bool(experiment.teachers) and recipe_of(students, experiment.variant) is not None
    return RunSpec(dataset, SIGNAL, arch, seed, run_outputs(student_dir(results, dataset, arch, experiment.spec, seed)),
                   experiment, () if live else logits, temperature, init, live, kd, authors)


STAGE_FILES = {"train_teacher": "teachers.json", "teacher_logits": "logits.json", "distill": "students.json"}


def pack_manifest(results: str, dataset: str, pack: str, stage: str) -> str:
    """The file a pack's ``stage`` job declares as its output: its members and what became of them.

    A pack's members are not Snakemake outputs (a rule's outputs are patterns of its wildcards, and a
    pack's member count and folders are not): one rule per stage takes the pack as a wildcard, writes
    each member's files atomically, and this manifest last.
    """
    return os.path.join(results, dataset, "packs", pack, STAGE_FILES[stage])
