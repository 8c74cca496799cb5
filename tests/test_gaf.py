"""The batched GAF equals pyts's GramianAngularField (the oracle) per axis."""

import numpy as np
import pytest

from gafkd.errors import ConfigError, DataError
from gafkd.images.transform import GramianAngularField, paa_bounds

pyts_image = pytest.importorskip("pyts.image")


def _windows(rng, length):
    x = rng.normal(size=(40, length)).cumsum(axis=1)
    x[0] = 0.7  # constant window
    x[1] = 0.0
    x[1, length // 3] = 5.0  # single spike
    x[2] = np.linspace(-3, 3, length)  # monotone ramp
    return x


@pytest.mark.parametrize("length", [500, 1000])
@pytest.mark.parametrize("method", ["summation", "difference"])
def test_matches_pyts(rng, length, method):
    x = _windows(rng, length)
    ours = GramianAngularField(64, method).transform(x)
    oracle = pyts_image.GramianAngularField(image_size=64, method=method).fit_transform(x)
    assert ours.shape == oracle.shape == (40, 64, 64)
    assert np.abs(ours - oracle).max() <= 1e-6


def test_constant_window_is_all_minus_one_scaled(rng):
    image = GramianAngularField(64).transform(np.full((1, 500), 3.0))[0]
    # a constant series scales to -1 (phi = pi), so every GASF entry is cos(2 pi) = 1
    np.testing.assert_allclose(image, 1.0, atol=1e-6)


def test_multichannel_is_per_axis_and_chunked(rng):
    x = rng.normal(size=(7, 3, 500)).astype(np.float32)
    small_chunks = GramianAngularField(64, chunk_size=4).transform(x, out_dtype=np.float16)
    assert small_chunks.shape == (7, 3, 64, 64) and small_chunks.dtype == np.float16
    per_axis = GramianAngularField(64).transform(x[:, 1])
    np.testing.assert_allclose(small_chunks[:, 1].astype(np.float32), per_axis, atol=1e-3)


def test_paa_segments_are_pyts_unequal_segments():
    sizes = np.diff(paa_bounds(500, 64))
    assert set(sizes) == {7, 8} and sizes.sum() == 500
    assert set(np.diff(paa_bounds(1000, 64))) == {15, 16}


def test_bad_inputs():
    with pytest.raises(DataError, match="NaN"):
        GramianAngularField(8).transform(np.array([[0.0, np.nan] * 8]))
    with pytest.raises(ConfigError, match="larger than the window"):
        GramianAngularField(64).transform(np.zeros((1, 32)))
    with pytest.raises(ConfigError, match="method"):
        GramianAngularField(64, "product")
