"""Seam index on hand-made mosaics, and of mosaics read by strips of rows against the whole-grid computation."""

from xml.sax.saxutils import escape

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import transform

from l2a.constants import REFLECTANCE_NODATA
from mosaic.flags import FLG_SNOW
from mosaic.seams import (
    SeamSums,
    _mosaic_path,
    coverage_bits,
    mosaic_seam_index,
    seam_index_from_sums,
    seam_index_np,
    seam_index_strips,
    seam_sums,
)
from mosaic.sources import find_inputs, open_inputs


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


# --- strips ------------------------------------------------------------------------------------------------------
def _busy_grid(rng, all_valid: bool = False):
    """Five tiles (rectangles and a disc, one with a hole) on 97 x 83 pixels, two bands, last tile wins with a
    per-tile offset; no data on a cut corner, a notch and holes across tile boundaries unless ``all_valid``."""
    rows, cols = 97, 83
    y, x = np.mgrid[0:rows, 0:cols]
    tiles = [(x < 50) & (y < 60), (x >= 30) & (y < 70), (y >= 40) & (x < 60), (y >= 50) & (x >= 45),
             (x - 40) ** 2 + (y - 45) ** 2 < 15 ** 2]
    tiles[1] &= (x - 60) ** 2 + (y - 20) ** 2 >= 6 ** 2         # a cloud hole in tile 1
    coverage = np.zeros((rows, cols), np.uint64)
    offset = np.zeros((rows, cols))
    for i, t in enumerate(tiles):
        coverage[t] |= np.uint64(1 << i)
        offset[t] = 60.0 * (i - 2)
    land = 1000 + 40 * np.sin(x / 3.0) + 40 * np.cos(y / 4.0)
    values = np.stack([land + offset + rng.normal(0, 5, (rows, cols)),
                       0.5 * land - offset + rng.normal(0, 5, (rows, cols))]).astype(np.float32)
    if not all_valid:
        values[:, (x + y) < 12] = np.nan                           # a cut corner
        values[:, 80:, 20:24] = np.nan                             # a notch in the bottom edge
        values[:, 30:33, 70:] = np.nan
        values[:, 57:64, 27:33] = np.nan                           # holes across tile boundaries
        values[:, 68:72, 40:44] = np.nan
    else:
        coverage[coverage == 0] = 1
    return values, coverage


def _from_arrays(values, coverage):
    def read(r0, r1, v, c):
        v[...] = values[:, r0:r1]
        c[...] = coverage[r0:r1]
    return read


def _assert_same(a, b):
    assert (a.boundary_pairs, a.interior_pairs, a.edge_pairs) == (b.boundary_pairs, b.interior_pairs, b.edge_pairs)
    for name in ("ratio", "boundary_mad", "interior_mad", "ratio_with_edges"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-12, nan_ok=True), name


@pytest.mark.parametrize("all_valid", [False, True])
@pytest.mark.parametrize("margin_px", [0, 1, 3, 5])
def test_strips_equal_the_whole_grid(margin_px, all_valid):
    values, coverage = _busy_grid(np.random.default_rng(2), all_valid)
    whole = seam_index_np(values, coverage, margin_px)
    assert whole.boundary_pairs > 300 and whole.interior_pairs > 1000 and whole.ratio > 2
    assert (whole.edge_pairs > 0) == (margin_px > 0 and not all_valid)   # margin 0: an edge pair is not valid
    for strip_rows in (1, 2, 5, 7, 16, 64, 96, 97, 500):
        _assert_same(seam_index_strips(_from_arrays(values, coverage), values.shape, margin_px, strip_rows), whole)
    # the sums are additive over row ranges whatever the cuts, when the arrays hold the halo
    sums = SeamSums()
    for r0, r1 in ((0, 9), (9, 10), (10, 50), (50, 97)):
        w0, w1 = max(0, r0 - margin_px - 1), min(97, r1 + margin_px + 1)
        seam_sums(values[:, w0:w1], coverage[w0:w1], margin_px, (r0 - w0, r1 - w0), sums)
    _assert_same(seam_index_from_sums(sums), whole)


