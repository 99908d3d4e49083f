"""Theia/MUSCATE L2A: mask bits, names, MTD_ALL.xml parsing, the reader on real iota2 samples and on hand-made
products, and its refusal of bad input."""

import datetime as dt
import os
import warnings
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from l2a import open_l2a
from l2a.errors import (
    BandNotFoundError,
    CorruptRasterError,
    GridMismatchError,
    IncompleteProductWarning,
    MetadataError,
    MissingFileError,
    NotAProductError,
    UnsafeArchiveError,
    UnsafeXMLError,
)
from l2a.formats.theia.bits import (
    decode_clm,
    decode_mg2,
    decode_sat,
    encode_clm,
    encode_mg2,
    encode_sat,
    to_uint8,
)
from l2a.formats.theia.mtd import parse_mtd_all, read_mtd_all
from l2a.formats.theia.names import format_product_name, parse_product_name
from l2a.formats.theia.rasters import STACK_BANDS
from l2a.formats.theia.reader import TheiaL2A
from l2a.grid import Grid
from l2a.sensors import L2A_BANDS
from l2a.tiles import normalize_tile, s2_tile_origin

from .conftest import small_grids, write_bare_product, write_geotiff

UTC = dt.timezone.utc
V14 = "iota2_theia_V1-4_obia_2dates_2tiles"
V10 = "iota2_theia_V1-0_coreg_FRE_STACK"
V14_PRODUCTS = [f"{t}/SENTINEL2A_{d}_L2A_{t}_D_V1-4" for t in ("T38KPD", "T38KPE")
                for d in ("20170613-071216-460", "20170623-071214-459")]
V10_PRODUCTS = {  # product -> CloudPercent of its MTD_ALL fragment
    "T38KPD/SENTINEL2A_20170203-071245-541_L2A_T38KPD_C_V1-0": 43.0,
    "T38KPD/SENTINEL2A_20170223-071209-459_L2A_T38KPD_C_V1-0": 43.0,
    "T38KPE/SENTINEL2A_20170203-071245-541_L2A_T38KPE_C_V1-0": 58.0,
    "T38KPE/SENTINEL2A_20170213-071209-461_L2A_T38KPE_C_V1-0": 93.0,
    "T38KPE/SENTINEL2A_20170223-071209-459_L2A_T38KPE_C_V1-0": 60.0,
}


def quiet_open(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IncompleteProductWarning)
        return open_l2a(path, **kwargs)


# --- bits ------------------------------------------------------------------------------------------------------
def test_clm_bits_follow_muscate_order():
    cloud = np.array([[1, 0, 0, 0]], bool)
    shadow = np.array([[0, 1, 0, 0]], bool)
    cirrus = np.array([[0, 0, 1, 0]], bool)
    clm = encode_clm(cloud, shadow, cirrus=cirrus)
    assert clm.dtype == np.uint8
    assert clm.tolist() == [[0b00000111, 0b00100001, 0b10000011, 0]]
    c, s = decode_clm(clm)
    assert c.tolist() == [[True, False, True, False]] and s.tolist() == [[False, True, False, False]]
    # refl_var, extension alone count as cloud; shadvar as shadow; bit 0 alone (no shadow bit) as cloud
    c, s = decode_clm(np.array([8, 16, 64, 1, 65, 0], np.uint8))
    assert c.tolist() == [True, True, False, True, False, False]
    assert s.tolist() == [False, False, True, False, True, False]


def test_mg2_and_sat_bits():
    water, snow = np.array([1, 0, 0, 1], bool), np.array([0, 1, 0, 1], bool)
    mg2 = encode_mg2(water, snow, np.array([0, 0, 1, 0], bool), np.array([0, 0, 1, 1], bool))
    assert mg2.tolist() == [1, 4, 2 | 8, 1 | 4 | 8]
    w, s = decode_mg2(mg2 | 0b11110000)   # topography and sun bits do not leak into water/snow
    assert w.tolist() == water.tolist() and s.tolist() == snow.tolist()
    sat = encode_sat([np.array([1, 0, 0], bool), np.array([0, 0, 1], bool)])
    assert sat.tolist() == [1, 0, 2] and decode_sat(sat).tolist() == [True, False, True]
    assert to_uint8(np.array([np.nan, 2.0, 300.0, -1.0], np.float32)).tolist() == [0, 2, 255, 0]


