"""Sen2Cor L2A SAFE reader: products written from real openEO cubes (and from a small synthetic cube) read back
exactly; offsets decided by the offset list only; masks from SCL; zip archives; bad and hostile input."""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import (  # noqa: E402
    CUBES_DIR,
    L1C_DIR,
    Cube,
    load_cube,
    write_sen2cor_like,
    zip_product,
)

from l2a import open_l1c, open_l2a  # noqa: E402
from l2a.errors import (  # noqa: E402
    BandNotFoundError,
    CorruptRasterError,
    GridMismatchError,
    MetadataError,
    MissingFileError,
    NotAProductError,
    UnsafeXMLError,
)
from l2a.formats.safe.sen2cor import Sen2CorL2A, dn_to_reflectance, scl_to_masks  # noqa: E402
from l2a.sensors import L2A_BANDS, R1_BANDS  # noqa: E402

UTC = dt.timezone.utc
needs_cubes = pytest.mark.skipif(not CUBES_DIR.is_dir(), reason=f"real cubes not found in {CUBES_DIR}")
needs_l1c = pytest.mark.skipif(not L1C_DIR.is_dir(), reason=f"real L1C products not found in {L1C_DIR}")


# --- expectations computed independently of the reader --------------------------------------------------------
def expected_reflectance(cube_dn: np.ndarray, res: str) -> np.ndarray:
    """int16 reflectance x 10000 the reader must return for a cube band at R1 (10 m) or R2 (20 m)."""
    dn = cube_dn if res == "R1" else cube_dn[::2, ::2]
    return np.where(dn == 0, -10000, dn).astype(np.int16)


def expected_masks(scl10: np.ndarray, res: str) -> dict[str, np.ndarray]:
    """Masks from the 20 m SCL the writer made (``scl10[::2, ::2]``), repeated 2 x 2 at R1."""
    scl = scl10[::2, ::2]
    if res == "R1":
        scl = np.repeat(np.repeat(scl, 2, axis=0), 2, axis=1)[:scl10.shape[0], :scl10.shape[1]]
    return {"nodata": scl == 0, "saturated": scl == 1, "shadow": scl == 3, "cloud": (scl >= 8) & (scl <= 10),
            "water": scl == 6, "snow": scl == 11}


def res_of(band: str) -> str:
    return "R1" if band in R1_BANDS else "R2"


def check_product(product, cube: Cube, index: int) -> None:
    """Every band, mask plane and AOT of a product written from ``cube`` date ``index``."""
    assert isinstance(product, Sen2CorL2A) and product.format == "sen2cor"
    assert product.crs == cube.crs
    assert product.grid("R1").shape == cube.shape
    assert product.grid("R1").transform == cube.transform
    assert product.bands == tuple(b for b in L2A_BANDS if b in cube.bands)
    for band in product.bands:
        np.testing.assert_array_equal(product.read_band(band), expected_reflectance(cube.bands[band][index],
                                                                                      res_of(band)), err_msg=band)
    for res in ("R1", "R2"):
        masks = product.read_masks(res)
        for name, plane in expected_masks(cube.scl[index], res).items():
            assert masks[name].dtype == bool
            np.testing.assert_array_equal(masks[name], plane, err_msg=f"{res} {name}")


# --- a small synthetic cube (odd sizes, every SCL class, all ten bands) ---------------------------------------
@pytest.fixture(scope="module")
def small_cube() -> Cube:
    rng = np.random.default_rng(42)
    shape = (1, 13, 11)
    bands = {b: rng.integers(1, 12000, shape).astype(np.uint16) for b in L2A_BANDS}
    bands["B4"][0, 0, :3] = 0
    bands["B11"][0, 2, 2] = 0
    scl = rng.integers(0, 12, shape).astype(np.uint8)
    aot = rng.integers(0, 400, shape).astype(np.uint16)
    return Cube("small", (dt.datetime(2024, 3, 5, tzinfo=UTC),), bands, scl, CRS.from_epsg(32631),
                Affine(10.0, 0.0, 600000.0, 0.0, -10.0, 5000020.0), aot)


