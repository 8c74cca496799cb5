"""Model selection without the test set: a validation split, the epoch it chooses, and what the report makes of it."""

import copy
import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from gafkd.config import check_config, with_defaults
from gafkd.data.build import build_windows
from gafkd.data.split import subject_split, window_split
from gafkd.data.synthetic import write_synthetic
from gafkd.errors import ConfigError
from gafkd.reporting.make import footer
from gafkd.reporting.document import render_tables
from gafkd.reporting.make import load_reference
from gafkd.training.runs import train_teacher
from gafkd.training.teachers import write_teacher_logits
from helpers import CONFIG, TRAINING, fake_runs, main_table_rows, run_files

ROOT = Path(__file__).resolve().parents[1]


def test_subject_split_with_validation_is_three_disjoint_subject_sets(rng):
    subjects = np.repeat(np.arange(10), 50)
    labels = rng.integers(0, 5, len(subjects))
    codes = subject_split(labels, subjects, train=0.7, test=0.3, val=0.2)
    sets = {part: set(subjects[codes == part]) for part in ("train", "val", "test")}
    assert all(sets.values()) and not (sets["train"] & sets["val"] or sets["train"] & sets["test"]
                                       or sets["val"] & sets["test"])
    assert abs((codes == "val").mean() - 0.2) <= 0.1 and abs((codes == "test").mean() - 0.3) <= 0.1
    # without val: exactly the train/test split it always was (same subjects, no "val")
    before = subject_split(labels, subjects, train=0.7, test=0.3)
    assert "val" not in set(before)
    assert np.array_equal(before, subject_split(labels, subjects, train=0.7, test=0.3, val=0.0))
    # adding the validation share moves no test subject: it is carved out of the training subjects
    assert np.array_equal(codes == "test", before == "test")
    assert np.array_equal((codes == "train") | (codes == "val"), before == "train")


def test_window_split_with_validation(rng):
    labels = rng.integers(0, 3, 600)
    codes = window_split(labels, 0.6, 0.3, seed=1, val=0.1)
    assert abs((codes == "val").mean() - 0.1) < 0.02 and abs((codes == "test").mean() - 0.3) < 0.02
    before = window_split(labels, 0.6, 0.3, seed=1)
    assert np.array_equal(codes == "test", before == "test")
    assert np.array_equal((codes == "train") | (codes == "val"), before == "train")  # validation from training


@pytest.fixture(scope="module")
def tiny_val(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_val")
    source = write_synthetic(root / "source", subjects=6, seconds_per_activity=11, seed=2, write_as="parquet")
    settings = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "window": 500,
                "stride": 500, "split": {"method": "subject", "train": 0.5, "val": 0.2, "test": 0.3, "seed": 0}}
    build_windows(source, settings, "tiny", root / "windows.h5")
    return root


def test_training_records_the_epoch_chosen_on_validation(tiny_val, tmp_path):
    outputs = run_files(tmp_path / "run")
    train_teacher(tiny_val / "windows.h5", None, outputs, dataset="tiny", modality="sig", arch="wrn16-1", seed=0,
                  training={**TRAINING, "epochs": 4, "lr_milestones": [1, 2, 3]})
    metrics = json.loads(open(outputs["metrics"]).read())
    history = pd.read_csv(outputs["history"])
    assert history["val_acc"].notna().all()
    chosen = int(history["val_acc"].idxmax())  # the first epoch of the highest validation accuracy
    assert metrics["best_val_epoch"] == chosen + 1
    assert metrics["best_val_acc"] == pytest.approx(history["val_acc"][chosen], abs=1e-6)
    assert metrics["test_acc_at_best_val"] == pytest.approx(history["test_acc"][chosen], abs=1e-6)
    assert metrics["best_test_acc"] >= metrics["test_acc_at_best_val"]
    weights = torch.load(outputs["weights"], weights_only=True)
    assert weights["best_val_epoch"] == chosen + 1 and weights["best_val"] is not None
    # students can learn from the teacher chosen on validation; its logits reproduce that accuracy
    summary = write_teacher_logits(outputs["weights"], tiny_val / "windows.h5", None, tmp_path / "logits.h5",
                                   training={**TRAINING, "teacher_weights": "best_val"})
    accuracy = summary["teacher_test_acc"][str(tmp_path / "logits.h5")]
    assert accuracy["test_acc"] == accuracy["teacher_reported"] == metrics["test_acc_at_best_val"]


def test_report_metric_val_reports_the_test_accuracy_at_the_validation_epoch():
    runs = fake_runs()
    runs["test_acc_at_best_val"] = runs["best_test_acc"] - 2.0
    config = {**CONFIG, "report": {**CONFIG["report"], "metric": "val"}}
    text = render_tables(config, runs, load_reference(), "")
    assert "epoch chosen on validation (`report.metric: val`)" in text
    teacher = runs[(runs["kind"] == "teacher") & (runs["teachers"] == "gaf:wrn16-1")]
    assert f"{teacher['test_acc_at_best_val'].iloc[0]:.4f}" in main_table_rows(text)[0]
    assert "best test epoch, chosen on the test set" in render_tables(CONFIG, runs, load_reference(), "")
    # each dataset's diagnostics measure the optimism of selecting on test
    assert "selecting on the test set adds +2.0000 points" in text.split("## gene14_w500")[1].split("\n## ")[0]
    assert "selecting on the test set" not in footer(config, runs)


def test_choosing_on_validation_needs_a_validation_split():
    config = with_defaults({**CONFIG, "report": {**CONFIG["report"], "metric": "val"}})
    with pytest.raises(ConfigError, match=r"report.metric: chooses on the validation set, but datasets .* have no "
                                          r"validation split"):
        check_config(config)