# --- names -----------------------------------------------------------------------------------------------------
def test_product_names():
    p = parse_product_name("SENTINEL2A_20170613-071216-460_L2A_T38KPD_D_V1-4")
    assert (p.platform, p.tile, p.kind, p.version) == ("S2A", "T38KPD", "D", "1-4")
    assert p.datetime == dt.datetime(2017, 6, 13, 7, 12, 16, 460000, tzinfo=UTC)
    assert parse_product_name("VENUS-XS_20180101-105432-000_L2A_SUDOUE-1_C_V1-0.zip").platform == "VENUS"
    assert parse_product_name("S2A_MSIL2A_20180101T105432_N0206_R051_T31TCJ_20180101T130000") is None
    when = dt.datetime(2018, 7, 15, 10, 53, 2, 456999)         # milliseconds are truncated, never rounded up
    assert format_product_name("S2B", when, "31tcj") == "SENTINEL2B_20180715-105302-456_L2A_T31TCJ_C_V1-0"
    assert normalize_tile("31TCJ") == "T31TCJ" and normalize_tile("T38KPE") == "T38KPE"


def test_s2_tile_origin_matches_real_metadata():
    assert s2_tile_origin("T31TCJ") == (300000.0, 4900020.0)   # MTD_TL.xml of the ALCD L1C samples
    assert s2_tile_origin("T38KPE") == (600000.0, 8000020.0)   # MTD_ALL.xml of the iota2 sample
    assert s2_tile_origin("38KPD") == (600000.0, 7900020.0)
    assert s2_tile_origin("SUDOUE-1") is None


# --- MTD_ALL.xml -----------------------------------------------------------------------------------------------
def _detector_grids(xml_path):
    """Independent parse of a (trusted) real fragment: band -> list of (zenith, azimuth) per detector."""
    data = open(xml_path, "rb").read()
    if data.lstrip().startswith(b"<?xml"):
        data = data.split(b"?>", 1)[1]
    root = ET.fromstring(b"<r>" + data + b"</r>")
    out = {}
    for band in root.iter("Band_Viewing_Incidence_Angles_Grids_List"):
        dets = []
        for det in band.findall("Viewing_Incidence_Angles_Grids"):
            zen = np.array([[float(v) for v in r.text.split()] for r in det.findall("Zenith/Values_List/VALUES")])
            az = np.array([[float(v) for v in r.text.split()] for r in det.findall("Azimuth/Values_List/VALUES")])
            dets.append((zen, az))
        out[band.get("band_id")] = dets
    return out


@pytest.mark.real
@pytest.mark.parametrize("product", sorted(V10_PRODUCTS))
def test_real_mtd_fragments(real_data, product):
    folder = real_data / V10 / product
    xml = next(folder.glob("*_MTD_ALL.xml"))
    mtd = read_mtd_all(xml, tile=product.split("/")[0])
    assert mtd.cloud_percent == V10_PRODUCTS[product]
    detectors = _detector_grids(xml)
    assert set(mtd.angles.view) == set(detectors) and "B2" in detectors
    for band, dets in detectors.items():
        grid = mtd.angles.view[band]
        assert grid.shape == (23, 23) and grid.col_step == grid.row_step == 5000
        assert len(dets) >= 6
        covered = np.zeros((23, 23), int)
        for zen, _ in dets:
            covered += np.isfinite(zen)
        assert (np.isfinite(grid.zenith) == (covered > 0)).all()
        for zen, az in dets:   # where one detector alone sees a node, the merged grid keeps its angles
            alone = np.isfinite(zen) & (covered == 1)
            np.testing.assert_allclose(grid.zenith[alone], zen[alone], atol=1e-9)
            np.testing.assert_allclose(grid.azimuth[alone], az[alone], atol=1e-9)
        # overlaps: mean viewing direction of the detectors (vectors tan(zenith) (sin az, cos az))
        both = covered > 1
        vx = np.nanmean([np.tan(np.radians(z)) * np.sin(np.radians(a)) for z, a in dets], axis=0)
        vy = np.nanmean([np.tan(np.radians(z)) * np.cos(np.radians(a)) for z, a in dets], axis=0)
        np.testing.assert_allclose(grid.zenith[both], np.degrees(np.arctan(np.hypot(vx, vy)))[both], atol=1e-9)
        np.testing.assert_allclose(grid.azimuth[both], np.degrees(np.arctan2(vx, vy))[both] % 360, atol=1e-9)
    assert grid.ulx == 600000.0     # origin from the MGRS tile when the fragment has no geoposition


