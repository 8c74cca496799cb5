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
SCHEMA = yaml.safe_load((ROOT / "src/gafkd/schemas/config.schema.yaml").read_text())
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
    ("images.pi.recipe", "alpha"),
    ("images.mtf.n_bins", 1),
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
    ("datasets.gene7_w500.split", {"method": "subject", "train": 0.3, "val": 0.3, "test": 0.3},
     "split.val: 0.3 is taken from the training windows, so it must be below train"),
    ("datasets.gene7_w500.split", {"method": "subjects"}, "train_subjects"),
    ("datasets.gene14_w500.source", {"format": "mat"}, "source.path"),
    ("teachers.archs", ["wrn15-1"], "teachers.archs"),
    ("teachers.archs", ["densenet121"], "teachers.archs: 'densenet121' is not an architecture name"),
    ("teachers.archs", ["resnet18"], "teachers.archs: 'resnet18' is not a valid architecture .a CIFAR ResNet has depth"),
    ("teachers.archs", ["transformer3-64"], "teachers.archs: transformer3-64 is for signals only"),
    ("students.kdn", [{"teachers": ["rgb:wrn16-1"], "weights": [1.0]}], r"students.kdn\[0\].teachers: 'rgb:wrn16-1'"),
    ("report.lam", 0.6, "report.lam: 0.6 is not one of the swept values"),
    ("report.alpha", 0.2, "report.alpha"),
    ("students.kd1.teacher_archs", ["wrn40-2"], "not trained"),
    ("students.kdn", [{"teachers": ["gaf:wrn16-1", "sig:wrn16-1"], "weights": [0.5, 0.4], "lam": 0.7}], "sum to 1"),
    ("students.kdn", [{"teachers": ["gaf:wrn16-1"], "weights": [0.5, 0.5], "lam": 0.7}], "2 weights for 1"),
    ("students.teacher_seed", 7, "teacher seeds"),
    ("teachers.modalities", ["gaf", "rgb"], r"teachers.modalities\[1\]: 'rgb' is not an image representation"),
    ("students.kd1.representations", ["pi"], "students.kd1.teacher_archs: teacher 'pi:wrn16-1' is not trained"),
    ("students.kd2.representations", ["gasf"], r"students.kd2.representations\[0\]: 'gasf' is not an image"),
])
def test_cross_key_checks(path, value, message):
    with pytest.raises(ConfigError, match=message):
        check_config(with_defaults(_with(path, value)))


def test_the_old_gaf_section_says_where_it_went():
    config = _with("images", KeyError)
    config["gaf"] = {"image_size": 64, "method": "difference"}
    with pytest.raises(ConfigError, match="gaf: moved to images .* GADF is the representation gadf"):
        with_defaults(config)


def test_architecture_names_come_from_the_registry():
    assert arch_args("wrn28-3") == {"depth": 28, "width": 3}
    for bad in ("wrn16", "wrn15-1", "resnet18", "vgg9", "mobilenetv2-0", "transformer3-40", "densenet121"):
        with pytest.raises(ConfigError):
            arch_args(bad)


@pytest.mark.parametrize("text, line, column, problem", [
    ("training:\n  epochs: 3\n  lr: [0.1\nteachers: {seeds: [0]}\n", 4, 9, "expected ',' or ']'"),
    ("training:\n\tepochs: 3\n", 2, 1, "'\\t'"),
    ("training:\n  epochs: 3\n lr: 2\n", 3, 2, "expected <block end>"),
])
def test_malformed_yaml_names_file_line_and_column(tmp_path, text, line, column, problem):
    from gafkd.config import read_config_file

    path = tmp_path / "overlay.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        read_config_file(path)
    message = str(error.value)
    assert message.startswith(f"{path}, line {line}, column {column}: not valid YAML") and problem in message
    assert "\n" not in message


