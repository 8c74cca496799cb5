"""Each reader on small fixtures, and every bad-input case of the window stage."""

import numpy as np
import pandas as pd
import pytest
import scipy.io

from gafkd.classes import GENE7, GENE14, LabelMapper
from gafkd.data.mat import read_mat_folder, write_window_mat
from gafkd.data.recordings import read_recordings
from gafkd.errors import DataError


def _mat_folder(tmp_path, rng, specs, version="5", length=50):
    """specs: (subject, class number, window index) per file."""
    windows = {}
    for subject, cls, index in specs:
        x = rng.normal(size=(length, 3))
        name = f"ID-{subject}_CLASS-{cls}_Window-{index:04d}.mat"
        write_window_mat(tmp_path / name, x, version)
        windows[name] = x
    return windows


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_mat_reader_round_trip(tmp_path, rng, version):
    specs = [(101, c + 1, i) for i, c in enumerate(range(14))] + [(102, 3, 1)]
    written = _mat_folder(tmp_path, rng, specs, version)
    ws = read_mat_folder(tmp_path, GENE14, window=50)  # 1..14 in names → detected 1-based
    assert ws.signals.shape == (15, 3, 50) and ws.signals.dtype == np.float32
    first = sorted(written)[0]
    i = list(ws.ids).index(first[:-4])
    np.testing.assert_allclose(ws.signals[i], written[first].T, rtol=1e-6)
    assert sorted(ws.labels.tolist()) == sorted(c - 1 for _, c, _ in specs)
    assert set(ws.subjects) == {"101", "102"}


def test_mat_class_base_detection(tmp_path, rng):
    _mat_folder(tmp_path, rng, [(1, 0, 1), (1, 6, 2)])
    assert sorted(read_mat_folder(tmp_path, GENE7).labels) == [0, 6]


def test_mat_class_base_ambiguous(tmp_path, rng):
    _mat_folder(tmp_path, rng, [(1, 2, 1), (1, 5, 2)])
    with pytest.raises(DataError, match="class_base"):
        read_mat_folder(tmp_path, GENE7)
    assert sorted(read_mat_folder(tmp_path, GENE7, class_base=1).labels) == [1, 4]


def test_mat_with_label_map_to_seven_classes(tmp_path, rng):
    _mat_folder(tmp_path, rng, [(1, 5, 1), (1, 14, 2), (1, 1, 3)])  # 1-based 14-class numbers
    ws = read_mat_folder(tmp_path, GENE7, label_map="gene14_to_gene7", class_base=1)
    by_id = {i.split("_")[1]: GENE7[label] for i, label in zip(ws.ids, ws.labels)}
    assert by_id == {"CLASS-5": "Treadmill run", "CLASS-14": "Stairs", "CLASS-1": "Treadmill walk"}


def _write(tmp_path, name, array):
    scipy.io.savemat(tmp_path / name, array)


@pytest.mark.parametrize("case, make, message", [
    ("empty folder", lambda p, r: None, "no .mat files"),
    ("unparsable name", lambda p, r: _write(p, "subject1_class2.mat", {"xw": r.normal(size=(1, 50, 3))}),
     "does not parse"),
    ("missing xw", lambda p, r: _write(p, "ID-1_CLASS-0_Window-1.mat", {"x": r.normal(size=(1, 50, 3))}),
     "no variable 'xw'"),
    ("wrong shape", lambda p, r: _write(p, "ID-1_CLASS-0_Window-1.mat", {"xw": r.normal(size=(50, 3))}),
     r"shape \(1, L, 3\)"),
    ("nan", lambda p, r: _write(p, "ID-1_CLASS-0_Window-1.mat", {"xw": np.full((1, 50, 3), np.nan)}), "NaN"),
    ("not a mat file", lambda p, r: (p / "ID-1_CLASS-0_Window-1.mat").write_bytes(b"garbage"), "not a readable"),
    ("unknown class", lambda p, r: [_write(p, f"ID-1_CLASS-{c}_Window-{c}.mat", {"xw": r.normal(size=(1, 50, 3))})
                                    for c in (0, 9)], "unknown class"),
    ("duplicate ids", lambda p, r: [_write(p, n, {"xw": r.normal(size=(1, 50, 3))})
                                    for n in ("ID-1_CLASS-0_Window-1.mat", "ID-1_CLASS-0_Window-001.mat")],
     "duplicate window id"),
    ("wrong window length", lambda p, r: _write(p, "ID-1_CLASS-0_Window-1.mat", {"xw": r.normal(size=(1, 40, 3))}),
     "dataset's window is 50"),
])
def test_mat_bad_inputs(tmp_path, rng, case, make, message):
    make(tmp_path, rng)
    with pytest.raises(DataError, match=message) as err:
        read_mat_folder(tmp_path, GENE7, class_base=0, window=50)
    assert str(tmp_path) in str(err.value), f"{case}: the message must name the file or folder"


