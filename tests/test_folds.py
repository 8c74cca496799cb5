"""Folds as dataset variants: leave-one-subject-out and k-fold plans, no leakage per fold, images made once when
they can be, and the tables' mean and population std over folds × trials."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from gafkd.config import check_config, dataset_settings, with_defaults
from gafkd.data.build import build_fold_windows, build_windows
from gafkd.data.formats import write_synthetic
from gafkd.data.store import load_windows
from gafkd.errors import ConfigError
from gafkd.folds import dataset_groups, expand_folds, fold_lines, fold_plan
from gafkd.grid import image_settings, image_source
from gafkd.reporting.document import render_tables
from gafkd.reporting.tables import DatasetTables

ROOT = Path(__file__).resolve().parents[1]
SOURCE = {"format": "synthetic", "write_as": "pamap2", "subjects": 4, "seconds_per_activity": 3, "seed": 1,
          "columns": ["hand_acc16_x", "hand_acc16_y"]}


def config_with(dataset: dict, **top) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["datasets"] = {"p2": {"classes": "pamap2", "window": 100, "stride": 22, "sampling_rate": 33.333333,
                                 **dataset}}
    config["teachers"] = {"archs": ["wrn16-1"], "seeds": [0, 1, 2]}
    config["students"] = {"kd1": {"teacher_archs": []}, "kd2": {"pairs": []}}
    config.update(top)
    return with_defaults(config)


def test_loso_makes_a_fold_per_subject_each_tested_once():
    config = config_with({"source": SOURCE, "split": {"method": "loso"}})
    check_config(config)
    bases = expand_folds(config)
    assert list(bases) == ["p2"]
    assert list(config["datasets"]) == [f"p2_fold{s}" for s in (101, 102, 103, 104)]
    for name, settings in config["datasets"].items():
        split = settings["split"]
        assert split["test_subjects"] == [name[-3:]] and name[-3:] not in split["train_subjects"]
        assert sorted(split["train_subjects"] + split["test_subjects"]) == ["101", "102", "103", "104"]
    assert dataset_groups(config) == {"p2": list(config["datasets"])}
    assert fold_lines(config)[0].startswith("p2: leave-one-subject-out, 4 folds — p2_fold101 (test: 101)")


def test_kfold_partitions_the_subjects():
    plan = fold_plan("p2", {"source": {**SOURCE, "subjects": 7}, "split": {"method": "kfold", "k": 3, "seed": 2}})
    assert len(plan) == 3 and sorted(sum(plan.values(), [])) == [str(s) for s in range(101, 108)]
    assert sorted(len(v) for v in plan.values()) == [2, 2, 3]


def test_subjects_that_cannot_be_known_are_refused_naming_the_key(tmp_path):
    settings = {"source": {"format": "mat", "path": str(tmp_path / "absent")}, "split": {"method": "loso"}}
    with pytest.raises(ConfigError, match=r"datasets.g.split: loso makes folds of subjects.*split.subjects"):
        fold_plan("g", settings)
    assert list(fold_plan("g", {**settings, "split": {"method": "loso", "subjects": ["a", "b"]}})) == ["a", "b"]


def test_no_subject_is_in_a_folds_train_and_test_and_validation_comes_from_its_training_subjects(tmp_path):
    config = config_with({"source": SOURCE, "split": {"method": "loso", "val": 0.3}})
    bases = {name: dataset_settings(config, name) for name in config["datasets"]}
    expand_folds(config)
    write_synthetic(tmp_path / "source", bases["p2"]["source"], 100)
    build_windows(tmp_path / "source", bases["p2"], "p2", tmp_path / "p2" / "windows.h5")
    everything = load_windows(tmp_path / "p2" / "windows.h5")
    assert set(everything.split) == {"unused"} and everything.signals.shape[1] == 2
    tested = []
    for name in config["datasets"]:
        path = tmp_path / name / "windows.h5"
        build_fold_windows(tmp_path / "p2" / "windows.h5", dataset_settings(config, name), name, path)
        fold = load_windows(path)
        assert np.array_equal(fold.signals, everything.signals)  # linked, not copied
        by_part = {part: set(fold.subjects[fold.split == part]) for part in ("train", "val", "test")}
        assert by_part["test"] == {name[-3:]}  # the held-out subject, and only it
        assert not (by_part["train"] & by_part["test"] or by_part["val"] & by_part["test"]
                    or by_part["train"] & by_part["val"])
        assert by_part["train"] and by_part["val"]
        tested += sorted(by_part["test"])
        assert fold.attrs["signals_digest"] == everything.attrs["settings_digest"] != fold.attrs["settings_digest"]
    assert tested == ["101", "102", "103", "104"]
    (tmp_path / "moved").mkdir()
    for name in ("p2", "p2_fold101"):  # relative links: a results folder moved whole keeps working
        (tmp_path / name).rename(tmp_path / "moved" / name)
    assert load_windows(tmp_path / "moved" / "p2_fold101" / "windows.h5").signals.shape == everything.signals.shape


def test_images_are_made_once_unless_their_limits_come_from_each_folds_training_windows():
    documented = config_with({"source": {**SOURCE, "columns": "wrist3"}, "split": {"method": "loso"}},
                             teachers={"modalities": ["gaf", "pi", "sig"]})
    expand_folds(documented)
    fold = "p2_fold102"
    assert image_source(documented, fold, "gaf") == image_source(documented, fold, "pi") == "p2"
    assert image_settings(documented, fold, "pi")["limits"]["max"] == [47.6314, 155.532, 157.76]
    own = copy.deepcopy(documented)
    own["datasets"][fold]["source"]["columns"] = ["hand_acc16_x", "hand_orientation_1"]  # no documented limits
    assert image_source(own, fold, "pi") == fold and image_source(own, fold, "gaf") == "p2"


def test_the_tables_pool_folds_and_trials_with_the_population_std():
    config = config_with({"source": {**SOURCE, "subjects": 9}, "split": {"method": "loso"}})
    expand_folds(config)
    rng = np.random.default_rng(4)
    rows = [dict(dataset=d, kind="teacher", teachers=f"{m}:wrn16-1", student="", alpha=np.nan, lam=np.nan, seed=s,
                 weights="", variant="", status="ok", best_test_acc=round(rng.uniform(60, 90), 4),
                 test_acc_at_best_val=np.nan, trained_as="")
            for d in config["datasets"] for m in ("gaf", "sig") for s in (0, 1, 2)]
    runs = pd.DataFrame(rows)
    members = dataset_groups(config)["p2"]
    tables = DatasetTables(config, "p2", runs, None, members)
    gaf = runs[runs["teachers"] == "gaf:wrn16-1"]["best_test_acc"].to_numpy()
    assert len(gaf) == 27
    row = next(line for line in tables.main_table().splitlines() if "GAF" in line and "WRN16-1" in line)
    assert "27/27" in row and f"{gaf.mean():.4f}" in row and f"{gaf.std(ddof=0):.4f}" in row
    assert f"{gaf.std(ddof=1):.4f}" not in row and f"{gaf.std(ddof=0) / np.sqrt(26):.4f}" not in row
    fold_row = next(line for line in tables.fold_table().splitlines() if "GAF" in line and "WRN16-1" in line)
    first = gaf[:3]
    assert f"{first.mean():.4f} ± {first.std(ddof=0):.4f}" in fold_row
    text = render_tables(config, runs, None, "footer")
    assert text.count("## p2 ") == 1 and "Fold 109 (test: 109)" in text and "9 folds" in text
