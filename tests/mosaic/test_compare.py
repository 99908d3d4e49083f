"""`mosaic compare`: the static site, the NDVI change layer, and the command's errors."""

import importlib.util
import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import morecantile
import numpy as np
import pytest

from l2a.cli_options import run_cli
from mosaic.change import DEFAULT_LIMIT, PALETTE, colourize, legend, ndvi
from mosaic.cli import cli
from mosaic.compare import MANIFEST, SITE_DIR, write_compare_site
from mosaic.encode import decode_tile
from mosaic.tiles import tile_ranges

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # tile files
TMS = morecantile.tms.get("WebMercatorQuad")


def _load_viewer_data():
    name = "mosaic_tests_viewer_data"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("viewer_data.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


vd = _load_viewer_data()


def _mosaic(args):
    """Run the CLI quietly (no progress bars; warnings still logged)."""
    return run_cli(cli, "mosaic", [str(a) for a in args])


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    """July and August as mosaics and pyramids (zooms 9-11)."""
    root = tmp_path_factory.mktemp("months")
    left, right = vd.make_pyramids(root)
    return root, left, right


@pytest.fixture(scope="module")
def site(months, tmp_path_factory):
    _, left, right = months
    out = tmp_path_factory.mktemp("site") / "site"
    assert _mosaic(["compare", left, right, "--out", out, "--workers", "2"]) == 0
    return out


def _config(site_dir: Path) -> dict:
    page = (site_dir / "index.html").read_text()
    m = re.search(r'<script id="syntheo-config" type="application/json">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a:
                self.refs.append(a[key])


def _tile_paths(layer: dict, template: str):
    west, south, east, north = layer["bounds"]
    for z, (x0, x1, y0, y1) in tile_ranges((west, south, east, north),
                                           range(layer["minzoom"], layer["maxzoom"] + 1)).items():
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                yield template.format(z=z, x=x, y=y)


def test_site_is_self_contained(site):
    parser = _Refs()
    parser.feed((site / "index.html").read_text())
    assert set(parser.refs) == {"favicon.svg", "vendor/viewer-libs.css", "viewer.css", "vendor/viewer-libs.js",
                                "viewer.js"}
    for ref in parser.refs:
        assert (site / ref).is_file()
    # nothing absolute or remote anywhere in what the page loads (data: URLs in the bundled CSS are fine)
    for name in ("index.html", "viewer.js", "viewer.css", "vendor/viewer-libs.css"):
        text = (site / name).read_text()
        urls = re.findall(r"url\(\s*['\"]?([^'\")]+)", text)
        assert all(u.startswith(("data:", "#")) for u in urls), (name, urls)
        assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text), name
    for name in ("viewer.js", "viewer.css"):
        assert not re.search(r"-(webkit|moz|ms)-|webkit|mozilla", (site / name).read_text(), re.I), name
    assert (site / "vendor" / "LICENSE-leaflet.txt").is_file()
    manifest = json.loads((site / MANIFEST).read_text())
    assert manifest["labels"] == ["July 2018", "August 2018"] and manifest["change_skipped"] is None


def test_every_tile_the_viewer_can_ask_for_exists(site):
    config = _config(site)
    assert config["left"]["label"] == "July 2018" and config["right"]["label"] == "August 2018"
    count = 0
    for side in ("left", "right", "change"):
        layer = config[side]
        templates = [layer["tiles"]] + ([layer["flags"]] if side != "change" else [])
        assert side == "change" or "flags" in layer
        assert (layer["minzoom"], layer["maxzoom"]) == (9, 11)
        for template in templates:
            assert not template.startswith(("/", "http")) and ".." not in template
            for rel in _tile_paths(layer, template):
                assert (site / rel).is_file(), rel
                count += 1
    assert count >= 5 * 7
    legend_doc = config["change"]["legend"]
    assert legend_doc["min"] == -DEFAULT_LIMIT and legend_doc["max"] == DEFAULT_LIMIT
    assert legend_doc["title"] == "NDVI change, August 2018 \u2212 July 2018"


def _pixel(site: Path, folder: str, lon: float, lat: float, z: int) -> np.ndarray:
    tile = TMS.tile(lon, lat, z)
    bounds = TMS.xy_bounds(tile)
    x, y = TMS.xy(lon, lat)
    col = int((x - bounds.left) / (bounds.right - bounds.left) * 256)
    row = int((bounds.top - y) / (bounds.top - bounds.bottom) * 256)
    return decode_tile(site / folder / str(z) / str(tile.x) / f"{tile.y}.png")[:, row, col]


def test_change_layer_is_the_ndvi_difference(site):
    scene = vd.landscape()
    checked = {"harvested": 0, "greened": 0, "same": 0}
    for parcel in scene.parcels:
        row, col = parcel.centre
        if col < vd.GAP_COLS + 20:
            continue
        r, c, radius = vd.CLOUD
        if (row - r) ** 2 + (col - c) ** 2 < (radius + 30) ** 2:
            continue
        lon, lat = vd.pixel_lonlat(row, col)
        expected = vd.ndvi_of(parcel.august) - vd.ndvi_of(parcel.july)
        rgba = colourize(np.array([[expected]], np.float32))[:, 0, 0]
        for z in (11, 10):
            np.testing.assert_allclose(_pixel(site, "change", lon, lat, z), rgba, atol=2)
        kind = "same" if parcel.july == parcel.august else ("harvested" if expected < 0 else "greened")
        checked[kind] += 1
    assert min(checked.values()) >= 3, checked
    # no valid pixel in one month: transparent (July's swath gap, August's always-cloudy disc)
    for row, col in ((200, 5), vd.CLOUD[:2]):
        assert _pixel(site, "change", *vd.pixel_lonlat(row, col), 11)[3] == 0
    # the months themselves differ where a crop was harvested
    harvested = next(p for p in scene.parcels if p.july == "crop" and p.august == "harvested" and p.cols[0] > 60)
    lon, lat = vd.pixel_lonlat(*harvested.centre)
    assert np.abs(_pixel(site, "left", lon, lat, 11)[:3].astype(int)
                  - _pixel(site, "right", lon, lat, 11)[:3].astype(int)).max() > 30


def test_ndvi_and_palette():
    red = np.array([[500, 0, 100, -10000]], np.int16)
    nir = np.array([[3000, 0, 100, 200]], np.int16)
    valid = np.array([[True, True, True, False]])
    out = ndvi(red, nir, valid)
    np.testing.assert_allclose(out[0, :1], [2500 / 3500], rtol=1e-6)
    assert np.isnan(out[0, 1]) and out[0, 2] == 0 and np.isnan(out[0, 3])
    rgba = colourize(np.array([[-1.0, -DEFAULT_LIMIT, 0.0, DEFAULT_LIMIT, 5.0, np.nan]], np.float32))
    assert tuple(rgba[:3, 0, 0]) == PALETTE[0][1] == tuple(rgba[:3, 0, 1])
    assert tuple(rgba[:3, 0, 2]) == PALETTE[5][1]
    assert tuple(rgba[:3, 0, 3]) == PALETTE[-1][1] == tuple(rgba[:3, 0, 4])
    assert list(rgba[3, 0]) == [255] * 5 + [0] and not rgba[:, 0, 5].any()
    stops = legend(0.4)["stops"]
    assert stops[0] == [-0.4, "#543005"] and stops[-1] == [0.4, "#003c30"] and len(stops) == len(PALETTE)


def test_mosaics_are_tiled_into_the_site_with_labels(months, tmp_path, capsys):
    root, _, _ = months
    out = tmp_path / "site"
    code = _mosaic(["compare", root / "mosaic-july", root / "mosaic-august" / "mosaic.tif", "--out", out,
                    "--zoom", "10-11", "--labels", "Juillet <2018>", "Ao\u00fbt & 2018", "--workers", "1"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["change"] is True and summary["layers"]["left"]["zooms"] == [10, 11]
    assert summary["open"] == f"mosaic serve {out}"
    page = (out / "index.html").read_text()
    assert "<title>Juillet &lt;2018&gt; | Ao\u00fbt &amp; 2018 \u2014 syntheo</title>" in page
    assert "<2018>" not in page.split("<title>")[1]            # labels cannot close the config's <script>
    config = _config(out)
    assert config["left"]["label"] == "Juillet <2018>" and config["right"]["label"] == "Ao\u00fbt & 2018"
    for rel in _tile_paths(config["left"], config["left"]["tiles"]):
        assert (out / rel).is_file()


def test_auto_zooms_for_mosaics(months, tmp_path):
    root, _, _ = months
    result = write_compare_site(root / "mosaic-july", root / "mosaic-august", tmp_path / "s")
    low, high = result.layers["left"]["zooms"]
    # 60 m pixels (EPSG:3857): the native zoom is 11 (76 m pixels), the deepest not finer than the mosaic's (zoom 12
    # has 38 m); 24 km fit one tile at zoom 10
    assert high == 11 and low <= 10
    assert result.labels == ("July 2018", "August 2018")


def test_without_b8_no_change_layer_and_says_so(months, tmp_path, capsys):
    root, left, _ = months
    no_nir = vd.write_month(tmp_path / "no-nir", "august", bands=("B2", "B3", "B4"))
    out = tmp_path / "site"
    assert _mosaic(["compare", left, no_nir, "--out", out, "--zoom", "10-10", "--workers", "1"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["change"] is False and "no band B8" in summary["change_skipped"]
    assert "no change layer" in captured.err and "no band B8" in captured.err
    assert _config(out)["change"] is None and not (out / "change").exists()


def test_moved_source_mosaic_no_change_layer(months, tmp_path, capsys):
    _, left, right = months
    copy = tmp_path / "right"
    shutil.copytree(right, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["source"] = str(tmp_path / "gone" / "mosaic.tif")
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert _mosaic(["compare", left, copy, "--out", tmp_path / "site"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["change"] is False and "not found" in summary["change_skipped"]


def test_output_rules(months, site, tmp_path, capsys):
    _, left, right = months
    assert _mosaic(["compare", left, right, "--out", site]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--overwrite" in err
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    assert _mosaic(["compare", left, right, "--out", other, "--overwrite"]) == 2
    assert "not a site written by `mosaic compare`" in capsys.readouterr().err
    assert (other / "precious.txt").read_text() == "keep me"
    again = tmp_path / "again"
    assert _mosaic(["compare", left, right, "--out", again, "--labels", "A", "B"]) == 0
    assert _mosaic(["compare", left, right, "--out", again, "--overwrite", "--labels", "C", "D"]) == 0
    assert _config(again)["left"]["label"] == "C"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temporary folder left


def test_bad_inputs(months, tmp_path, capsys):
    root, left, right = months
    broken = tmp_path / "broken"
    shutil.copytree(left, broken)
    next(broken.glob("10/*/*.png")).unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        ([tmp_path / "nowhere", right], "not found"),
        ([empty, right], "neither a tile pyramid"),
        ([broken, right], "is missing (incomplete pyramid"),
        ([left, root / "mosaic-july" / "flags.tif"], None),
    ]
    for args, message in cases:
        out = tmp_path / "out"
        code = _mosaic(["compare", *args, "--out", out])
        err = capsys.readouterr().err.strip()
        if message is None:   # flags.tif is a raster: tiling it fails on its bands
            assert code == 2 and "no band" in err
        else:
            assert code == 2 and message in err, err
        assert len(err.splitlines()) == 1 and err.startswith("mosaic: error: ")
        assert not out.exists()
    assert _mosaic(["compare", left, right, "--out", tmp_path / "o", "--labels", " ", "B"]) == 2
    assert _mosaic(["compare", left, right, "--out", tmp_path / "o", "--limit", "0"]) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_site_templates_are_package_data():
    for name in ("index.html", "viewer.js", "viewer.css", "favicon.svg"):
        assert (SITE_DIR / name).is_file()
    page = (SITE_DIR / "index.html").read_text()
    assert '<link rel="icon" href="favicon.svg"' in page and "__CONFIG__" in page


def _hostile_metadata():
    good = {"tiles": "{z}/{x}/{y}.png", "minzoom": 9, "maxzoom": 11, "bounds": [1.0, 43.0, 1.5, 43.5]}
    return [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than"),
        (json.dumps({**good, "extra": json.loads("[" * 100 + "]" * 100)}), "nested deeper than"),
        (" " * (2**20 + 1), "larger than"),
        ("{not json", "not valid JSON"),
        (json.dumps([good]), "not a JSON object"),
        (json.dumps({**good, "tiles": "../../elsewhere/{z}/{x}/{y}.png"}), "tiles must be a tile path"),
        (json.dumps({**good, "flags_tiles": "{z.__class__}/{x}/{y}.png"}), "flags_tiles must be a tile path"),
        (json.dumps({**good, "maxzoom": 99}), "zoom levels"),
        (json.dumps({**good, "minzoom": "9"}), "zoom levels"),
        (json.dumps({**good, "bounds": [1, 43, "east", 44]}), "bounds must be"),
        (json.dumps({**good, "tile_counts": [1, 2]}), "tile_counts must"),
    ]


@pytest.mark.parametrize("text,words", _hostile_metadata())
def test_pyramid_metadata_beyond_limits_is_one_line(months, tmp_path, capsys, text, words):
    _, left, right = months
    hostile = tmp_path / "hostile"
    shutil.copytree(left, hostile)
    (hostile / "metadata.json").write_text(text)
    out = tmp_path / "site"
    code = _mosaic(["compare", hostile, right, "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert err.startswith(f"mosaic: error: {hostile / 'metadata.json'}: ")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("where", ["below a file", "name too long"])
def test_output_paths_the_file_system_refuses(months, tmp_path, capsys, where):
    _, left, right = months
    (tmp_path / "file.txt").write_text("x")
    out = {"below a file": tmp_path / "file.txt" / "site", "name too long": tmp_path / ("n" * 300)}[where]
    code = _mosaic(["compare", left, right, "--out", out])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"mosaic: error: {out}: "), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.parametrize("source", ["nul\x00byte.tif", "/" + "n" * 300 + "/mosaic.tif"])
def test_unusable_source_path_in_metadata_means_no_change_layer(months, tmp_path, capsys, source):
    _, left, right = months
    copy = tmp_path / "right"
    shutil.copytree(right, copy)
    meta = json.loads((copy / "metadata.json").read_text())
    (copy / "metadata.json").write_text(json.dumps({**meta, "source": source}))
    assert _mosaic(["compare", left, copy, "--out", tmp_path / "site", "--workers", "1"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["change"] is False and "not found" in summary["change_skipped"]
