# Shared by all the stage files — config validation, input functions, paths.

import copy
import os
import re
import sys

# (the Snakefile puts src/ first on sys.path)

from gafkd.config import (
    canonical_order,
    check_config,
    check_duplicate_keys,
    dataset_settings,
    report_config,
    select_datasets,
    with_defaults,
)
from gafkd.data.build import missing_data_folders
from gafkd.data.formats import is_synthetic
from gafkd.errors import ConfigError
from gafkd.folds import dataset_groups, expand_folds, fold_of, has_folds
from gafkd.gaf.registry import is_image
from gafkd.grid import (
    dataset_training,
    for_dataset,
    image_representations,
    image_settings,
    image_source,
)
from gafkd.execution.packing import (
    check_gpu_sharing,
    fp32_teacher_note,
    images_of,
    images_path,
    logits_path,
    pack_manifest,
    student_packs,
    teacher_packs,
)
from gafkd.execution.resources import gpu_memory, gpus_per_training_job
from gafkd.training.spec import training_identity

try:
    for path in workflow.configfiles:
        check_duplicate_keys(path)
    # the schema (types, ranges, unknown keys; its defaults filled in), run.datasets, then
    # what a schema cannot say
    check_config(select_datasets(with_defaults(config)))
except ConfigError as error:
    raise WorkflowError(f"config: {error}")
# params compared as text: the same settings in one key order however the config files were merged
canonical_order(config)
# the config as given: the HTML report's own run reads it again (and makes the same folds)
GIVEN_CONFIG = copy.deepcopy(config)
# Fold-split datasets (split.method loso / kfold) become one dataset variant per fold (gafkd.folds); each
# is read from its source once, into its own windows.h5, which its folds' windows.h5 link to.
FOLDED = {
    name: dataset_settings(config, name)
    for name, settings in config["datasets"].items()
    if has_folds(settings)
}
try:
    expand_folds(config)
except ConfigError as error:
    raise WorkflowError(f"config: {error}")
canonical_order(config)

RESULTS = config["results"].rstrip("/")
DATASETS = list(config["datasets"])  # every dataset variant that trains: folds included
FOLDS = [d for d in DATASETS if fold_of(config["datasets"][d])]
# The datasets whose windows are read from a source (by the window rule): the others are folds.
READ = {
    **{d: dataset_settings(config, d) for d in DATASETS if d not in FOLDS},
    **FOLDED,
}


# From the config (training.device), never from this host's driver: a login node plans as a GPU node.
GPUS_PER_JOB = gpus_per_training_job(config["training"]["device"])
# What training jobs get as params, per dataset (its protocol overlay: gafkd.grid.dataset_training): the
# settings that shape a run's numbers (threads come from `threads:`), so that a speed-only change does
# not make Snakemake rerun finished training.
TRAINING = {d: training_identity(dataset_training(config, d)) for d in DATASETS}
# The teacher_logits rule also reads which checkpoint students learn from.
LOGITS_TRAINING = {
    d: {**training, "teacher_weights": config["training"]["teacher_weights"]}
    for d, training in TRAINING.items()
}
# What the report rules get (gafkd.config.report_config): the settings that change a number.
REPORT_CONFIG = report_config(config, training_identity(config["training"]))

# The packs: runs trained together as one fused model, one job each; decided by the config alone.
# One rule per stage takes the pack as a wildcard (profiles name the stage; the rule graph shows the study).
TEACHER_PACKS = {
    (d, p.name): p for d in DATASETS for p in teacher_packs(config, RESULTS, d)
}
STUDENT_PACKS = {
    (d, p.name): p for d in DATASETS for p in student_packs(config, RESULTS, d)
}
# GPUs shared by several jobs: every pack's plan must fit its share of this host's smallest card.
try:
    check_gpu_sharing(
        config,
        [
            (d, p)
            for packs in (TEACHER_PACKS, STUDENT_PACKS)
            for (d, _), p in packs.items()
        ],
        gpu_memory(),
    )
except ConfigError as error:
    raise WorkflowError(f"config: {error}")
FP32_TEACHER_NOTE = fp32_teacher_note(config)
if FP32_TEACHER_NOTE:
    print(f"Note: {FP32_TEACHER_NOTE}", file=sys.stderr)
