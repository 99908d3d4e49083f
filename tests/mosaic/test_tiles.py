"""`mosaic tiles`: the XYZ pyramid and its flags overlay."""

import json
import shutil

import morecantile
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.warp import Resampling, reproject, transform_bounds

from mosaic.cli import main as mosaic_main
from mosaic.encode import decode_tile
from mosaic.errors import OutputExistsError
from mosaic.params import PyramidParams, Stretch
from mosaic.tiles import build_pyramid

TMS = morecantile.tms.get("WebMercatorQuad")
pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # tile files


def _tiles_on_disk(folder, z):
    return {(int(p.parent.name), int(p.stem)) for p in (folder / str(z)).glob("*/*.png")}


def test_tile_set_and_bounds_per_zoom(pyramid_dir, mosaic_dir):
    meta = json.loads((pyramid_dir / "metadata.json").read_text())
    with rasterio.open(mosaic_dir / "mosaic.tif") as ds:
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
    np.testing.assert_allclose(meta["bounds"], bounds, atol=1e-9)
    assert meta["minzoom"] == 5 and meta["maxzoom"] == 9 and meta["complete"] is True
    assert meta["bands"] == {"red": "B4", "green": "B3", "blue": "B2"} and meta["source"].endswith("mosaic.tif")
    assert meta["stretch"]["high"] == 0.2 and "formula" in meta["stretch"]
    for z in range(5, 10):
        expected = {(t.x, t.y) for t in TMS.tiles(*bounds, zooms=[z])}
        assert _tiles_on_disk(pyramid_dir, z) == expected
        assert {(int(p.parent.name), int(p.stem)) for p in (pyramid_dir / "flags" / str(z)).glob("*/*.png")} \
            == expected
        assert meta["tile_counts"][str(z)] == len(expected)
        for x, y in expected:            # every tile intersects the mosaic's bounds
            w, s, e, n = TMS.bounds(morecantile.Tile(x, y, z))
            assert w < bounds[2] and e > bounds[0] and s < bounds[3] and n > bounds[1]
    assert not (pyramid_dir / "10").exists() and not (pyramid_dir / "4").exists()


def test_overview_tiles_average_their_children(pyramid_dir):
    checked = 0
    for z in (5, 6, 7, 8):          # 5 is built from files, 6-8 in memory
        for x, y in sorted(_tiles_on_disk(pyramid_dir, z)):
            parent = decode_tile(pyramid_dir / str(z) / str(x) / f"{y}.png").astype(np.float64)
            children = np.zeros((4, 512, 512))
            for dy in (0, 1):
                for dx in (0, 1):
                    path = pyramid_dir / str(z + 1) / str(2 * x + dx) / f"{2 * y + dy}.png"
                    if path.exists():
                        children[:, dy * 256:(dy + 1) * 256, dx * 256:(dx + 1) * 256] = decode_tile(path)
            a = children[3].reshape(256, 2, 256, 2).sum(axis=(1, 3))
            expected_alpha = np.floor(a / 4 + 0.5)
            premultiplied = (children[:3] * children[3]).reshape(3, 256, 2, 256, 2).sum(axis=(2, 4))
            with np.errstate(invalid="ignore", divide="ignore"):
                expected_rgb = np.where(a > 0, np.floor(premultiplied / np.maximum(a, 1) + 0.5), 0)
            np.testing.assert_array_equal(parent[3], expected_alpha)
            np.testing.assert_array_equal(parent[:3], expected_rgb)
            checked += 1
    assert checked >= 6


def test_transparent_outside_data_and_over_clouds(pyramid_dir, mosaic_dir, country, synthetic):
    spec, _ = country
    z = 9
    alphas = {}
    for x, y in _tiles_on_disk(pyramid_dir, z):
        alphas[(x, y)] = decode_tile(pyramid_dir / str(z) / str(x) / f"{y}.png")[3]
    assert any(a.all() for a in alphas.values())
    # the mosaic's north-west corner is outside every (rotated) tile frame: transparent
    west, south, east, north = json.loads((pyramid_dir / "metadata.json").read_text())["bounds"]
    corner = TMS.tile(west + 1e-6, north - 1e-6, z)
    a = alphas[(corner.x, corner.y)]
    w, s, e, n = TMS.xy_bounds(corner)
    px, py = TMS.xy(west + 1e-6, north - 1e-6)
    assert a[int((n - py) / (n - s) * 256), int((px - w) / (e - w) * 256)] == 0
    assert all(set(np.unique(a)) <= {0, 255} for a in alphas.values())
    # the always-cloudy disc: transparent in the true colour, coloured in the flags overlay
    (cx, cy, r), = spec.clouds
    lon = synthetic.LON0 + cx / synthetic._M_PER_DEG_LON
    lat = synthetic.LAT0 + cy / synthetic._M_PER_DEG_LAT
    tile = TMS.tile(lon, lat, z)
    rgba = decode_tile(pyramid_dir / str(z) / str(tile.x) / f"{tile.y}.png")
    overlay = decode_tile(pyramid_dir / "flags" / str(z) / str(tile.x) / f"{tile.y}.png")
    w, s, e, n = TMS.xy_bounds(tile)
    px, py = TMS.xy(lon, lat)
    col, row = int((px - w) / (e - w) * 256), int((n - py) / (n - s) * 256)
    assert rgba[3, row, col] == 0 and overlay[3, row, col] > 0 and overlay[0, row, col] > overlay[1, row, col]
    assert rgba[3].any()                      # land around the cloud is shown
    assert overlay[3][rgba[3] == 255].max() == 0   # valid pixels have no overlay


