"""Output grid: CRS parsing, footprints, cutlines, snapping."""

import json

import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.windows import Window
from shapely.geometry import box

from mosaic.errors import CutlineError, InvalidCRSError, InvalidParameterError
from mosaic.grid import cutline_mask, footprint, load_cutline, parse_crs, target_grid

L93 = CRS.from_epsg(2154)
T31TCJ = (300000.0, 4790220.0, 409800.0, 4900020.0)


@pytest.mark.parametrize("text", ["EPSG:99999", "not a crs", ""])
def test_parse_crs_refuses_unknown(text):
    with pytest.raises(InvalidCRSError) as exc:
        parse_crs(text)
    assert "\n" not in str(exc.value)


def test_parse_crs_accepts_codes_and_wkt():
    assert parse_crs("EPSG:2154") == L93
    assert parse_crs(L93.to_wkt()) == L93


def test_footprint_of_a_utm_tile_in_lambert93():
    poly = footprint(CRS.from_epsg(32631), T31TCJ, L93)
    # a 109.8 km square, slightly rotated: area kept within the scale factors of both projections (< 0.2 %)
    assert poly.is_valid and abs(poly.area / 109800.0 ** 2 - 1) < 2e-3
    assert len(poly.exterior.coords) > 40          # edges densified


def test_target_grid_snaps_to_whole_pixels():
    a, b = box(100010, 6000005, 200000, 6100000), box(190000, 6050000, 260003, 6150007)
    grid = target_grid([a, b], L93, 20.0)
    left, bottom, right, top = grid.bounds
    assert left == 100000 and top == 6150020 and right >= 260003 and bottom <= 6000005
    assert all(v % 20 == 0 for v in (left, right, top, bottom))
    assert grid.width == (right - left) / 20 and grid.resolution == 20
    with pytest.raises(InvalidParameterError):
        target_grid([a], L93, 0.01)
    blocks = grid.blocks(512)
    assert sum(int(w.width * w.height) for w in blocks) == grid.width * grid.height


def _geojson(tmp_path, doc, name="cut.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


SQUARE = {"type": "Polygon", "coordinates": [[[1.0, 43.5], [1.5, 43.5], [1.5, 44.0], [1.0, 44.0], [1.0, 43.5]]]}


def test_load_cutline_reads_features_and_buffers(tmp_path):
    plain = load_cutline(_geojson(tmp_path, SQUARE), L93)
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": SQUARE}]}
    same = load_cutline(_geojson(tmp_path, fc, "fc.geojson"), L93)
    assert plain.equals_exact(same, 1e-6)
    buffered = load_cutline(_geojson(tmp_path, SQUARE), L93, buffer=2000.0)
    growth = buffered.area - plain.area
    # area grows by perimeter x buffer + pi buffer^2
    assert growth == pytest.approx(plain.length * 2000 + np.pi * 2000 ** 2, rel=0.01)
    assert buffered.contains(plain)


@pytest.mark.parametrize("doc,words", [
    ({"type": "LineString", "coordinates": [[1, 43], [2, 44]]}, "not a polygon"),
    ({"type": "FeatureCollection", "features": []}, "no polygon"),
    ({"type": "Polygon", "coordinates": "nonsense"}, "malformed"),
    ({"foo": 1}, "not a GeoJSON"),
])
def test_load_cutline_refuses_non_polygons(tmp_path, doc, words):
    with pytest.raises(CutlineError) as exc:
        load_cutline(_geojson(tmp_path, doc), L93)
    assert words in str(exc.value) and "cut.geojson" in str(exc.value)


def test_load_cutline_refuses_missing_and_unreadable(tmp_path):
    with pytest.raises(CutlineError):
        load_cutline(tmp_path / "absent.geojson", L93)
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    with pytest.raises(CutlineError):
        load_cutline(bad, L93)
    with pytest.raises(CutlineError):
        load_cutline(_geojson(tmp_path, SQUARE), L93, buffer=-1e6)


def test_load_cutline_refuses_documents_beyond_limits(tmp_path):
    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "Polygon", "coordinates": ' + "[" * 100_000 + "]" * 100_000 + "}")
    properties = {"type": "Feature", "geometry": SQUARE, "properties": json.loads("[" * 70 + "]" * 70)}
    for path in (deep, _geojson(tmp_path, properties, "props.geojson")):
        with pytest.raises(CutlineError) as exc:
            load_cutline(path, L93)
        assert str(exc.value) == f"{path}: cutline is nested deeper than 64 levels"
    nested = {"type": "GeometryCollection", "geometries": [SQUARE]}
    for _ in range(20):                                      # deep enough to be odd, well within the limit
        nested = {"type": "GeometryCollection", "geometries": [nested]}
    assert load_cutline(_geojson(tmp_path, nested, "nested.geojson"), L93).area > 0


def test_target_grid_refuses_a_cutline_off_the_tiles(tmp_path):
    far = box(900000, 6900000, 910000, 6910000)
    with pytest.raises(CutlineError):
        target_grid([box(0, 0, 1000, 1000)], L93, 10.0, far, "far.geojson")


def test_cutline_mask_inside_outside_partial(tmp_path):
    grid = target_grid([box(0, 0, 1000, 1000)], L93, 10.0)
    cut = box(0, 0, 505, 1000)
    assert cutline_mask(cut, grid, Window(0, 0, 40, 40)) is None
    assert not cutline_mask(cut, grid, Window(60, 0, 40, 40)).any()
    partial = cutline_mask(cut, grid, Window(40, 0, 20, 10))
    # pixel centres of columns 40-49 (x 405-495) are inside, 50 (505) lies on the edge and beyond
    assert partial[:, :10].all() and not partial[:, 11:].any()
