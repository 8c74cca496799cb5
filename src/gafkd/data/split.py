"""Train/test splits: subject-disjoint (default), window-level (the old protocol) or explicit lists.

Split codes in windows.h5: ``train``, ``test`` and ``unused`` (windows left out when the
fractions add up to less than one, as sklearn's ``train_test_split(train_size=0.7, test_size=0.25)``
leaves 5 % out).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError

TRAIN, TEST, UNUSED = "train", "test", "unused"


def split_windows(labels: np.ndarray, subjects: np.ndarray, settings: dict, where: str) -> np.ndarray:
    """Split code per window according to ``settings`` (the dataset's ``split`` mapping)."""
    method = settings.get("method", "subject")
    if method == "subject":
        codes = subject_split(labels, subjects, settings["train"], settings["test"], settings.get("seed", 0),
                              settings.get("tries", 200))
    elif method == "window":
        codes = window_split(labels, settings["train"], settings["test"], settings.get("seed", 0))
    elif method == "subjects":
        codes = explicit_split(subjects, settings["train_subjects"], settings["test_subjects"], where)
    else:
        raise ConfigError(f"{where}.split.method: {method!r} is not one of subject, window, subjects")
    for part in (TRAIN, TEST):
        if not (codes == part).any():
            raise DataError(f"{where}: the split leaves the {part} set empty; use more subjects or other fractions")
    return codes


def _check_fractions(train: float, test: float) -> None:
    if not (0 < train < 1 and 0 < test < 1 and train + test <= 1 + 1e-9):
        raise ConfigError(f"split: train ({train}) and test ({test}) must be in (0, 1) and sum to at most 1")


def subject_split(labels, subjects, train: float, test: float, seed: int = 0, tries: int = 200) -> np.ndarray:
    """Subject-disjoint split, stratified as well as subjects allow.

    Subjects are assigned in ``tries`` seeded random orders; each order fills the test set, then
    the train set, to their window fractions. The order whose train and test class proportions
    differ least (and whose sizes are closest to the targets) wins.
    """
    _check_fractions(train, test)
    ids, inverse = np.unique(subjects, return_inverse=True)
    if len(ids) < 2:
        raise DataError(f"a subject-disjoint split needs at least two subjects, found {len(ids)}")
    n_classes = int(labels.max()) + 1
    per_subject = np.zeros((len(ids), n_classes))
    np.add.at(per_subject, (inverse, labels), 1)
    total = per_subject.sum()
    rng = np.random.default_rng(seed)
    best, best_cost = None, np.inf
    for _ in range(max(1, tries)):
        order = rng.permutation(len(ids))
        cumulative = np.cumsum(per_subject[order].sum(1)) / total
        n_test = max(1, int(np.searchsorted(cumulative, test - 1e-9)) + 1)
        n_test = min(n_test, len(ids) - 1)
        rest = cumulative - cumulative[n_test - 1]
        n_train = max(1, int(np.searchsorted(rest[n_test:], train - 1e-9)) + 1)
        assign = np.full(len(ids), 2)
        assign[order[:n_test]] = 1
        assign[order[n_test:n_test + n_train]] = 0
        cost = _split_cost(per_subject, assign, train, test, total)
        if cost < best_cost:
            best, best_cost = assign, cost
    return np.asarray([TRAIN, TEST, UNUSED])[best[inverse]]


def _split_cost(per_subject, assign, train, test, total) -> float:
    train_counts, test_counts = per_subject[assign == 0].sum(0), per_subject[assign == 1].sum(0)
    p_train = train_counts / max(train_counts.sum(), 1)
    p_test = test_counts / max(test_counts.sum(), 1)
    missing = (train_counts == 0) & (per_subject.sum(0) > 0)
    size = abs(train_counts.sum() / total - train) + abs(test_counts.sum() / total - test)
    return np.abs(p_train - p_test).sum() + size + 10.0 * missing.sum()


def window_split(labels, train: float, test: float, seed: int = 0) -> np.ndarray:
    """Stratified window-level split (the old protocol: subjects may appear on both sides)."""
    _check_fractions(train, test)
    rng = np.random.default_rng(seed)
    codes = np.full(len(labels), UNUSED, dtype=object)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test * len(idx)))
        n_train = min(int(round(train * len(idx))), len(idx) - n_test)
        codes[idx[:n_test]] = TEST
        codes[idx[n_test:n_test + n_train]] = TRAIN
    return codes.astype(str)


def explicit_split(subjects, train_subjects, test_subjects, where: str) -> np.ndarray:
    train_set, test_set = {str(s) for s in train_subjects}, {str(s) for s in test_subjects}
    overlap = train_set & test_set
    if overlap:
        raise ConfigError(f"{where}.split: subjects {sorted(overlap)} are in both train_subjects and test_subjects")
    known = set(np.unique(subjects).astype(str))
    unknown = (train_set | test_set) - known
    if unknown:
        raise ConfigError(f"{where}.split: subjects {sorted(unknown)} do not occur in the data (have {sorted(known)[:20]})")
    subjects = subjects.astype(str)
    return np.where(np.isin(subjects, list(train_set)), TRAIN, np.where(np.isin(subjects, list(test_set)), TEST, UNUSED))
