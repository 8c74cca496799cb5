"""Split guarantees: subject-disjoint by default, fractions, stratification, explicit lists."""

import numpy as np
import pytest

from gafkd.data.split import split_windows, subject_split, window_split
from gafkd.errors import ConfigError, DataError


def _data(rng, subjects=20, per_class=6, classes=5):
    labels = np.tile(np.repeat(np.arange(classes), per_class), subjects)
    subj = np.repeat([f"S{i}" for i in range(subjects)], classes * per_class)
    return labels, subj


def test_subject_split_is_disjoint_and_near_fractions(rng):
    labels, subjects = _data(rng)
    codes = subject_split(labels, subjects, 0.7, 0.25, seed=3)
    train, test = set(subjects[codes == "train"]), set(subjects[codes == "test"])
    assert not train & test
    assert abs((codes == "train").mean() - 0.7) <= 0.05 and abs((codes == "test").mean() - 0.25) <= 0.05
    assert set(codes) == {"train", "test", "unused"}


def test_subject_split_is_stratified_when_subjects_allow():
    # half the subjects only have class 0, half only class 1: a good split keeps both in each side
    labels = np.repeat([0, 1] * 6, 10)
    subjects = np.repeat([f"S{i}" for i in range(12)], 10)
    codes = subject_split(labels, subjects, 0.5, 0.5, seed=0)
    for part in ("train", "test"):
        counts = np.bincount(labels[codes == part], minlength=2)
        assert counts[0] == counts[1], part


def test_subject_split_is_deterministic(rng):
    labels, subjects = _data(rng)
    assert np.array_equal(subject_split(labels, subjects, 0.3, 0.3, 1), subject_split(labels, subjects, 0.3, 0.3, 1))


def test_window_split_stratified_fractions(rng):
    labels, _ = _data(rng, subjects=10, per_class=10)
    codes = window_split(labels, 0.3, 0.3, seed=0)
    for c in range(5):
        assert (codes[labels == c] == "train").sum() == 30 and (codes[labels == c] == "test").sum() == 30


def test_explicit_subject_lists(rng):
    labels, subjects = _data(rng, subjects=4)
    codes = split_windows(labels, subjects, {"method": "subjects", "train_subjects": ["S0", "S1"],
                                             "test_subjects": ["S3"]}, "datasets.x")
    assert set(subjects[codes == "test"]) == {"S3"} and set(subjects[codes == "unused"]) == {"S2"}
    with pytest.raises(ConfigError, match="both"):
        split_windows(labels, subjects, {"method": "subjects", "train_subjects": ["S0"], "test_subjects": ["S0"]}, "x")
    with pytest.raises(ConfigError, match="do not occur"):
        split_windows(labels, subjects, {"method": "subjects", "train_subjects": ["S9"], "test_subjects": ["S0"]}, "x")


def test_bad_fractions_and_single_subject(rng):
    labels, subjects = _data(rng, subjects=1)
    with pytest.raises(DataError, match="at least two subjects"):
        subject_split(labels, subjects, 0.5, 0.5)
    with pytest.raises(ConfigError, match="sum to at most 1"):
        window_split(labels, 0.8, 0.3)