def test_a_fully_valid_grid_has_no_edge_pairs():
    """scipy measures the distance of a grid without background from a phantom pixel above its corner: a grid
    valid everywhere has no edge pairs, not a few near its upper left corner."""
    rng = np.random.default_rng(3)
    values = rng.normal(1000, 5, (1, 20, 20)).astype(np.float32)
    coverage = np.where(np.arange(20) < 2, 1, 2).astype(np.uint64)[None].repeat(20, axis=0)
    index = seam_index_np(values, coverage)
    assert index.edge_pairs == 0 and index.boundary_pairs == 20
    _assert_same(seam_index_strips(_from_arrays(values, coverage), values.shape, 3, 4), index)


def test_strip_arguments():
    values, coverage = _busy_grid(np.random.default_rng(4))
    with pytest.raises(ValueError):
        seam_index_strips(_from_arrays(values, coverage), values.shape, 3, 0)
    with pytest.raises(ValueError):
        seam_sums(values, coverage, 3, (5, 200))
    empty = seam_index_strips(_from_arrays(values[:, :0], coverage[:0]), (2, 0, 83))
    assert np.isnan(empty.ratio) and empty.boundary_pairs == 0


# --- mosaics read by strips ---------------------------------------------------------------------------------------
_OFFSET = 400.0     # planted on one tile's side, reflectance x10000


def _reference(path, products, margin_px):
    """The whole-grid computation: the whole mosaic and its coverage in memory, :func:`seam_index_np`."""
    with rasterio.open(path) as ds:
        values = ds.read().astype(np.float32)
        mask = ds.read_masks(1) > 0
        crs, transform, shape = ds.crs, ds.transform, (ds.height, ds.width)
    values[:, ~mask] = np.nan
    values[values <= REFLECTANCE_NODATA] = np.nan
    return seam_index_np(values, coverage_bits(products, crs, transform, shape), margin_px)


def _write_tiled_vrt(src_path, folder, cut):
    """The mosaic as four GeoTIFF tiles cut at row and column ``cut`` and a ``mosaic.vrt`` over them (nodata where
    the mosaic is masked), as a national mosaic is written."""
    folder.mkdir()
    with rasterio.open(src_path) as ds:
        profile, names = ds.profile, ds.descriptions
        data = ds.read()
        data[:, ds.read_masks(1) == 0] = REFLECTANCE_NODATA
        t, height, width, crs = ds.transform, ds.height, ds.width, ds.crs
    sources = {b: [] for b in range(len(names))}
    for r0, r1 in ((0, cut), (cut, height)):
        for c0, c1 in ((0, cut), (cut, width)):
            name = f"tile_{r0}_{c0}.tif"
            tile = dict(profile, height=r1 - r0, width=c1 - c0, nodata=REFLECTANCE_NODATA,
                        transform=t * Affine.translation(c0, r0))
            with rasterio.open(folder / name, "w", **tile) as out:
                out.write(data[:, r0:r1, c0:c1])
            for b, items in sources.items():
                items.append(
                    f'<SimpleSource><SourceFilename relativeToVRT="1">{name}</SourceFilename>'
                    f"<SourceBand>{b + 1}</SourceBand>"
                    f'<SrcRect xOff="0" yOff="0" xSize="{c1 - c0}" ySize="{r1 - r0}"/>'
                    f'<DstRect xOff="{c0}" yOff="{r0}" xSize="{c1 - c0}" ySize="{r1 - r0}"/></SimpleSource>')
    bands = "".join(f'<VRTRasterBand dataType="Int16" band="{b + 1}"><Description>{names[b]}</Description>'
                    f"<NoDataValue>{REFLECTANCE_NODATA}</NoDataValue>{''.join(sources[b])}</VRTRasterBand>"
                    for b in sources)
    (folder / "mosaic.vrt").write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}"><SRS>{escape(crs.to_wkt())}</SRS>'
        f"<GeoTransform>{', '.join(repr(v) for v in t.to_gdal())}</GeoTransform>{bands}</VRTDataset>")
    return folder


@pytest.fixture(scope="module")
def planted(tmp_path_factory, mosaic_dir, country):
    """The blended mosaic with +400 on every pixel one tile (T30TYP) covers: a seam along that tile's frame; and
    the same as tiles and a VRT in a folder."""
    products = open_inputs(find_inputs(country[1]))
    k = [p.tile for p in products].index("T30TYP")
    folder = tmp_path_factory.mktemp("planted")
    with rasterio.open(mosaic_dir / "mosaic.tif") as ds:
        profile, names = ds.profile, ds.descriptions
        data, mask = ds.read(), ds.read_masks(1)
        bits = coverage_bits(products, ds.crs, ds.transform, (ds.height, ds.width))
    side = ((bits >> np.uint64(k)) & np.uint64(1)).astype(bool) & (mask > 0) & (data > REFLECTANCE_NODATA).all(axis=0)
    data[:, side] += np.int16(_OFFSET)
    path = folder / "planted.tif"
    with rasterio.open(path, "w", **profile) as out:
        out.write(data)
        out.write_mask(mask)
        out.descriptions = names
    return path, _write_tiled_vrt(path, folder / "national", 256), products