@pytest.fixture
def small_safe(small_cube, tmp_path) -> Path:
    return write_sen2cor_like(small_cube, 0, tmp_path / "out")


def member(safe: Path, pattern: str) -> Path:
    found = sorted(safe.glob(pattern))
    assert len(found) == 1, (pattern, found)
    return found[0]


def set_offset(safe: Path, band_id: int, value: int) -> None:
    mtd = safe / "MTD_MSIL2A.xml"
    text, n = re.subn(rf'(<BOA_ADD_OFFSET band_id="{band_id}">)-?\d+(</BOA_ADD_OFFSET>)', rf"\g<1>{value}\2",
                      mtd.read_text(encoding="utf-8"))
    assert n == 1
    mtd.write_text(text, encoding="utf-8")


def test_small_product_reads_back_exactly(small_safe, small_cube):
    product = open_l2a(small_safe)
    check_product(product, small_cube, 0)
    assert product.bands == L2A_BANDS
    assert product.grid("R2").shape == (7, 6)
    assert product.platform == "S2B" and product.tile == "T31TFL"
    assert product.datetime == dt.datetime(2024, 3, 5, 10, 56, 29, 24000, tzinfo=UTC)
    assert product.boa_add_offset == {b: -1000.0 for b in L2A_BANDS}
    assert product.reflectance_quantification == 10000.0 and product.aot_quantification == 1000.0
    assert product.product_id == small_safe.name.removesuffix(".SAFE")
    assert product.read_band("B4")[0, :3].tolist() == [-10000] * 3


def test_stored_dn_carry_the_offset(small_safe, small_cube):
    with rasterio.open(member(small_safe, "GRANULE/*/IMG_DATA/R10m/*_B02_10m.jp2")) as ds:
        np.testing.assert_array_equal(ds.read(1), small_cube.bands["B2"][0].astype(np.int32) + 1000)


@pytest.mark.parametrize("res, window", [
    ("R1", Window(3, 5, 7, 6)), ("R1", Window(0, 0, 1, 1)), ("R1", Window(4, 8, 7, 5)), ("R1", Window(1, 1, 10, 12)),
    ("R2", Window(1, 2, 4, 5)), ("R2", Window(5, 6, 1, 1)),
])
def test_windows_equal_slices(small_safe, res, window):
    product = open_l2a(small_safe)
    rows, cols = window.toslices()
    full_masks = product.read_masks(res)
    for name, plane in product.read_masks(res, window).items():
        np.testing.assert_array_equal(plane, full_masks[name][rows, cols], err_msg=name)
    for band in (b for b in product.bands if res_of(b) == res):
        np.testing.assert_array_equal(product.read_band(band, window), product.read_band(band)[rows, cols])
    np.testing.assert_array_equal(product.read_aot(window, res=res), product.read_aot(res=res)[rows, cols])


def test_raw_sources_convert_to_the_reads(small_safe, small_cube):
    product = open_l2a(small_safe)
    assert product.mask_kinds == ("SCL",)
    for band in product.bands:
        src = product.band_source(band)
        assert (src.index, src.res, src.quantification, src.add_offset, src.nodata) == \
            (1, res_of(band), 10000.0, -1000.0, 0.0)
        with rasterio.open(src.path) as ds:
            dn = ds.read(src.index).astype(np.float64)
        expected = np.where(dn == src.nodata, -10000, np.rint((dn + src.add_offset) / src.quantification * 10000))
        np.testing.assert_array_equal(product.read_band(band), expected.astype(np.int16))
    for res in ("R1", "R2"):
        scl = product.mask_source("SCL", res)
        assert (scl.res, scl.index) == ("R2", 1) and scl.path.endswith("_SCL_20m.jp2")
        aot = product.aot_source(res)
        assert (aot.res, aot.quantification, aot.nodata) == (res, 1000.0, 0.0)
        assert aot.path.endswith("_AOT_10m.jp2" if res == "R1" else "_AOT_20m.jp2")
    with rasterio.open(product.mask_source("SCL", "R1").path) as ds:
        np.testing.assert_array_equal(ds.read(1), small_cube.scl[0][::2, ::2])
    assert product.mask_source("CLM", "R1") is None


