"""Theia-layout STAC items read as Theia products: the ``<ID>_STAC.json`` every L2A product of the toolkit carries
(``l2a simulate``, ``l2a process``), MUSCATE-like items whose asset keys are ESA band ids, over HTTP too.

The item is only a list of files: the Theia reader over them must give the very product of the folder (bands, masks,
AOT, angles), and ``l3a compose --stac`` the very rasters of ``l3a compose`` on the folders.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from l2a import open_l2a
from l2a.errors import GridMismatchError, MetadataError, MissingFileError, NotAProductError
from l2a.formats.stac import open_stac, read_items
from l2a.formats.stac.item import item_facts

_HERE = Path(__file__).parent
sys.path.insert(0, str(_HERE))
from stac_server import StacServer  # noqa: E402

TILE, MONTH = "T31TCJ", "2018-07"
_LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("theia-items")
    subprocess.run([sys.executable, "-m", "l2a", "-q", "simulate", "--out", str(out), "--tiles", TILE,
                    "--start", "2018-07-12", "--end", "2018-07-18", "--size", "150", "--seed", "5"], check=True)
    products = sorted(p for p in out.iterdir() if p.name.startswith("SENTINEL2"))
    assert len(products) >= 2
    return products


def _item(product: Path) -> Path:
    return product / f"{product.name}_STAC.json"


def _assert_same_product(a, b) -> None:
    assert (a.tile, a.platform, a.datetime, a.bands, a.product_id) == (b.tile, b.platform, b.datetime, b.bands,
                                                                         b.product_id)
    assert all(a.grids[r].same_as(b.grids[r]) for r in ("R1", "R2")) and a.crs == b.crs
    for band in a.bands:
        assert np.array_equal(a.read_band(band), b.read_band(band)), band
    for res in ("R1", "R2"):
        ma, mb = a.read_masks(res), b.read_masks(res)
        assert ma.keys() == mb.keys()
        for k in ma:
            assert np.array_equal(ma[k], mb[k]), (res, k)
    assert np.array_equal(a.read_aot(), b.read_aot(), equal_nan=True)
    assert a.angles.mean_sun == b.angles.mean_sun
    assert a.angles.sun is not None and np.array_equal(a.angles.sun.zenith, b.angles.sun.zenith)


def test_the_products_own_item_reads_as_the_product(sim):
    doc = json.loads(_item(sim[0]).read_text())
    assert doc["id"] == sim[0].name and doc["properties"]["processing:level"] == "L2A"
    assert doc["assets"]["FRE_B4"]["href"] == f"./{sim[0].name}_FRE_B4.tif"
    assert doc["assets"]["CLM_R1"]["href"] == f"./MASKS/{sim[0].name}_CLM_R1.tif"
    r1, r2 = doc["assets"]["FRE_B4"]["proj:shape"], doc["assets"]["FRE_B11"]["proj:shape"]
    assert r1 == [2 * v for v in r2]
    _assert_same_product(open_l2a(sim[0]), open_l2a(_item(sim[0])))


def test_item_facts_of_a_theia_item(sim):
    (doc, base), = read_items(_item(sim[0]))
    facts = item_facts(doc, "x", base)
    product = open_l2a(sim[0])
    assert (facts.tile, facts.platform, facts.datetime) == (product.tile, product.platform, product.datetime)
    assert facts.theia_files and facts.scl is None and set(facts.bands) == set(product.bands)
    assert facts.bands["B4"].grid.same_as(product.band_grid("B4"))
    assert facts.cloud_cover == pytest.approx(product.metadata.cloud_percent)


def _muscate_item(product: Path, out: Path, *, metadata: bool = True, kind: str = "FRE") -> Path:
    """A MUSCATE-like item: ESA band ids as asset keys, absolute hrefs to the product's files, ``proj:`` fields at
    item level only (the R1 grid's), the ``kind`` reflectance files only (SRE: the FRE files copied as SRE)."""
    own = json.loads(_item(product).read_text())
    assets = {}
    for key, asset in own["assets"].items():
        href = str((product / asset["href"]).resolve())
        if key.startswith("SRE_") or (key == "metadata" and not metadata):
            continue
        if key.startswith("FRE_") and kind == "SRE":
            sre = out / "files" / Path(href).name.replace("_FRE_", "_SRE_")
            sre.parent.mkdir(parents=True, exist_ok=True)
            sre.write_bytes(Path(href).read_bytes())
            href = str(sre)
        if key.startswith("FRE_"):
            band = key[4:]
            key = f"B{int(band[1:]):02d}" if band[1:].isdigit() else band
        assets[key] = {**{k: v for k, v in asset.items() if not k.startswith("proj:")}, "href": href}
    props = {k: v for k, v in own["properties"].items() if not k.startswith("view:")}
    props["platform"] = props["platform"].upper().replace("-", "")   # SENTINEL2A
    props["proj:shape"] = own["assets"]["FRE_B4"]["proj:shape"]
    props["proj:transform"] = own["assets"]["FRE_B4"]["proj:transform"]
    doc = {**own, "assets": assets, "properties": props}
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{product.name}.json"
    path.write_text(json.dumps(doc))
    return path


def test_muscate_like_item_with_esa_keys(sim, tmp_path):
    """Item-level proj fields are the 10 m grid's: the 20 m files are not checked against them."""
    path = _muscate_item(sim[1], tmp_path)
    assert "proj:shape" not in json.loads(path.read_text())["assets"]["B11"]
    _assert_same_product(open_l2a(sim[1]), open_l2a(path))


def test_item_level_grid_disagreeing_with_the_10m_files_is_refused(sim, tmp_path):
    path = _muscate_item(sim[1], tmp_path)
    doc = json.loads(path.read_text())
    doc["properties"]["proj:transform"][5] += 10.0
    path.write_text(json.dumps(doc))
    with pytest.raises(GridMismatchError, match="B02"):
        open_l2a(path)


def test_sre_items(sim, tmp_path):
    """An item of SRE files opens on them; the toolkit's own item (FRE, and SRE when written) opens on either."""
    path = _muscate_item(sim[1], tmp_path, kind="SRE")
    (product,) = open_stac([path])
    assert product.reflectance == "SRE"
    assert np.array_equal(product.read_band("B4"), open_l2a(sim[1]).read_band("B4"))
    with pytest.raises(MissingFileError, match="has SRE"):
        open_l2a(path)   # open_l2a's default is FRE, as for a folder
    assert open_l2a(path, reflectance="SRE").reflectance == "SRE"


def test_item_without_metadata_asset_takes_identity_from_file_names(sim, tmp_path):
    path = _muscate_item(sim[1], tmp_path, metadata=False)
    with pytest.warns(Warning, match="MTD_ALL"):
        product = open_l2a(path)
    folder = open_l2a(sim[1])
    assert (product.tile, product.platform, product.datetime) == (folder.tile, folder.platform, folder.datetime)
    assert np.array_equal(product.read_band("B8"), folder.read_band("B8"))
    assert np.array_equal(product.read_masks("R1")["cloud"], folder.read_masks("R1")["cloud"])


def test_item_collection_filters_by_time(sim, tmp_path):
    docs = [json.loads(_item(p).read_text()) for p in sim]
    for doc, p in zip(docs, sim):   # hrefs absolute: the collection lives elsewhere
        for asset in doc["assets"].values():
            asset["href"] = str((p / asset["href"]).resolve())
    path = tmp_path / "items.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": docs}))
    first = open_l2a(sim[0]).datetime
    products = open_stac([path], start=first, end=first.replace(hour=23))
    assert [p.product_id for p in products] == [sim[0].name]