@pytest.mark.real
def test_real_complete_mtd(real_data):
    xml = next((real_data / V10 / "T38KPE").glob("*20170203*/*_MTD_ALL.xml"))
    mtd = read_mtd_all(xml)
    assert (mtd.platform, mtd.tile, mtd.product_level, mtd.orbit_number) == ("S2A", "T38KPE", "L2A", 8454)
    assert mtd.datetime == dt.datetime(2017, 2, 3, 7, 12, 45, 541000, tzinfo=UTC)
    assert mtd.crs.to_epsg() == 32738 and mtd.band_groups["R2"] == ("B5", "B6", "B7", "B8A", "B11", "B12")
    r1, r2 = mtd.geopositions["R1"], mtd.geopositions["R2"]
    assert (r1.ulx, r1.uly, r1.xdim, r1.nrows, r2.xdim, r2.ncols) == (600000, 8000020, 10, 10980, 20, 5490)
    assert (mtd.reflectance_quantification, mtd.aot_quantification, mtd.wvc_quantification) == (10000, 200, 20)
    assert (mtd.nodata, mtd.aot_nodata, mtd.cloud_percent, mtd.snow_percent) == (-10000, 0, 58, 0)
    assert mtd.angles.mean_sun == (27.0423, 89.882) and mtd.angles.mean_view["B12"] == (4.98209, 269.247)
    assert mtd.angles.sun.shape == (23, 23) and (mtd.angles.sun.ulx, mtd.angles.sun.uly) == (600000, 8000020)
    assert set(mtd.angles.view) == set(L2A_BANDS)


def test_mtd_malformed_and_unsafe():
    with pytest.raises(MetadataError):
        parse_mtd_all(b"<Muscate_Metadata_Document><Product_Characteristics>", "x.xml")
    with pytest.raises(MetadataError, match="ULX"):
        parse_mtd_all(b"<a><Group_Geopositioning group_id='R1'><ULY>1</ULY></Group_Geopositioning></a>", "x.xml")
    with pytest.raises(MetadataError):
        parse_mtd_all(b"<a><Sun_Angles_Grids><Zenith><Values_List><VALUES>1 x</VALUES></Values_List></Zenith>"
                      b"<Azimuth><Values_List><VALUES>1 2</VALUES></Values_List></Azimuth></Sun_Angles_Grids></a>")
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
              b"<Muscate_Metadata_Document><PRODUCT_ID>&b;</PRODUCT_ID></Muscate_Metadata_Document>")
    with pytest.raises(UnsafeXMLError):
        parse_mtd_all(laughs, "x.xml")
    external = (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b"<Muscate_Metadata_Document><PRODUCT_ID>&e;</PRODUCT_ID></Muscate_Metadata_Document>")
    with pytest.raises(UnsafeXMLError):
        parse_mtd_all(external, "x.xml")


