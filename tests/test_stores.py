"""windows.h5 and gaf.h5: contents, provenance attributes, atomic writes, the synthetic generator."""

import json

import h5py
import numpy as np
import pytest

from gafkd.classes import GENE14
from gafkd.data.build import build_windows
from gafkd.data.store import load_windows
from gafkd.data.synthetic import generate_recordings, write_synthetic
from gafkd.errors import DataError
from gafkd.images.build import build_images
from gafkd.images.store import load_images

SETTINGS = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "label_map": None,
            "window": 500, "stride": 500, "sampling_rate": 100,
            "split": {"method": "subject", "train": 0.7, "test": 0.3, "seed": 0}}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    return write_synthetic(tmp_path_factory.mktemp("src"), subjects=4, seconds_per_activity=12, seed=1,
                           write_as="parquet")


def test_windows_h5_contents(source, tmp_path):
    out = tmp_path / "windows.h5"
    summary = build_windows(source, SETTINGS, "demo", out)
    w = load_windows(out)
    assert w.signals.shape[1:] == (3, 500) and w.signals.dtype == np.float32
    assert w.labels.dtype == np.int64 and set(w.labels) == set(range(14))
    assert set(w.split) <= {"train", "test", "unused"}
    assert not set(w.subjects[w.split == "train"]) & set(w.subjects[w.split == "test"])
    assert w.class_names == list(GENE14)
    assert json.loads(w.attrs["settings"]) == SETTINGS and len(w.attrs["settings_digest"]) == 16
    assert "code_version" in w.attrs and summary["train"]["windows"] == (w.split == "train").sum()


def test_gaf_h5_row_aligned_and_refuses_other_windows(source, tmp_path):
    build_windows(source, SETTINGS, "demo", tmp_path / "windows.h5")
    build_images(tmp_path / "windows.h5", tmp_path / "gaf.h5", {"image_size": 16, "method": "summation"})
    w = load_windows(tmp_path / "windows.h5")
    images = load_images(tmp_path / "gaf.h5", w.attrs["settings_digest"])
    assert images.shape == (len(w.labels), 3, 16, 16) and images.dtype == np.float16
    with h5py.File(tmp_path / "gaf.h5") as h5:
        assert h5["images"].compression is None and h5["images"].chunks[0] == 64
    with pytest.raises(DataError, match="other windows"):
        load_images(tmp_path / "gaf.h5", "0" * 16)


def test_failed_build_leaves_no_output(tmp_path):
    (tmp_path / "src").mkdir()
    out = tmp_path / "windows.h5"
    with pytest.raises(DataError, match="no .csv or .parquet"):
        build_windows(tmp_path / "src", SETTINGS, "demo", out)
    assert list(tmp_path.iterdir()) == [tmp_path / "src"]


def test_missing_real_data_folder_says_where_to_put_it(tmp_path):
    settings = {**SETTINGS, "source": {"format": "mat", "path": str(tmp_path / "nope")}}
    with pytest.raises(DataError, match=r"does not exist; put the .mat windows \(ID-"):
        build_windows(tmp_path / "nope", settings, "gene14_w500", tmp_path / "w.h5")


def test_corrupt_h5_is_refused(tmp_path):
    (tmp_path / "windows.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(DataError, match="not a readable HDF5"):
        load_windows(tmp_path / "windows.h5")


def test_synthetic_is_deterministic_and_plausible():
    a = generate_recordings(2, 10, seed=5)
    b = generate_recordings(2, 10, seed=5)
    assert all(a[k].equals(b[k]) for k in a)
    assert not a["S001"].equals(generate_recordings(2, 10, seed=6)["S001"])
    xyz = a["S001"][["x", "y", "z"]].to_numpy()
    magnitude = np.linalg.norm(xyz, axis=1)
    assert 0.8 < np.median(magnitude) < 1.3  # gravity is in the signal
    assert np.abs(xyz).max() <= 8  # the GENEActiv range
    assert set(a["S001"]["label"]) == set(GENE14)


@pytest.mark.parametrize("fmt", ["mat", "mat73", "csv", "bin"])
def test_synthetic_formats_read_back(tmp_path, fmt):
    folder = write_synthetic(tmp_path / fmt, subjects=2, seconds_per_activity=6, seed=0, write_as=fmt, window=500)
    settings = {**SETTINGS, "source": {"format": "synthetic", "write_as": fmt},
                "split": {"method": "window", "train": 0.5, "test": 0.5, "seed": 0}}
    summary = build_windows(folder, settings, "demo", tmp_path / "w.h5")
    assert summary["train"]["windows"] + summary["test"]["windows"] == 14 * 2