def test_aot_scaled_and_nan_where_unknown(small_safe, small_cube):
    product = open_l2a(small_safe)
    assert product.has_aot
    aot10, scl20 = small_cube.aot[0], small_cube.scl[0][::2, ::2]
    scl_r1 = np.repeat(np.repeat(scl20, 2, axis=0), 2, axis=1)[:13, :11]
    for res, raw, scl in (("R1", aot10, scl_r1), ("R2", aot10[::2, ::2], scl20)):
        got = product.read_aot(res=res)
        assert got.dtype == np.float32
        unknown = (raw == 0) | (scl == 0)
        assert np.isnan(got[unknown]).all()
        np.testing.assert_allclose(got[~unknown], raw[~unknown] / np.float32(1000), rtol=1e-6)


@pytest.mark.parametrize("missing", ["AOT_20m", "AOT_10m"])
def test_aot_from_the_other_resolution(small_safe, small_cube, missing):
    member(small_safe, f"GRANULE/*/IMG_DATA/R*m/*_{missing}.jp2").unlink()
    product = open_l2a(small_safe)
    aot20 = small_cube.aot[0][::2, ::2]
    scl20 = small_cube.scl[0][::2, ::2]
    r2 = product.read_aot(res="R2")
    unknown = (aot20 == 0) | (scl20 == 0)
    np.testing.assert_array_equal(np.isnan(r2), unknown)
    np.testing.assert_allclose(r2[~unknown], aot20[~unknown] / np.float32(1000), rtol=1e-6)
    if missing == "AOT_10m":   # upsampled 2 x 2 from 20 m
        up = np.repeat(np.repeat(r2, 2, axis=0), 2, axis=1)[:13, :11]
        np.testing.assert_array_equal(product.read_aot(res="R1"), up)
        np.testing.assert_array_equal(product.read_aot(Window(3, 5, 7, 6)), up[5:11, 3:10])


def test_every_raster_present_is_checked(small_safe, small_cube):
    path = member(small_safe, "GRANULE/*/IMG_DATA/R20m/*_B02_20m.jp2")   # not used: B2 is read at 10 m
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptRasterError, match=path.name):
        open_l2a(small_safe)


def test_no_offset_list_means_no_offset_whatever_the_baseline(small_cube, tmp_path):
    product = open_l2a(write_sen2cor_like(small_cube, 0, tmp_path, baseline="05.10", offset=None))
    assert product.metadata.offsets is None
    assert product.boa_add_offset == {b: 0.0 for b in L2A_BANDS}
    check_product(product, small_cube, 0)


def test_offset_list_applies_whatever_the_baseline(small_cube, tmp_path):
    product = open_l2a(write_sen2cor_like(small_cube, 0, tmp_path, baseline="02.14", offset=-1000))
    assert product.processing_baseline == "02.14"
    check_product(product, small_cube, 0)


def test_offsets_are_read_per_band_with_b8a_at_id_8(small_safe, small_cube):
    set_offset(small_safe, 7, -2000)   # B8
    set_offset(small_safe, 8, -500)    # B8A
    product = open_l2a(small_safe)
    assert product.boa_add_offset["B8"] == -2000 and product.boa_add_offset["B8A"] == -500
    b8, b8a = small_cube.bands["B8"][0], small_cube.bands["B8A"][0][::2, ::2]
    np.testing.assert_array_equal(product.read_band("B8"), b8.astype(np.int16) - 1000)
    np.testing.assert_array_equal(product.read_band("B8A"), b8a.astype(np.int16) + 500)
    np.testing.assert_array_equal(product.read_band("B7"), expected_reflectance(small_cube.bands["B7"][0], "R2"))


