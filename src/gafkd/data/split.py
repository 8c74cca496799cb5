"""Train/validation/test splits: subject-disjoint (default), window-level (the old protocol) or explicit lists.

Split codes in windows.h5: ``train``, ``val``, ``test`` and ``unused`` (windows left out when the
fractions add up to less than one, as sklearn's ``train_test_split(train_size=0.7, test_size=0.25)``
leaves 5 % out). The validation share is optional (``val``; the group's protocol has none): it chooses
the epoch to report without looking at the test set. It is carved out of the training set: the test
set (and what is unused) is exactly the split without ``val``, and the training set keeps the rest of
its windows (``train`` − ``val`` of all of them). So adding a validation share never moves a test subject.
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError, DataError

TRAIN, VAL, TEST, UNUSED = "train", "val", "test", "unused"
FOLDED = ("loso", "kfold")  # split into folds by gafkd.folds; the dataset's own windows.h5 keeps them all


def split_windows(labels: np.ndarray, subjects: np.ndarray, settings: dict, where: str) -> np.ndarray:
    """Split code per window according to ``settings`` (the dataset's ``split`` mapping)."""
    method = settings.get("method", "subject")
    val = settings.get("val", 0.0)
    if method == "subject":
        codes = subject_split(labels, subjects, settings["train"], settings["test"], settings.get("seed", 0),
                              settings.get("tries", 200), val)
    elif method == "window":
        codes = window_split(labels, settings["train"], settings["test"], settings.get("seed", 0), val)
    elif method == "subjects":
        codes = explicit_split(subjects, settings["train_subjects"], settings["test_subjects"], where,
                               settings.get("val_subjects", ()))
        if val:
            codes = validation_subjects(codes, labels, subjects, val, settings.get("seed", 0), settings.get("tries", 200))
    elif method in FOLDED:
        return np.full(len(labels), UNUSED)  # every window: each fold (gafkd.folds) splits them its own way
    else:
        raise ConfigError(f"{where}.split.method: {method!r} is not one of subject, window, subjects, loso, kfold")
    asked = (TRAIN, TEST, VAL) if val or settings.get("val_subjects") else (TRAIN, TEST)
    for part in asked:
        if not (codes == part).any():
            raise DataError(f"{where}: the split leaves the {part} set empty; use more subjects or other fractions")
    return codes


def validation_subjects(codes: np.ndarray, labels, subjects, val: float, seed: int = 0, tries: int = 200) -> np.ndarray:
    """``codes`` with about ``val`` of all windows' subjects moved from train to validation (a fold's)."""
    ids, inverse, per_subject = _subject_class_counts(labels, subjects)
    assign = np.full(len(ids), 2)
    for code, part in ((0, TRAIN), (1, TEST)):
        assign[np.unique(inverse[codes == part])] = code
    total = per_subject.sum()
    train = per_subject[assign == 0].sum() / total
    chosen = _validation_from_training(assign, per_subject, train, val, total, np.random.default_rng(seed), tries)
    return np.where(np.isin(inverse, np.flatnonzero(chosen == 3)), VAL, codes)


def _subject_class_counts(labels, subjects) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subject ids, each window's subject index, windows per subject and class [subjects, classes])."""
    ids, inverse = np.unique(subjects, return_inverse=True)
    per_subject = np.zeros((len(ids), int(labels.max()) + 1))
    np.add.at(per_subject, (inverse, labels), 1)
    return ids, inverse, per_subject


def _check_fractions(train: float, test: float, val: float = 0.0) -> None:
    if not (0 < train < 1 and 0 < test < 1 and 0 <= val < train and train + test <= 1 + 1e-9):
        raise ConfigError(f"split: train ({train}) and test ({test}) must be in (0, 1) and sum to at most 1, and val "
                          f"({val}), taken from the training windows, below train")


def subject_split(labels, subjects, train: float, test: float, seed: int = 0, tries: int = 200,
                  val: float = 0.0) -> np.ndarray:
    """Subject-disjoint split, stratified as well as subjects allow.

    Subjects are assigned in ``tries`` seeded random orders; each order fills the test set, then the
    train set, to their window fractions. The order whose train and test class proportions differ
    least, and whose sizes are closest to the targets, wins. With ``val`` > 0, validation subjects are
    then taken from those training subjects (``tries`` seeded orders again: about ``val`` of all
    windows, class proportions closest to the remaining training set's, at least one subject left on
    each side): the test subjects are those of the split without ``val``.
    """
    _check_fractions(train, test, val)
    ids, inverse, per_subject = _subject_class_counts(labels, subjects)
    needed = 3 if val else 2
    if len(ids) < needed:
        raise DataError(f"a subject-disjoint split{' with a validation set' if val else ''} needs at least "
                        f"{'three' if val else 'two'} subjects, found {len(ids)}")
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
    if val:
        best = _validation_from_training(best, per_subject, train, val, total, rng, tries)
    return np.asarray([TRAIN, TEST, UNUSED, VAL])[best[inverse]]


def _validation_from_training(assign, per_subject, train, val, total, rng, tries) -> np.ndarray:
    """``assign`` with some training subjects (code 0) made validation subjects (code 3)."""
    training = np.flatnonzero(assign == 0)
    if len(training) < 2:
        raise DataError(f"a validation set taken from the training subjects needs at least two of them, the split "
                        f"without it has {len(training)}; use more subjects or a larger train share")
    best, best_cost = None, np.inf
    for _ in range(max(1, tries)):
        order = rng.permutation(training)
        cumulative = np.cumsum(per_subject[order].sum(1)) / total
        n_val = min(max(1, int(np.searchsorted(cumulative, val - 1e-9)) + 1), len(training) - 1)
        candidate = assign.copy()
        candidate[order[:n_val]] = 3
        # the remaining train against the validation subjects (their windows as the "test" side)
        cost = _split_cost(per_subject, np.where(assign == 1, 2, np.where(candidate == 3, 1, candidate)),
                           train - val, val, total)
        if cost < best_cost:
            best, best_cost = candidate, cost
    return best


def _split_cost(per_subject, assign, train, test, total) -> float:
    train_counts, test_counts = per_subject[assign == 0].sum(0), per_subject[assign == 1].sum(0)
    p_train = train_counts / max(train_counts.sum(), 1)
    p_test = test_counts / max(test_counts.sum(), 1)
    missing = (train_counts == 0) & (per_subject.sum(0) > 0)
    size = abs(train_counts.sum() / total - train) + abs(test_counts.sum() / total - test)
    return np.abs(p_train - p_test).sum() + size + 10.0 * missing.sum()


def window_split(labels, train: float, test: float, seed: int = 0, val: float = 0.0) -> np.ndarray:
    """Stratified window-level split (the old protocol: subjects may appear on both sides); ``val`` taken,
    per class, from the windows the split without it trains on."""
    _check_fractions(train, test, val)
    rng = np.random.default_rng(seed)
    codes = np.full(len(labels), UNUSED, dtype=object)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test * len(idx)))
        n_train = min(int(round(train * len(idx))), len(idx) - n_test)
        n_val = min(int(round(val * len(idx))), max(n_train - 1, 0))
        codes[idx[:n_test]] = TEST
        codes[idx[n_test:n_test + n_val]] = VAL
        codes[idx[n_test + n_val:n_test + n_train]] = TRAIN
    return codes.astype(str)


def explicit_split(subjects, train_subjects, test_subjects, where: str, val_subjects=()) -> np.ndarray:
    sets = {TRAIN: {str(s) for s in train_subjects}, TEST: {str(s) for s in test_subjects},
            VAL: {str(s) for s in val_subjects}}
    for a, b in ((TRAIN, TEST), (TRAIN, VAL), (VAL, TEST)):
        overlap = sets[a] & sets[b]
        if overlap:
            raise ConfigError(f"{where}.split: subjects {sorted(overlap)} are in both {a}_subjects and {b}_subjects")
    known = set(np.unique(subjects).astype(str))
    unknown = set().union(*sets.values()) - known
    if unknown:
        raise ConfigError(f"{where}.split: subjects {sorted(unknown)} do not occur in the data (have {sorted(known)[:20]})")
    subjects = subjects.astype(str)
    codes = np.full(len(subjects), UNUSED, dtype=object)
    for part, members in sets.items():
        codes[np.isin(subjects, list(members))] = part
    return codes.astype(str)