def _with_val(**top):
    """config.yaml with a validation share in every dataset, and ``top`` keys."""
    config = copy.deepcopy(yaml.safe_load((ROOT / "config.yaml").read_text()))
    for dataset in config["datasets"].values():
        dataset["split"]["val"] = 0.1
    return {**config, **top}


def test_one_switch_chooses_every_checkpoint():
    """selection: val sets the report's epoch and the teachers' checkpoint (logits and annealed starts alike);
    a key set by hand wins; honest numbers from test-chosen teachers are refused unless allowed, and said."""
    honest = with_defaults(_with_val(selection="val"))
    assert (honest["report"]["metric"], honest["training"]["teacher_weights"]) == ("val", "best_val")
    check_config(honest)
    group = with_defaults(_with_val())
    assert (group["selection"], group["report"]["metric"], group["training"]["teacher_weights"]) == ("test", "best", "best")
    final = with_defaults(_with_val(selection="val", training={"teacher_weights": "final"}))
    assert final["training"]["teacher_weights"] == "final" and final["report"]["metric"] == "val"
    mixed = with_defaults(_with_val(report={"metric": "val"}))
    with pytest.raises(ConfigError, match="teachers chosen on the test set, so the validation-chosen numbers"):
        check_config(mixed)
    allowed = with_defaults(_with_val(report={"metric": "val", "allow_test_selected_teachers": True}))
    check_config(allowed)
    assert "**Not an honest selection:**" in render_tables(allowed, fake_runs(allowed), load_reference(), "")
    assert "Not an honest" not in render_tables(honest, fake_runs(honest), load_reference(), "")
    no_split = with_defaults({**copy.deepcopy(CONFIG), "selection": "val"})
    with pytest.raises(ConfigError, match=r"selection: chooses on the validation set, but datasets \['gene14_w500'"):
        check_config(no_split)


VAL_STUDY = {
    "results": "results", "selection": "val", "report": {"html": False},
    "datasets": {"tiny": {
        "source": {"format": "synthetic", "subjects": 4, "seconds_per_activity": 11, "seed": 3, "write_as": "parquet"},
        "classes": "gene14", "window": 500, "split": {"method": "subject", "train": 0.5, "val": 0.2, "test": 0.5}}},
    "images": {"image_size": 16},
    "training": {"epochs": 3, "batch_size": 16, "lr_milestones": [1, 2, 2]},
    "teachers": {"modalities": ["gaf", "sig"], "archs": ["wrn16-1"], "seeds": [0]},
    "students": {"seeds": [0], "kd1": {"teacher_archs": []}, "kd2": {"pairs": [["wrn16-1", "wrn16-1"]], "alphas": [0.3]},
                 "variants": ["base", "ann"], "variant_kinds": ["kd2"]},
}


@pytest.mark.slow
def test_selection_val_reads_no_checkpoint_chosen_on_test(tmp_path):
    """End to end with selection: val — the teachers' logits, the annealed start and the report all use the
    epoch validation chose; nothing the test set chose is read."""
    from helpers import snakemake

    run = snakemake(tmp_path, "--cores", "2", config=VAL_STUDY)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = tmp_path / "results"
    logits = list(results.rglob("logits.h5"))
    assert logits
    for path in logits:
        with h5py.File(path) as h5:
            assert json.loads(h5.attrs["settings"])["weights"] == "best_val", path
    annealed = json.loads(next(results.rglob("kd2_*_ann/seed0/metrics.json")).read_text())
    assert annealed["init"]["weights"] == "best_val" and annealed["init"]["epoch"] >= 1
    assert annealed["epochs_total"] == 2 * VAL_STUDY["training"]["epochs"]  # its cross-entropy start counted
    tables = (results / "tables.md").read_text()
    assert "epoch chosen on validation (`report.metric: val`)" in tables
    assert "best-validation-epoch checkpoints" in tables and "Not an honest" not in tables
    with h5py.File(results / "tiny" / "windows.h5") as h5:
        split = h5["split"][...].astype(str)
    assert {"train", "val", "test"} <= set(split)


def test_the_compute_matched_student_alone():
    """students.compute_matched adds the student alone continued from its own checkpoint for the same epochs
    (an annealed start without teachers), only where a variant is annealed; its name reads back."""
    from gafkd.grid import trained_experiments
    from gafkd.kinds import ALONE_KIND as BASELINE
    from gafkd.names import Experiment

    config = with_defaults({**copy.deepcopy(CONFIG), "students": {**CONFIG["students"], "compute_matched": True,
                                                                  "variants": ["base", "ann"]}})
    alone = [e for e in trained_experiments(config) if e.kind == BASELINE]
    assert [e.spec for e in alone] == ["baseline_ann"]  # the base one is the signal teacher's run
    assert Experiment.parse("baseline_ann") == alone[0] and alone[0].method.annealed and not alone[0].teachers
    plain = with_defaults({**copy.deepcopy(CONFIG), "students": {**CONFIG["students"], "compute_matched": True}})
    assert not [e for e in trained_experiments(plain) if e.kind == BASELINE]  # no annealed variant: nothing to match
    text = render_tables(config, fake_runs(config), load_reference(), "")
    assert "trains them after its 200-epoch cross-entropy start: 400 in all" in text  # the header says the epochs
    assert "S: WRN16-1(Sig) alone (500w, 14cls) [compute-matched: 200 + 200 epochs" in text
    assert "cross-entropy start" not in render_tables(plain, fake_runs(plain), load_reference(), "")