def test_offset_list_without_a_band_is_an_error(small_safe):
    mtd = small_safe / "MTD_MSIL2A.xml"
    mtd.write_text(re.sub(r'\s*<BOA_ADD_OFFSET band_id="3">-1000</BOA_ADD_OFFSET>', "", mtd.read_text("utf-8")),
                   encoding="utf-8")
    with pytest.raises(MetadataError, match="no entry for band B4"):
        open_l2a(small_safe)


def test_dn_to_reflectance_scales_rounds_and_clips():
    dn = np.array([[0, 1, 1000, 1005, 65535]], dtype=np.uint16)
    np.testing.assert_array_equal(dn_to_reflectance(dn, -1000, 10000), [[-10000, -999, 0, 5, 32767]])
    np.testing.assert_array_equal(dn_to_reflectance(dn, 0, 20000), [[-10000, 0, 500, 502, 32767]])
    assert dn_to_reflectance(dn, -1000.0, 10000).dtype == np.int16


def test_scl_classes_map_to_masks():
    masks = scl_to_masks(np.arange(12, dtype=np.uint8)[None, :])
    as_lists = {k: np.flatnonzero(v[0]).tolist() for k, v in masks.items()}
    assert as_lists == {"cloud": [8, 9, 10], "shadow": [3], "snow": [11], "water": [6], "nodata": [0],
                        "saturated": [1]}


def test_angles_from_mtd_tl(small_safe):
    angles = open_l2a(small_safe).angles
    assert angles.sun.shape == (23, 23) and angles.sun.is_complete
    assert 40 < angles.mean_sun[0] < 60
    assert set(angles.view) == {"B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"}
    assert all(grid.is_complete for grid in angles.view.values())  # two detectors cover every column


def test_zip_archive_reads_like_the_folder(small_safe, small_cube):
    product = open_l2a(zip_product(small_safe))
    assert product.path.suffix == ".zip"
    assert product.product_id == small_safe.name.removesuffix(".SAFE")
    check_product(product, small_cube, 0)
    win = Window(2, 3, 5, 4)
    np.testing.assert_array_equal(product.read_aot(win), open_l2a(small_safe).read_aot(win))


def test_folder_holding_the_safe(small_safe, small_cube):
    check_product(open_l2a(small_safe.parent), small_cube, 0)


def test_old_file_naming(small_safe, small_cube):
    for path in small_safe.glob("GRANULE/*/IMG_DATA/R*m/*.jp2"):
        path.rename(path.with_name("L2A_" + path.name))
    check_product(open_l2a(small_safe), small_cube, 0)


def test_band_subset_and_missing_band(small_safe):
    member(small_safe, "GRANULE/*/IMG_DATA/R10m/*_B03_10m.jp2").unlink()   # B03_20m stays, and is ignored
    member(small_safe, "GRANULE/*/IMG_DATA/R20m/*_B12_20m.jp2").unlink()
    product = open_l2a(small_safe)
    assert product.bands == ("B2", "B4", "B8", "B5", "B6", "B7", "B8A", "B11")
    for band in ("B3", "B12", "B1", "B02A"):
        with pytest.raises(BandNotFoundError):
            product.read_band(band)


def test_band_file_removed_after_open(small_safe):
    product = open_l2a(small_safe)
    path = member(small_safe, "GRANULE/*/IMG_DATA/R10m/*_B04_10m.jp2")
    path.unlink()
    with pytest.raises(MissingFileError, match=path.name):
        product.read_band("B4")


def test_missing_scl_reads_clear(small_safe, caplog):
    member(small_safe, "GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2").unlink()
    with caplog.at_level(logging.WARNING, logger="l2a"):
        product = open_l2a(small_safe)
    assert "no SCL_20m" in caplog.text
    assert not any(plane.any() for plane in product.read_masks("R1").values())


