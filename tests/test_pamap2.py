"""The PAMAP2 reader on hand-written lines, the source-format registry, and the synthetic PAMAP2 files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gafkd.classes import PAMAP2_12
from gafkd.data import pamap2
from gafkd.data.formats import (FORMATS, SYNTHETIC_KEYS, COMMON_KEYS, channel_count, check_source_keys,
                                documented_limits, source_format, source_subjects)
from gafkd.errors import ConfigError, DataError
from gafkd.schema import load_schema

HAND_ACC = [pamap2.COLUMNS.index(f"hand_acc16_{a}") for a in "xyz"]


def row(t, activity, heart=np.nan, hand=(1.0, 2.0, 3.0), fill=0.5):
    values = np.full(len(pamap2.COLUMNS), fill)
    values[0], values[1], values[2] = t, activity, heart
    values[HAND_ACC] = hand
    return values


def write(folder: Path, rows, subject="101", part="Protocol") -> Path:
    path = folder / part / f"subject{subject}.dat"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join("NaN" if np.isnan(v) else f"{v:g}" for v in r) for r in rows) + "\n")
    return path


def settings(**source):
    """Windows from row 0 (``window_starts: all``) so the tests below trace rows simply; the lab's rule has its own."""
    return {"source": {"format": "pamap2", "path": "unused", "columns": "wrist3", "window_starts": "all", **source},
            "classes": "pamap2", "window": 4, "stride": 2, "sampling_rate": 100}


def walk(n, activity, start=0.0, heart_every=3):
    """n rows of ``activity``, hand x = the row's index (so windows can be traced), heart rate every few rows."""
    return [row(start + i / 100, activity, heart=float(100 + i) if i % heart_every == 0 else np.nan,
                hand=(float(i), 0.0, -1.0)) for i in range(n)]


def test_transient_rows_are_dropped_labels_follow_the_group_and_windows_keep_agreeing_ends(tmp_path):
    rows = walk(6, 4) + walk(3, 0, 0.06) + walk(6, 24, 0.09) + walk(2, 9, 0.15)
    write(tmp_path, rows)
    windows = pamap2.read_source(tmp_path, settings(), "p")
    counts = json.loads(windows.attrs["preprocessing"])["files"]["Protocol/subject101.dat"]
    assert counts["rows"] == 17 and counts["rows_dropped_activity"] == {"0": 3, "9": 2}
    # 12 rows kept (6 walking, 6 rope jumping): starts 0, 2, 4, 6, 8; 4 straddles the two activities
    assert counts["windows_kept"] == 4 and counts["windows_label_change"] == 1
    assert windows.labels.tolist() == [PAMAP2_12.index("walking")] * 2 + [PAMAP2_12.index("rope jumping")] * 2
    assert windows.signals.shape == (4, 3, 4)
    assert windows.signals[0, 0].tolist() == [0, 1, 2, 3] and windows.signals[2, 0].tolist() == [0, 1, 2, 3]
    assert set(windows.subjects) == {"101"}


def test_heart_rate_is_filled_forward_and_other_gaps_are_zero_as_the_lab_does(tmp_path):
    rows = walk(8, 4)
    rows[5][HAND_ACC[1]] = np.nan  # a lost packet
    write(tmp_path, rows)
    windows = pamap2.read_source(tmp_path, settings(columns=["heart_rate", "hand_acc16_y"], stride=4), "p")
    heart, y = windows.signals[0]
    assert heart.tolist() == [100, 100, 100, 103]  # readings at rows 0 and 3, the last reading between
    assert windows.signals[1, 1].tolist() == [0, 0, 0, 0]  # row 5: NaN → 0
    assert json.loads(windows.attrs["preprocessing"])["total"]["nan_values"] == 1


def test_interpolation_fills_short_gaps_and_drops_windows_touching_long_ones(tmp_path):
    rows = walk(16, 4)
    rows[2][HAND_ACC[0]] = np.nan  # one sample: interpolated
    for r in rows[9:13]:
        r[HAND_ACC[0]] = np.nan  # 40 ms: longer than max_gap
    write(tmp_path, rows)
    windows = pamap2.read_source(tmp_path, settings(gaps={"fill": "interpolate", "max_gap": 0.02}), "p")
    assert windows.signals[0, 0].tolist() == [0, 1, 2, 3]
    total = json.loads(windows.attrs["preprocessing"])["total"]
    assert total["windows_long_gap"] == 4  # starts 6, 8, 10, 12 touch rows 9–12
    assert sorted(int(i.split("@")[1]) for i in windows.ids) == [0, 2, 4]
    assert np.isfinite(windows.signals).all()