# --- bad items ------------------------------------------------------------------------------------------------------
def _edited(product: Path, tmp_path: Path, edit) -> Path:
    doc = json.loads(_item(product).read_text())
    edit(doc)
    for asset in doc["assets"].values():
        asset["href"] = str((product / asset["href"]).resolve())
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "item.json"
    path.write_text(json.dumps(doc))
    return path


def test_declared_grid_disagreeing_with_the_file_is_refused(sim, tmp_path):
    def shift(doc):
        doc["assets"]["FRE_B11"]["proj:transform"][2] += 20.0
    with pytest.raises(GridMismatchError, match="FRE_B11"):
        open_l2a(_edited(sim[0], tmp_path, shift))


def test_declared_tile_disagreeing_with_the_files_is_refused(sim, tmp_path):
    def retile(doc):
        doc["properties"]["s2:mgrs_tile"] = "31TDJ"
    with pytest.raises(MetadataError, match="T31TDJ.*T31TCJ"):
        open_l2a(_edited(sim[0], tmp_path, retile))


def test_collection_with_one_item_of_a_neighbour_is_no_error(sim, tmp_path):
    def retile(doc):
        doc["properties"]["s2:mgrs_tile"] = "31TDJ"
    neighbour = json.loads(_edited(sim[0], tmp_path, retile).read_text())
    collection = tmp_path / "one.json"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": [neighbour]}))
    own = _edited(sim[1], tmp_path / "own", lambda doc: None)
    assert [p.product_id for p in open_stac([collection, own], tiles=[TILE])] == [sim[1].name]