def test_missing_mtd_tl_uses_rasters_and_product_time(small_safe, small_cube, caplog):
    member(small_safe, "GRANULE/*/MTD_TL.xml").unlink()
    with caplog.at_level(logging.WARNING, logger="l2a"):
        product = open_l2a(small_safe)
    assert "no MTD_TL.xml" in caplog.text
    assert product.angles.is_empty
    assert product.datetime == dt.datetime(2024, 3, 5, 10, 48, 19, 24000, tzinfo=UTC)  # PRODUCT_START_TIME
    check_product(product, small_cube, 0)


def test_truncated_jp2_is_a_corrupt_raster(small_safe):
    path = member(small_safe, "GRANULE/*/IMG_DATA/R10m/*_B03_10m.jp2")
    data = path.read_bytes()
    path.write_bytes(data[:300])
    with pytest.raises(CorruptRasterError, match=path.name):
        open_l2a(small_safe)
    path.write_bytes(data[:-20])   # headers intact: opens, fails to decode
    product = open_l2a(small_safe)
    with pytest.raises(CorruptRasterError, match=path.name):
        product.read_band("B3")


def test_raster_off_its_grid(small_safe, small_cube):
    path = member(small_safe, "GRANULE/*/IMG_DATA/R10m/*_B02_10m.jp2")
    shifted = small_cube.transform @ Affine.translation(1, 0)
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=11, height=13, count=1, dtype="uint16",
                       crs=small_cube.crs, transform=shifted, QUALITY="100", REVERSIBLE="YES") as dst:
        dst.write(small_cube.bands["B2"][0], 1)
    with pytest.raises(GridMismatchError, match=path.name):
        open_l2a(small_safe)


def test_scl_at_the_wrong_resolution(small_safe, small_cube):
    path = member(small_safe, "GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2")
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=11, height=13, count=1, dtype="uint8",
                       crs=small_cube.crs, transform=small_cube.transform, QUALITY="100", REVERSIBLE="YES") as dst:
        dst.write(small_cube.scl[0], 1)
    with pytest.raises(GridMismatchError, match="SCL_20m"):
        open_l2a(small_safe)


