"""Numba kernels of the tile renderer against their numpy twins, plus edge cases."""

import numpy as np
import pytest
from affine import Affine

from mosaic import kernels


def _coords(rng, shape, src_shape, margin=2.0):
    col = rng.uniform(-margin, src_shape[-1] + margin, shape)
    row = rng.uniform(-margin, src_shape[-2] + margin, shape)
    return col, row


@pytest.mark.parametrize("nan_fraction", [0.0, 0.3, 1.0])
def test_bilinear_matches_reference(nan_fraction):
    rng = np.random.default_rng(1)
    src = (rng.random((3, 13, 17)) * 3000).astype(np.float32)
    src[:, rng.random((13, 17)) < nan_fraction] = np.nan
    col, row = _coords(rng, (20, 30), src.shape)
    out = kernels.bilinear(src, col, row)
    ref = kernels.sample_bilinear_ref(src, col, row)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-2, equal_nan=True)
    if nan_fraction == 1.0:
        assert np.isnan(out).all()


def test_bilinear_is_exact_on_pixel_centres_and_linear_fields():
    src = np.arange(20, dtype=np.float32).reshape(1, 4, 5) * 10
    col, row = np.meshgrid(np.arange(5) + 0.5, np.arange(4) + 0.5)
    np.testing.assert_array_equal(kernels.bilinear(src, col, row), src)
    # halfway between two centres: the mean
    out = kernels.bilinear(src, np.array([[1.0]]), np.array([[0.5]]))
    assert out[0, 0, 0] == pytest.approx(5.0)
    # a nodata neighbour drops out and the others are renormalised
    src[0, 0, 0] = np.nan
    out = kernels.bilinear(src, np.array([[1.0]]), np.array([[0.5]]))
    assert out[0, 0, 0] == pytest.approx(10.0)


def test_nearest_matches_reference_and_fills_outside():
    rng = np.random.default_rng(2)
    src = rng.integers(0, 5, (11, 7), dtype=np.uint8)
    col, row = _coords(rng, (15, 25), src.shape, margin=3)
    out = kernels.nearest(src, col, row, 255)
    np.testing.assert_array_equal(out, kernels.sample_nearest_ref(src, col, row, 255))
    assert (out == 255).any() and (out < 5).any()


def test_wrappers_check_dtypes():
    col = np.zeros((2, 2))
    with pytest.raises(ValueError):
        kernels.bilinear(np.zeros((1, 2, 2), np.float64), col, col)
    with pytest.raises(ValueError):
        kernels.nearest(np.zeros((2, 2), np.int16), col, col, 0)
    with pytest.raises(ValueError):
        kernels.nearest(np.zeros((2, 2), np.uint8), col, col.astype(np.float32), 0)


def test_interpolate_grid_matches_reference_and_is_exact_for_affine_fields():
    rows, cols = 37, 50
    at_r = np.array([0, 16, 32, 36], np.float64)
    at_c = np.array([0, 16, 32, 48, 49], np.float64)
    t = Affine(0.3, 0.1, 5.0, -0.05, 0.7, 2.0)
    gc, gr = np.meshgrid(at_c, at_r)
    control = np.asarray((t @ (gc, gr))[0])
    out = np.empty((rows, cols))
    kernels.interpolate_grid(control, at_r, at_c, out)
    jc, jr = np.meshgrid(np.arange(cols), np.arange(rows))
    np.testing.assert_allclose(out, (t @ (jc, jr))[0], atol=1e-9)
    curved = np.random.default_rng(3).random(gc.shape)
    kernels.interpolate_grid(curved, at_r, at_c, out)
    np.testing.assert_allclose(out, kernels.interpolate_grid_ref(curved, at_r, at_c, (rows, cols)), atol=1e-12)


@pytest.mark.parametrize("gamma,flagged", [(1.0, 0), (2.2, 1), (0.7, 2)])
def test_stretch_rgba_matches_reference(gamma, flagged):
    rng = np.random.default_rng(4)
    refl = (rng.random((3, 16, 24)) * 3000 - 200).astype(np.float32)
    refl[1, 3, 4] = np.nan
    flg = rng.choice(np.array([0, 1, 2, 3, 4, 255], np.uint8), size=(16, 24))
    grey = np.array([150, 150, 150, 255], np.uint8)
    out = np.empty((4, 16, 24), np.uint8)
    kernels.stretch_rgba(refl, flg, 0.0, 0.2, gamma, flagged, 8, 5, 7, grey, out)
    ref = kernels.stretch_rgba_ref(refl, flg, 0.0, 0.2, gamma, flagged, 8, 5, 7, grey)
    assert np.abs(out.astype(int) - ref).max() <= 1 and (out == ref).mean() > 0.999
    assert out[3, 3, 4] == 0 or flg[3, 4] == 1


@pytest.mark.parametrize("case", ["random", "opaque", "transparent", "half"])
def test_downsample_matches_reference(case):
    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 256, (4, 10, 12), dtype=np.uint8)
    if case == "opaque":
        rgba[3] = 255
    elif case == "transparent":
        rgba[3] = 0
    elif case == "half":
        rgba[3] = np.where(rng.random((10, 12)) < 0.5, 0, 255)
    out = np.empty((4, 5, 6), np.uint8)
    kernels.downsample_rgba(rgba, out)
    np.testing.assert_array_equal(out, kernels.downsample_rgba_ref(rgba))
