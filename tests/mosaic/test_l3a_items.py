"""L3A STAC items as inputs of `mosaic build`: a product's own `*_STAC.json`, an ItemCollection, a static catalogue
and item URLs over HTTP give the mosaic of the product folders, pixel for pixel; bad items end the command with one
line and exit code 2, nothing written.

The products are the synthetic country of the mosaic tests (conftest ``country``, mosaicked from its folders by
``mosaic_dir``); HTTP is the loopback server of the L2A STAC tests (tests/l2a/stac_server.py, in its own process).
"""

import datetime as dt
import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from l2a.errors import GridMismatchError, NotAProductError
from l3a.product import open_l3a, open_l3a_item
from mosaic.cli import main as mosaic_main
from mosaic.errors import DuplicateTileError, NoInputError
from mosaic.sources import StacItemRef, find_inputs, open_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "l2a"))
from stac_server import StacServer  # noqa: E402

L93 = "EPSG:2154"
#: The options of ``mosaic_dir`` (conftest): the reference mosaic of the folders.
BUILD = ["--crs", L93, "--res", "300", "--workers", "2"]
#: GDAL and proxy settings of the environment that would change what the HTTP reads do: the tests set their own.
_SCRUBBED = ("GDAL_HTTP_", "CPL_VSIL_CURL", "GDAL_DISABLE_READDIR_ON_OPEN", "VSI_CACHE", "GDAL_INGESTED_BYTES")


def _item_file(product: Path) -> Path:
    return product / f"{product.name}_STAC.json"


def _item(product: Path, absolute: bool = False) -> dict:
    """A product's item document, its hrefs made absolute paths when asked."""
    doc = json.loads(_item_file(product).read_text())
    if absolute:
        for asset in doc["assets"].values():
            asset["href"] = str((product / asset["href"]).resolve())
    return doc


