"""Config validation: the schema (types, ranges, unknown keys) and the cross-key checks."""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from gafkd.config import check_config, dataset_settings, with_defaults
from gafkd.models.families import arch_args
from gafkd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
BASE = yaml.safe_load((ROOT / "config.yaml").read_text())


def _validate(config):
    jsonschema.validate(config, SCHEMA)
    check_config(with_defaults(config))


def _with(path, value):
    config = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return config


def test_shipped_configs_are_valid():
    _validate(BASE)
    demo = copy.deepcopy(BASE)
    for name, overlay in yaml.safe_load((ROOT / "demo.yaml").read_text())["datasets"].items():
        demo["datasets"][name].update(overlay)
    _validate(demo)
    assert "path" not in dataset_settings(demo, "gene14_w500")["source"]


@pytest.mark.parametrize("path, value", [
    ("training.epoch", 3),  # misspelled key
    ("training.epochs", 0),
    ("training.batch_size", "64"),
    ("gaf.method", "product"),
    ("datasets.gene14_w500.split.train", 1.5),
    ("datasets.gene14_w500.source.format", "xlsx"),
    ("datasets.gene14_w500.window", KeyError),
    ("students.kd2.alphas", [0.3, 1.2]),
    ("students.kd1.lams", [-0.1]),
    ("datasets", {}),
])
def test_schema_rejects(path, value):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_with(path, value), SCHEMA)


@pytest.mark.parametrize("path, value, message", [
    ("datasets.gene14_w500.window", 32, "datasets.gene14_w500.window"),
    ("datasets.gene7_w500.split", {"method": "subject", "train": 0.8, "test": 0.3}, "exceeds 1"),
    ("datasets.gene7_w500.split", {"method": "subjects"}, "train_subjects"),
    ("datasets.gene14_w500.source", {"format": "mat"}, "source.path"),
    ("teachers.archs", ["wrn15-1"], "teachers.archs"),
    ("teachers.archs", ["resnet18"], "teachers.archs: 'resnet18' is not an architecture name"),
    ("students.kdn", [{"teachers": ["rgb:wrn16-1"], "weights": [1.0]}], r"students.kdn\[0\].teachers: 'rgb:wrn16-1'"),
    ("report.lam", 0.6, "report.lam: 0.6 is not one of the swept values"),
    ("report.alpha", 0.2, "report.alpha"),
    ("students.kd1.teacher_archs", ["wrn40-2"], "not trained"),
    ("students.kdn", [{"teachers": ["gaf:wrn16-1", "sig:wrn16-1"], "weights": [0.5, 0.4], "lam": 0.7}], "sum to 1"),
    ("students.kdn", [{"teachers": ["gaf:wrn16-1"], "weights": [0.5, 0.5], "lam": 0.7}], "2 weights for 1"),
    ("students.teacher_seed", 7, "teacher seeds"),
])
def test_cross_key_checks(path, value, message):
    with pytest.raises(ConfigError, match=message):
        check_config(with_defaults(_with(path, value)))


def test_architecture_names_come_from_the_registry():
    assert arch_args("wrn28-3") == {"depth": 28, "width": 3}
    for bad in ("wrn16", "wrn15-1", "resnet18"):
        with pytest.raises(ConfigError):
            arch_args(bad)
