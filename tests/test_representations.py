"""Image representations: the registry, the scalings, and each batched transform against every
reference library its entry names (pyts; ripser + persim's legacy PersImage, gudhi, giotto-ph; qts2d).

Windows of 500 and 1000 samples, with a constant window, a single spike, a ramp and a tied-values window.
"""

import warnings
from pathlib import Path

import numpy as np
import pytest

from gafkd.config import with_defaults
from gafkd.errors import ConfigError
from gafkd.images.compound import CompoundImage
from gafkd.images.mtf import MarkovTransitionField
from gafkd.images import persistence
from gafkd.images.persistence import PersistenceImage, reference_diagram, reference_image, sublevel_diagrams
from gafkd.images.registry import REPRESENTATIONS, SHARED, input_channels, representation
from gafkd.images.scaling import fixed_scaled, window_scaled
from gafkd.images.transform import GramianAngularField
from gafkd.schema import load_schema, section_defaults

pyts_image = pytest.importorskip("pyts.image")
ripser = pytest.importorskip("ripser")
persim = pytest.importorskip("persim")
warnings.filterwarnings("ignore", message="Some quantiles are equal")  # pyts, on the constant windows


def _windows(rng, length, n=24):
    x = rng.normal(size=(n, length)).cumsum(axis=1)
    x[0] = 0.7  # constant window
    x[1] = 0.0
    x[1, length // 3] = 5.0  # single spike
    x[2] = np.linspace(-3, 3, length)  # monotone ramp
    x[3] = np.round(rng.normal(size=length) * 2)  # many tied values
    return x


@pytest.mark.parametrize("length", [500, 1000])
@pytest.mark.parametrize("n_bins", [5, 8])
def test_mtf_matches_pyts(rng, length, n_bins):
    x = _windows(rng, length)
    ours = MarkovTransitionField(64, n_bins).transform(x)
    oracle = pyts_image.MarkovTransitionField(image_size=64, n_bins=n_bins).fit_transform(x)
    assert ours.shape == oracle.shape == (len(x), 64, 64)
    assert np.abs(ours - oracle).max() <= 1e-5


def _sorted(points: np.ndarray) -> np.ndarray:
    return points[np.lexsort(points.T[::-1])]


def _finite(diagram: np.ndarray, cut: float = 0.0) -> np.ndarray:
    """A library's (birth, death) points as ours are: finite, (birth, lifetime), lifetime above ``cut``."""
    diagram = np.asarray(diagram, dtype=np.float64)
    diagram = diagram[np.isfinite(diagram[:, 1]) & (diagram[:, 1] - diagram[:, 0] > cut)]
    return _sorted(np.stack([diagram[:, 0], diagram[:, 1] - diagram[:, 0]], axis=1))


def _ours(rows: np.ndarray, cut: float = 0.0) -> list[np.ndarray]:
    births, lifetimes, counts = sublevel_diagrams(rows, cut)
    return [_sorted(np.stack([b[:n], l[:n]], axis=1)) for b, l, n in zip(births, lifetimes, counts)]


@pytest.mark.parametrize("length", [500, 1000])
@pytest.mark.parametrize("scaled", ["fixed", "window"])
def test_sublevel_diagrams_equal_gudhi_and_ripser(rng, length, scaled):
    """Every finite point: equal to gudhi's (float64) exactly, to ripser's within its float32 rounding."""
    x = _windows(rng, length, n=10)
    rows = window_scaled(x) if scaled == "window" else fixed_scaled(x[:, None], x.min(keepdims=True)[0],
                                                                     x.max(keepdims=True)[0])[0][:, 0]
    cubical = pytest.importorskip("gudhi.sklearn.cubical_persistence").CubicalPersistence(homology_dimensions=0)
    for row, ours, theirs in zip(rows, _ours(rows), cubical.fit_transform(list(rows))):
        assert np.array_equal(ours, _finite(theirs))
        ref = _finite(reference_diagram(row))
        assert len(ours) == len(ref)
        np.testing.assert_allclose(ours, ref, atol=1e-6)  # ripser keeps float32 values


def test_ties_and_the_lifetime_cut():
    """Tied values: the diagram does not depend on which equal sample is the older. At the cut: a lifetime
    of 0.01 + 3e-9 is kept (float64, as gudhi); ripser, comparing float32 values, sees 0.01 (dropped)."""
    plateau = np.array([[0.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.2, 0.5, 0.0]])  # three tied minima, tied barriers
    (ours,) = _ours(plateau)
    assert np.allclose(ours, [[0.0, 0.5], [0.0, 1.0], [0.0, 1.0], [0.2, 0.3]], atol=1e-15)
    assert np.array_equal(ours, _ours(plateau[:, ::-1])[0])  # mirrored: the same diagram
    cut = 0.01
    edge = np.array([[0.5, 0.3, 0.3 + cut + 3e-9, 0.2, 0.6]])
    (kept,) = _ours(edge, cut)
    assert np.allclose(kept, [[0.3, cut + 3e-9]], rtol=0, atol=1e-15)
    gudhi = pytest.importorskip("gudhi.sklearn.cubical_persistence").CubicalPersistence(homology_dimensions=0)
    assert np.array_equal(kept, _finite(gudhi.fit_transform([edge[0]])[0], cut))
    assert not len(_finite(reference_diagram(edge[0]), cut))  # float32: 0.31000000 − 0.30000001 ≤ 0.01


def test_windowed_bin_mass_equals_every_bin():
    """Only the bins near a point are computed: the result is the all-bins computation, bit for bit."""
    import torch

    points = torch.from_numpy(np.random.default_rng(0).uniform(-1.2, 1.2, size=(5, 40)))
    for lower in (torch.linspace(-1.0, 1.0, 64, dtype=torch.float64), torch.linspace(1.0, 0.0, 64, dtype=torch.float64),
                  torch.linspace(-1.0, 1.0, 7, dtype=torch.float64)):
        width, scale = 1.0 / len(lower), 1.0 / (0.015 * 2**0.5)
        both = torch.cat([lower + width, lower]) * scale
        erf = (both - (points * scale)[..., None]).float().erf_()
        every = (erf[..., :len(lower)] - erf[..., len(lower):]) * 0.5
        assert torch.equal(persistence._bin_mass(points, lower, width, 0.015), every)


@pytest.mark.parametrize("length", [500, 1000])
def test_persistence_images_match_ripser_and_persim(rng, length):
    x = window_scaled(_windows(rng, length, n=12))
    ours = PersistenceImage().transform(x)
    reference = np.stack([reference_image(series) for series in x])
    assert ours.shape == reference.shape == (12, 64, 64)
    assert np.abs(ours - reference).max() <= 1e-5
    assert not ours[0].any() and ours[1].any()  # constant: empty diagram, all zero; a spike has one point


def test_an_empty_diagram_gives_an_all_zero_image():
    flat = np.zeros((2, 3, 200))
    flat[1, :, 50] = 1e-3  # a spike too small to outlive the lifetime threshold
    images = PersistenceImage(image_size=16).transform(flat)
    assert images.shape == (2, 3, 16, 16) and not images.any()
    smooth = np.tile(np.linspace(0, 1, 200), (1, 1, 1))  # monotone: only the global minimum, which never dies
    assert not PersistenceImage(image_size=16).transform(smooth).any()


def test_rips_recipe_uses_ripser_on_the_delay_embedding(rng):
    x = window_scaled(_windows(rng, 500, n=6)[4:6])  # random walks
    settings = {"dimension": 3, "delay": 10, "stride": 5}
    ours = PersistenceImage(image_size=32, recipe="rips", rips=settings).transform(x)
    series = x[1]
    cloud = np.stack([series[i * 10:len(series) - 20 + i * 10] for i in range(3)], axis=1)[::5]
    diagram = np.concatenate(ripser.ripser(cloud, maxdim=1)["dgms"])
    ref = reference_image(None, 32, diagram=diagram)
    assert ref.any() and np.abs(ours[1] - ref).max() <= 1e-5


def test_compound_stacks_gasf_gadf_mtf_per_axis(rng):
    x = rng.normal(size=(4, 3, 500)).cumsum(axis=-1)
    images = CompoundImage(16, n_bins=5).transform(x)
    assert images.shape == (4, 9, 16, 16)
    y = x[:, 1]
    np.testing.assert_allclose(images[:, 3], GramianAngularField(16, "summation").transform(y), atol=1e-6)
    np.testing.assert_allclose(images[:, 4], GramianAngularField(16, "difference").transform(y), atol=1e-6)
    np.testing.assert_allclose(images[:, 5], MarkovTransitionField(16, 5).transform(y), atol=1e-6)


def test_registry_settings_and_channels():
    images = with_defaults({"datasets": {"d": {"source": {"format": "synthetic"}, "classes": "gene14", "window": 500,
                                                "split": {"train": 0.5, "test": 0.5}}}})["images"]
    # gaf's settings are those gaf.h5 files were made with before the registry: they stay valid
    assert REPRESENTATIONS["gaf"].settings(images) == {"chunk_size": 1024, "dtype": "float16", "image_size": 64,
                                                       "method": "summation"}
    pi = REPRESENTATIONS["pi"].settings(images)
    assert pi["representation"] == "pi" and pi["recipe"] == "sublevel" and "rips" not in pi
    assert pi["scaling"] == "fixed" and pi["limits"] == "train"  # the lab's scaling, limits from training windows
    limits = {"min": [-8.0] * 3, "max": [8.0] * 3}
    assert REPRESENTATIONS["pi"].settings(images, limits)["limits"] == limits
    window = REPRESENTATIONS["pi"].settings({**images, "pi": {**images["pi"], "scaling": "window"}}, limits)
    assert window["scaling"] == "window" and "limits" not in window  # limits only where they are used
    rips = REPRESENTATIONS["pi"].settings({**images, "pi": {**images["pi"], "recipe": "rips"}})
    assert rips["rips"] == {"delay": 10, "dimension": 3, "stride": 5}
    assert [input_channels(m, 3) for m in ("gaf", "compound", "pi", "qgaf", "rp", "sig")] == [3, 9, 3, 3, 3, 3]
    with pytest.raises(ConfigError, match="teachers.modalities\\[1\\]: 'pl' is not an image representation"):
        representation("pl", "teachers.modalities[1]")


def test_every_representation_settings_section_is_in_the_schema():
    """The registry names its settings; the schema states their types and defaults: they agree."""
    schema = load_schema()["properties"]["images"]["properties"]
    sections = {key for key, spec in schema.items() if spec.get("type") == "object"}
    assert set(SHARED) | sections == set(schema)
    filled = section_defaults("images")
    assert filled["pi"]["rips"] == {"dimension": 3, "delay": 10, "stride": 5}
    for entry in REPRESENTATIONS.values():
        settings = entry.settings(filled)  # every key it reads exists
        assert entry.transformer(settings).image_size == filled["image_size"]


def _reference_cases():
    """(name, reference) for every reference of every registry entry, with settings that keep the slow ones
    (qts2d simulates a circuit per pixel) to seconds."""
    return [pytest.param(name, r, id=f"{name}-{r.name}") for name, entry in REPRESENTATIONS.items()
            for r in entry.references]


REFERENCE_MODULES = {"pyts": "pyts.image", "ripser + persim": "persim", "gudhi + numpy image": "gudhi",
                     "giotto-ph + numpy image": "gph", "qts2d": "qts2d.encoding"}


@pytest.mark.parametrize("name, reference", _reference_cases())
@pytest.mark.parametrize("length", [500, 1000])
def test_every_entry_equals_each_reference(rng, name, reference, length):
    """Each entry's transform against each reference it names, on windows as its scaling leaves them."""
    pytest.importorskip(REFERENCE_MODULES[reference.name])
    entry = REPRESENTATIONS[name]
    slow = reference.name in ("qts2d", "ripser + persim")
    settings = entry.settings({**section_defaults("images"), "image_size": 8 if reference.name == "qts2d" else 32})
    walks = _windows(rng, length, n=6 if slow else 12)
    x = np.stack([walks, walks[::-1] * 0.3, -walks], axis=1)[:2 if reference.name == "qts2d" else None]  # [N, 3, L]
    kind = settings.get("scaling")
    if kind == "fixed":
        x = fixed_scaled(x, x.min(axis=(0, 2)), x.max(axis=(0, 2)))[0]
    elif kind == "window":
        x = window_scaled(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = reference.images(x, settings)
    ours = entry.transformer(settings).transform(x)
    assert ours.shape == theirs.shape == (len(x), entry.channels(x.shape[1]), settings["image_size"], settings["image_size"])
    assert np.abs(ours - theirs).max() <= 1e-5


@pytest.mark.parametrize("threshold", [None, "point", "distance", 0.05])
@pytest.mark.parametrize("dimension, delay", [(1, 1), (3, 2)])
def test_recurrence_plot_thresholds_match_pyts(rng, threshold, dimension, delay):
    from gafkd.images.recurrence import RecurrencePlot, pyts_images

    x = fixed_scaled(_windows(rng, 500, n=8)[:, None], np.array([-30.0]), np.array([30.0]))[0]
    settings = {"image_size": 16, "dimension": dimension, "time_delay": delay, "threshold": threshold, "percentage": 20}
    ours = RecurrencePlot.from_settings(settings).transform(x)
    theirs = pyts_images(x, settings)
    assert np.abs(ours - theirs).max() <= (1e-6 if threshold is None else 0)  # thresholds: the same pixels
    assert 0 < ours[4:].mean() < (1 if threshold is None else 0.9)
    with pytest.raises(ConfigError, match="needs 24 samples, the window has 20"):
        RecurrencePlot(16, dimension=5, time_delay=2).transform(np.zeros((1, 20)))


def test_quantum_gaf_closed_form():
    """Q-GASF = cos(2(xi + xj)), Q-GADF = cos(2(xi − xj)) of the (overlapping-segment) PAA series."""
    from gafkd.images.qgaf import QuantumGAF
    from gafkd.images.transform import paa

    x = np.random.default_rng(1).uniform(0, 1, size=(3, 100))
    values = paa(x, 16, overlapping=True)
    for method, sign in (("summation", 1), ("difference", -1)):
        expected = np.cos(2 * (values[:, :, None] + sign * values[:, None, :]))
        assert np.abs(QuantumGAF(16, method).transform(x) - expected).max() <= 1e-6


def test_the_stage_scales_as_the_lab_and_records_it(tmp_path, source_windows):
    """pi.h5 with the lab's fixed scaling: each channel to [0, 1] by the given limits, > 1 → 0.99, < 0 → 0,
    then ripser + persim — the lab's notebook — within 1e-5; the clipped windows counted and recorded."""
    from gafkd.data.store import load_windows
    from gafkd.images import build
    from gafkd.images.store import image_record, load_images

    windows = load_windows(source_windows)
    signals = windows.signals.astype(np.float64)
    low, high = np.percentile(signals, 2, axis=(0, 2)), np.percentile(signals, 98, axis=(0, 2))  # some clip
    limits = {"min": low.tolist(), "max": high.tolist()}
    settings = REPRESENTATIONS["pi"].settings({**section_defaults("images"), "image_size": 16, "dtype": "float32"},
                                              limits)
    build.build_images(source_windows, tmp_path / "pi.h5", settings)
    lab = (signals - low[:, None]) / (high - low)[:, None]  # the lab's preprocessing, written as it does it
    clipped = ((lab > 1) | (lab < 0)).sum(axis=(1, 2))
    lab[lab > 1], lab[lab < 0] = 0.99, 0.0
    notebook = np.stack([[reference_image(axis, 16) for axis in window] for window in lab[:6]])
    assert np.abs(load_images(tmp_path / "pi.h5")[:6] - notebook).max() <= 1e-5
    record = image_record(tmp_path / "pi.h5")["scaling"]
    assert record["kind"] == "fixed" and record["limits_from"] == "config" and record["limits"] == limits
    assert record["clipped_windows"] == int((clipped > 0).sum()) > 0 and record["clipped_samples"] == int(clipped.sum())
    assert sum(record["clipped_windows_by_part"].values()) == record["clipped_windows"]
    import h5py

    with h5py.File(tmp_path / "pi.h5") as h5:
        assert np.array_equal(h5["clipped"][...], clipped)  # which windows, and how many samples each


def test_fixed_limits_come_from_the_training_windows_only(tmp_path, source_windows):
    from gafkd.data.store import load_windows
    from gafkd.images import build
    from gafkd.images.store import image_record

    windows = load_windows(source_windows)
    settings = REPRESENTATIONS["rp"].settings({**section_defaults("images"), "image_size": 8})
    build.build_images(source_windows, tmp_path / "rp.h5", settings)
    record = image_record(tmp_path / "rp.h5")["scaling"]
    train = windows.signals[windows.indices("train")]
    assert record["limits_from"] == "training windows"
    assert np.allclose(record["limits"]["min"], train.min(axis=(0, 2)))
    assert np.allclose(record["limits"]["max"], train.max(axis=(0, 2)))
    assert not np.allclose(record["limits"]["max"], windows.signals.max(axis=(0, 2)))  # the test windows differ
    assert record["clipped_windows_by_part"]["train"] == 0  # training windows lie inside their own limits
    wrong = REPRESENTATIONS["pi"].settings(section_defaults("images"), {"min": [0.0], "max": [1.0]})
    with pytest.raises(ConfigError, match="limits give 1 min and 1 max values for its 3 channels"):
        build.build_images(source_windows, tmp_path / "bad.h5", wrong)
    assert not (tmp_path / "bad.h5").exists()


def test_the_stage_streams_chunks_into_the_file(tmp_path, monkeypatch, source_windows):
    """pi.h5 written 5 windows at a time equals the whole transform (one reused buffer, bounded memory)."""
    from gafkd.data.store import load_windows
    from gafkd.images import build
    from gafkd.images.store import image_settings, load_images

    monkeypatch.setattr(build, "STREAM", 5)
    settings = REPRESENTATIONS["pi"].settings({**section_defaults("images"), "image_size": 16,
                                               "pi": {**section_defaults("images")["pi"], "scaling": "window"}})
    build.build_images(source_windows, tmp_path / "pi.h5", settings)
    signals = load_windows(source_windows).signals
    whole = PersistenceImage(image_size=16).transform(window_scaled(signals), out_dtype=np.float16)
    assert np.array_equal(load_images(tmp_path / "pi.h5"), whole) and len(whole) > 10
    assert image_settings(tmp_path / "pi.h5")["scaling"] == "window"


@pytest.fixture
def source_windows(tmp_path):
    from gafkd.data.build import build_windows
    from gafkd.data.synthetic import write_synthetic

    source = write_synthetic(tmp_path / "source", subjects=2, seconds_per_activity=6, seed=1, write_as="parquet")
    settings = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "window": 500,
                "stride": 500, "split": {"method": "subject", "train": 0.5, "test": 0.5, "seed": 0}}
    build_windows(source, settings, "tiny", tmp_path / "windows.h5")
    return tmp_path / "windows.h5"


@pytest.mark.parametrize("limits, message", [
    ({"min": [0.0, 0.0], "max": [1.0]}, "datasets.d.limits: 2 min values but 1 max values"),
    ({"min": [0.0, 2.0, 0.0], "max": [1.0, 2.0, 1.0]}, "datasets.d.limits: channel 1: min 2 is not below max 2"),
])
def test_the_config_refuses_limits_without_a_range(limits, message):
    from gafkd.config import check_config

    config = with_defaults({"datasets": {"d": {"source": {"format": "synthetic"}, "classes": "gene14", "window": 500,
                                               "split": {"train": 0.5, "test": 0.5}, "limits": limits}}})
    with pytest.raises(ConfigError, match=message):
        check_config(config)


def test_gaf_means_gasf_only():
    """The stage, its rule, script, environment and package are "images"; the string "gaf" in the code is the
    GASF entry of the registry (and the old config section it replaced, named to say where it went)."""
    import ast

    root = Path(__file__).resolve().parents[1]
    assert not [p for p in (*root.glob("workflow/**/*gaf*"), *root.glob("envs/*gaf*"), *root.glob("src/gafkd/gaf*/"))]
    assert "rule gaf" not in "".join(p.read_text() for p in root.glob("workflow/rules/*.smk"))
    allowed = {"images/registry.py", "config.py"}
    found = set()
    for path in (root / "src" / "gafkd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == "gaf":
                found.add(str(path.relative_to(root / "src" / "gafkd")))
    assert found <= allowed and "images/registry.py" in found, found
