"""Kill it, corrupt it, feed it garbage: nothing is lost and nothing wrong is reported.

docs/reliability.md lists each fault, what happens, and the test here that proves it.
"""

import copy
import errno
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from gafkd.data.mat import write_window_mat
from gafkd.errors import ConfigError, DataError
from gafkd.io import write_json_atomic
from gafkd.plan.study import Study
from conftest import copy_study, finished_study
from helpers import GAF_AND_SIGNAL, SNAKEMAKE, TINY, snakemake

# one seed: a GAF and a signal teacher job side by side, and one pack of three students
FAULT_CONFIG = {**GAF_AND_SIGNAL, "training": {**TINY["training"], "epochs": 3, "lr_milestones": [1, 2, 3]},
                "teachers": {**GAF_AND_SIGNAL["teachers"], "seeds": [0]},
                "students": {**GAF_AND_SIGNAL["students"], "seeds": [0]}, "report": {"html": False}}


def _runs(results: Path) -> dict:
    """Per run: final and best weights, and the history without timings."""
    out = {}
    for metrics in sorted(results.rglob("metrics.json")):
        weights = torch.load(metrics.with_name("weights.pt"), weights_only=True)
        history = pd.read_csv(metrics.with_name("history.csv")).drop(columns="seconds")
        out[str(metrics.parent.relative_to(results))] = (weights, history, json.loads(metrics.read_text()))
    return out


def _assert_same_runs(reference: dict, resumed: dict):
    assert reference.keys() == resumed.keys() and len(reference) == 5  # 2 teachers, 3 students (the student alone is a teacher run)
    for key, (weights, history, metrics) in reference.items():
        other_weights, other_history, other_metrics = resumed[key]
        for which in ("final", "best"):
            assert all(torch.equal(weights[which][k], other_weights[which][k]) for k in weights[which]), key
        pd.testing.assert_frame_equal(history, other_history)
        for field in ("best_test_acc", "final_test_acc", "best_epoch", "settings_digest", "confusion_best"):
            assert metrics[field] == other_metrics[field], (key, field)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """FAULT_CONFIG run uninterrupted: its working directory (copied by the tests that break files)."""
    return finished_study(tmp_path_factory, "reference", FAULT_CONFIG)


@pytest.fixture(scope="module")
def reference(reference_run):
    return _runs(reference_run / "results")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["mid_epoch:2", "after_epoch:1", "checkpoint_write:2"])
def test_killed_training_jobs_resume_to_identical_results(tmp_path, reference, fault, monkeypatch):
    monkeypatch.setenv("GAFKD_FAULT", fault)  # every training job SIGKILLs itself at that point
    crashed = snakemake(tmp_path, "--cores", "2", "--keep-going", config=FAULT_CONFIG)
    assert crashed.returncode != 0
    results = tmp_path / "results"
    assert list(results.rglob("checkpoint.pt")) and not list(results.rglob("metrics.json"))
    monkeypatch.delenv("GAFKD_FAULT")
    resumed = snakemake(tmp_path, "--cores", "2", "--rerun-incomplete", config=FAULT_CONFIG)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    runs = _runs(results)
    expected_resume = {"mid_epoch:2": 1, "after_epoch:1": 1, "checkpoint_write:2": 1}[fault]
    assert {m["resumed_from_epoch"] for *_, m in runs.values() if m["kind"] == "teacher"} == {expected_resume}
    _assert_same_runs(reference, runs)
    assert not list(results.rglob("checkpoint.pt")) and not list(results.rglob(".*.tmp"))


@pytest.mark.slow
def test_killing_snakemake_itself_then_rerunning(tmp_path, reference):
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(FAULT_CONFIG))
    process = subprocess.Popen([*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(tmp_path / "cfg.yaml"),
                                "--cores", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "results").rglob("checkpoint.pt")) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the whole session: Snakemake and its running jobs, like a crash
    process.wait()
    unlock = snakemake(tmp_path, "--unlock", config=FAULT_CONFIG)
    assert unlock.returncode == 0
    rerun = snakemake(tmp_path, "--cores", "2", "--rerun-incomplete", config=FAULT_CONFIG)
    assert rerun.returncode == 0, rerun.stdout[-3000:]
    _assert_same_runs(reference, _runs(tmp_path / "results"))