# The image representations the teachers use (gafkd.gaf.registry), in config order, and what makes
# each dataset's (a fixed scaling reads the dataset's limits).
IMAGES = image_representations(config)
# (A fold whose images do not depend on its split trains on its dataset's, made once.)
IMAGE_SETTINGS = {
    (image_source(config, d, name), name): image_settings(config, d, name)
    for d in DATASETS
    for name in IMAGES
}
# Which teacher pack computes each logits file (students depend on that pack's logits job).
LOGITS_PACK = {
    logits_path(RESULTS, d, f"{m.modality}:{m.arch}", m.seed): name
    for (d, name), pack in TEACHER_PACKS.items()
    for m in pack.members
}
# Which pack job writes each run's weights (annealed students start from the student alone's).
WEIGHTS_PACK = {
    m.outputs["weights"]: pack_manifest(RESULTS, d, name, stage)
    for stage, packs in (("train_teacher", TEACHER_PACKS), ("distill", STUDENT_PACKS))
    for (d, name), pack in packs.items()
    for m in pack.members
}
# A CUDA build of PyTorch for CUDA training (envs/train-cuda.yaml), so that a conda env solved on a
# driver-less login node does not silently train on the CPU.
TRAIN_ENV = f"../../envs/train-{config['training']['device']}.yaml"


def pack_pattern(packs):
    """A wildcard constraint matching exactly these packs' names."""
    return "|".join(sorted({re.escape(name) for _, name in packs}))


def teacher_pack(wildcards):
    return TEACHER_PACKS[wildcards.dataset, wildcards.pack]


def student_pack(wildcards):
    return STUDENT_PACKS[wildcards.dataset, wildcards.pack]


def manifest(stage, dataset="{dataset}", pack="{pack}"):
    """A pack job's output (``{dataset}``/``{pack}``: the rule's wildcard pattern)."""
    return pack_manifest(RESULTS, dataset, pack, stage)


def results(*parts):
    """A path inside the results folder."""
    return os.path.join(RESULTS, *parts)


# The path templates every stage shares, written once ("{dataset}" gives the wildcard pattern).
def windows_h5(dataset):
    return results(dataset, "windows.h5")


def images_h5(dataset, name="{representation}"):
    return images_path(RESULTS, dataset, name)


def dataset_source(wildcards):
    """The window rule's input: the synthetic folder, or the real data folder (and activity log) when they exist.

    A missing real-data folder is not an input (so `snakemake -n` works before the data is
    copied); the window job then stops with one sentence saying where to put the data.
    """
    source = READ[wildcards.dataset]["source"]
    if is_synthetic(source):
        return results(wildcards.dataset, "source")
    return [
        p
        for p in (source["path"], source.get("annotations"))
        if p and os.path.exists(p)
    ]


def dataset_folder(dataset):
    """Where the window job reads a dataset from: the synthetic folder, or source.path."""
    source = READ[dataset]["source"]
    return results(dataset, "source") if is_synthetic(source) else source["path"]


def fold_dataset_windows(wildcards):
    """A fold's windows.h5 links to its dataset's."""
    return windows_h5(fold_of(config["datasets"][wildcards.dataset])["of"])


def names_pattern(names):
    """A wildcard constraint matching exactly these names (none: nothing)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def pack_inputs(wildcards):
    """A teacher pack's data: windows.h5, plus its representation's images for image models.

    The images' key stays "gaf" whatever the representation: the training scripts read it, and editing
    a script would make Snakemake rerun every job that ran it.
    """
    first = teacher_pack(wildcards).members[0]
    inputs = {"windows": windows_h5(first.dataset)}
    if is_image(first.modality):
        inputs["gaf"] = images_of(config, RESULTS, first.dataset, first.modality)
    fold = fold_of(config["datasets"][first.dataset])
    if fold:  # the file its windows.h5 links to
        inputs["dataset_windows"] = windows_h5(fold["of"])
    return inputs


def member_files(wildcards, key):
    """Each member's ``key`` file (metrics, history, weights) of a teacher pack."""
    return [m.outputs[key] for m in teacher_pack(wildcards).members]


