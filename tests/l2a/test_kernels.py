"""Overview kernels of the COG writer against their numpy twins (exact), on random data and edge cases."""

import numpy as np
import pytest

from l2a.kernels import (
    downsample2_average,
    downsample2_average_ref,
    downsample2_nearest,
    downsample2_nearest_ref,
    downsampled_shape,
)


def _average(src, nodata):
    out = np.empty((src.shape[0],) + downsampled_shape(*src.shape[1:]), src.dtype)
    downsample2_average(src, 0.0 if nodata is None else float(nodata), nodata is not None, src.dtype.kind == "f",
                        out)
    return out


@pytest.mark.parametrize("shape", [(1, 8, 8), (2, 7, 9), (3, 1, 5), (1, 1, 1), (2, 16, 3)])
@pytest.mark.parametrize("dtype, nodata", [(np.int16, -10000), (np.int16, None), (np.uint8, None),
                                           (np.uint8, 0), (np.float32, np.nan), (np.float32, None),
                                           (np.float64, -1.0)])
def test_average_matches_reference(shape, dtype, nodata):
    rng = np.random.default_rng(sum(shape))
    src = rng.integers(-300 if np.dtype(dtype).kind != "u" else 0, 250, shape).astype(dtype)
    if nodata is not None:
        src[rng.random(shape) < 0.3] = nodata
    if np.dtype(dtype).kind == "f":
        src[rng.random(shape) < 0.1] = np.nan
    np.testing.assert_array_equal(_average(src, nodata), downsample2_average_ref(src, nodata))


def test_average_ignores_nodata_and_rounds_half_away_from_zero():
    src = np.array([[[1, 2, -10000, 5], [-10000, -10000, -10000, -10000],
                     [-3, -4, 7, 7]]], np.int16)
    # cells: (1, 2) -> 1.5 -> 2; all nodata -> nodata; (-3, -4) -> -3.5 -> -4; (7, 7) -> 7
    assert _average(src, -10000).tolist() == [[[2, 5], [-4, 7]]]


def test_average_of_all_nodata_is_nodata_and_nan_is_invalid():
    src = np.full((1, 4, 4), -10000, np.int16)
    assert (_average(src, -10000) == -10000).all()
    f = np.array([[[np.nan, 1.0], [np.nan, 3.0]]], np.float32)
    assert _average(f, None).tolist() == [[[2.0]]]
    assert np.isnan(_average(np.full((1, 2, 2), np.nan, np.float32), None)).all()


@pytest.mark.parametrize("shape", [(1, 8, 8), (2, 7, 9), (1, 1, 3)])
def test_nearest_matches_reference_and_never_mixes_values(shape):
    rng = np.random.default_rng(3)
    src = rng.choice(np.array([0, 7, 35], np.uint8), shape)
    out = np.empty((shape[0],) + downsampled_shape(*shape[1:]), np.uint8)
    downsample2_nearest(src, out)
    np.testing.assert_array_equal(out, downsample2_nearest_ref(src))
    assert set(np.unique(out)) <= {0, 7, 35}
    assert out[0, 0, 0] == src[0, min(1, shape[1] - 1), min(1, shape[2] - 1)]
