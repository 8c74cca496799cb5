"""GENEActiv .bin files + activity logs: the writer against actfast, resampling, windowing by intervals,
the GGIR log layout and every bad-input case of the geneactiv source."""

import sys

import numpy as np
import pandas as pd
import pytest

from gafkd.classes import GENE7, GENE14
from gafkd.config import check_config, with_defaults
from gafkd.data.annotated import read_geneactiv_folder, resample
from gafkd.data.annotations import read_annotations
from gafkd.data.build import build_windows
from gafkd.data.geneactiv import SAMPLES_PER_PAGE, read_bin, write_bin
from gafkd.errors import ConfigError, DataError

T0 = int(np.datetime64("2024-05-06T09:00:00", "ns").astype(np.int64))
S = 10**9
CLASSES = ["walk", "sit", "run"]


def _signal(rng, n, rate):
    """Gravity plus a 1.3 Hz swing plus noise, [n, 3] g, at ``rate`` Hz."""
    t = np.arange(n) / rate
    swing = 0.4 * np.sin(2 * np.pi * 1.3 * t)
    return np.stack([0.2 + swing, -0.9 + 0.5 * swing, 0.3 + rng.normal(0, 0.05, n)], axis=1)


def _stamp(ns):
    return str(np.datetime64(int(ns), "ns")).replace("T", " ")