def test_gafkd_status_reports_malformed_yaml_in_one_line(tmp_path, capsys):
    from gafkd.cli import main

    (tmp_path / "bad.yaml").write_text("training: {epochs: 3\n")
    assert main(["status", "--config", str(tmp_path / "bad.yaml"), "--directory", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gafkd: config: {tmp_path / 'bad.yaml'}, line 2") and err.count("\n") == 1


@pytest.mark.parametrize("value, text", [(0.7, "0.7"), (1.0, "1"), (0.00001, "0.00001"), (0.1234567, "0.1234567"),
                                         (0.30000000000000004, "0.30000000000000004")])
def test_experiment_names_round_trip_every_float(value, text):
    from gafkd.names import Experiment

    experiment = Experiment("kd1", ("gaf:wrn16-1",), (1.0,), value)
    assert experiment.spec == f"kd1_gaf-wrn16-1_lam{text}"
    assert Experiment.parse(experiment.spec).lam == value  # lossless, and the grammar parses it
    weights = Experiment("kdn", ("gaf:wrn16-1", "sig:wrn16-1"), (0.1234567, 0.1234568), 0.7)
    assert weights.spec != Experiment("kdn", ("gaf:wrn16-1", "sig:wrn16-1"), (0.1234567, 0.1234567), 0.7).spec


def test_device_auto_says_what_replaced_it():
    from gafkd.config import with_defaults

    with pytest.raises(ConfigError, match=r"^training.device: auto was removed: packs and GPU resources are planned "
                                          r"from the config.*write cuda \(GPU jobs\) or cpu$"):
        with_defaults({"datasets": {}, "training": {"device": "auto"}})


def test_a_dataset_overlays_its_own_grid():
    """PI teachers and PI students on one variant only: its packs change, the others' and its windows do not."""
    from gafkd.plan.packing import student_packs, teacher_packs

    config = _with("datasets.gene7_w500.teachers", {"modalities": ["gaf", "pi", "sig"]})
    config["datasets"]["gene7_w500"]["students"] = {"kd1": {"representations": ["gaf", "pi"]}}
    plain = with_defaults(copy.deepcopy(BASE))
    config = with_defaults(config)
    check_config(config)
    assert dataset_settings(config, "gene7_w500") == dataset_settings(plain, "gene7_w500")  # same windows.h5
    names = lambda packs: {p.name for p in packs}  # noqa: E731
    extra = names(teacher_packs(config, "r", "gene7_w500")) - names(teacher_packs(plain, "r", "gene7_w500"))
    assert extra == {"pi-wrn16-1_seeds0-1-2", "pi-wrn16-3_seeds0-1-2", "pi-wrn28-1_seeds0-1-2", "pi-wrn28-3_seeds0-1-2"}
    assert names(teacher_packs(config, "r", "gene14_w500")) == names(teacher_packs(plain, "r", "gene14_w500"))
    specs = {m.experiment.spec for p in student_packs(config, "r", "gene7_w500") for m in p.members}
    assert "kd1_pi-wrn28-3_lam0.7" in specs and len(specs) == 41 + 20 - 1  # the baseline is a teacher run
    bad = copy.deepcopy(config)
    bad["datasets"]["gene7_w500"]["students"] = {"kd1": {"representations": ["pi"], "lams": [2]}}
    with pytest.raises(ConfigError, match=r"datasets.gene7_w500.students.kd1.lams.0: 2 is greater than"):
        check_config(bad)
    bad["datasets"]["gene7_w500"]["teachers"] = {"modalities": ["gaf", "sig"]}
    bad["datasets"]["gene7_w500"]["students"] = {"kd1": {"representations": ["pi"]}}
    with pytest.raises(ConfigError, match="datasets.gene7_w500.students.kd1.teacher_archs: teacher 'pi:wrn16-1'"):
        check_config(bad)


def test_the_report_sees_each_variants_own_grid():
    """The report rules' config keeps a variant's teachers/students overlay (its tables show its PI rows)."""
    from gafkd.cli import load_config
    from gafkd.config import report_config
    from gafkd.reporting.tables import DatasetTables

    config = load_config([str(ROOT / "config.yaml"), str(ROOT / "demo.yaml")])
    report = report_config(config, config["training"])
    assert report["datasets"]["gene7_w500"]["teachers"]["modalities"] == ["gaf", "pi", "sig"]
    assert report["datasets"]["gene14_w500"]["teachers"] == {"archs": ["wrn16-1", "wrn28-3"]}  # its own, as given
    import pandas as pd

    empty = pd.DataFrame(columns=["dataset", "kind", "teachers", "student", "alpha", "lam", "weights", "variant",
                                  "seed", "status", "best_test_acc", "test_acc_at_best_val"])
    rows = [DatasetTables(report, "gene7_w500", empty).label(c) for c in DatasetTables(report, "gene7_w500", empty)
            .main_configs()]
    assert "WRN16-1 (PI single network, 500w, 7cls)" in rows
    assert any(r.startswith("T1: WRN16-1(GAF), T2: WRN16-1(PI), T3: WRN16-1(Sig), w = 0.2/0.2/0.6") and
               r.endswith("[ann+sp]") for r in rows)
    # the baselines are labelled with their method; CAMKD and EBKD weigh the teachers themselves: no triple
    # (by their authors' recipes, as the labels say)
    assert any(r.startswith("T1: WRN16-1(GAF), T2: WRN16-1(PI), T3: WRN16-1(Sig), S:") and
               r.endswith("[CAMKD (authors')]") for r in rows)
    assert sum(r.endswith("[EBKD (authors')]") for r in rows) == 1
    assert sum(r.endswith("[projector (authors')]") for r in rows) == 1
    tables = DatasetTables(report, "gene7_w500", empty).weights_tables()
    e = report["training"]["epochs"]
    plain, annealed = f"{e} epochs a run", f"{2 * e} epochs a run: {e} of cross-entropy start, then {e}"
    assert [title for title, _ in tables] == [
        f"Three teachers, base (mean ± std; {plain})", f"Three teachers, ann (mean ± std; {annealed})",
        f"Three teachers, ann+sp (mean ± std; {annealed})", f"Three teachers, CAMKD (authors') (mean ± std; {plain})",
        f"Three teachers, EBKD (authors') (mean ± std; {plain})",
        f"Three teachers, projector (authors') (mean ± std; {plain})"]
    assert "CAMKD (per sample)" in tables[3][1] and "0.2/0.2/0.6" not in tables[3][1]


def test_the_configuration_reference_states_the_schemas_defaults():
    """docs/configuration.md lists every setting config.yaml leaves out, each with the schema's default: the
    reference cannot drift from the schema, and config.yaml's short form loses nothing."""
    import re

    from gafkd.kinds import KINDS
    from gafkd.schema import load_schema, section_defaults

    root = Path(__file__).resolve().parents[1]
    listed = {(m[1], m[2]): yaml.safe_load(m[3]) for m in
              re.finditer(r"^\| `(\w+)\.(\w+)` \| `(.*)` \|", (root / "docs" / "configuration.md").read_text(), re.M)}
    assert listed, "no rows"
    for (section, key), default in listed.items():
        assert section_defaults(section).get(key) == default, (section, key)
    given = yaml.safe_load((root / "config.yaml").read_text())
    schema = load_schema()["properties"]
    for section in ("training", "packing", "images", "students", "report"):
        for key in schema[section]["properties"]:
            assert key in given.get(section, {}) or (section, key) in listed or key in KINDS, (section, key)


# -- the training section as a typed value ----------------------------------------------------------------------

def test_training_settings_name_every_schema_key_and_take_its_defaults():
    """The dataclass types the schema's training keys, each once, and its defaults are the schema's (no copy)."""
    from dataclasses import fields

    from gafkd.training.settings import TrainingSettings

    keys = SCHEMA["properties"]["training"]["properties"]
    assert [f.name for f in fields(TrainingSettings)] == list(keys)
    defaults = TrainingSettings.of()
    assert all(getattr(defaults, k) == (tuple(s["default"]) if isinstance(s["default"], list) else s["default"])
               for k, s in keys.items())
    assert TrainingSettings.of(defaults.as_dict()) == defaults  # plain data and back
    with pytest.raises(ConfigError, match=r"training: unknown key\(s\) \['epoch'\]"):
        TrainingSettings.of({"epoch": 3})


def test_training_identity_leaves_out_what_only_decides_speed_and_a_stage_gets_its_precision():
    from gafkd.training.settings import NOT_RUN_IDENTITY, TrainingSettings

    settings = TrainingSettings.of({"precision": {"teachers": "tf32", "students": "fp32"}, "threads": 8,
                                    "gpu_jobs_per_device": 2, "cross_entropy": "standardised"})
    identity = settings.identity()
    assert not set(NOT_RUN_IDENTITY) & set(identity) and list(identity) == sorted(identity)
    assert identity["cross_entropy"] == "standardised"  # set away from what earlier runs had: part of it
    assert "standardisation" not in identity  # at the value every earlier run had: left out (digests kept)
    assert settings.for_stage("teachers").precision == "tf32" and settings.for_stage("students").precision == "fp32"
    with pytest.raises(ConfigError, match="stage 'student'"):
        settings.for_stage("student")


def test_a_training_job_reads_its_speed_only_settings_from_the_config_it_runs_under():
    """The params carry the identity only; a job's GPU sharing and threads come from the config (the schema's
    defaults where the config leaves them out: a config without gpu_jobs_per_device must not stop a job)."""
    from types import SimpleNamespace

    from gafkd.execution.snake import job_training
    from gafkd.training.settings import TrainingSettings

    identity = TrainingSettings.of({"epochs": 3, "gpu_jobs_per_device": 4}).identity()
    job = SimpleNamespace(params=SimpleNamespace(training=identity), config={"training": {"gpu_jobs_per_device": 4}})
    assert job_training(job) == TrainingSettings.of({"epochs": 3, "gpu_jobs_per_device": 4})
    job.config = {"training": {"epochs": 200}}  # left out: the schema's default, and the params' epochs win
    assert (job_training(job).gpu_jobs_per_device, job_training(job).epochs) == (1, 3)