def _write(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def _run(args, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        mosaic_main([str(a) for a in args])
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def _rasters(out: Path) -> dict:
    """Pixels and masks of a mosaic's two rasters."""
    arrays = {}
    for name in ("mosaic.tif", "flags.tif"):
        with rasterio.open(out / name) as ds:
            arrays[name] = ds.read()
            arrays[name + " mask"] = ds.read_masks()
            arrays[name + " grid"] = np.array([*ds.transform[:6], ds.width, ds.height])
    return arrays


def _assert_same_mosaic(out: Path, reference: Path) -> None:
    got, want = _rasters(out), _rasters(reference)
    assert got.keys() == want.keys()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def _build_ok(inputs, out: Path, capsys) -> dict:
    code, stdout, err = _run(["-q", "build", *inputs, *BUILD, "--out", out], capsys)
    assert code == 0, err
    return json.loads(stdout)


def _one_line_error(inputs, out: Path, capsys) -> str:
    """The error of a build that must fail: exit code 2, one line, no traceback, nothing in (or at) ``out``."""
    code, _, err = _run(["build", *inputs, *BUILD, "--out", out], capsys)
    assert code == 2, err
    assert err.startswith("mosaic: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists(), sorted(out.rglob("*"))
    return err


# ------------------------------------------------------------------------------------------ local items


def test_item_file_opens_as_its_folder(country):
    folder = country[1][0]
    by_folder, by_item = open_l3a(folder), open_l3a(_item_file(folder))
    assert by_item.path == _item_file(folder) and by_item.name == by_folder.name
    assert (by_item.tile, by_item.central_date, by_item.bands) == (by_folder.tile, by_folder.central_date,
                                                                   by_folder.bands)
    assert by_item.grids == by_folder.grids and by_item.crs == by_folder.crs
    assert by_item.files.frc == by_folder.files.frc and by_item.files.masks == by_folder.files.masks
    assert by_item.metadata_path == by_folder.metadata_path
    np.testing.assert_array_equal(by_item.read_frc("B4"), by_folder.read_frc("B4"))
    again = pickle.loads(pickle.dumps(by_item))  # the mosaic ships products to dask workers
    assert again.files == by_item.files and again.grids == by_item.grids


def test_masks_are_those_the_item_lists(country, tmp_path):
    """``has_mask`` is what the item names, not what lies in the folder."""
    folder = country[1][0]
    doc = _item(folder, absolute=True)
    del doc["assets"]["NOB_R1"]
    product = open_l3a(_write(tmp_path / "item.json", doc))
    assert not product.has_mask("NOB", "R1") and product.has_mask("NOB", "R2") and product.has_mask("FLG", "R1")
    assert (folder / "MASKS" / f"{folder.name}_NOB_R1.tif").exists()


def test_build_from_item_files_equals_build_from_folders(country, mosaic_dir, tmp_path, capsys):
    items = [_item_file(p) for p in country[1]]
    summary = _build_ok(items, tmp_path / "m", capsys)
    assert summary["inputs"] == sorted(p.name for p in country[1])
    _assert_same_mosaic(tmp_path / "m", mosaic_dir)


def test_build_from_an_item_collection_with_absolute_hrefs(country, mosaic_dir, tmp_path, capsys):
    collection = {"type": "FeatureCollection", "features": [_item(p, absolute=True) for p in country[1]]}
    source = _write(tmp_path / "elsewhere" / "items.json", collection)  # relative hrefs would not resolve here
    found = find_inputs([source])
    assert len(found) == 4 and all(isinstance(f, StacItemRef) for f in found)
    _build_ok([source], tmp_path / "m", capsys)
    _assert_same_mosaic(tmp_path / "m", mosaic_dir)


def test_static_catalogue_folder(country, tmp_path):
    import pystac

    catalog = pystac.Catalog("l3a", "L3A syntheses")
    for p in country[1]:
        catalog.add_item(pystac.Item.from_dict(_item(p, absolute=True)))
    catalog.normalize_and_save(str(tmp_path / "cat"), pystac.CatalogType.SELF_CONTAINED)
    products = open_inputs(find_inputs([tmp_path / "cat"]))
    assert [p.name for p in products] == sorted(p.name for p in country[1])
    assert all(p.path == Path(p.name) for p in products)  # an item of a catalogue is named by its id


def test_folder_and_its_own_item_are_one_tile_twice(country, tmp_path, capsys):
    folder = country[1][0]
    with pytest.raises(DuplicateTileError, match=folder.name[-12:]):
        open_inputs(find_inputs([folder, _item_file(folder)]))
    err = _one_line_error([folder, _item_file(folder)], tmp_path / "m", capsys)
    assert "given twice" in err


@pytest.mark.parametrize("content, words", [
    ({"type": "FeatureCollection", "features": []}, "holds no STAC item"),
    ({"hello": "world"}, "is not a STAC item, ItemCollection, catalogue or collection"),
    ([1, 2, 3], "is not a STAC document"),
])
def test_json_that_is_not_stac(tmp_path, capsys, content, words):
    source = _write(tmp_path / "doc.json", content)
    with pytest.raises((NoInputError, NotAProductError)):
        find_inputs([source])
    err = _one_line_error([source], tmp_path / "m", capsys)
    assert str(source) in err and words in err


# ------------------------------------------------------------------------------------------ bad items


def _shifted(doc: dict, key: str) -> dict:
    """The item declaring asset ``key`` one R1 pixel east of where its raster is."""
    transform = list(doc["properties"]["proj:transform"])
    transform[2] += transform[0]
    doc["assets"][key]["proj:transform"] = transform
    return doc


def test_raster_off_its_declared_grid_is_refused(country, tmp_path, capsys):
    folder = country[1][1]
    item = _write(tmp_path / "items" / "shifted.json", _shifted(_item(folder, absolute=True), "FRC_B4"))
    with pytest.raises(GridMismatchError, match="asset FRC_B4: the item declares a 366 x 366 grid"):
        open_l3a(item)
    err = _one_line_error([item], tmp_path / "m", capsys)
    assert f"{item} (item {folder.name}): asset FRC_B4: the item declares" in err


def test_declared_shape_of_an_r2_mask(country, tmp_path):
    """An asset's own proj: fields override the item's (which describe R1)."""
    doc = _item(country[1][1], absolute=True)
    doc["assets"]["FLG_R2"]["proj:shape"] = [183, 184]
    doc["assets"]["FLG_R2"]["proj:transform"] = doc["properties"]["proj:transform"]
    with pytest.raises(GridMismatchError, match="asset FLG_R2: the item declares a 183 x 184 grid"):
        open_l3a(_write(tmp_path / "flg.json", doc))


def test_l2a_item_is_refused(country, tmp_path, capsys):
    doc = _item(country[1][0], absolute=True)
    doc["properties"]["processing:level"] = "L2A"
    item = _write(tmp_path / "l2a.json", doc)
    err = _one_line_error([item], tmp_path / "m", capsys)
    assert "is not an L3A item (processing:level 'L2A')" in err and doc["id"] in err
    doc["id"] = "S2A_31TCJ_20180715_0_L2A"
    del doc["properties"]["processing:level"]
    with pytest.raises(NotAProductError, match="item id is not an L3A product name"):
        open_l3a_item(doc, str(tmp_path), "l2a-item")


def test_item_without_frc_asset_is_refused(country, tmp_path):
    doc = _item(country[1][0], absolute=True)
    doc["assets"] = {k: v for k, v in doc["assets"].items() if not k.startswith("FRC_")}
    with pytest.raises(NotAProductError, match="no FRC asset"):
        open_l3a(_write(tmp_path / "no-frc.json", doc))


def test_missing_frc_file_is_refused(country, tmp_path, capsys):
    doc = _item(country[1][0], absolute=True)
    doc["assets"]["FRC_B4"]["href"] = str(tmp_path / "gone" / Path(doc["assets"]["FRC_B4"]["href"]).name)
    item = _write(tmp_path / "missing.json", doc)
    err = _one_line_error([item], tmp_path / "m", capsys)
    assert "FRC B4 raster (asset FRC_B4 of " in err and "missing.json" in err and err.rstrip().endswith(" not found")
    assert "gone" in err


# ------------------------------------------------------------------------------------------ over HTTP


@pytest.fixture(scope="module")
def served(country, tmp_path_factory):
    """The products under ROOT/l3a/ (their items' hrefs relative), an ItemCollection of them, and an item whose
    B4 raster is not on the server."""
    root = tmp_path_factory.mktemp("l3a-http")
    for p in country[1]:
        shutil.copytree(p, root / "l3a" / p.name)
    products = sorted((root / "l3a").iterdir())
    features = []
    for p in products:
        doc = _item(p)
        for asset in doc["assets"].values():  # relative to the collection's folder, ROOT; signed-URL-like queries
            asset["href"] = f"l3a/{p.name}/{asset['href'].removeprefix('./')}?token=t%2B1&x=y"
        features.append(doc)
    _write(root / "collection.json", {"type": "FeatureCollection", "features": features})
    broken = _item(products[0])
    broken["assets"]["FRC_B4"]["href"] = "./nowhere_FRC_B4.tif"
    _write(products[0] / "broken_STAC.json", broken)
    return root, products


@pytest.fixture(scope="module")
def server(served, tmp_path_factory):
    root, _ = served
    with StacServer(root, log=tmp_path_factory.mktemp("l3a-http-log") / "requests.jsonl") as s:
        yield s


@pytest.fixture
def loopback(monkeypatch):
    """GDAL and urllib straight to the loopback server, with the toolkit's own HTTP settings."""
    import os

    for name in list(os.environ):
        if name.startswith(_SCRUBBED):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_build_from_item_urls(served, server, loopback, mosaic_dir, tmp_path, capsys):
    _, products = served
    urls = [server.url_of(_item_file(p)) for p in products]
    [product] = open_inputs(find_inputs(urls[:1]))
    assert str(product.frc_path("B4")).startswith("/vsicurl/http://127.0.0.1")
    assert product.path == Path(product.name) and product.metadata_path is None  # remote MTD: the item's date
    assert product.central_date == dt.date(2018, 7, 15)
    assert pickle.loads(pickle.dumps(product)).frc_path("B4") == product.frc_path("B4")
    mark = server.mark()
    _build_ok(urls, tmp_path / "m", capsys)
    _assert_same_mosaic(tmp_path / "m", mosaic_dir)
    requests = server.requests(mark)
    assert any(e["path"].endswith(".tif") and e["status"] == 206 for e in requests)  # range requests
    # no folder listing nor sidecar probe (.aux.xml, .msk...): every request is for a file of the item
    assert all(e["status"] in (200, 206) for e in requests), [e for e in requests if e["status"] not in (200, 206)]


def test_build_from_an_item_collection_url(served, server, loopback, mosaic_dir, tmp_path, capsys):
    root, _ = served
    mark = server.mark()
    _build_ok([server.url_of(root / "collection.json")], tmp_path / "m", capsys)
    _assert_same_mosaic(tmp_path / "m", mosaic_dir)
    rasters = [e for e in server.requests(mark) if e["path"].endswith(".tif")]
    assert rasters and all(e["query"] == "token=t%2B1&x=y" for e in rasters)  # the hrefs' queries are kept


def test_missing_remote_raster_is_one_line(served, server, loopback, tmp_path, capsys):
    _, products = served
    url = server.url_of(products[0] / "broken_STAC.json")
    err = _one_line_error([url], tmp_path / "m", capsys)
    assert "nowhere_FRC_B4.tif" in err and "asset FRC_B4" in err


def test_missing_item_url_is_one_line(server, loopback, tmp_path, capsys):
    err = _one_line_error([server.url + "/l3a/nothing_STAC.json"], tmp_path / "m", capsys)
    assert "nothing_STAC.json" in err
