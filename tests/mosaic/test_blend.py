"""Blending rules on hand-made arrays: ramps, weights, merge methods."""

import numpy as np
import pytest

from mosaic.blend import (MERGE_METHODS, LastValid, WeightedBlend, coarse_valid, distance_ramp, tile_weight,
                          upsample_ramp)


def test_coarse_valid_needs_every_pixel():
    valid = np.ones((4, 6), bool)
    valid[0, 5] = False
    assert coarse_valid(valid, 2).tolist() == [[True, True, False], [True, True, True]]
    assert coarse_valid(valid, 1) is not valid and coarse_valid(valid, 1).sum() == 23
    with pytest.raises(ValueError):
        coarse_valid(valid, 4)


def test_distance_ramp_rises_from_edges():
    valid = np.ones((1, 21), bool)
    valid[0, 0] = False
    ramp = distance_ramp(valid, cell_m=100.0, feather_m=1000.0)
    assert ramp[0, 0] == 0
    # (d - 0.5 cell) / feather: 0.05 next to the edge, +0.1 per cell, 1 from 10.5 cells on
    np.testing.assert_allclose(ramp[0, 1:12], np.minimum(np.arange(1, 12) - 0.5, 10) / 10, atol=1e-6)
    assert np.all(ramp[0, 11:] == 1)
    assert np.all(np.diff(ramp[0]) >= 0)


@pytest.mark.parametrize("case", ["all valid", "none valid", "step"])
def test_distance_ramp_edge_cases(case):
    valid = {"all valid": np.ones((5, 5), bool), "none valid": np.zeros((5, 5), bool),
             "step": np.eye(5, dtype=bool) | True}[case]
    ramp = distance_ramp(valid, 10.0, 0.0 if case == "step" else 100.0)
    assert ramp.dtype == np.float32
    np.testing.assert_array_equal(ramp, valid.astype(np.float32))


def test_upsample_ramp_is_bilinear_and_aligned():
    # a linear field on cells of 4 pixels: interpolation at pixel centres is exact inside
    coarse = np.arange(6, dtype=np.float32)[None, :].repeat(3, axis=0)
    fine = upsample_ramp(coarse, 4, row_off=4, col_off=4, rows=4, cols=12)
    expected = (np.arange(4, 16) + 0.5) / 4 - 0.5
    np.testing.assert_allclose(fine, np.broadcast_to(expected, (4, 12)), atol=1e-6)
    # offsets move the window, never the field
    part = upsample_ramp(coarse, 4, row_off=5, col_off=9, rows=2, cols=3)
    np.testing.assert_allclose(part, fine[1:3, 5:8], atol=1e-6)


def test_tile_weight_floors_and_zero_outside():
    valid = np.array([[True, True, False]])
    wgt = np.array([[0, 2500, 3000]], np.float32)          # Theia's WGT 0 over water: minimal weight
    ramp = np.array([[1.0, 0.0, 1.0]], np.float32)
    w = tile_weight(valid, wgt, ramp, min_wgt=1, min_ramp=1e-3)
    np.testing.assert_allclose(w, [[1e-3, 2.5e-3, 0]], rtol=1e-6)
    assert w.dtype == np.float32 and np.all(w[valid] > 0)


def test_weighted_blend_is_a_partition_of_unity():
    rng = np.random.default_rng(0)
    shape = (7, 9)
    weights = [rng.random(shape).astype(np.float32) * (rng.random(shape) > 0.3) for _ in range(3)]
    # indicator values: the blend of tile i's indicator is tile i's normalised weight
    normalised = []
    for i in range(3):
        blend = WeightedBlend(1, shape)
        for j, w in enumerate(weights):
            blend.feed(np.full((1,) + shape, float(i == j), np.float32), w)
        normalised.append(blend.result()[0])
    total = np.nansum(normalised, axis=0)
    covered = sum(w > 0 for w in weights) > 0
    np.testing.assert_allclose(total[covered], 1.0, atol=1e-6)
    assert np.all(np.isnan(normalised[0][~covered]))
    # equal values stay exact whatever the weights
    blend = WeightedBlend(2, shape)
    for w in weights:
        blend.feed(np.full((2,) + shape, 1234.0, np.float32), w)
    np.testing.assert_array_equal(blend.result()[:, covered], 1234.0)


def test_weighted_blend_ignores_nan_values_and_zero_weights():
    blend = WeightedBlend(1, (1, 3))
    blend.feed(np.array([[[np.nan, 10, 10]]], np.float32), np.array([[1, 0, 1]], np.float32))
    blend.feed(np.array([[[20, 20, 40]]], np.float32), np.array([[1, 1, 3]], np.float32))
    np.testing.assert_allclose(blend.result()[0, 0], [20, 20, 32.5])


def test_last_valid_keeps_the_last_tile():
    last = LastValid(1, (1, 3))
    last.feed(np.array([[[1, 1, 1]]], np.float32), np.array([[1, 1, 1]], np.float32))
    last.feed(np.array([[[2, np.nan, 2]]], np.float32), np.array([[1, 1, 0]], np.float32))
    np.testing.assert_array_equal(last.result()[0, 0], [2, 1, 1])
    assert set(MERGE_METHODS) == {"blend", "last"}