def test_missing_file_of_an_item_is_named(sim, tmp_path):
    def missing(doc):
        doc["assets"]["FRE_B8"]["href"] = doc["assets"]["FRE_B8"]["href"].replace("_FRE_B8.tif", "_FRE_B8.tif.gone")
    path = _edited(sim[0], tmp_path, missing)
    doc = json.loads(path.read_text())
    doc["assets"]["FRE_B8"]["href"] = str(sim[0] / "gone" / f"{sim[0].name}_FRE_B8.tif")
    path.write_text(json.dumps(doc))
    with pytest.raises(MissingFileError, match=rf"item\.json.*{sim[0].name}.*FRE_B8"):
        open_l2a(path)


def test_level1c_theia_item_is_refused(sim, tmp_path):
    def l1c(doc):
        doc["properties"]["processing:level"] = "L1C"
    with pytest.raises(NotAProductError, match="Level-1C"):
        open_l2a(_edited(sim[0], tmp_path, l1c))


# --- l3a compose from the items, local and over HTTP ----------------------------------------------------------------
def _compose(args, out: Path, env=None):
    cmd = [sys.executable, "-m", "l3a", "-q", "compose", *args, "--tile", TILE, "--month", MONTH,
           "--out", str(out), "--threads", "2"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **_LOOPBACK, **(env or {})})


@pytest.fixture(scope="module")
def reference(sim, tmp_path_factory):
    proc = _compose([str(p) for p in sim], tmp_path_factory.mktemp("theia-ref"))
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def _assert_same_rasters(product: Path, reference: Path) -> None:
    assert product.name == reference.name
    rasters = sorted(p.relative_to(reference).as_posix() for p in reference.rglob("*.tif"))
    assert len(rasters) > 10
    for name in rasters:
        assert (product / name).read_bytes() == (reference / name).read_bytes(), name


def test_compose_from_the_items_equals_compose_from_the_folders(sim, reference, tmp_path):
    args = [a for p in sim for a in ("--stac", str(_item(p)))]
    proc = _compose(args, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    _assert_same_rasters(Path(proc.stdout.strip().splitlines()[-1]), reference)


def test_compose_from_item_urls_equals_compose_from_the_folders(sim, reference, tmp_path):
    with StacServer(sim[0].parent) as server:
        args = [a for p in sim for a in ("--stac", server.url_of(_item(p)))]
        proc = _compose(args, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    _assert_same_rasters(Path(proc.stdout.strip().splitlines()[-1]), reference)