def _recording(labels, timestamps=None, rng=None):
    rng = rng or np.random.default_rng(1)
    table = pd.DataFrame(rng.normal(size=(len(labels), 3)), columns=["x", "y", "z"])
    table["label"] = labels
    if timestamps is not None:
        table.insert(0, "timestamp", timestamps)
    return table


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_recordings_windowing(tmp_path, suffix):
    labels = ["Drive car"] * 25 + ["Walk up stairs"] * 12
    t = np.arange(37) / 100.0
    t[30:] += 5.0  # a gap inside the stairs bout
    table = _recording(labels, t)
    getattr(table, f"to_{suffix}")(tmp_path / f"S01.{suffix}", index=False)
    ws = read_recordings(tmp_path, GENE14, window=10, stride=5)
    # drive: starts 0, 5, 10, 15 (25 samples); stairs 25..29 (5 samples) and 30..36 (7): none fits
    assert [int(i.split("@")[1]) for i in ws.ids] == [0, 5, 10, 15]
    assert set(ws.labels) == {GENE14.index("Drive car")}
    np.testing.assert_allclose(ws.signals[1], table[["x", "y", "z"]].to_numpy()[5:15].T, rtol=1e-6)


def test_recordings_windows_never_cross_label_changes(tmp_path):
    labels = np.repeat([0, 1, 0, 2], [30, 30, 30, 30])
    _recording(labels).to_csv(tmp_path / "S01.csv", index=False)
    ws = read_recordings(tmp_path, GENE7, window=10, stride=10, class_base=0)
    assert len(ws) == 12
    starts = np.array([int(i.split("@")[1]) for i in ws.ids])
    assert np.array_equal(labels[starts], labels[starts + 9])  # first and last sample share the label
    assert np.array_equal(ws.labels, labels[starts])


@pytest.mark.parametrize("case, table, message", [
    ("missing column", _recording([0] * 20).drop(columns=["z"]), "missing columns"),
    ("nan", _recording([0] * 20).assign(x=np.nan), "NaN"),
    ("unknown label", _recording(["Juggling"] * 20), "unknown class"),
    ("window longer than recording", _recording([0] * 5), "longer than the recording"),
    ("timestamps going back", _recording([0] * 20, timestamps=np.r_[np.arange(10), np.arange(10)]), "increasing"),
])
def test_recordings_bad_inputs(tmp_path, case, table, message):
    table.to_csv(tmp_path / "S01.csv", index=False)
    with pytest.raises(DataError, match=message) as err:
        read_recordings(tmp_path, GENE7, window=10, stride=10, class_base=0)
    assert "S01.csv" in str(err.value), case


def test_recordings_empty_folder(tmp_path):
    with pytest.raises(DataError, match="no .csv or .parquet"):
        read_recordings(tmp_path, GENE7, window=10, stride=10)


def test_label_mapper_names_and_numbers():
    mapper = LabelMapper(GENE7, {"walk": "Treadmill walk", "3": "Stairs"})
    assert mapper("WALK", "f") == 0 and mapper(3, "f") == GENE7.index("Stairs")
    with pytest.raises(DataError, match="not in label_map"):
        mapper("swim", "f")