# --- reader on real samples --------------------------------------------------------------------------------------
@pytest.mark.real
@pytest.mark.parametrize("product", V14_PRODUCTS)
def test_real_iota2_products(real_data, product):
    folder = real_data / V14 / product
    with pytest.warns(IncompleteProductWarning, match="MTD_ALL"):
        p = open_l2a(folder)
    tile, name = product.split("/")
    assert isinstance(p, TheiaL2A) and p.format == "theia" and p.product_id == name
    assert (p.platform, p.tile, p.crs.to_epsg(), p.bands) == ("S2A", tile, 32738, L2A_BANDS)
    stamp = name.split("_")[1]
    assert p.datetime == dt.datetime.strptime(stamp + "000", "%Y%m%d-%H%M%S-%f").replace(tzinfo=UTC)
    for band in ("B2", "B8", "B5", "B12"):
        with rasterio.open(next(folder.glob(f"*_FRE_{band}.tif"))) as ds:
            raw = ds.read(1)
            assert ds.dtypes[0] == "float32"    # the iota2 crops store float DN: read back as int16
            assert p.band_grid(band).same_as(Grid(ds.transform, ds.height, ds.width))
        full = p.read_band(band)
        assert full.dtype == np.int16 and full.shape == raw.shape
        np.testing.assert_array_equal(full, np.rint(raw).astype(np.int16))
        win = Window(2, 3, 7, 5)
        np.testing.assert_array_equal(p.read_band(band, win), full[3:8, 2:9])
    for res in ("R1", "R2"):
        masks = p.read_masks(res)
        assert set(masks) == {"cloud", "shadow", "snow", "water", "nodata", "saturated"}
        assert all(m.dtype == bool and m.shape == p.shape(res) and not m.any() for m in masks.values())
        part = p.read_masks(res, Window(1, 2, 6, 4))
        assert all((part[k] == masks[k][2:6, 1:7]).all() for k in masks)
    assert not p.has_aot and p.metadata is None
    with pytest.raises(MissingFileError):
        p.read_aot()


@pytest.mark.real
def test_real_folder_with_several_products_is_not_a_product(real_data):
    with pytest.raises(NotAProductError, match="2 products"):
        open_l2a(real_data / V14 / "T38KPD")
    with pytest.raises(NotAProductError):
        open_l2a(real_data / V14)


@pytest.mark.real
@pytest.mark.parametrize("product", sorted(V10_PRODUCTS))
def test_real_fre_stack_products(real_data, product):
    folder = real_data / V10 / product
    p = quiet_open(folder)
    assert (p.platform, p.tile, p.product_id) == ("S2A", product[:6], product.split("/")[1])
    assert p.cloud_percent == V10_PRODUCTS[product] and "B2" in p.angles.view
    with rasterio.open(next(folder.glob("*_FRE_STACK.tif"))) as ds:
        stack, nodata = ds.read(), ds.nodata
    b2 = p.read_band("B2")
    expected = stack[0].astype(np.int16) if nodata is None else np.where(stack[0] == nodata, -10000, stack[0])
    np.testing.assert_array_equal(b2, expected)
    np.testing.assert_array_equal(p.read_band("B2", Window(5, 9, 20, 11)), b2[9:20, 5:25])
    if stack.shape[0] == 1:
        assert p.bands == ("B2",)
        return
    assert p.bands == L2A_BANDS and p.angles.sun is not None
    # an R2 band of a 10 m stack is read at 20 m: mean of the valid 2 x 2 pixels
    b5 = stack[STACK_BANDS.index("B5")].astype(float)
    rows, cols = b5.shape[0] // 2, b5.shape[1] // 2
    blocks = b5[:rows * 2, :cols * 2].reshape(rows, 2, cols, 2)
    valid = blocks != nodata
    with np.errstate(invalid="ignore"):
        mean = np.where(valid.any(axis=(1, 3)), np.rint((blocks * valid).sum(axis=(1, 3)) / valid.sum(axis=(1, 3))),
                        -10000)
    assert p.shape("R2") == (rows, cols)
    np.testing.assert_array_equal(p.read_band("B5"), mean.astype(np.int16))


# --- reader on hand-made products --------------------------------------------------------------------------------
NAME = "SENTINEL2B_20200101-101010-123_L2A_T31TCJ_C_V2-2"


