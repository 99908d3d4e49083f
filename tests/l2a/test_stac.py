"""Sentinel-2 L2A STAC items (Earth Search layout, COG assets) read as L2A products, and composed by `l3a compose`."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2a import open_l2a
from l2a.errors import (GridMismatchError, MetadataError, MissingFileError, NotAProductError, ProductFormatError,
                        TileMismatchError)
from l2a.formats.stac import open_stac, read_items
from l2a.formats.stac.item import gdal_path, item_facts

_HERE = Path(__file__).parent
sys.path.insert(0, str(_HERE))
import stac_fixture  # noqa: E402


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("stac-sim")
    subprocess.run([sys.executable, "-m", "l2a", "-q", "simulate", "--out", str(out), "--tiles", "T31TCJ",
                    "--start", "2018-07-05", "--end", "2018-07-25", "--size", "120", "--seed", "3"], check=True)
    return sorted(p for p in out.iterdir() if p.name.startswith("SENTINEL2"))


@pytest.fixture(scope="module")
def items(sim, tmp_path_factory):
    out = tmp_path_factory.mktemp("stac-items")
    return [stac_fixture.write_item(p, out / p.name) for p in sim]


def _read(path):
    (doc, base), = read_items(path)
    return item_facts(doc, str(path), base)


def test_item_reads_as_the_product_it_was_written_from(sim, items):
    theia = open_l2a(sim[0])
    (product,) = open_stac([items[0]])
    assert (product.tile, product.platform, product.datetime) == (theia.tile, theia.platform, theia.datetime)
    assert product.format == "stac" and product.bands == theia.bands
    assert product.grids["R1"].same_as(theia.grids["R1"]) and product.grids["R2"].same_as(theia.grids["R2"])
    for band in theia.bands:
        assert np.array_equal(product.read_band(band), theia.read_band(band)), band
    # SCL keeps one class per pixel: the first of nodata, cloud, shadow, snow, water
    expected = stac_fixture.scl_from_masks(theia.read_masks("R2"))
    masks = product.read_masks("R2")
    assert np.array_equal(masks["cloud"], expected == stac_fixture.SCL_CLOUD)
    assert np.array_equal(masks["shadow"], expected == stac_fixture.SCL_SHADOW)
    assert np.array_equal(masks["water"], expected == stac_fixture.SCL_WATER)
    assert np.array_equal(masks["nodata"], expected == stac_fixture.SCL_NODATA)
    assert masks["cloud"].any() or masks["shadow"].any()
    aot_t, aot_s = theia.read_aot(res="R2"), product.read_aot(res="R2")
    both = np.isfinite(aot_t) & np.isfinite(aot_s)
    assert both.mean() > 0.5 and np.abs(aot_t[both] - aot_s[both]).max() <= 0.0005 + 1e-6
    assert product.angles.mean_sun == pytest.approx(theia.angles.mean_sun)


@pytest.mark.parametrize("variant", [dict(offset_applied=True), dict(offset_applied=True, raster_offset=True),
                                     dict(raster_offset=True), dict(raster_offset=True, offset_flag=False),
                                     dict(offset_flag=False), dict(baseline="03.01")],
                         ids=["flag-applied", "flag-applied-raster-offset", "flag-not-applied-raster-offset",
                              "raster-offset-only", "planetary-computer", "old-baseline"])
def test_boa_offset_sources(sim, tmp_path, variant):
    path = stac_fixture.write_item(sim[1], tmp_path / "i", **variant)
    (product,) = open_stac([path])
    theia = open_l2a(sim[1])
    assert np.array_equal(product.read_band("B4"), theia.read_band("B4"))


def test_wrong_offset_assumption_is_seen(sim, tmp_path):
    """The planted defect: DN written without the offset while the item says it is not applied."""
    path = stac_fixture.write_item(sim[1], tmp_path / "i", offset_applied=True)
    doc = json.loads(path.read_text())
    doc["properties"]["earthsearch:boa_offset_applied"] = False
    path.write_text(json.dumps(doc))
    (product,) = open_stac([path])
    theia = open_l2a(sim[1])
    valid = theia.read_band("B4") > -10000
    assert np.median(theia.read_band("B4")[valid] - product.read_band("B4")[valid]) == 1000


REAL_MTD_TL = (Path(__file__).resolve().parents[2] / "../shared/data/real/alcd_toulouse_l1c_safe/"
               "S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE/GRANULE/"
               "L1C_T31TCJ_A044807_20240120T105433/MTD_TL.xml")


@pytest.mark.skipif(not REAL_MTD_TL.exists(), reason="real Sentinel-2 samples not present")
def test_granule_metadata_gives_angle_grids(sim, tmp_path):
    from l2a.formats.safe.metadata import parse_tile_metadata
    from l2a.io.xmldoc import parse_xml_bytes, strip_namespaces

    path = stac_fixture.write_item(sim[0], tmp_path / "i", granule_metadata=REAL_MTD_TL)
    (product,) = open_stac([path])
    expected = parse_tile_metadata(strip_namespaces(parse_xml_bytes(REAL_MTD_TL.read_bytes(), "x")), "x").angles
    assert product.angles.has_grids and product.tile_metadata is not None
    assert np.array_equal(product.angles.sun.zenith, expected.sun.zenith, equal_nan=True)
    assert product.angles.mean_sun == pytest.approx(expected.mean_sun)
    broken = tmp_path / "MTD_TL.xml"
    broken.write_bytes(REAL_MTD_TL.read_bytes()[:5000])
    path = stac_fixture.write_item(sim[0], tmp_path / "j", granule_metadata=broken)
    with pytest.raises(MetadataError, match="MTD_TL.xml"):
        open_stac([path])


def test_item_collection_catalogue_and_filters(sim, items, tmp_path):
    collection = stac_fixture.item_collection(items, tmp_path / "items.geojson")
    products = open_stac([collection])
    assert sorted(p.product_id for p in products) == sorted(json.loads(i.read_text())["id"] for i in items)
    assert open_stac([collection], max_cloud=10) == []          # every item says 12.5 %
    assert len(open_stac([collection], max_cloud=12.5)) == len(items)
    with pytest.raises(TileMismatchError, match=r"no item of T30TYN; the items are of T31TCJ \(\d+\)"):
        open_stac([collection], tiles=["T30TYN"])
    import pystac

    catalog = pystac.Catalog("c", "test catalogue")
    for i in items[:2]:
        catalog.add_item(pystac.Item.from_file(str(i)))
    catalog.normalize_and_save(str(tmp_path / "cat"), pystac.CatalogType.SELF_CONTAINED)
    # pystac saved the items elsewhere with hrefs relative to their new place: they still lead to the assets
    assert len(read_items(tmp_path / "cat")) == 2
    walked = open_stac([tmp_path / "cat"])
    assert sorted(p.product_id for p in walked) == sorted(p.product_id for p in products[:2]) or len(walked) == 2
    assert np.array_equal(walked[0].read_band("B8"), next(p for p in products if p.product_id ==
                                                         walked[0].product_id).read_band("B8"))


def _retiled(item: Path, tile: str, out: Path) -> Path:
    doc = json.loads(item.read_text())
    doc["properties"]["s2:mgrs_tile"] = tile[1:]
    doc["id"] = doc["id"].replace("31TCJ", tile[1:])
    for asset in doc["assets"].values():
        asset["href"] = str((item.parent / asset["href"]).resolve())
    out.write_text(json.dumps(doc))
    return out


def test_items_of_mixed_tiles(sim, items, tmp_path):
    """In a collection, items of other tiles are neighbours set aside; an item given by itself of another tile is a
    mistake: one line naming it, exit 2, nothing written."""
    other = _retiled(items[0], "T31TDJ", tmp_path / "other.json")
    mixed = stac_fixture.item_collection([other, *items[1:]], tmp_path / "mixed.json")
    assert sorted(p.product_id for p in open_stac([mixed], tiles=["T31TCJ"])) == sorted(
        json.loads(i.read_text())["id"] for i in items[1:])
    with pytest.raises(TileMismatchError, match="is an item of T31TDJ, not of T31TCJ"):
        open_stac([other], tiles=["T31TCJ"])
    out = tmp_path / "o"
    proc = subprocess.run([sys.executable, "-m", "l3a", "-q", "compose", "--stac", str(other), "--stac", str(items[1]),
                           "--tile", "T31TCJ", "--month", "2018-07", "--out", str(out)], capture_output=True, text=True)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "other.json" in lines[0] and "T31TDJ" in lines[0], proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_compose_from_stac_items(sim, items, tmp_path):
    out = tmp_path / "l3a"
    proc = subprocess.run([sys.executable, "-m", "l3a", "-q", "compose", "--stac", str(items[0]), "--stac",
                           str(stac_fixture.item_collection(items[1:], tmp_path / "rest.json")), "--tile",
                           "T31TCJ", "--month", "2018-07", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    product = Path(proc.stdout.strip().splitlines()[-1])
    inputs = json.loads(next(product.glob("*_STAC.json")).read_text())
    assert product.is_dir() and len(items) > 3
    assert "T31TCJ" in product.name and inputs


def test_gdal_paths():
    assert gdal_path("https://x.org/a/B04.tif") == "/vsicurl/https://x.org/a/B04.tif"
    assert gdal_path("s3://bucket/k/B04.tif") == "/vsis3/bucket/k/B04.tif"
    assert gdal_path("B04.tif", "/data/item") == "/data/item/B04.tif"
    assert gdal_path("../B04.tif", "https://x.org/a/items") == "/vsicurl/https://x.org/a/B04.tif"


# ------------------------------------------------------------------------------------------------ bad input


def test_l1c_item_is_refused(sim, tmp_path):
    path = stac_fixture.write_item(sim[0], tmp_path / "i", level="L1C")
    with pytest.raises(NotAProductError, match="Level-1C"):
        open_stac([path])


def test_item_without_bands_is_refused(sim, tmp_path):
    path = stac_fixture.write_item(sim[0], tmp_path / "i", drop=("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A",
                                                                 "B11", "B12"))
    with pytest.raises(ProductFormatError, match="no band asset"):
        open_stac([path])


def test_declared_grid_that_disagrees_with_the_asset(sim, tmp_path):
    path = stac_fixture.write_item(sim[0], tmp_path / "i", shift_declared_grid="red")
    with pytest.raises(GridMismatchError, match="asset red") as exc:
        open_stac([path])
    assert json.loads(path.read_text())["id"] in str(exc.value)


def test_missing_asset_file_names_it(sim, tmp_path):
    path = stac_fixture.write_item(sim[0], tmp_path / "i")
    doc = json.loads(path.read_text())
    (path.parent / doc["assets"]["nir"]["href"]).unlink()
    with pytest.raises(MissingFileError, match="nir"):
        open_stac([path])


@pytest.mark.parametrize("text,error", [("{not json", MetadataError), ('{"type": "Feature"}', MetadataError),
                                        ('{"type": "Catalogue"}', NotAProductError), ("[1, 2]", NotAProductError)])
def test_malformed_documents(tmp_path, text, error):
    path = tmp_path / "item.json"
    path.write_text(text)
    with pytest.raises(error):
        open_stac([path])


def test_item_properties_are_checked(sim, tmp_path):
    path = stac_fixture.write_item(sim[0], tmp_path / "i")
    doc = json.loads(path.read_text())
    for change, message in ((("platform", "landsat-8"), "platform"), (("datetime", "yesterday"), "datetime")):
        bad = json.loads(json.dumps(doc))
        bad["properties"][change[0]] = change[1]
        with pytest.raises(MetadataError, match=message):
            item_facts(bad, "x.json")
    bad = json.loads(json.dumps(doc))
    for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square"):
        del bad["properties"][k]
    assert item_facts(bad, "x.json").tile == "T31TCJ"  # from the item id
    bad["id"] = "something"
    with pytest.raises(MetadataError, match="MGRS tile"):
        item_facts(bad, "x.json")


def test_cli_bad_stac_source_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "l3a", "compose", "--stac", str(tmp_path / "missing.json"),
                           "--tile", "T31TCJ", "--month", "2018-07", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "missing.json" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_unreachable_stac_api_is_one_line(tmp_path):
    from l2a.errors import StacApiError

    with pytest.raises(StacApiError, match="127.0.0.1:9"):
        open_stac(["http://127.0.0.1:9/v1"], collection="sentinel-2-l2a", tiles=["T31TCJ"])
    proc = subprocess.run([sys.executable, "-m", "l3a", "compose", "--stac", "http://127.0.0.1:9/v1", "--collection",
                           "sentinel-2-l2a", "--tile", "T31TCJ", "--month", "2018-07", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "127.0.0.1:9" in proc.stderr and not (tmp_path / "o").exists()


def test_collection_needs_a_stac_url(tmp_path, sim):
    proc = subprocess.run([sys.executable, "-m", "l3a", "compose", str(sim[0]), "--collection", "sentinel-2-l2a",
                           "--tile", "T31TCJ", "--month", "2018-07", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "--collection" in proc.stderr


def test_item_file_is_a_product_for_open_l2a_and_find_products(sim, items):
    from l2a.detect import find_products

    product = open_l2a(items[0])
    assert product.format == "stac" and product.tile == "T31TCJ"
    assert find_products([items[0].parent]) == [items[0]]
    assert np.array_equal(product.read_band("B8"), open_l2a(sim[0]).read_band("B8"))


def _batch(source: Path, out: Path):
    """`l3a batch --stac SOURCE` of T31TCJ in July 2018 on one local worker: the process and its run report."""
    proc = subprocess.run([sys.executable, "-m", "l3a", "-q", "batch", "--stac", str(source), "--tiles", "T31TCJ",
                           "--months", "2018-07", "--out", str(out), "--workers", "1"], capture_output=True, text=True)
    report_path = out / "batch-report.json"
    return proc, json.loads(report_path.read_text()) if report_path.exists() else None


def test_batch_from_item_files_equals_compose(sim, items, tmp_path):
    collection = stac_fixture.item_collection(items, tmp_path / "items.geojson")
    proc = subprocess.run([sys.executable, "-m", "l3a", "-q", "compose", "--stac", str(collection), "--tile",
                           "T31TCJ", "--month", "2018-07", "--out", str(tmp_path / "c")], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    composed = Path(proc.stdout.strip().splitlines()[-1])
    proc, report = _batch(collection, tmp_path / "b")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (task,) = report["tasks"]
    assert task["status"] == "written" and all(i.endswith(".json") for i in task["inputs"])
    rasters = sorted(p.relative_to(composed) for p in composed.rglob("*.tif"))
    assert rasters and all((Path(task["output"]) / r).read_bytes() == (composed / r).read_bytes() for r in rasters)


def test_href_hook_rewrites_asset_hrefs(sim, tmp_path, monkeypatch):
    path = stac_fixture.write_item(sim[0], tmp_path / "i")
    doc = json.loads(path.read_text())
    for asset in doc["assets"].values():
        asset["href"] = "unsigned/" + asset["href"]
    path.write_text(json.dumps(doc))
    with pytest.raises(MissingFileError):
        open_stac([path])
    monkeypatch.syspath_prepend(str(_HERE))
    monkeypatch.setenv("SYNTHEO_STAC_HREF_HOOK", "stac_hook:sign")
    monkeypatch.setenv("STAC_HOOK_FOLDER", str(path.parent))
    (product,) = open_stac([path])
    assert np.array_equal(product.read_band("B4"), open_l2a(sim[0]).read_band("B4"))
    from l2a.errors import InvalidParameterError

    monkeypatch.setenv("SYNTHEO_STAC_HREF_HOOK", "no_such_module:sign")
    with pytest.raises(InvalidParameterError, match="SYNTHEO_STAC_HREF_HOOK"):
        open_stac([path])


def test_batch_reports_an_unreadable_item_and_goes_on(sim, items, tmp_path):
    docs = [json.loads(i.read_text()) for i in items]
    for doc, item in zip(docs, items):
        for a in doc["assets"].values():
            a["href"] = str(item.parent / a["href"])
    docs[0]["properties"]["platform"] = "landsat-8"
    collection = tmp_path / "items.json"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": docs}))
    proc, report = _batch(collection, tmp_path / "b")
    assert proc.returncode == 1, proc.stderr[-3000:]
    (task,) = report["tasks"]
    assert task["status"] == "written" and len(task["inputs"]) == len(items) - 1
    assert len(report["unreadable"]) == 1 and "platform" in json.dumps(report["unreadable"])