@pytest.mark.parametrize("edit, message", [
    (lambda t: t[: len(t) // 2], "malformed XML"),
    (lambda t: t.replace('<BOA_QUANTIFICATION_VALUE unit="none">10000<', '<BOA_QUANTIFICATION_VALUE>ten<'),
     "not a number"),
    (lambda t: re.sub(r"<QUANTIFICATION_VALUES_LIST>.*?</QUANTIFICATION_VALUES_LIST>", "", t, flags=re.S),
     "BOA_QUANTIFICATION_VALUE"),
    (lambda t: t.replace('band_id="5"', 'band_id="13"'), "band id 13"),
    (lambda t: t.replace("Level-2A_User_Product", "Level-1C_User_Product"), "expected <Level-2A_User_Product>"),
])
def test_malformed_product_metadata(small_safe, edit, message):
    mtd = small_safe / "MTD_MSIL2A.xml"
    mtd.write_text(edit(mtd.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(MetadataError, match=message):
        open_l2a(small_safe)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Level-2A_User_Product><PRODUCT_URI>&lol3;</PRODUCT_URI></Level-2A_User_Product>
"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE tile [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Level-2A_Tile_ID><TILE_ID>&xxe;</TILE_ID></Level-2A_Tile_ID>
"""


@pytest.mark.parametrize("pattern, text", [("MTD_MSIL2A.xml", BILLION_LAUGHS),
                                           ("GRANULE/*/MTD_TL.xml", EXTERNAL_ENTITY)])
@pytest.mark.parametrize("as_zip", [False, True])
def test_hostile_xml_is_refused(small_safe, pattern, text, as_zip):
    member(small_safe, pattern).write_text(text, encoding="utf-8")
    with pytest.raises(UnsafeXMLError):
        open_l2a(zip_product(small_safe) if as_zip else small_safe)


def test_open_l1c_on_an_l2a_product(small_safe):
    with pytest.raises(NotAProductError):
        open_l1c(small_safe)


# --- real cubes -----------------------------------------------------------------------------------------------
# (cube, date index): mixed clear/cloud/water/cirrus dates, a clear date with dark pixels, cloud shadows, and a date
# with no data at all.
REAL_DATES = [("test_optical_cube", 1), ("test_optical_cube", 4), ("cdse_sentinel2_l2a", 4),
              ("cdse_sentinel2_l2a", 5), ("bap_quintad_cdse", 19), ("bap_quintad_cdse", 7)]


@pytest.fixture(scope="module")
def real_cubes():
    return {name: load_cube(name) for name in {n for n, _ in REAL_DATES}}


@pytest.mark.real
@needs_cubes
@pytest.mark.parametrize("name, index", REAL_DATES)
def test_real_cube_reads_back_exactly(real_cubes, name, index, tmp_path):
    cube = real_cubes[name]
    product = open_l2a(write_sen2cor_like(cube, index, tmp_path))
    check_product(product, cube, index)
    assert product.datetime.date() == cube.times[index].date()
    assert product.platform == "S2B" and product.tile.startswith("T31U")
    for band in product.bands:
        win = Window(5, 7, 21, 9) if res_of(band) == "R1" else Window(3, 4, 11, 9)
        rows, cols = win.toslices()
        np.testing.assert_array_equal(product.read_band(band, win),
                                      expected_reflectance(cube.bands[band][index], res_of(band))[rows, cols])
    win = Window(5, 7, 21, 9)
    rows, cols = win.toslices()
    expected = expected_masks(cube.scl[index], "R1")
    for name, plane in product.read_masks("R1", win).items():
        np.testing.assert_array_equal(plane, expected[name][rows, cols], err_msg=name)


@pytest.mark.real
@needs_cubes
def test_real_cube_contents(real_cubes):
    cube = real_cubes["cdse_sentinel2_l2a"]
    assert len(cube.times) == 12 and cube.shape == (66, 64) and set(cube.bands) == {"B1", "B4", "B8", "B11"}
    assert cube.times[0] == dt.datetime(2023, 4, 2, tzinfo=UTC) and cube.aot is not None
    empty = real_cubes["bap_quintad_cdse"]
    assert (empty.scl[7] == 0).all() and all((b[7] == 0).all() for b in empty.bands.values())


@pytest.mark.real
@needs_cubes
def test_real_aot(real_cubes, tmp_path):
    cube = real_cubes["cdse_sentinel2_l2a"]
    product = open_l2a(write_sen2cor_like(cube, 5, tmp_path))
    aot = product.read_aot()
    np.testing.assert_allclose(aot, cube.aot[5] / np.float32(1000), rtol=1e-6)
    assert 0.01 < np.nanmean(aot) < 1.0


@pytest.mark.real
@needs_cubes
def test_real_cube_without_offset_list(real_cubes, tmp_path):
    cube = real_cubes["test_optical_cube"]
    check_product(open_l2a(write_sen2cor_like(cube, 4, tmp_path, baseline="05.10", offset=None)), cube, 4)


@pytest.mark.real
@needs_cubes
def test_real_cube_as_zip(real_cubes, tmp_path):
    cube = real_cubes["bap_quintad_cdse"]
    check_product(open_l2a(zip_product(write_sen2cor_like(cube, 19, tmp_path))), cube, 19)


@pytest.mark.real
@needs_l1c
def test_open_l2a_on_a_real_l1c_product():
    for safe in sorted(L1C_DIR.glob("*.SAFE")):
        with pytest.raises(NotAProductError, match="Level-1C"):
            open_l2a(safe)


def test_product_pickles(small_safe, small_cube):
    """Batch runs ship products to worker processes."""
    product = pickle.loads(pickle.dumps(open_l2a(zip_product(small_safe))))
    check_product(product, small_cube, 0)