def test_subsampling_keeps_every_kth_row_and_poly_resamples_per_stretch(tmp_path):
    write(tmp_path, walk(60, 5))
    every_third = pamap2.read_source(tmp_path, {**settings(), "sampling_rate": 100 / 3}, "p")
    assert every_third.signals[0, 0].tolist() == [0, 3, 6, 9]
    poly = pamap2.read_source(tmp_path, {**settings(resample="poly"), "sampling_rate": 50}, "p")
    assert 0 < len(poly) and poly.attrs["resampler"].startswith("scipy.signal.resample_poly")
    with pytest.raises(ConfigError, match="sampling_rate: 30 Hz is not 100 Hz / an integer"):
        pamap2.read_source(tmp_path, {**settings(), "sampling_rate": 30}, "p")


@pytest.mark.parametrize("line, message", [
    ("1 2 3", r"subject101.dat, line 3: 3 columns, PAMAP2 rows have 54"),
    (" ".join(["0.5"] * 53 + ["abc"]), r"subject101.dat, line 3: 'abc' is not a number"),
])
def test_a_malformed_line_is_refused_naming_file_and_line(tmp_path, line, message):
    path = write(tmp_path, walk(6, 4))
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + [line] + lines[2:]) + "\n")
    with pytest.raises(DataError, match=message):
        pamap2.read_source(tmp_path, settings(), "p")


def test_a_subject_without_windows_is_refused_naming_its_file(tmp_path):
    write(tmp_path, walk(8, 4))
    write(tmp_path, walk(3, 4), subject="102")  # shorter than a window
    with pytest.raises(DataError, match=r"subject102.dat: subject 102 yields no window"):
        pamap2.read_source(tmp_path, settings(), "p")


def test_optional_sessions_are_read_only_when_asked(tmp_path):
    write(tmp_path, walk(8, 4))
    write(tmp_path, walk(8, 17), part="Optional")
    assert set(pamap2.read_source(tmp_path, settings(), "p").labels) == {PAMAP2_12.index("walking")}
    both = pamap2.read_source(tmp_path, settings(optional=True), "p")
    assert set(both.subjects) == {"101"} and len(set(both.labels)) == 2
    assert source_subjects({"format": "pamap2", "optional": True}, tmp_path) == ["101"]


def test_channels_limits_and_subjects_come_from_the_settings():
    assert channel_count({"format": "pamap2"}) == 40 and channel_count({"format": "pamap2", "columns": "wrist3"}) == 3
    assert channel_count({"format": "mat"}) == 3
    limits = documented_limits({"format": "pamap2"})
    assert limits["max"][0] == 202.0 and limits["min"][2] == -114.755 and len(limits["min"]) == 40
    hand = documented_limits({"format": "pamap2", "columns": "wrist3"})
    assert hand == {"min": [-114.755, -104.301, -73.0384], "max": [47.6314, 155.532, 157.76]}
    assert documented_limits({"format": "pamap2", "columns": ["hand_orientation_1"]}) is None
    assert documented_limits({"format": "geneactiv"}) is None
    assert source_subjects({"format": "pamap2"}, Path("/nonexistent")) == list(pamap2.SUBJECTS)
    assert source_subjects({"format": "synthetic", "write_as": "pamap2", "subjects": 3}, "x") == ["101", "102", "103"]
    assert source_subjects({"format": "mat"}, Path("/nonexistent")) is None


def test_the_schema_holds_every_format_and_its_keys():
    source = load_schema()["properties"]["datasets"]["additionalProperties"]["properties"]["source"]["properties"]
    keys = {k for entry in FORMATS.values() for k in entry.keys}
    assert set(source) == keys | set(SYNTHETIC_KEYS) | set(COMMON_KEYS) | {"path"}
    assert set(source["format"]["enum"]) == set(FORMATS) | {"synthetic"}
    assert set(source["write_as"]["enum"]) == {w for entry in FORMATS.values() for w in entry.writers}
    assert set(pamap2.DEFAULTS) == set(FORMATS["pamap2"].keys)


def test_a_key_of_another_format_is_refused_naming_its_format():
    with pytest.raises(ConfigError, match=r"source.columns: only for format 'pamap2' \(this source is 'mat'\)"):
        check_source_keys({"format": "mat", "path": "x", "columns": "wrist3"}, "source")
    with pytest.raises(ConfigError, match=r"annotations: only for format 'geneactiv'.*written as 'pamap2'"):
        check_source_keys({"format": "synthetic", "write_as": "pamap2", "annotations": "log.csv"}, "source")
    check_source_keys({"format": "synthetic", "write_as": "pamap2", "columns": "wrist3", "subjects": 3}, "source")
    assert source_format({"format": "synthetic", "write_as": "bin"}).name == "geneactiv"


def test_no_other_module_branches_on_a_format_name():
    """A format is its module and its entry: the rest of the code asks the registry."""
    src = Path(__file__).resolve().parents[1] / "src" / "gafkd"
    own = {"formats.py", "pamap2.py", "synthetic.py", "mat.py", "recordings.py", "annotated.py", "geneactiv.py"}
    offenders = []
    for path in [*src.rglob("*.py"), *(src.parents[1] / "workflow").rglob("*.smk")]:
        if path.name in own:
            continue
        text = path.read_text()
        for name in FORMATS:
            if f'== "{name}"' in text or '"format"] == "' in text or f"== '{name}'" in text:
                offenders.append(f"{path.name}: {name}")
    assert not offenders


