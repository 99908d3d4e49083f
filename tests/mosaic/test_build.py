"""`mosaic build` end to end on synthetic L3A tiles across the 30/31 UTM zone boundary."""

import json

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from mosaic.build import build_mosaic
from mosaic.cli import main as mosaic_main
from mosaic.errors import MixedDatesError
from mosaic.params import MosaicParams
from mosaic.seams import mosaic_seam_index

L93 = "EPSG:2154"


def _read(out):
    with rasterio.open(out / "mosaic.tif") as ds:
        data = ds.read().astype(np.float64)
        mask = ds.read_masks(1)
        names = ds.descriptions
        transform = ds.transform
    with rasterio.open(out / "flags.tif") as ds:
        flg, ntiles = ds.read(1), ds.read(2)
    return data, mask, flg, ntiles, names, transform


def _centres_lonlat(transform, shape):
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    xs, ys = transform @ (cols + 0.5, rows + 0.5)
    lon, lat = Transformer.from_crs(L93, "EPSG:4326", always_xy=True).transform(xs, ys)
    return xs, ys, np.asarray(lon), np.asarray(lat)


def test_outputs_are_cogs_with_mask_names_and_stac(mosaic_dir, country):
    with rasterio.open(mosaic_dir / "mosaic.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.dtypes[0] == "int16" and ds.nodata == -10000 and ds.crs.to_epsg() == 2154
        assert ds.descriptions == ("B2", "B3", "B4", "B8", "B11")
        assert ds.overviews(1) and ds.block_shapes[0] == (512, 512) or min(ds.shape) < 512
        assert all(m == [rasterio.enums.MaskFlags.per_dataset] for m in ds.mask_flag_enums)
        assert ds.scales[0] == pytest.approx(1e-4) and ds.res == (300.0, 300.0)
        assert ds.tags()["CENTRAL_DATE"] == "2018-07-15"
        assert ds.transform.c % 300 == 0 and ds.transform.f % 300 == 0
    with rasterio.open(mosaic_dir / "flags.tif") as ds:
        assert ds.descriptions == ("FLG", "NTILES") and ds.dtypes[0] == "uint8" and ds.nodata == 255
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    with rasterio.open(mosaic_dir / "mosaic.vrt") as vrt, rasterio.open(mosaic_dir / "mosaic.tif") as ds:
        assert vrt.descriptions == ("B4", "B3", "B2")
        np.testing.assert_array_equal(vrt.read(1), ds.read(3))
        np.testing.assert_array_equal(vrt.read_masks(1), ds.read_masks(1))
    import pystac

    item = pystac.Item.from_dict(json.loads((mosaic_dir / "mosaic_STAC.json").read_text()))
    assert str(item.datetime.date()) == "2018-07-15" and set(item.assets) == {"mosaic", "flags", "true_colour"}
    assert len(item.properties["syntheo:inputs"]) == 4
    west, south, east, north = item.bbox
    assert -1 < west < 0 and 1.5 < east < 2.5 and 42 < south < north < 45


def test_flags_never_valid(mosaic_dir, country, synthetic):
    spec, _ = country
    data, mask, flg, ntiles, names, transform = _read(mosaic_dir)
    assert set(np.unique(flg)) <= {0, 1, 2, 3, 4, 255}
    np.testing.assert_array_equal(mask == 255, (flg >= 2) & (flg <= 4))
    assert np.all(ntiles[mask == 255] >= 1) and np.all(ntiles[mask == 0] == 0)
    _, _, lon, lat = _centres_lonlat(transform, flg.shape)
    x, y = synthetic.local_metres(lon, lat)
    (cx, cy, r), = spec.clouds
    in_cloud = (x - cx) ** 2 + (y - cy) ** 2 < (r - 600) ** 2
    assert in_cloud.sum() > 50
    # always cloudy in every tile: flagged, masked, its cloudy value kept
    assert np.all(flg[in_cloud] == 1) and np.all(mask[in_cloud] == 0)
    assert np.all(data[:, in_cloud] > 4000)
    # a cloud hole of one tile inside the zone overlap: the other tile fills it, unflagged, with no cloud in it
    (hx, hy, hr), = spec.holes["T31TCJ"]
    in_hole = (x - hx) ** 2 + (y - hy) ** 2 < (hr - 600) ** 2
    assert in_hole.sum() > 20
    assert np.all(flg[in_hole] == 4) and np.all(mask[in_hole] == 255) and np.all(ntiles[in_hole] == 1)
    ring = ((x - hx) ** 2 + (y - hy) ** 2 > (hr + 6000) ** 2) & ((x - hx) ** 2 + (y - hy) ** 2 < (hr + 9000) ** 2)
    assert np.all(ntiles[ring] == 2)
    assert np.all(data[:, in_hole] < 4000)
    # Theia's WGT 0 over water is a valid pixel, never nodata
    (lx, ly, lr), = spec.lakes
    in_lake = (x - lx) ** 2 + (y - ly) ** 2 < (lr - 600) ** 2
    assert in_lake.sum() > 20 and np.all(flg[in_lake] == 3) and np.all(mask[in_lake] == 255)


def test_seam_index_blend_vs_last_tile_wins(tmp_path, mosaic_dir, country):
    last = tmp_path / "last"
    build_mosaic(country[1], last, MosaicParams(crs=L93, resolution=300.0, method="last"))
    ours = mosaic_seam_index(mosaic_dir, country[1])
    plain = mosaic_seam_index(last, country[1])
    assert ours.boundary_pairs > 1000 and ours.interior_pairs > 10 * ours.boundary_pairs
    assert ours.edge_pairs < 0.05 * ours.boundary_pairs and ours.ratio_with_edges < plain.ratio_with_edges
    assert ours.ratio <= 1.1 < 1.3 < plain.ratio


def test_same_bytes_whatever_the_order_and_workers(tmp_path, mosaic_dir, country):
    again = tmp_path / "again"
    build_mosaic(list(reversed(country[1])), again, MosaicParams(crs=L93, resolution=300.0), workers=1)
    for name in ("mosaic.tif", "flags.tif"):
        assert (again / name).read_bytes() == (mosaic_dir / name).read_bytes()


def test_interrupted_build_leaves_nothing(tmp_path, country, monkeypatch):
    from mosaic.blocks import Mosaicker

    original = Mosaicker.block
    calls = {"n": 0}

    def failing(self, window):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt
        return original(self, window)

    monkeypatch.setattr(Mosaicker, "block", failing)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        build_mosaic(country[1], out, MosaicParams(crs=L93, resolution=150.0, bands=("B4",)), workers=2)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def _checker(cell_m):
    to_l93 = Transformer.from_crs("EPSG:4326", L93, always_xy=True)

    def landscape(lon, lat, band):
        x, y = to_l93.transform(lon, lat)
        return (1000.0 + 2000.0 * ((np.floor(x / cell_m) + np.floor(y / cell_m)) % 2)).astype(np.float32)

    return landscape


@pytest.mark.parametrize("resampling,clearance_px", [("nearest", 0.87), ("bilinear", 1.5)])
def test_reprojection_exact_on_a_checkerboard_across_two_zones(tmp_path, synthetic, resampling, clearance_px):
    cell = 3000.0
    spec = synthetic.Country(tiles=("T30TYP", "T31TCJ"), offsets_max=0.0, clouds=(), lakes=(), bands=("B4",),
                             landscape=_checker(cell))
    paths = synthetic.make_country(tmp_path / "l3a", spec)
    build_mosaic(paths, tmp_path / "m", MosaicParams(crs=L93, resolution=300.0, resampling=resampling))
    data, mask, flg, ntiles, _, transform = _read(tmp_path / "m")
    xs, ys, _, _ = _centres_lonlat(transform, flg.shape)
    expected = 1000.0 + 2000.0 * ((np.floor(xs / cell) + np.floor(ys / cell)) % 2)
    to_edge = np.minimum.reduce([xs % cell, cell - xs % cell, ys % cell, cell - ys % cell])
    clear = (to_edge > clearance_px * 300.0) & (mask == 255)
    # pixels near the frame of a tile are left out (bilinear renormalises over the tile's own pixels)
    for zone in (1, 2):
        sel = clear & (ntiles == zone)
        assert sel.sum() > 1000
        np.testing.assert_array_equal(data[0][sel], expected[sel])


def test_blending_weights_sum_to_one_and_change_smoothly(tmp_path, synthetic):
    flat = lambda lon, lat, band: np.full(lon.shape, 1000.0, np.float32)  # noqa: E731
    values = []
    for offsets in ({"T30TYP": 0.0, "T31TCJ": 1000.0}, {"T30TYP": 1000.0, "T31TCJ": 0.0}):
        spec = synthetic.Country(tiles=("T30TYP", "T31TCJ"), clouds=(), lakes=(), bands=("B4",), landscape=flat,
                                 fixed_offsets=offsets)
        paths = synthetic.make_country(tmp_path / f"l3a{len(values)}", spec)
        out = tmp_path / f"m{len(values)}"
        build_mosaic(paths, out, MosaicParams(crs=L93, resolution=300.0))
        data, mask, flg, ntiles, _, _ = _read(out)
        values.append(data[0])
    overlap = ntiles == 2
    assert overlap.sum() > 5000
    w_b, w_a = (values[0] - 1000) / 1000, (values[1] - 1000) / 1000       # normalised weights of each tile
    assert w_b[overlap].min() >= 0 and w_b[overlap].max() <= 1
    np.testing.assert_allclose((w_a + w_b)[overlap], 1.0, atol=2e-3)
    assert w_b[overlap].min() < 0.05 and w_b[overlap].max() > 0.95              # the whole range is used
    # no seam: at most a 10 % step of the 1000 offset per pixel, away from the union's outline (where two frames
    # meet at a corner, any partition of unity turns from one tile to the other around that point)
    from scipy import ndimage

    inner = ndimage.distance_transform_edt(mask == 255) > 10
    for axis in (0, 1):
        step = np.abs(np.diff(values[0], axis=axis))
        both = inner[1:, :] & inner[:-1, :] if axis == 0 else inner[:, 1:] & inner[:, :-1]
        assert step[both].max() < 100
    edge = np.abs(np.diff(values[0], axis=1))[(ntiles[:, 1:] != ntiles[:, :-1]) & inner[:, 1:] & inner[:, :-1]]
    assert edge.size > 100 and edge.mean() < 40


def test_cutline_with_buffer(tmp_path, country):
    square = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [
        [[0.2, 43.4], [1.2, 43.4], [1.2, 44.0], [0.2, 44.0], [0.2, 43.4]]]}}
    cut = tmp_path / "cut.geojson"
    cut.write_text(json.dumps(square))
    out = tmp_path / "cut"
    result = build_mosaic(country[1], out, MosaicParams(crs=L93, resolution=300.0, cutline=str(cut),
                                                        buffer_m=2000.0, bands=("B4",)))
    from mosaic.grid import load_cutline
    from rasterio.crs import CRS
    from shapely import contains_xy

    poly = load_cutline(cut, CRS.from_epsg(2154), 2000.0)
    left, bottom, right, top = poly.bounds
    gl, gb, gr, gt = result.grid.bounds
    assert gl <= left < gl + 300 and gt - 300 < top <= gt and gr - 300 < right <= gr and gb <= bottom < gb + 300
    data, mask, flg, ntiles, _, transform = _read(out)
    xs, ys, _, _ = _centres_lonlat(transform, flg.shape)
    inside = contains_xy(poly, xs, ys)
    assert np.all(flg[~inside] == 255) and np.all(data[:, ~inside] == -10000) and np.all(mask[~inside] == 0)
    shrunk = contains_xy(load_cutline(cut, CRS.from_epsg(2154), -500.0), xs, ys)
    assert np.all(flg[shrunk] >= 1) and (mask[inside] == 255).mean() > 0.95
    plain = load_cutline(cut, CRS.from_epsg(2154))
    unbuffered = contains_xy(plain, xs, ys) & (mask == 255)
    growth = (mask == 255).sum() - unbuffered.sum()       # the buffer adds a ring of ~perimeter x 2 km
    assert 0.8 < growth / (plain.length * 2000 / 300 ** 2) < 1.2


