"""The reader on files recorded by real GENEActiv watches (../shared/real-geneactiv/, never copied here).

Every other .bin the tests read is written by our own writer; these come from public readers' test data,
with a truth table from the GENEActiv PC software's own export (that folder's README).
"""

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from gafkd.data.annotated import resample
from gafkd.data.geneactiv import read_bin
from gafkd.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "real-geneactiv"
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason=f"no real GENEActiv files at {REAL} (../shared beside "
                                                          "the checkout; CI has it)")
ACTFAST, SKDH = REAL / "actfast__geneactiv.bin", REAL / "skdh__gnactv_sample.bin"


def test_samples_times_and_calibration_equal_the_manufacturers_export():
    truth = np.load(REAL / "skdh__gnactv_data.npz")
    recording = read_bin(SKDH)
    assert recording.sample_rate == 50 and recording.xyz.shape == (900, 3)
    assert np.abs(recording.xyz - truth["accel"]).max() <= 5e-5  # the export's 4 decimals
    assert np.array_equal(recording.time_ns, np.rint(truth["time"] * 1e9).astype(np.int64))  # times exact
    # the README's page times: 43.5 s, 50.0 s, 56.0 s into the minute (a 6.5-s first gap, not 6.0 s)
    page_starts = recording.time_ns[::300] % 60_000_000_000
    assert page_starts.tolist() == [43_500_000_000, 50_000_000_000, 56_000_000_000]


def test_the_readme_facts_of_a_60_hz_recording():
    recording = read_bin(ACTFAST)
    assert recording.sample_rate == 60 and recording.xyz.shape == (6000, 3)
    np.testing.assert_allclose(recording.xyz[0], [0.943649, 0.038805, 0.093963], atol=1e-6)
    np.testing.assert_allclose(recording.xyz[-1], [0.084923, -0.837689, 0.061742], atol=1e-6)
    np.testing.assert_allclose(recording.xyz.mean(0), [-0.380259, -0.557317, 0.226589], atol=1e-6)
    assert str(np.datetime64(int(recording.time_ns[0]), "ns")) == "2024-04-30T15:13:30.000000000"
    assert set(np.diff(recording.time_ns[::300]).tolist()) == {5_000_000_000}  # pages 5.000 s apart


@pytest.mark.parametrize("path, rate", [(SKDH, 50), (ACTFAST, 60)])
def test_50_and_60_hz_resample_to_100_hz_keeping_the_duration(path, rate):
    native = read_bin(path)
    at_100 = resample(native, 100.0)
    assert native.sample_rate == rate and at_100.sample_rate == 100
    assert at_100.time_ns[0] == native.time_ns[0]
    # each gap-free stretch keeps its duration: n·100/rate samples on the 10-ms grid
    assert len(at_100.time_ns) == round(len(native.time_ns) * 100 / rate)
    native_span = native.time_ns[-1] + 1e9 / rate - native.time_ns[0]
    resampled_span = at_100.time_ns[-1] + 1e7 - at_100.time_ns[0]
    assert resampled_span == pytest.approx(native_span, abs=1e7)
    # the signal is the same signal: its mean survives the anti-aliasing filter
    np.testing.assert_allclose(at_100.xyz.mean(0), native.xyz.mean(0), atol=0.02)


def test_a_truncated_file_is_refused_naming_file_and_page():
    # actfast itself returns the cut page's 231 samples without a warning: our check stands in front
    with pytest.raises(DataError, match=r"ggirread__GENEActiv_testfile.bin, line 220: truncated: the header says "
                                        r"222048 pages, the file holds 16 whole pages and ends inside page 17"):
        read_bin(REAL / "ggirread__GENEActiv_testfile.bin")


def test_the_2010_genea_format_is_named_as_such():
    with pytest.raises(DataError, match=r"genea_testfile.bin: a file of the original GENEA \(2010\) format "
                                        r"\('GENEA/1.00' on line 1\), not GENEActiv"):
        read_bin(REAL / "genea_2010__ggirread_genea_testfile.bin")


@pytest.mark.slow
def test_a_real_recording_through_the_window_rule(tmp_path):
    """The 60-Hz recording, linked (not copied) into a data folder, with an activity log in the watch's clock."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "W1.bin").symlink_to(ACTFAST)
    log = tmp_path / "log.csv"
    log.write_text("subject,activity,start,end\n"
                   "W1,Brush teeth/hair,2024-04-30 15:13:30,2024-04-30 15:14:20\n"
                   "W1,Walk up stairs,2024-04-30 15:14:20,2024-04-30 15:15:05\n")
    config = {"results": "results", "report": {"html": False},
              "datasets": {"real": {"source": {"format": "geneactiv", "path": str(folder), "annotations": str(log)},
                                    "classes": "gene14", "window": 500,
                                    "split": {"method": "window", "train": 0.5, "test": 0.5}}}}
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(config))
    run = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
                          "--workflow-profile", "none", "--directory", str(tmp_path), "--cores", "1",
                          "results/real/windows.h5", "--configfile", str(tmp_path / "cfg.yaml")],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with h5py.File(tmp_path / "results" / "real" / "windows.h5", "r") as h5:
        assert h5["signals"].shape[1:] == (3, 500)
        # 50 s and 45 s of 5-s windows at 100 Hz: 10 + 9
        assert np.bincount(h5["labels"][...]).tolist()[8:13:4] == [10, 9]
        assert float(h5.attrs["sample_rate"]) == 100
        rates = str(h5.attrs["recording_rates"])
        assert "60" in rates and "W1" in rates and "W1" in str(h5.attrs["resampled"])
        assert "resample_poly" in str(h5.attrs["resampler"])