def test_the_synthetic_files_read_back_as_the_groups_protocol(tmp_path):
    source = {"format": "synthetic", "write_as": "pamap2", "subjects": 2, "seconds_per_activity": 4, "seed": 3}
    pamap2.write_synthetic(tmp_path / "a", source, 100)
    pamap2.write_synthetic(tmp_path / "b", source, 100)
    first = (tmp_path / "a" / "Protocol" / "subject101.dat").read_bytes()
    assert first == (tmp_path / "b" / "Protocol" / "subject101.dat").read_bytes()  # deterministic from the seed
    values = pamap2.read_dat(tmp_path / "a" / "Protocol" / "subject101.dat")
    assert values.shape[1] == 54 and np.isnan(values[:, 2]).mean() > 0.8  # heart rate between readings
    assert (values[:, 1] == 0).any() and np.isnan(values[:, 4]).any()  # transient rows, lost packets
    windows = pamap2.read_source(tmp_path / "a", {"source": {**source, **pamap2.DEFAULTS}, "classes": "pamap2",
                                                  "window": 100, "stride": 22, "sampling_rate": 33.333333}, "p")
    assert windows.signals.shape[1:] == (40, 100) and set(windows.labels) == set(range(12))
    assert sorted(set(windows.subjects)) == ["101", "102"] and np.isfinite(windows.signals).all()



def lab_reference(rows, activities, window, stride, columns):
    """The lab's preprocessing and windowing (preprocessing_pamap2_2.py, pamap2_load.py) restated from their
    formulas, float64: drop the rows outside the label map; heart rate = the last reading among the kept rows
    (rows before the first reading: 0, as NaN · 0 then NaN → 0 gives); other NaN → 0; windows start at
    stride, 2·stride, … below n − window and are kept when the labels at j and j + window − 1 agree."""
    values = np.asarray(rows, dtype=np.float64)
    kept = values[np.isin(values[:, 1], activities)]
    data = kept[:, [pamap2.COLUMNS.index(c) for c in columns]]
    if "heart_rate" in columns:
        h, last = columns.index("heart_rate"), np.nan
        for i in range(len(data)):
            last = data[i, h] if not np.isnan(data[i, h]) else last
            data[i, h] = last
    data[np.isnan(data)] = 0
    labels = kept[:, 1]
    starts = [j for j in range(stride, len(labels) - window, stride) if labels[j] == labels[j + window - 1]]
    return np.stack([data[j:j + window].T for j in starts]), starts


def test_the_lab_fills_heart_rate_after_dropping_rows_and_starts_windows_one_stride_in(tmp_path):
    rows = walk(10, 4, heart_every=4) + walk(5, 0, 0.10, heart_every=100) + walk(16, 4, 0.15, heart_every=100)
    rows[12][2] = 200.0  # a reading inside the dropped transient stretch
    rows[15][2] = np.nan
    rows[18][2] = 90.0  # the first reading after it
    for r in rows[15:]:
        r[HAND_ACC[0]] += 100  # the second bout's rows are traceable
    rows[22][HAND_ACC[1]] = np.nan  # a lost packet
    write(tmp_path, rows)
    columns = ["heart_rate", "hand_acc16_x", "hand_acc16_y"]
    lab = {"source": {"format": "pamap2", "path": "unused", "columns": columns}, "classes": "pamap2", "window": 4,
           "stride": 2, "sampling_rate": 100}
    windows = pamap2.read_source(tmp_path, lab, "p")
    expected, starts = lab_reference(rows, pamap2.GROUP_ACTIVITIES, 4, 2, columns)
    assert [int(i.split("@")[1]) for i in windows.ids] == starts and starts[0] == 2 and starts[-1] == 20
    np.testing.assert_allclose(windows.signals, expected, rtol=0, atol=1e-6)
    # rows 10–12 of the kept ones (the first bout's last reading, 108): never the dropped stretch's 200
    assert windows.signals[starts.index(10), 0].tolist() == [108.0, 108.0, 108.0, 90.0]
    # gafkd's other order carries the dropped reading into the kept rows; the other rule starts at 0
    other = pamap2.read_source(tmp_path, {**lab, "source": {**lab["source"], "fill_order": "before_drop",
                                                            "window_starts": "all"}}, "p")
    assert other.signals[[int(i.split("@")[1]) for i in other.ids].index(10), 0].tolist() == [200.0] * 3 + [90.0]
    # 26 kept rows, windows of 4 every 2: the lab's 2 … 20, the other rule 0 … 22 (n − window included)
    assert [int(i.split("@")[1]) for i in other.ids][::len(other) - 1] == [0, 22] and len(other) == len(windows) + 2