def test_float_reflectance_and_metadata_from_name(tmp_path):
    grids = small_grids(8, 10)
    rng = np.random.default_rng(5)
    refl = rng.uniform(-0.01, 0.6, grids["R1"].shape).astype(np.float32)
    refl[0, 0] = np.nan
    dn = rng.integers(0, 5000, grids["R2"].shape).astype(np.float32)
    folder = write_bare_product(tmp_path, NAME, grids, {"FRE_B2": refl, "FRE_B5": dn})
    with pytest.warns(IncompleteProductWarning) as record:
        p = open_l2a(folder)
    message = str(record[0].message)
    assert "MTD_ALL" in message and "CLM (no cloud)" in message
    assert (p.platform, p.tile, p.bands) == ("S2B", "T31TCJ", ("B2", "B5"))
    assert p.datetime == dt.datetime(2020, 1, 1, 10, 10, 10, 123000, tzinfo=UTC)
    b2 = p.read_band("B2")
    assert b2[0, 0] == -10000
    np.testing.assert_array_equal(b2.ravel()[1:], np.rint(refl.astype(np.float64) * 10000).ravel()[1:])
    np.testing.assert_array_equal(p.read_band("B5"), dn.astype(np.int16))
    masks = p.read_masks("R1")   # no CLM: clear; no EDG: nodata where B2 is
    assert not masks["cloud"].any() and masks["nodata"].sum() == 1 and masks["nodata"][0, 0]


def test_masks_resampled_between_resolutions(tmp_path):
    grids = small_grids(8, 12)
    rng = np.random.default_rng(2)
    r1 = grids["R1"].shape
    clm = (rng.random(r1) < 0.3).astype(np.uint8) * 6      # cloud bits 1 and 2
    mg2 = (rng.random(r1) < 0.5).astype(np.uint8)           # water
    folder = write_bare_product(tmp_path, NAME, grids, {
        "FRE_B2": rng.integers(1, 900, r1).astype(np.int16), "MASKS/CLM_R1": clm, "MASKS/MG2_R1": mg2,
        "MASKS/EDG_R1": np.zeros(r1, np.uint8)})
    p = quiet_open(folder)
    m2 = p.read_masks("R2")
    blocks = lambda a: a.reshape(r1[0] // 2, 2, r1[1] // 2, 2)  # noqa: E731
    np.testing.assert_array_equal(m2["cloud"], blocks(clm > 0).any(axis=(1, 3)))
    np.testing.assert_array_equal(m2["water"], blocks(mg2 > 0).sum(axis=(1, 3)) >= 2)
    np.testing.assert_array_equal(p.read_masks("R2", Window(2, 1, 3, 2))["cloud"], m2["cloud"][1:3, 2:5])

    clm2 = (rng.random(grids["R2"].shape) < 0.3).astype(np.uint8) * 32   # shadows at 20 m only
    other = write_bare_product(tmp_path / "b", NAME, grids, {"FRE_B2": np.ones(r1, np.int16),
                                                              "MASKS/CLM_R2": clm2})
    m1 = quiet_open(other).read_masks("R1")
    np.testing.assert_array_equal(m1["shadow"], np.repeat(np.repeat(clm2 > 0, 2, 0), 2, 1))
    assert not m1["cloud"].any()


def test_aot_and_edges(product_copy):
    folder, content = product_copy
    p = quiet_open(folder)
    assert p.has_aot and p.aot_quantification == 200
    for res in ("R1", "R2"):
        dn = content.atb[res][1].astype(float)
        expected = np.where((dn == 0) | content.truth[res]["nodata"], np.nan, dn / 200)
        aot = p.read_aot(res=res)
        assert aot.dtype == np.float32
        np.testing.assert_allclose(aot, expected, atol=1e-6)
        np.testing.assert_array_equal(p.read_aot(Window(3, 2, 5, 4), res=res), aot[2:6, 3:8])
    os.remove(next(folder.glob("*_ATB_R2.tif")))
    aot = quiet_open(folder).read_aot(res="R2")     # from ATB R1: mean of the valid 2 x 2 values
    dn = content.atb["R1"][1].astype(float).reshape(12, 2, 15, 2)
    valid = dn > 0
    with np.errstate(invalid="ignore"):
        mean = (dn * valid).sum(axis=(1, 3)) / valid.sum(axis=(1, 3)) / 200
    expected = np.where(content.truth["R2"]["nodata"], np.nan, mean)
    np.testing.assert_allclose(aot, expected, atol=1e-6)


# --- bad input ---------------------------------------------------------------------------------------------------
def test_missing_band_is_an_error_only_when_requested(product_copy):
    folder, _ = product_copy
    os.remove(next(folder.glob("*_FRE_B8.tif")))
    p = open_l2a(folder)
    assert "B8" not in p.bands and p.read_band("B4").shape == p.shape("R1")
    with pytest.raises(BandNotFoundError, match="B8"):
        p.read_band("B8")
    with pytest.raises(BandNotFoundError):
        p.read_band("B1")
    with pytest.raises(MissingFileError, match="SRE"):
        open_l2a(folder, reflectance="SRE")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_geotiff_fails_at_open(product_copy, damage):
    folder, _ = product_copy
    target = next(folder.glob("MASKS/*_MG2_R2.tif"))
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"II*\x00 not a tiff at all" * 10)
    with pytest.raises(CorruptRasterError, match="MG2_R2"):
        open_l2a(folder)