def test_base_tiles_show_the_mosaic_with_the_documented_stretch(pyramid_dir, mosaic_dir):
    z = 9
    tiles = sorted(_tiles_on_disk(pyramid_dir, z))
    compared = 0
    with rasterio.open(mosaic_dir / "mosaic.tif") as ds:
        src = ds.read([3, 2, 1]).astype(np.float32)
        src[:, ds.read_masks(1) == 0] = np.nan
        for x, y in tiles[:: max(1, len(tiles) // 6)]:
            rgba = decode_tile(pyramid_dir / str(z) / str(x) / f"{y}.png")
            w, s, e, n = TMS.xy_bounds(morecantile.Tile(x, y, z))
            dst = np.full((3, 256, 256), np.nan, np.float32)
            reproject(src, dst, src_transform=ds.transform, src_crs=ds.crs, src_nodata=np.nan, dst_nodata=np.nan,
                      dst_transform=Affine((e - w) / 256, 0, w, 0, -(n - s) / 256, n), dst_crs="EPSG:3857",
                      resampling=Resampling.bilinear)
            expected = np.floor(np.clip(dst / 2000.0, 0, 1) * 255 + 0.5)
            both = (rgba[3] == 255) & np.isfinite(dst).all(axis=0)
            if both.sum() > 1000:
                assert np.abs(rgba[:3, both] - expected[:, both]).mean() < 1.5
                compared += 1
    assert compared >= 2


def test_resume_after_interrupted_run_gives_the_same_files(tmp_path, pyramid_dir, mosaic_dir, monkeypatch):
    from mosaic.pyramid import TileStore

    out = tmp_path / "resumed"
    original = TileStore.write
    calls = {"n": 0}

    def failing(self, *args):
        calls["n"] += 1
        if calls["n"] > 25:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(TileStore, "write", failing)
    with pytest.raises(KeyboardInterrupt):
        build_pyramid(mosaic_dir / "mosaic.tif", out, PyramidParams(5, 9), workers=1)
    monkeypatch.setattr(TileStore, "write", original)
    assert json.loads((out / "metadata.json").read_text())["complete"] is False
    partial = {p.relative_to(out) for p in out.rglob("*.png")}
    assert 0 < len(partial) < len(list(pyramid_dir.rglob("*.png")))
    assert not list(out.rglob(".*tmp*"))
    result = build_pyramid(mosaic_dir / "mosaic.tif", out, PyramidParams(5, 9), workers=2)
    assert result.skipped >= len(partial) and result.written > 0
    reference = {p.relative_to(pyramid_dir): p.read_bytes() for p in pyramid_dir.rglob("*.png")}
    resumed = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.png")}
    assert resumed == reference
    with pytest.raises(OutputExistsError):
        build_pyramid(mosaic_dir / "mosaic.tif", out, PyramidParams(5, 9, stretch=Stretch(0, 0.3)))


def test_flagged_styles_and_webp(tmp_path, mosaic_dir, country, synthetic):
    (cx, cy, r), = country[0].clouds
    lon = synthetic.LON0 + cx / synthetic._M_PER_DEG_LON
    lat = synthetic.LAT0 + cy / synthetic._M_PER_DEG_LAT
    tile = TMS.tile(lon, lat, 9)
    seen = {}
    for style in ("grey", "hatch"):
        out = tmp_path / style
        fmt = "webp" if style == "grey" else "png"
        build_pyramid(mosaic_dir / "mosaic.tif", out, PyramidParams(9, 9, format=fmt, flagged=style))
        rgba = decode_tile(out / "9" / str(tile.x) / f"{tile.y}.{fmt}")
        w, s, e, n = TMS.xy_bounds(tile)
        px, py = TMS.xy(lon, lat)
        col, row = int((px - w) / (e - w) * 256), int((n - py) / (n - s) * 256)
        seen[style] = rgba[:, row - 4:row + 4, col - 4:col + 4]
    assert np.all(seen["grey"][3] == 255) and np.all(seen["grey"][0] == 150)
    hatch_alpha = seen["hatch"][3]
    assert (hatch_alpha == 255).any() and (hatch_alpha == 0).any()


def test_without_flags_raster_the_mask_decides(tmp_path, mosaic_dir):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(mosaic_dir / "mosaic.tif", alone / "mosaic.tif")
    build_pyramid(alone / "mosaic.tif", tmp_path / "t", PyramidParams(8, 8))
    meta = json.loads((tmp_path / "t" / "metadata.json").read_text())
    assert meta["flags_source"] is None
    reference = tmp_path / "ref"
    build_pyramid(mosaic_dir / "mosaic.tif", reference, PyramidParams(8, 8))
    for path in (tmp_path / "t" / "8").rglob("*.png"):
        a = decode_tile(path)
        b = decode_tile(reference / path.relative_to(tmp_path / "t"))
        np.testing.assert_array_equal(a[3], b[3])


def _run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        mosaic_main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_cli_tiles(tmp_path, mosaic_dir, capsys):
    out = tmp_path / "cli"
    code, stdout, err = _run(["-q", "tiles", str(mosaic_dir / "mosaic.tif"), "--out", str(out), "--zoom", "7-8",
                              "--stretch", "0,0.25", "--gamma", "1.5", "--workers", "2"], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    assert set(summary["tiles"]) == {"7", "8"} and summary["written"] == 2 * summary["total"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["stretch"]["high"] == 0.25 and meta["stretch"]["gamma"] == 1.5


@pytest.mark.parametrize("zoom", ["9-5", "5-30", "5-20", "a-b", "-3"])
def test_bad_zoom_ranges(tmp_path, mosaic_dir, capsys, zoom):
    out = tmp_path / "bad"
    code, _, err = _run(["tiles", str(mosaic_dir / "mosaic.tif"), "--out", str(out), "--zoom", zoom], capsys)
    assert code == 2 and err.startswith("mosaic: error: ") and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.parametrize("case", ["missing", "no rgb", "bad stretch"])
def test_bad_tiles_input(tmp_path, mosaic_dir, capsys, case):
    out = tmp_path / "bad"
    source = {"missing": str(tmp_path / "nope.tif"), "no rgb": str(mosaic_dir / "flags.tif"),
              "bad stretch": str(mosaic_dir / "mosaic.tif")}[case]
    extra = ["--stretch", "0.3,0.1"] if case == "bad stretch" else []
    code, _, err = _run(["tiles", source, "--out", str(out), "--zoom", "6-7", *extra], capsys)
    assert code == 2 and err.startswith("mosaic: error: ") and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.parametrize("where", ["below a file", "name too long"])
def test_output_paths_the_file_system_refuses(tmp_path, mosaic_dir, capsys, where):
    (tmp_path / "file.txt").write_text("x")
    out = {"below a file": tmp_path / "file.txt" / "t", "name too long": tmp_path / ("n" * 300)}[where]
    code, _, err = _run(["tiles", str(mosaic_dir / "mosaic.tif"), "--out", str(out), "--zoom", "6-7"], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"mosaic: error: {out}: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"format": ' * 80 + "1" + "}" * 80, "\xff\xfe"])
def test_resume_over_hostile_metadata_is_refused(tmp_path, mosaic_dir, capsys, text):
    out = tmp_path / "t"
    out.mkdir()
    (out / "metadata.json").write_bytes(text.encode("latin-1"))
    code, _, err = _run(["tiles", str(mosaic_dir / "mosaic.tif"), "--out", str(out), "--zoom", "6-7"], capsys)
    assert code == 2 and err.count("\n") == 1 and "made with other parameters" in err, err
    assert [p.name for p in out.iterdir()] == ["metadata.json"]


def test_mosaic_truncated_mid_run_is_one_line(tmp_path, mosaic_dir, capsys):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(mosaic_dir, copy)
    with open(copy / "mosaic.tif", "r+b") as f:
        f.truncate((copy / "mosaic.tif").stat().st_size // 2)
    code, _, err = _run(["tiles", str(copy / "mosaic.tif"), "--out", str(tmp_path / "t"), "--zoom", "6-9"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"mosaic: error: {copy / 'mosaic.tif'}: cannot")
