"""The pyramid rules shared by `mosaic tiles` and `mosaic compare`: native zoom, read factor, the block writer."""

import json

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from l2a.grid import Grid
from mosaic.compare import _auto_zooms
from mosaic.errors import ZoomRangeError
from mosaic.grid import read_factor
from mosaic.params import PyramidParams
from mosaic.pyramid import TILE_SIZE, PyramidWriter, TileStore, native_zoom, tile_ranges, tms
from mosaic.tiles import MAX_OVERZOOM, build_pyramid

WEB = CRS.from_epsg(3857)


def _web_grid(pixel: float) -> Grid:
    """A 1000 x 1000 grid of ``pixel`` m in EPSG:3857 around (0, 0) (no scale change across it)."""
    return Grid(Affine(pixel, 0.0, -500 * pixel, 0.0, -pixel, 500 * pixel), 1000, 1000, WEB)


def _zoom_pixel(z: int) -> float:
    return tms().matrix(z).cellSize


@pytest.mark.parametrize("z", [3, 11, 17])
def test_native_zoom_never_finer_than_the_mosaic(z):
    assert native_zoom(_web_grid(_zoom_pixel(z))) == z                  # an exact match is that zoom
    assert native_zoom(_web_grid(_zoom_pixel(z) * 1.01)) == z - 1       # a bit coarser: the zoom above
    assert native_zoom(_web_grid(_zoom_pixel(z) * 0.99)) == z           # a bit finer: still z, never z + 1
    assert native_zoom(_web_grid(_zoom_pixel(z) * 0.51)) == z


def test_native_zoom_in_another_crs_measures_the_pixel_in_web_mercator():
    # 400 m Lambert-93 pixels at 45 N are ~566 m of EPSG:3857: zoom 8 (611 m), not 9 (306 m)
    l93 = Grid(Affine(400.0, 0.0, 600000.0, 0.0, -400.0, 6450000.0), 200, 200, CRS.from_epsg(2154))
    assert native_zoom(l93) == 8


def test_compare_and_tiles_use_the_same_native_zoom(tmp_path, viewer_data):
    mosaic = viewer_data.write_month(tmp_path / "july", "july", bands=("B2", "B3", "B4")) / "mosaic.tif"
    low, high = _auto_zooms(mosaic)
    build_pyramid(mosaic, tmp_path / "t", PyramidParams(high, high))
    assert json.loads((tmp_path / "t" / "metadata.json").read_text())["native_zoom"] == high == 11
    with pytest.raises(ZoomRangeError):
        build_pyramid(mosaic, tmp_path / "t2", PyramidParams(high, high + MAX_OVERZOOM + 1))


def test_read_factor():
    assert [read_factor(r) for r in (0.3, 1.0, 1.99, 2.0, 2.5, 7.9)] == [1, 1, 1, 2, 2, 7]


class _Checker:
    """A renderer drawing each block as a chequer of its tiles, remembering the blocks it was asked for."""

    layers = ("a",)

    def __init__(self):
        self.calls = []
        self.closed = False

    def render(self, bounds, shape, origin):
        self.calls.append((bounds, shape))
        rgba = np.zeros((4,) + shape, np.uint8)
        rgba[3] = 255
        rgba[0, ::2] = 200
        return {"a": rgba}

    def close(self):
        self.closed = True


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # tile files
def test_writer_renders_blocks_and_reduces_the_zooms_above(tmp_path):
    ranges = tile_ranges((0.5, 43.5, 2.5, 45.0), range(6, 9))
    store = TileStore(tmp_path, {"a": ""})
    renderer = _Checker()
    writer = PyramidWriter(renderer, store, ranges)
    x0, x1, y0, y1 = ranges[6]
    writer.run([[(writer.write_block, (8, x * 4, y * 4, 4, 2)) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]],
               workers=2, desc="test")
    counts = {z: (r[1] - r[0] + 1) * (r[3] - r[2] + 1) for z, r in ranges.items()}
    assert store.written == sum(counts.values()) and renderer.closed
    assert len(renderer.calls) == counts[6]                          # one render per block, zooms 7 and 6 reduced
    tile = store.decode(store.path("a", 8, ranges[8][0], ranges[8][2]))
    assert tile.shape == (4, TILE_SIZE, TILE_SIZE) and (tile[3] == 255).all()
    again = PyramidWriter(_Checker(), store, ranges)
    again.write_block(8, x0 * 4, y0 * 4, 4, 2)                       # all there: skipped, nothing rendered
    assert not again.renderer.calls and store.skipped > 0


def test_tile_store_template_and_paths(tmp_path):
    store = TileStore(tmp_path, {"rgb": "", "flags": "flags"}, "webp")
    assert store.template("rgb") == "{z}/{x}/{y}.webp" and store.template("flags") == "flags/{z}/{x}/{y}.webp"
    assert store.path("flags", 3, 4, 5) == tmp_path / "flags" / "3" / "4" / "5.webp"
    assert json.dumps(store.template("rgb").format(z=1, x=2, y=3)) == '"1/2/3.webp"'