@pytest.mark.slow
def test_corrupt_and_stale_files_are_refused_or_rebuilt(tmp_path, reference_run):
    import h5py

    results = copy_study(reference_run, tmp_path) / "results"
    # a corrupt metrics.json: the report refuses it instead of tabulating it
    metrics = next(results.rglob("metrics.json"))
    intact = metrics.read_bytes()
    metrics.write_text('{"dataset": "tiny", "kind": ')
    run = snakemake(tmp_path, "--cores", "2", "--forcerun", "collect_runs", config=FAULT_CONFIG)
    assert run.returncode != 0 and "not valid JSON" in run.stdout + run.stderr
    metrics.write_bytes(intact)
    # a truncated gaf.h5 newer than its outputs: the jobs that read it refuse it, naming the file
    gaf = results / "tiny" / "gaf.h5"
    gaf.write_bytes(gaf.read_bytes()[:2000])
    run = snakemake(tmp_path, "--cores", "2", config=FAULT_CONFIG)
    assert run.returncode != 0 and f"{gaf.relative_to(tmp_path)}: not a readable HDF5 file" in run.stdout + run.stderr
    # and remade when asked (what follows from it would retrain, as after any change of the images)
    assert snakemake(tmp_path, "--cores", "2", "--forcerun", "images", "--until", "images", config=FAULT_CONFIG).returncode == 0
    with h5py.File(gaf) as remade:
        assert remade["images"].shape[0] > 0


def test_logits_and_weights_from_other_windows_are_refused(tmp_path):
    import h5py

    from gafkd.training.teachers import read_teacher_logits

    with h5py.File(tmp_path / "logits.h5", "w") as h5:
        h5["logits"] = np.zeros((3, 2), np.float32)
        h5.attrs["windows_digest"] = "old"
        h5.attrs["settings_digest"] = "x"
    with pytest.raises(DataError, match="other windows"):
        read_teacher_logits(tmp_path / "logits.h5", "new")