def _log(path, rows):
    pd.DataFrame(rows, columns=["subject", "activity", "start", "end"]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("rate", [100, 50, 40, 10])
def test_written_bin_reads_back_exactly(tmp_path, rng, rate):
    n = 7 * SAMPLES_PER_PAGE + 123  # a partial last page: completed by repeating the last sample
    written = write_bin(tmp_path / "a.bin", _signal(rng, n, rate) * 3, rate, T0 + 250 * 10**6, subject="P01")
    read = read_bin(tmp_path / "a.bin")
    assert read.sample_rate == rate and read.subject_code == "P01"
    assert len(read.time_ns) == 8 * SAMPLES_PER_PAGE
    np.testing.assert_array_equal(read.time_ns, written.time_ns)  # exact, ns
    np.testing.assert_allclose(read.xyz, written.xyz, rtol=0, atol=1e-6)
    assert read.time_ns[0] == T0 + 250 * 10**6 and np.all(np.diff(read.time_ns) == S // rate)
    raw = (tmp_path / "a.bin").read_bytes()
    assert raw.count(b"\r\n") == 59 + 8 * 10 and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only


def test_quantisation_is_the_devices(tmp_path, rng):
    x = _signal(rng, 600, 100) * 2
    written = write_bin(tmp_path / "a.bin", x, 100, T0)
    assert np.abs(written.xyz - x).max() < 100 / 25000  # one 12-bit count ≈ 0.004 g
    assert np.abs(write_bin(tmp_path / "b.bin", x * 10, 100, T0).xyz).max() < 8.2  # clipped at the ±8 g range


def test_bit_layout_light_and_button(tmp_path, rng):
    """x, y, z, 10 bits of light and the button bit each land where actfast (an independent parser) reads them."""
    import actfast

    n = 2 * SAMPLES_PER_PAGE
    light, button = rng.integers(0, 1024, n), rng.integers(0, 2, n)
    written = write_bin(tmp_path / "a.bin", _signal(rng, n, 100) * 4, 100, T0, light=light, button=button)
    series = actfast.read(tmp_path / "a.bin")["timeseries"]["high_frequency"]
    np.testing.assert_array_equal(series["acceleration"], written.xyz)
    np.testing.assert_allclose(series["light"], light * 800 / 300, rtol=1e-6)  # lux = counts · Lux / Volts
    np.testing.assert_array_equal(series["button_state"], button.astype(bool))


def test_non_integer_period_rate(tmp_path, rng):
    written = write_bin(tmp_path / "a.bin", _signal(rng, 900, 75), 75, T0)
    read = read_bin(tmp_path / "a.bin")
    assert read.sample_rate == 75 and np.abs(read.time_ns - written.time_ns).max() < 1000  # actfast truncates the period
    np.testing.assert_allclose(read.xyz, written.xyz, atol=1e-6)


def test_resampling_is_anti_aliased_and_on_the_new_grid(tmp_path):
    rate, n = 50, 3000
    t = np.arange(n) / rate
    clean = np.stack([np.sin(2 * np.pi * 1.3 * t), np.cos(2 * np.pi * 2.1 * t), 1 + 0 * t], axis=1)
    write_bin(tmp_path / "a.bin", clean, rate, T0)
    up = resample(read_bin(tmp_path / "a.bin"), 100)
    assert up.sample_rate == 100 and len(up.time_ns) == 2 * n
    assert np.all(np.diff(up.time_ns) == S // 100) and up.time_ns[0] == T0
    tt = (up.time_ns - T0) / S
    expected = np.stack([np.sin(2 * np.pi * 1.3 * tt), np.cos(2 * np.pi * 2.1 * tt), 1 + 0 * tt], axis=1)
    np.testing.assert_allclose(up.xyz[4:-4], expected[4:-4], atol=0.01)
    np.testing.assert_allclose(up.xyz[:, 2], 1, atol=0.005)  # gravity does not ring at the ends (no zero padding)
    # Down to 20 Hz, a 15 Hz tone is above the new Nyquist (10 Hz): it must be filtered, not folded to 5 Hz.
    tone = np.stack([0.5 * np.sin(2 * np.pi * 15 * t), 0 * t, 1 + 0 * t], axis=1)
    write_bin(tmp_path / "b.bin", tone, rate, T0)
    down = resample(read_bin(tmp_path / "b.bin"), 20)
    assert np.abs(down.xyz[50:-50, 0]).max() < 0.02


def _recording_with_gap(tmp_path, rng, gap_page=10, gap_s=7):
    """100 Hz, 20 pages (60 s); page times from ``gap_page`` on moved ``gap_s`` later (the device paused)."""
    write_bin(tmp_path / "S1.bin", _signal(rng, 20 * SAMPLES_PER_PAGE, 100), 100, T0, subject="S1")
    lines = (tmp_path / "S1.bin").read_bytes().split(b"\r\n")
    for page in range(gap_page, 20):
        i = 59 + 10 * page + 3
        when = T0 + (page * 3 + gap_s) * S
        lines[i] = f"Page Time:{_stamp(when)[:19]}:000".encode()
    (tmp_path / "S1.bin").write_bytes(b"\r\n".join(lines))


def test_windows_follow_the_intervals_and_never_cross_a_gap(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    _recording_with_gap(data, rng)  # samples 0..2999 at 0-30 s, 3000..5999 at 37-67 s
    log = _log(tmp_path / "log.csv", [
        ("S1", "walk", _stamp(T0), _stamp(T0 + 12_300 * 10**6)),  # 1230 samples: 2 windows of 500
        ("S1", "sit", _stamp(T0 + 12_300 * 10**6), _stamp(T0 + 20 * S)),  # 770: 1 window, abutting walk
        ("S1", "walk", _stamp(T0 + 26 * S), _stamp(T0 + 45 * S)),  # 26-30 s (400) | gap | 37-45 s (800): 1
        ("S1", "run", _stamp(T0 + 50 * S), _stamp(T0 + 60 * S)),  # 1000: 2 windows; 45-50 s unlabelled
    ])
    ws = read_geneactiv_folder(data, log, CLASSES, window=500, stride=500)
    assert [CLASSES[i] for i in ws.labels] == ["walk", "walk", "sit", "walk", "run", "run"]
    starts = [int(i.split("@")[1]) for i in ws.ids]
    assert starts == [0, 500, 1230, 3000, 4300, 4800]  # 37 s → sample 3000; 50 s → 3000 + 1300
    assert set(ws.subjects) == {"S1"}
    read = read_bin(data / "S1.bin")
    for start, window in zip(starts, ws.signals):
        np.testing.assert_array_equal(window.T, read.xyz[start:start + 500])
        assert read.time_ns[start + 499] - read.time_ns[start] == 499 * S // 100  # no gap inside a window


def test_seconds_from_start_and_subject_pattern(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    for stem in ("site1_P07_day1", "site1_P08_day1"):
        write_bin(data / f"{stem}.bin", _signal(rng, 3000, 100), 100, T0)
    log = _log(tmp_path / "log.csv", [("P07", "walk", 0, 10), ("P08", "sit", 5.0, 15.0)])
    ws = read_geneactiv_folder(data, log, CLASSES, window=500, stride=250, subject_pattern=r"_(?P<subject>P\d+)_")
    assert sorted(set(ws.subjects)) == ["P07", "P08"]
    assert [i for i, s in zip(ws.ids, ws.subjects) if s == "P08"][0] == "site1_P08_day1@500"
    assert np.bincount(ws.labels, minlength=3).tolist() == [3, 3, 0]


def test_resampled_recording_in_windows_h5(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    write_bin(data / "A.bin", _signal(rng, 1500, 50), 50, T0)  # 30 s at 50 Hz
    write_bin(data / "B.bin", _signal(rng, 3000, 100), 100, T0)
    log = _log(tmp_path / "log.csv", [("A", "walk", 0, 30), ("B", "sit", 0, 30)])
    settings = {"source": {"format": "geneactiv", "path": str(data), "annotations": str(log)},
                "classes": CLASSES, "window": 500, "sampling_rate": 100, "label_map": None,
                "split": {"method": "window", "train": 0.5, "test": 0.5, "seed": 0}}
    build_windows(data, settings, "g", tmp_path / "w.h5")
    import h5py
    with h5py.File(tmp_path / "w.h5") as h5:
        assert h5["signals"].shape == (12, 3, 500)  # both recordings: 3000 samples at 100 Hz each
        assert h5.attrs["resampled"] == '{"A": 50.0}' and "resample_poly" in h5.attrs["resampler"]
        assert h5.attrs["sample_rate"] == 100 and h5.attrs["reader"].startswith("actfast")


def test_ggir_activity_log(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    write_bin(data / "S1.bin", _signal(rng, 30 * SAMPLES_PER_PAGE, 100), 100, T0)  # 09:00:00-09:01:30
    (tmp_path / "log.csv").write_text(
        "ID,date,walk,sit,end,walk,run\n"
        "S1,06-05-2024,09:00:00,09:00:20,09:00:40,09:00:50,09:01:10\n")
    intervals = read_annotations(tmp_path / "log.csv")
    assert intervals.table["activity"].tolist() == ["walk", "sit", "walk", "run"]  # 'walk.1' is walk again
    ws = read_geneactiv_folder(data, tmp_path / "log.csv", CLASSES, window=1000, stride=1000)
    assert [CLASSES[i] for i in ws.labels] == ["walk", "walk", "sit", "sit", "walk", "walk", "run", "run"]
    assert ws.ids[-1] == "S1@8000"  # run lasts to the recording's end (90 s): 70-80 s and 80-90 s
    iso = tmp_path / "iso.csv"
    iso.write_text("ID,Date,walk\nS1,2024-05-06,09:00:00\n")
    assert len(read_geneactiv_folder(data, iso, CLASSES, 1000, 1000, log_date_format="%Y-%m-%d")) == 9
    with pytest.raises(DataError, match=r"iso.csv, line 2: column 'Date': '2024-05-06' is not a date"):
        read_annotations(iso)


def test_parquet_log_with_timestamp_columns(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    write_bin(data / "S1.bin", _signal(rng, 3000, 100), 100, T0)
    stamps = pd.to_datetime([T0 + 5 * S, T0 + 15 * S], unit="ns")
    pd.DataFrame({"subject": ["S1"], "activity": ["run"], "start": stamps[:1], "end": stamps[1:]}).to_parquet(
        tmp_path / "log.parquet")
    ws = read_geneactiv_folder(data, tmp_path / "log.parquet", CLASSES, 500, 500)
    assert ws.ids.tolist() == ["S1@500", "S1@1000"] and set(ws.labels) == {2}


def test_label_map_applies_to_activity_names(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    write_bin(data / "S1.bin", _signal(rng, 3000, 100), 100, T0)
    log = _log(tmp_path / "log.csv", [("S1", GENE14[12], 0, 10), ("S1", GENE14[0], 10, 20)])
    ws = read_geneactiv_folder(data, log, GENE7, 500, 500, label_map="gene14_to_gene7")
    assert [GENE7[i] for i in ws.labels] == ["Stairs", "Stairs", "Treadmill walk", "Treadmill walk"]


# ------------------------------------------------------------------------------------------- bad input

def _good(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    for subject in ("S1", "S2"):
        write_bin(data / f"{subject}.bin", _signal(rng, 10 * SAMPLES_PER_PAGE, 100), 100, T0, subject=subject)
    rows = [("S1", "walk", 0, 12), ("S1", "sit", 12, 25), ("S2", "run", 0, 20)]
    return data, rows


def _edit_bin(path, edit):
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join(edit(lines)))


BAD = {
    "truncated bin": (lambda d, rows: (d / "S2.bin").write_bytes((d / "S2.bin").read_bytes()[:20_000]), None,
                      r"S2.bin, line 100: truncated: the header says 10 pages, the file holds 4 whole pages"),
    "short data line": (lambda d, rows: _edit_bin(d / "S2.bin", lambda l: l[:98] + [l[98][:-7]] + l[99:]), None,
                        r"S2.bin, line 99: the data line of page 3 does not hold 300 samples"),
    "corrupt hex": (lambda d, rows: _edit_bin(d / "S1.bin", lambda l: l[:98] + [b"XY" + l[98][2:]] + l[99:]), None,
                    r"S1.bin: not a readable GENEActiv .bin file \(Invalid hex data"),
    "page out of sequence": (lambda d, rows: _edit_bin(d / "S1.bin", lambda l: l[:79] + l[89:99] + l[79:89] + l[99:]),
                             None, r"S1.bin, line 93: page 3 is out of sequence"),
    "no pages": (lambda d, rows: _edit_bin(d / "S1.bin", lambda l: l[:57] + [b"Number of Pages:0", b"", b""]), None,
                 r"S1.bin: holds no recorded data \(Number of Pages: 0, 0 pages read\)"),
    "not a bin file": (lambda d, rows: (d / "S1.bin").write_text("subject,x\n1,2\n"), None,
                       r"S1.bin: not a GENEActiv .bin file: no 'Measurement Frequency'"),
    "subject without a file": (None, [("S3", "walk", 0, 5)], r"log.csv, line 5: subject 'S3' has no .bin file"),
    "overlapping intervals": (None, [("S1", "run", 24, 28)], r"log.csv, line 5: the interval overlaps line 3"),
    "reversed interval": (None, [("S2", "run", 25, 22)], r"log.csv, line 5: the interval ends \(22 s\) before it starts \(25 s\)"),
    "unknown activity": (None, [("S2", "swim", 21, 25)], r"log.csv, line 5: unknown class 'swim'"),
    "outside the recording": (None, [("S2", "sit", 40, 45)],
                              r"log.csv, line 5: 40 s – 45 s lies outside the recording S2.bin \(2024-05-06 09:00:00 –"),
    "partly outside": (None, [("S2", "sit", 25, 45)], None),  # allowed: labels what was recorded
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_inputs_name_file_and_line_and_leave_nothing(tmp_path, rng, case):
    data, rows = _good(tmp_path, rng)
    damage, extra, message = BAD[case]
    if damage:
        damage(data, rows)
    log = _log(tmp_path / "log.csv", rows + (extra or []))
    settings = {"source": {"format": "geneactiv", "path": str(data), "annotations": str(log)}, "classes": CLASSES,
                "window": 500, "label_map": None, "split": {"method": "window", "train": 0.5, "test": 0.5, "seed": 0}}
    out = tmp_path / "windows.h5"
    if message is None:
        build_windows(data, settings, "g", out)
        assert out.exists()
        return
    with pytest.raises(DataError, match=message):
        build_windows(data, settings, "g", out)
    assert not out.exists() and not list(tmp_path.glob(".windows.h5*"))


def test_recording_with_no_labelled_stretch(tmp_path, rng):
    data, rows = _good(tmp_path, rng)
    log = _log(tmp_path / "log.csv", [r for r in rows if r[0] == "S1"])
    with pytest.raises(DataError, match=r"S2.bin: no interval of .*log.csv labels any of this recording"):
        read_geneactiv_folder(data, log, CLASSES, 500, 500)


def test_log_problems(tmp_path, rng):
    data, rows = _good(tmp_path, rng)
    (tmp_path / "cols.csv").write_text("subject,activity,begin,end\nS1,walk,0,5\n")
    with pytest.raises(DataError, match=r"cols.csv: an activity log needs columns .* \(missing \['start'\]"):
        read_annotations(tmp_path / "cols.csv")
    (tmp_path / "mixed.csv").write_text("subject,activity,start,end\nS1,walk,0,5\nS1,sit,2024-05-06 09:00:05,9\n")
    with pytest.raises(DataError, match=r"mixed.csv, line 3: start '2024-05-06 09:00:05' is not a number of seconds"):
        read_annotations(tmp_path / "mixed.csv")
    with pytest.raises(DataError, match=r"nolog.csv: the activity log does not exist"):
        read_geneactiv_folder(data, tmp_path / "nolog.csv", CLASSES, 500, 500)
    (data / "S3_day1.bin").write_bytes((data / "S1.bin").read_bytes())
    (data / "S3_day2.bin").write_bytes((data / "S1.bin").read_bytes())
    log = _log(tmp_path / "log.csv", rows + [("S3", "walk", 0, 5)])
    with pytest.raises(DataError, match=r"log.csv, line 5: subject 'S3' has 2 recordings; give times as timestamps"):
        read_geneactiv_folder(data, log, CLASSES, 500, 500, subject_pattern=r"^(?P<subject>S\d)")


def test_missing_reader_names_the_package(tmp_path, rng, monkeypatch):
    write_bin(tmp_path / "a.bin", _signal(rng, 300, 100), 100, T0)
    monkeypatch.setitem(sys.modules, "actfast", None)
    with pytest.raises(DataError, match="pip install actfast"):
        read_bin(tmp_path / "a.bin")


@pytest.mark.parametrize("source, message", [
    ({"format": "geneactiv", "path": "d"}, r"source.annotations: required for format 'geneactiv'"),
    ({"format": "geneactiv", "path": "d", "annotations": "l.csv", "subject_pattern": "P(\\d+)"},
     r"source.subject_pattern: 'P\(\\\\d\+\)' needs a group named subject"),
    ({"format": "geneactiv", "path": "d", "annotations": "l.csv", "subject_pattern": "(?P<subject>"},
     r"is not a regular expression"),
    ({"format": "mat", "path": "d", "annotations": "l.csv"}, r"source.annotations: only for format 'geneactiv'"),
])
def test_geneactiv_config_errors(tmp_path, source, message):
    config = with_defaults({"datasets": {"g": {"source": source, "classes": "gene7", "window": 500,
                                               "split": {"train": 0.5, "test": 0.5}}}})
    with pytest.raises(ConfigError, match=message):
        check_config(config)


def test_the_data_docs_geneactiv_examples_are_valid(tmp_path):
    """docs/data.md's geneactiv config validates, and both of its log examples read as the same two bouts."""
    import re
    from pathlib import Path

    import yaml

    readme = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    section = readme[readme.index("**From the raw GENEActiv recordings.**"):]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, re.S)[:3]
    config = with_defaults(yaml.safe_load(blocks[0][1]))
    check_config(config)
    source = config["datasets"]["gene14_w1000_raw"]["source"]
    from gafkd.data.annotated import subject_of

    assert subject_of(Path("102_left wrist_2024-05-06.bin"), source["subject_pattern"]) == "102"
    tables = []
    for i, (_, text) in enumerate(blocks[1:]):
        (tmp_path / f"log{i}.csv").write_text(text)
        tables.append(read_annotations(tmp_path / f"log{i}.csv").table)
    for column in ("subject", "activity", "start", "end"):
        assert tables[0][column].tolist() == tables[1][column].tolist()
