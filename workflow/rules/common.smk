# Shared by every rule file: config validation, wildcard constraints, input functions, paths.

import os
import sys

from snakemake.utils import validate

# The library, also without `pip install -e .` (and inside --use-conda envs): this process and
# every job's script find src/gafkd first.
SRC = os.path.join(workflow.basedir, "src")
sys.path.insert(0, SRC)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")]))

from gafkd.config import check_config, dataset_settings
from gafkd.data.build import source_format
from gafkd.errors import ConfigError


validate(config, schema="../schemas/config.schema.yaml")
try:
    check_config(config)
except ConfigError as error:
    raise WorkflowError(f"config: {error}")

RESULTS = config["results"].rstrip("/")
DATASETS = list(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS),


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


def all_outputs():
    return expand(results("{dataset}", "gaf.h5"), dataset=DATASETS)