def test_disk_full_keeps_the_previous_result(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    write_json_atomic(target, {"best_test_acc": 1.0})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DataError, match="could not be written \\(No space left on device\\); what was there"):
        write_json_atomic(target, {"best_test_acc": 2.0})
    assert json.loads(target.read_text()) == {"best_test_acc": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_unwritable_results_folder(tmp_path):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the results folder should be")
    with pytest.raises(DataError, match="cannot write in"):
        write_json_atomic(blocker / "tiny" / "metrics.json", {})


# --- the bad-input matrix: (case, how to break it, what the message must name) --------------------

def _config(**changes):
    config = copy.deepcopy({**TINY, "report": {"html": False}})
    for path, value in changes.items():
        node = config
        *parents, last = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return config


CONFIG_CASES = [
    ("misspelled key", _config(training__epoch=3), "epoch"),
    ("epochs out of range", _config(training__epochs=0), "epochs"),
    ("wrong type", _config(training__batch_size="64"), "batch_size"),
    ("alpha above 1", _config(students__kd2={"pairs": [["wrn16-1", "wrn16-1"]], "alphas": [1.2]}), "alphas"),
    ("lam below 0", _config(students__kd1={"teacher_archs": ["wrn16-1"], "lams": [-0.1]}), "lams"),
    ("weights not summing to 1", _config(students__kdn=[{"teachers": ["gaf:wrn16-1", "sig:wrn16-1"],
                                                         "weights": [0.5, 0.4]}]), "weights"),
    ("empty dataset grid", _config(datasets={}), "datasets"),
    ("empty seed grid", _config(teachers__seeds=[]), "seeds"),
    ("unknown arch name", _config(teachers__archs=["resnet18"]), "archs"),
    ("invalid WRN depth", _config(teachers__archs=["wrn15-1"]), "wrn15-1"),
    ("window smaller than the image", _config(images__image_size=1024), "window"),
    ("unknown image representation", _config(teachers__modalities=["gaf", "persistence"]), "teachers.modalities"),
    ("split fractions above 1", _config(datasets__tiny__split={"method": "subject", "train": 0.8, "test": 0.3}),
     "split"),
    ("unknown source format", _config(datasets__tiny__source={"format": "xlsx", "path": "x"}), "format"),
]


@pytest.mark.parametrize("case, config, key", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_bad_config(case, config, key):
    """The study refuses the config, naming the key, before any job (the workflow's plumbing of the same error:
    test_workflow.py::test_config_error_names_the_key)."""
    with pytest.raises(ConfigError, match=re.escape(key)):
        Study.from_config(config)


def test_duplicate_dataset_names(tmp_path):
    text = yaml.safe_dump(TINY).replace("datasets:\n", "datasets:\n  tiny: {}\n", 1)
    (tmp_path / "dup.yaml").write_text(text)
    run = subprocess.run([*SNAKEMAKE, "--directory", str(tmp_path), "--configfile", str(tmp_path / "dup.yaml"), "-n"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "duplicate key 'tiny'" in run.stdout + run.stderr


def _mat_source(folder: Path, broken: str):
    rng = np.random.default_rng(0)
    folder.mkdir()
    for subject in (1, 2):
        for cls in (0, 1):
            write_window_mat(folder / f"ID-{subject}_CLASS-{cls}_Window-{cls + 1}.mat", rng.normal(size=(500, 3)))
    if broken == "nan":
        write_window_mat(folder / "ID-3_CLASS-0_Window-1.mat", np.full((500, 3), np.nan))
        return "ID-3_CLASS-0_Window-1.mat"
    if broken == "bad name":
        write_window_mat(folder / "subject3.mat", rng.normal(size=(500, 3)))
        return "subject3.mat: file name does not parse"
    if broken == "unknown class":
        write_window_mat(folder / "ID-3_CLASS-9_Window-1.mat", rng.normal(size=(500, 3)))
        return "ID-3_CLASS-9_Window-1.mat: unknown class"
    raise ValueError(broken)


def _recording_source(folder: Path, broken: str):
    folder.mkdir()
    rng = np.random.default_rng(0)
    n = 300 if broken == "short recording" else 2000
    table = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x", "y", "z"])
    table["label"] = "Juggling" if broken == "unknown label" else "Drive car"
    table.to_csv(folder / "S01.csv", index=False)
    return {"short recording": "S01.csv: the window (500 samples) is longer than the recording",
            "unknown label": "S01.csv: unknown class 'Juggling'"}[broken]


DATA_CASES = [("mat", "nan"), ("mat", "bad name"), ("mat", "unknown class"), ("recordings", "short recording"),
              ("recordings", "unknown label"), ("mat", "missing folder")]


@pytest.mark.parametrize("fmt, broken", DATA_CASES, ids=[f"{f}: {b}" for f, b in DATA_CASES])
def test_bad_data(tmp_path, fmt, broken):
    folder = tmp_path / "data"
    if broken == "missing folder":
        message = "datasets.tiny.source.path: data — put the .mat windows"
    elif fmt == "mat":
        message = _mat_source(folder, broken)
    else:
        message = _recording_source(folder, broken)
    config = _config(datasets__tiny__source={"format": fmt, "path": "data", "class_base": 0},
                     datasets__tiny__classes="gene7",
                     datasets__tiny__split={"method": "window", "train": 0.5, "test": 0.5})
    run = snakemake(tmp_path, "--cores", "1", "results/tiny/windows.h5", config=config)
    assert run.returncode != 0
    assert message in run.stdout + run.stderr
    leftovers = [p for p in (tmp_path / "results").rglob("*") if p.is_file() and p.parent.name != "window"]
    assert not [p for p in leftovers if "logs" not in p.parts and "benchmarks" not in p.parts], leftovers