def member_logits(wildcards):
    """Each teacher's cached logits (the path its students read them from)."""
    return [
        logits_path(RESULTS, m.dataset, f"{m.modality}:{m.arch}", m.seed)
        for m in teacher_pack(wildcards).members
    ]


def student_teacher_logits(wildcards):
    """The logits jobs (manifests) of the teacher packs this student pack learns from."""
    paths = {p for m in student_pack(wildcards).members for p in m.teacher_logits}
    return sorted(
        {manifest("teacher_logits", wildcards.dataset, LOGITS_PACK[p]) for p in paths}
    )


def student_init(wildcards):
    """The pack jobs whose runs annealed members of this student pack start from."""
    return sorted(
        {
            WEIGHTS_PACK[m.init_from[0]]
            for m in student_pack(wildcards).members
            if m.init_from
        }
    )


def student_live_teachers(wildcards):
    """Teachers run live (for losses a cache cannot serve): their training jobs (manifests) and their images."""
    live = [t for m in student_pack(wildcards).members for t in m.live_teachers]
    return sorted(
        {WEIGHTS_PACK[weights] for weights, _, _ in live} | {i for _, _, i in live if i}
    )


def training_manifests():
    """Every training job's output: teacher and student packs."""
    return [manifest("train_teacher", d, name) for d, name in TEACHER_PACKS] + [
        manifest("distill", d, name) for d, name in STUDENT_PACKS
    ]


def html_report():
    """`snakemake --report results/report.html` for the config of this run, once the tables exist.

    The merged config (config.yaml, overlays, --config) is written beside the report so that the
    report run sees exactly this run's DAG. A failure is reported but does not fail the workflow.
    """
    import subprocess

    import yaml

    if not config["report"]["html"] or not os.path.exists(results("tables.md")):
        return
    merged = results("logs", "report-config.yaml")
    os.makedirs(os.path.dirname(merged), exist_ok=True)
    with open(merged, "w") as handle:
        yaml.safe_dump(GIVEN_CONFIG, handle)
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        workflow.main_snakefile,
        "--directory",
        os.getcwd(),
        "--workflow-profile",
        "none",
        "--configfile",
        merged,
        "--report",
        results("report.html"),
    ]
    with open(results("logs", "report.log"), "w") as log:
        done = (
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
            == 0
        )
    logger.info(
        f"HTML report: {results('report.html')}"
        if done
        else f"HTML report failed; see {results('logs', 'report.log')}"
    )


PLOTS = [
    "alpha_sweep",
    "lambda_sweep",
    "kd3_weights",
    "learning_curves",
    "confusion_teacher",
    "confusion_student",
    "forest",
    "gain_vs_teacher",
]


def examples_png(dataset="{dataset}", name="{representation}"):
    """One training window per class in a representation (gaf_examples.png: GASF)."""
    return results("plots", dataset, f"{name}_examples.png")


# The report's sections: each dataset, a fold-split dataset's folds together (under the dataset's name).
SECTIONS = dataset_groups(config)


def section_windows(wildcards):
    """The windows a section's figures name the classes and draw examples from: its first fold's."""
    return windows_h5(SECTIONS[wildcards.dataset][0])


def examples_images(wildcards):
    """The images an examples figure shows: those the dataset's teachers train on (a section's first fold)."""
    return images_of(
        config, RESULTS, SECTIONS[wildcards.dataset][0], wildcards.representation
    )


def all_outputs():
    return [
        results("tables.md"),
        results("summary.csv"),
        results("effects.csv"),
        *expand(
            results("plots", "{dataset}", "{plot}.png"),
            dataset=SECTIONS,
            plot=PLOTS,
        ),
        *[
            examples_png(d, name)
            for d, members in SECTIONS.items()
            for name in for_dataset(config, members[0])["teachers"]["modalities"]
            if is_image(name)
        ],
    ]


def stop_if_data_is_missing():
    """Before any job (not in dry runs): every missing data folder in one short message, then stop."""
    missing = missing_data_folders(
        {"datasets": READ}, RESULTS
    )  # a fold-split dataset once
    if missing:
        logger.error(
            "The real data is not where config.yaml expects it:\n"
            + "\n".join(missing)
            + "\nCopy it there (README, 'Real data'), change the paths, or run the demo: --configfile demo.yaml"
        )
        sys.exit(1)
