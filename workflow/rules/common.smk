# Shared by all the stage files: the study the config describes (gafkd.plan.Study: checked, planned, its
# paths) and one-line input functions over it. (The Snakefile puts src/ first on sys.path.)

import os
import sys

from gafkd.config import check_duplicate_keys
from gafkd.errors import ConfigError
from gafkd.execution.resources import gpu_memory, gpus_per_training_job
from gafkd.plan.study import Study, names_pattern, section_figures

try:
    for path in workflow.configfiles:
        check_duplicate_keys(path)
    # From the config alone, never from this host's driver (a login node plans as a GPU node); this host's
    # cards only for the check that packs sharing one GPU fit it.
    STUDY = Study.from_config(config, cards=gpu_memory())
except ConfigError as error:
    raise WorkflowError(f"config: {error}")
if STUDY.fp32_teacher_note:
    print(f"Note: {STUDY.fp32_teacher_note}", file=sys.stderr)
# A CUDA build of PyTorch for CUDA training (envs/train-cuda.yaml), so that a conda env solved on a
# driver-less login node does not silently train on the CPU.
TRAIN_ENV = f"../../envs/train-{STUDY.device}.yaml"
# GPUs a training job holds: 1 when the config trains on CUDA (a CPU run's --resources gpu=1 serialises nothing).
GPUS_PER_JOB = gpus_per_training_job(STUDY.device)


def results(*parts):
    return STUDY.path(*parts)


def figure_outputs():
    """The plots rule's outputs: a report section's figures, each with its caption (workflow/report/<name>.rst;
    a kind's sweep figure without one of its own: sweep.rst) and its category in the HTML report.
    """

    def caption(name):
        own = os.path.exists(
            os.path.join(workflow.basedir, "workflow", "report", f"{name}.rst")
        )
        return f"../report/{name if own else 'sweep'}.rst"

    return {
        name: report(
            results("plots", "{dataset}", f"{name}.png"),
            caption=caption(text),
            category=category,
            subcategory="{dataset}",
        )
        for name, (text, category) in section_figures().items()
    }


def html_report():
    """`snakemake --report results/report.html` for the config of this run, once the tables exist.

    The config as given (config.yaml, overlays, --config merged) is written beside the report so that the
    report run sees exactly this run's DAG. A failure is reported but does not fail the workflow.
    """
    import subprocess

    import yaml

    if not STUDY.config["report"]["html"] or not os.path.exists(results("tables.md")):
        return
    merged = results("logs", "report-config.yaml")
    os.makedirs(os.path.dirname(merged), exist_ok=True)
    with open(merged, "w") as handle:
        yaml.safe_dump(STUDY.given, handle)
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


def stop_if_data_is_missing():
    """Before any job (not in dry runs): every missing data folder in one short message, then stop."""
    missing = STUDY.missing_data()
    if missing:
        logger.error(
            "The real data is not where config.yaml expects it:\n"
            + "\n".join(missing)
            + "\nCopy it there (README, 'Real data'), change the paths, or run the demo: --configfile demo.yaml"
        )
        sys.exit(1)