def test_preview_resolution_averages_valid_pixels_only(tmp_path, country, mosaic_dir):
    out = tmp_path / "preview"
    build_mosaic(country[1], out, MosaicParams(crs=L93, resolution=3000.0, bands=("B4", "B11")))
    data, mask, flg, ntiles, _, _ = _read(out)
    full, full_mask, full_flg, *_ = _read(mosaic_dir)
    assert data.shape[1] == pytest.approx(full.shape[1] / 10, abs=2)
    # the always-cloudy disc does not brighten the average of its neighbours
    assert data[0][mask == 255].max() < 2500 and full[2][full_mask == 255].max() < 2500
    assert abs(np.median(data[0][mask == 255]) - np.median(full[2][full_mask == 255])) < 30


def _run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        mosaic_main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_cli_build_prints_a_json_line(tmp_path, country, capsys):
    out = tmp_path / "cli"
    code, stdout, err = _run(["-q", "build", *map(str, country[1]), "--crs", L93, "--res", "1000", "--bands",
                              "B4,B3,B2", "--out", str(out), "--workers", "2"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["bands"] == ["B4", "B3", "B2"] and stdout.count("\n") == 1
    assert (out / "mosaic.tif").exists() and (out / "mosaic.vrt").exists()
    code, _, err = _run(["build", *map(str, country[1]), "--crs", L93, "--res", "1000", "--out", str(out)], capsys)
    assert code == 2 and "--overwrite" in err


@pytest.fixture
def other_month(tmp_path, synthetic):
    import datetime as dt
    spec = synthetic.Country(tiles=("T31TCH",), central_date=dt.date(2018, 8, 15), bands=("B4",))
    return synthetic.make_country(tmp_path / "aug", spec)


def test_mixed_dates(tmp_path, country, other_month, capsys):
    inputs = [str(country[1][0]), str(other_month[0])]
    out = tmp_path / "mixed"
    code, _, err = _run(["build", *inputs, "--crs", L93, "--res", "3000", "--bands", "B4", "--out", str(out)], capsys)
    assert code == 2 and err.startswith("mosaic: error: ") and err.count("\n") == 1
    assert "central dates differ" in err and "2018-08-15" in err and not out.exists()
    with pytest.raises(MixedDatesError):
        build_mosaic(inputs, out, MosaicParams(crs=L93, resolution=3000.0, bands=("B4",)))
    build_mosaic(inputs, out, MosaicParams(crs=L93, resolution=3000.0, bands=("B4",), allow_mixed_dates=True))
    assert (out / "mosaic.tif").exists()
    # a folder of two months: --month picks one
    import shutil
    both = tmp_path / "both"
    for p in (*country[1], other_month[0]):
        shutil.copytree(p, both / p.name)
    august = tmp_path / "august"
    code, stdout, err = _run(["build", str(both), "--month", "2018-08", "--crs", L93, "--res", "3000", "--bands",
                              "B4", "--out", str(august)], capsys)
    assert code == 0, err
    assert json.loads(stdout)["inputs"] == [other_month[0].name]
    code, _, err = _run(["build", str(both), "--month", "2018-09", "--crs", L93, "--res", "3000", "--out",
                         str(tmp_path / "sept")], capsys)
    assert code == 2 and "2018-07, 2018-08" in err


def _bad_cutline(tmp_path, kind):
    path = tmp_path / f"{kind}.geojson"
    geometry = {"line": {"type": "LineString", "coordinates": [[0.5, 43.5], [1, 44]]},
                "far": {"type": "Polygon", "coordinates": [[[10, 50], [11, 50], [11, 51], [10, 50]]]}}[kind]
    path.write_text(json.dumps(geometry))
    return str(path)


@pytest.mark.parametrize("case", ["empty", "missing input", "bad crs", "zero res", "line cutline", "far cutline",
                                  "absent band", "duplicate tile", "not a product", "out is a file"])
def test_bad_input_is_one_line_and_exit_2(tmp_path, country, capsys, case):
    inputs = [str(p) for p in country[1]]
    out = tmp_path / "out"
    if case == "out is a file":
        out.write_text("x")
    if case == "duplicate tile":
        import shutil
        shutil.copytree(country[1][0], tmp_path / "copy" / country[1][0].name)
    args = {"empty": ["build", "--crs", L93, "--res", "100"],
            "missing input": ["build", str(tmp_path / "nope"), "--crs", L93, "--res", "100"],
            "bad crs": ["build", *inputs, "--crs", "EPSG:99999", "--res", "100"],
            "zero res": ["build", *inputs, "--crs", L93, "--res", "0"],
            "line cutline": ["build", *inputs, "--crs", L93, "--res", "100", "--cutline",
                             _bad_cutline(tmp_path, "line")],
            "far cutline": ["build", *inputs, "--crs", L93, "--res", "100", "--cutline",
                            _bad_cutline(tmp_path, "far")],
            "absent band": ["build", *inputs, "--crs", L93, "--res", "100", "--bands", "B4,B5"],
            "duplicate tile": ["build", *inputs, str(tmp_path / "copy"), "--crs", L93, "--res", "100"],
            "not a product": ["build", str(tmp_path / "empty"), "--crs", L93, "--res", "100"],
            "out is a file": ["build", *inputs, "--crs", L93, "--res", "3000"]}[case]
    (tmp_path / "empty").mkdir()
    code, _, err = _run([*args, "--out", str(out)], capsys)
    assert code == 2 and err.startswith("mosaic: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and (out.is_file() if case == "out is a file" else not out.exists())


def test_deeply_nested_cutline_is_one_line(tmp_path, country, capsys):
    inputs = [str(p) for p in country[1]]
    deep = tmp_path / "deep.geojson"
    deep.write_text("[" * 100_000 + "]" * 100_000)                       # the parser itself would overflow
    nested = {"type": "Polygon", "coordinates": [[[0.5, 43.5], [1, 43.5], [1, 44], [0.5, 43.5]]]}
    for _ in range(100):
        nested = {"type": "GeometryCollection", "geometries": [nested]}
    collections = tmp_path / "collections.geojson"
    collections.write_text(json.dumps(nested))                            # parses, but too deep to walk
    for cutline in (deep, collections):
        out = tmp_path / f"out-{cutline.stem}"
        code, _, err = _run(["build", *inputs, "--crs", L93, "--res", "3000", "--cutline", str(cutline), "--out",
                             str(out)], capsys)
        assert code == 2 and err.count("\n") == 1, err
        assert err.startswith(f"mosaic: error: {cutline}: ") and "nested deeper than" in err
        assert not out.exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_band_truncated_after_the_check_is_one_line_and_leaves_nothing(tmp_path, country, capsys, workers):
    import shutil

    inputs = tmp_path / "in"
    for p in country[1]:
        shutil.copytree(p, inputs / p.name)
    frc = sorted(next(inputs.iterdir()).glob("*_FRC_B4.tif"))[0]
    with open(frc, "r+b") as f:                                           # header and tile index intact, pixels cut
        f.truncate(frc.stat().st_size // 2)
    parent = tmp_path / "new" / "parent"
    out = parent / "out"
    code, _, err = _run(["build", str(inputs), "--crs", L93, "--res", "600", "--bands", "B4,B8", "--workers",
                         str(workers), "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mosaic: error: {frc}: cannot read pixels")
    assert list(tmp_path.iterdir()) == [inputs]                           # no output, no temporary, no parent


@pytest.mark.parametrize("where", ["below a file", "name too long"])
def test_output_paths_the_file_system_refuses(tmp_path, country, capsys, where):
    inputs = [str(p) for p in country[1]]
    (tmp_path / "file.txt").write_text("x")
    out = {"below a file": tmp_path / "file.txt" / "sub" / "out", "name too long": tmp_path / ("n" * 300)}[where]
    code, _, err = _run(["build", *inputs, "--crs", L93, "--res", "3000", "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"mosaic: error: {out}: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]