@pytest.mark.parametrize("margin_px", [1, 3, 5])
@pytest.mark.parametrize("strip_rows", [7, 16, 64])
def test_mosaic_by_strips_equals_the_whole_grid(planted, country, strip_rows, margin_px):
    path, _, products = planted
    whole = _reference(path, products, margin_px)
    assert whole.ratio > 2 and whole.boundary_pairs > 1000 and whole.interior_pairs > 100_000
    # integer reflectances: the sums are exact whatever their order, so the results are equal, not just close
    assert mosaic_seam_index(path, country[1], margin_px=margin_px, strip_rows=strip_rows) == whole


def test_blended_mosaic_by_strips_and_the_seam_planted(planted, mosaic_dir, country):
    products = planted[2]
    whole = _reference(mosaic_dir / "mosaic.tif", products, 3)
    assert mosaic_seam_index(mosaic_dir, country[1], strip_rows=16) == whole
    assert whole.ratio < 1.1 and _reference(planted[0], products, 3).ratio > 2 * whole.ratio


def test_a_national_vrt_of_tiles(planted, country):
    """A folder with no mosaic.tif: its mosaic.vrt over GeoTIFF tiles, read through rasterio the same way."""
    path, folder, _ = planted
    assert not (folder / "mosaic.tif").exists()
    by_vrt = mosaic_seam_index(folder, country[1], strip_rows=100)
    assert by_vrt == mosaic_seam_index(folder / "mosaic.vrt", country[1], strip_rows=512)
    assert by_vrt == mosaic_seam_index(path, country[1]) and by_vrt.ratio > 2
    assert mosaic_seam_index(folder, country[1], bands=["B4", "B8"], strip_rows=33) == \
        mosaic_seam_index(path, country[1], bands=["B4", "B8"])


def test_coverage_of_strips_is_nearest_neighbour_of_the_whole_grid(mosaic_dir, country):
    """Strips get the coverage bits of the whole grid, and those are the FLG of the product pixel holding each pixel's
    centre, projected exactly (but for centres within 1e-3 pixel of a product pixel's edge)."""
    products = open_inputs(find_inputs(country[1]))
    with rasterio.open(mosaic_dir / "mosaic.tif") as ds:
        crs, t, shape = ds.crs, ds.transform, (ds.height, ds.width)
    whole = coverage_bits(products, crs, t, shape)
    strips = np.concatenate([coverage_bits(products, crs, t, shape, rows=(r, min(r + 13, shape[0])))
                             for r in range(0, shape[0], 13)])
    assert np.array_equal(strips, whole)
    cols, rows = np.meshgrid(np.arange(shape[1]) + 0.5, np.arange(shape[0]) + 0.5)
    xs, ys = t * (cols.ravel(), rows.ravel())
    for i, p in enumerate(products):
        g = p.grids["R1"]
        sx, sy = transform(crs, p.crs, xs, ys)
        c, r = ~g.transform * (np.asarray(sx), np.asarray(sy))
        inside = (r >= 0) & (r < g.height) & (c >= 0) & (c < g.width)
        flg = p.read_mask("FLG", "R1")
        expected = np.zeros(r.shape, bool)
        expected[inside] = flg[np.floor(r[inside]).astype(int), np.floor(c[inside]).astype(int)] >= FLG_SNOW
        got = ((whole.ravel() >> np.uint64(i)) & np.uint64(1)).astype(bool)
        near_edge = (np.abs(r - np.round(r)) < 1e-3) | (np.abs(c - np.round(c)) < 1e-3)
        assert expected.sum() > 50_000 and np.array_equal(got[~near_edge], expected[~near_edge]), p.tile
        assert (got != expected).sum() <= near_edge.sum() < 0.01 * r.size


def test_mosaic_path_prefers_the_tif(mosaic_dir, planted):
    assert _mosaic_path(mosaic_dir) == mosaic_dir / "mosaic.tif"      # beside the true-colour mosaic.vrt of a build
    assert _mosaic_path(planted[1]) == planted[1] / "mosaic.vrt"