def test_raster_on_wrong_grid(product_copy):
    folder, content = product_copy
    target = next(folder.glob("*_FRE_B3.tif"))
    t = content.meta.grids["R1"].transform
    write_geotiff(target, content.bands["B3"], Affine(t.a, 0, t.c + 10, 0, t.e, t.f), nodata=-10000)
    with pytest.raises(GridMismatchError, match="FRE_B3"):
        open_l2a(folder)
    write_geotiff(target, content.bands["B3"][:-1], t, nodata=-10000)
    with pytest.raises(GridMismatchError, match="FRE_B3"):
        open_l2a(folder)


def test_rasters_off_the_declared_geoposition(product_copy):
    folder, _ = product_copy
    mtd = next(folder.glob("*_MTD_ALL.xml"))
    mtd.write_text(mtd.read_text().replace("<ULX>300000</ULX>", "<ULX>300005</ULX>", 1))
    with pytest.raises(GridMismatchError, match="geoposition"):
        open_l2a(folder)


@pytest.mark.parametrize("text, error", [
    ("<Muscate_Metadata_Document><Product_Characteristics><PRODUCT_ID>x", MetadataError),
    ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "a"><!ENTITY b "&a;&a;&a;&a;">]><M>&b;</M>', UnsafeXMLError),
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><M>&e;</M>', UnsafeXMLError),
])
def test_bad_mtd_all(product_copy, text, error):
    folder, _ = product_copy
    next(folder.glob("*_MTD_ALL.xml")).write_text(text)
    with pytest.raises(error, match="MTD_ALL"):
        open_l2a(folder)


def test_zip_with_escaping_entry(product_copy, tmp_path):
    folder, _ = product_copy
    archive = tmp_path / f"{folder.name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(folder.rglob("*")):
            zf.write(f, f"{folder.name}/{f.relative_to(folder)}")
        zf.writestr("../evil", b"x")
    with pytest.raises(UnsafeArchiveError, match="evil"):
        open_l2a(archive)


def test_stack_and_band_files_checked_together(tmp_path):
    grids = small_grids(6, 8)
    stack = np.arange(10 * 6 * 8, dtype=np.int16).reshape(10, 6, 8) + 1
    folder = write_bare_product(tmp_path, NAME, grids, {"FRE_STACK": stack, "FRE_B4": np.full((6, 8), 7, np.int16)})
    p = quiet_open(folder)
    assert p.bands == L2A_BANDS
    assert (p.read_band("B4") == 7).all()                             # a band file wins over the stack
    np.testing.assert_array_equal(p.read_band("B8"), stack[STACK_BANDS.index("B8")])
    write_geotiff(next(folder.glob("*_FRE_STACK.tif")), stack[:, :5], grids["R1"].transform)
    with pytest.raises(GridMismatchError, match="STACK"):
        open_l2a(folder)


def test_r2_rasters_must_be_twice_as_coarse(tmp_path):
    grids = small_grids(6, 8)
    grids["R2"] = grids["R1"]         # a "20 m" mask written on the 10 m grid
    folder = write_bare_product(tmp_path, NAME, grids, {"FRE_B2": np.ones((6, 8), np.int16),
                                                        "MASKS/CLM_R2": np.zeros((6, 8), np.uint8)})
    with pytest.raises(GridMismatchError, match="CLM_R2"):
        open_l2a(folder)
