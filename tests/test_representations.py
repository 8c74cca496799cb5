"""Image representations: the registry, and each batched transform against its reference library.

References: pyts (GADF, MTF), ripser (the sublevel-set diagrams) + persim's legacy PersImage (the images).
Windows of 500 and 1000 samples, with a constant window, a single spike, a ramp and a tied-values window.
"""

import warnings

import numpy as np
import pytest

from gafkd.config import with_defaults
from gafkd.errors import ConfigError
from gafkd.gaf.compound import CompoundImage
from gafkd.gaf.mtf import MarkovTransitionField
from gafkd.gaf.persistence import PersistenceImage, reference_diagram, reference_image, scale, sublevel_pairs
from gafkd.gaf.registry import REPRESENTATIONS, SHARED, input_channels, representation
from gafkd.gaf.transform import GramianAngularField
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


@pytest.mark.parametrize("length", [500, 1000])
def test_sublevel_diagrams_match_ripser(rng, length):
    x = scale(_windows(rng, length, n=8))
    births, deaths = (t.numpy() for t in sublevel_pairs(x))
    for row in range(len(x)):
        ours = np.stack([births[row], deaths[row]], axis=1)
        ours = ours[ours[:, 1] > ours[:, 0]]  # zero-lifetime pairs are not points
        ref = reference_diagram(x[row])
        ref = ref[ref[:, 1] > ref[:, 0]]
        assert len(ours) == len(ref), row
        assert np.isinf(ours[:, 1]).sum() == np.isinf(ref[:, 1]).sum() == 1  # the global minimum never dies
        np.testing.assert_allclose(ours[np.isinf(ours[:, 1]), 0], ref[np.isinf(ref[:, 1]), 0], atol=1e-6)
        ours, ref = ours[np.isfinite(ours[:, 1])], ref[np.isfinite(ref[:, 1])]
        ours, ref = ours[np.lexsort(ours.T[::-1])], ref[np.lexsort(ref.T[::-1])]
        np.testing.assert_allclose(ours, ref, atol=1e-6)  # ripser keeps float32 values


@pytest.mark.parametrize("length", [500, 1000])
def test_persistence_images_match_ripser_and_persim(rng, length):
    x = _windows(rng, length, n=12)
    ours = PersistenceImage().transform(x)
    reference = np.stack([reference_image(series) for series in scale(x)])
    assert ours.shape == reference.shape == (12, 64, 64)
    assert np.abs(ours - reference).max() <= 1e-5
    assert not ours[0].any() and ours[1].any()  # constant: empty diagram, all zero; a spike has one point


def test_an_empty_diagram_gives_an_all_zero_image():
    flat = np.zeros((2, 3, 200))
    flat[1, :, 50] = 1e-3  # a spike too small to outlive the lifetime threshold after scaling? no: scaled to 1
    images = PersistenceImage(image_size=16).transform(flat)
    assert images.shape == (2, 3, 16, 16) and not images[0].any()
    smooth = np.tile(np.linspace(0, 1, 200), (1, 1, 1))  # monotone: only the global minimum, which never dies
    assert not PersistenceImage(image_size=16).transform(smooth).any()


def test_rips_recipe_uses_ripser_on_the_delay_embedding(rng):
    x = _windows(rng, 500, n=6)[4:6]  # random walks
    settings = {"dimension": 3, "delay": 10, "stride": 5}
    ours = PersistenceImage(image_size=32, recipe="rips", rips=settings).transform(x)
    series = scale(x)[1]
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
    rips = REPRESENTATIONS["pi"].settings({**images, "pi": {**images["pi"], "recipe": "rips"}})
    assert rips["rips"] == {"delay": 10, "dimension": 3, "stride": 5}
    assert [input_channels(m) for m in ("gaf", "compound", "pi", "sig")] == [3, 9, 3, 3]
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


def test_the_stage_streams_chunks_into_the_file(tmp_path, monkeypatch, source_windows):
    """pi.h5 written 5 windows at a time equals the whole transform (one reused buffer, bounded memory)."""
    from gafkd.gaf import build
    from gafkd.gaf.store import image_settings, load_images

    monkeypatch.setattr(build, "STREAM", 5)
    settings = REPRESENTATIONS["pi"].settings({**section_defaults("images"), "image_size": 16})
    build.build_gaf(source_windows, tmp_path / "pi.h5", settings)
    from gafkd.data.store import load_windows

    whole = PersistenceImage(image_size=16).transform(load_windows(source_windows).signals, out_dtype=np.float16)
    assert np.array_equal(load_images(tmp_path / "pi.h5"), whole) and len(whole) > 10
    assert image_settings(tmp_path / "pi.h5")["recipe"] == "sublevel"


@pytest.fixture
def source_windows(tmp_path):
    from gafkd.data.build import build_windows
    from gafkd.data.synthetic import write_synthetic

    source = write_synthetic(tmp_path / "source", subjects=2, seconds_per_activity=6, seed=1, write_as="parquet")
    settings = {"source": {"format": "synthetic", "write_as": "parquet"}, "classes": "gene14", "window": 500,
                "stride": 500, "split": {"method": "subject", "train": 0.5, "test": 0.5, "seed": 0}}
    build_windows(source, settings, "tiny", tmp_path / "windows.h5")
    return tmp_path / "windows.h5"
