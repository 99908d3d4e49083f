"""Seam index on hand-made mosaics."""

import numpy as np
import pytest

from mosaic.seams import seam_index_np


def _two_tiles(step: float, rng):
    rows, cols = 60, 80
    y, x = np.mgrid[0:rows, 0:cols]
    values = (1000 + 40 * np.sin(x / 3.0) + 40 * np.cos(y / 4.0) + rng.normal(0, 5, (rows, cols)))[None]
    coverage = np.where(x < 30, 1, np.where(x < 50, 3, 2)).astype(np.uint64)   # tile 0 | both | tile 1
    values = values + np.where(x >= 40, step, 0.0)
    return values.astype(np.float32), coverage


def test_no_seam_scores_about_one_and_a_step_scores_more():
    rng = np.random.default_rng(0)
    smooth = seam_index_np(*_two_tiles(0.0, rng))
    assert smooth.boundary_pairs == 2 * 60 and 0.8 < smooth.ratio < 1.2
    # a step at x = 40 sits inside the overlap, not on a coverage boundary: not seen
    hidden = seam_index_np(*_two_tiles(200.0, rng))
    assert hidden.ratio == pytest.approx(smooth.ratio, rel=0.2)
    values, coverage = _two_tiles(0.0, rng)
    values[:, :, 50:] += 200.0      # a step on the boundary of tile 0
    assert seam_index_np(values, coverage).ratio > 3


def test_invalid_pixels_and_shapes():
    rng = np.random.default_rng(1)
    values, coverage = _two_tiles(0.0, rng)
    values[:, :, 28:33] = np.nan
    index = seam_index_np(values, coverage)
    assert index.boundary_pairs == 60          # the pairs at x = 29/30 are not valid any more
    with pytest.raises(ValueError):
        seam_index_np(values[0], coverage)
    empty = seam_index_np(values, np.zeros_like(coverage))
    assert np.isnan(empty.ratio)
