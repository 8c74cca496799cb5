# gafkd: GENEActiv windows → images (GAF, PI, …) → WRN teachers → distilled students → results tables.
# Run: snakemake --cores 4 --resources gpu=1 [--configfile demo.yaml]

from snakemake.utils import min_version

min_version("9.27.1")  # the oldest Snakemake the tests passed on (pyproject.toml)

import os
import sys

# The library, also without `pip install -e .`: this process finds src/gafkd first, and every
# job's script too (Snakemake's script preamble extends sys.path with this process's path).
sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from gafkd.config import read_config_file
from gafkd.errors import ConfigError

# Snakemake's message for malformed YAML names neither file nor line: parse config.yaml first.
# (Files given with --configfile are read by Snakemake before this file runs; `gafkd status
# --config FILE…` names their line.)
try:
    if os.path.exists("config.yaml"):
        read_config_file("config.yaml")
except ConfigError as error:
    raise WorkflowError(f"config: {error}")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# Wildcards match only the configured datasets and image representations (and, per training rule,
# only its packs).
wildcard_constraints:
    dataset=names_pattern([*STUDY.datasets, *STUDY.read]),
    representation=names_pattern(STUDY.images),


include: "workflow/rules/data.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/teachers.smk"
include: "workflow/rules/students.smk"
include: "workflow/rules/report.smk"


onstart:
    stop_if_data_is_missing()


rule all:
    default_target: True
    input:
        STUDY.all_outputs(),
