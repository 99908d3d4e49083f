"""The one grid type: bounds, windows, blocks, scaling, the window covering a rectangle."""

import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from l2a.grid import Grid

#: 100 x 80 pixels of 10 m, upper-left corner at (300000, 4900020).
GRID = Grid(Affine(10.0, 0.0, 300000.0, 0.0, -10.0, 4900020.0), 100, 80, CRS.from_epsg(32631))


def test_bounds_shape_resolution():
    assert GRID.shape == (100, 80) and GRID.resolution == 10.0
    assert GRID.bounds == (300000.0, 4899020.0, 300800.0, 4900020.0)
    assert GRID.window_bounds(Window(10, 20, 5, 4)) == (300100.0, 4899780.0, 300150.0, 4899820.0)


def test_blocks_cover_the_grid_once():
    blocks = GRID.blocks(32)
    assert [(b.col_off, b.row_off, b.width, b.height) for b in blocks[:3]] == [(0, 0, 32, 32), (32, 0, 32, 32),
                                                                              (64, 0, 16, 32)]
    assert sum(b.width * b.height for b in blocks) == 100 * 80


def test_scaled_keeps_the_corner_and_partial_pixels():
    coarse = GRID.scaled(3)
    assert coarse.transform == GRID.transform @ Affine.scale(3)     # the working-grid rule of mosaic build
    assert coarse.shape == (34, 27) and coarse.crs == GRID.crs
    assert GRID.scaled(1) == GRID


def test_window_of_and_same_as():
    part = Grid(GRID.window_transform(Window(8, 4, 10, 6)), 6, 10)
    assert part.window_of(GRID) == Window(8, 4, 10, 6) and part.is_window_of(GRID)
    shifted = Grid(part.transform @ Affine.translation(0.5, 0), 6, 10)
    assert shifted.window_of(GRID) is None and not GRID.same_as(part)


@pytest.mark.parametrize("bounds,pad,window", [
    ((300100.0, 4899780.0, 300150.0, 4899820.0), 0, Window(10, 20, 5, 4)),      # whole pixels
    ((300105.0, 4899785.0, 300145.0, 4899815.0), 0, Window(10, 20, 5, 4)),      # parts of pixels count
    ((300100.0, 4899780.0, 300150.0, 4899820.0), 2, Window(8, 18, 9, 8)),       # padded
    ((299000.0, 4899000.0, 300020.0, 4900100.0), 3, Window(0, 0, 5, 100)),      # clipped to the grid
])
def test_window_covering(bounds, pad, window):
    assert GRID.window_covering(bounds, pad) == window


def test_window_covering_misses():
    assert GRID.window_covering((200000.0, 4800000.0, 200100.0, 4800100.0), pad=3) is None
