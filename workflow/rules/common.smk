# Shared by all the stage files — config validation, input functions, paths.

import os
import sys

from snakemake.utils import validate

# The library, also without `pip install -e .`: this process finds src/gafkd first, and every
# job's script too (Snakemake's script preamble extends sys.path with this process's path).
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from gafkd.config import check_config, check_duplicate_keys, dataset_settings
from gafkd.errors import ConfigError
from gafkd.grid import SPEC_PATTERN, Experiment, experiments, teacher_runs, teacher_seed
from gafkd.resources import gpus_per_training_job


try:
    for path in workflow.configfiles:
        check_duplicate_keys(path)
except ConfigError as error:
    raise WorkflowError(f"config: {error}")
validate(config, schema="../schemas/config.schema.yaml")
try:
    check_config(config)
except ConfigError as error:
    raise WorkflowError(f"config: {error}")

RESULTS = config["results"].rstrip("/")
DATASETS = list(config["datasets"])


GPUS_PER_JOB = gpus_per_training_job(config["training"]["device"])
GPU_SLOTS = os.path.join(RESULTS, ".gpu-slots")  # lock files: one GPU per concurrent training job
# What training jobs get as params: everything but threads (they come from `threads:`), so that a
# different thread count does not make Snakemake rerun finished training.
TRAINING = {k: v for k, v in config["training"].items() if k != "threads"}


def results(*parts):
    """A path inside the results folder."""
    return os.path.join(RESULTS, *parts)


def dataset_source(wildcards):
    """The window rule's input: the synthetic folder, or the real data folder when it exists.

    A missing real-data folder is not an input (so `snakemake -n` works before the data is
    copied); the window job then stops with one sentence saying where to put the data.
    """
    source = config["datasets"][wildcards.dataset]["source"]
    if source["format"] == "synthetic":
        return results(wildcards.dataset, "source")
    return source["path"] if os.path.isdir(source["path"]) else []


def teacher_dir(dataset, modality, arch, seed):
    return results(dataset, "teachers", f"{modality}-{arch}", f"seed{seed}")


def student_dir(dataset, student, spec, seed):
    return results(dataset, "students", student, spec, f"seed{seed}")


def run_inputs(wildcards):
    """windows.h5, plus gaf.h5 for image models."""
    inputs = {"windows": results(wildcards.dataset, "windows.h5")}
    if wildcards.get("modality") == "gaf":
        inputs["gaf"] = results(wildcards.dataset, "gaf.h5")
    return inputs


def student_teacher_logits(wildcards):
    """The cached logits of the experiment's teachers, at the teacher seed for this student seed."""
    seed = teacher_seed(config, int(wildcards.seed))
    return [
        os.path.join(teacher_dir(wildcards.dataset, *t.split(":"), seed), "logits.h5")
        for t in Experiment.parse(wildcards.spec).teachers
    ]


def teacher_metrics():
    return [
        os.path.join(teacher_dir(d, m, a, s), "metrics.json")
        for d in DATASETS
        for m, a, s in teacher_runs(config)
    ]


def student_metrics():
    student = config["students"]["arch"]
    return [
        os.path.join(student_dir(d, student, e.spec, s), "metrics.json")
        for d in DATASETS
        for e in experiments(config)
        for s in config["students"]["seeds"]
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
        yaml.safe_dump(config, handle)
    command = [sys.executable, "-m", "snakemake", "--snakefile", workflow.main_snakefile, "--directory",
               os.getcwd(), "--workflow-profile", "none", "--configfile", merged, "--report", results("report.html")]
    with open(results("logs", "report.log"), "w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode == 0
    logger.info(f"HTML report: {results('report.html')}" if done else
                f"HTML report failed; see {results('logs', 'report.log')}")


PLOTS = ["alpha_sweep", "lambda_sweep", "learning_curves", "gaf_examples", "confusion_teacher", "confusion_student"]


def all_outputs():
    return [
        results("tables.md"),
        results("summary.csv"),
        *expand(results("plots", "{dataset}", "{plot}.png"), dataset=DATASETS, plot=PLOTS),
    ]
