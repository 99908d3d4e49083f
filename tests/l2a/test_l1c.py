"""L1C SAFE reader on the two real ALCD products (T31TCJ, 2024-01-20 S2A and 2024-03-05 S2B, baseline 05.10, 30 x 30 px
crops of the tile) and on edited copies of them; grid tolerance for crops; bad and hostile input."""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import L1C_DIR, Cube, write_sen2cor_like, zip_product  # noqa: E402

from l2a import open_l1c  # noqa: E402
from l2a.angles import Angles, parse_values_list  # noqa: E402
from l2a.errors import (  # noqa: E402
    BandNotFoundError,
    CorruptRasterError,
    GridMismatchError,
    MetadataError,
    MissingFileError,
    NotAProductError,
    UnsafeXMLError,
)
from l2a.formats.safe.files import RasterInfo  # noqa: E402
from l2a.formats.safe.grids import resolve_grids  # noqa: E402
from l2a.formats.safe.metadata import TileMetadata, parse_utc  # noqa: E402
from l2a.formats.safe.l1c import L1C_BANDS, L1CProduct, dn_to_toa  # noqa: E402
from l2a.grid import Grid  # noqa: E402
from l2a.io.xmldoc import parse_xml  # noqa: E402

UTC = dt.timezone.utc
S2A_NAME = "S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"
S2B_NAME = "S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE"
# What the real metadata says (MTD_MSIL1C.xml, MTD_TL.xml of each product).
REAL = {
    S2A_NAME: dict(platform="S2A", sensing=dt.datetime(2024, 1, 20, 10, 58, 50, 500329, tzinfo=UTC),
                   u=1.03349009800943, irradiance_b1_b8a=(1884.69, 955.32),
                   mean_sun=(65.7554034542734, 162.689190122297), sun_at_crop=(65.6, 66.0)),
    S2B_NAME: dict(platform="S2B", sensing=dt.datetime(2024, 3, 5, 10, 58, 54, 168722, tzinfo=UTC),
                   u=1.01857391425764, irradiance_b1_b8a=(1874.3, 953.93),
                   mean_sun=(51.816936554549, 158.39725727483), sun_at_crop=(51.8, 51.95)),
}
CROP = Grid(Affine(10.0, 0.0, 350000.0, 0.0, -10.0, 4850020.0), 30, 30)

real = pytest.mark.real
needs_l1c = pytest.mark.skipif(not L1C_DIR.is_dir(), reason=f"real L1C products not found in {L1C_DIR}")


def copy_product(name: str, dest: Path) -> Path:
    """Writable copy of the files the reader uses (the originals are read-only)."""
    src = L1C_DIR / name
    out = dest / name
    for path in [src / "MTD_MSIL1C.xml", *src.glob("GRANULE/*/MTD_TL.xml"), *src.glob("GRANULE/*/IMG_DATA/*")]:
        target = out / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return out


def band_file(safe: Path, esa: str) -> Path:
    (path,) = safe.glob(f"GRANULE/*/IMG_DATA/*_{esa}.jp2")
    return path


def write_jp2(path: Path, array: np.ndarray, transform: Affine, crs="EPSG:32631") -> None:
    for aux in path.parent.glob(path.name + ".aux.xml"):
        aux.unlink()
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype.name, crs=crs, transform=transform, QUALITY="100", REVERSIBLE="YES") as dst:
        dst.write(array, 1)


@pytest.fixture(params=[S2A_NAME, S2B_NAME])
def real_product(request):
    if not L1C_DIR.is_dir():
        pytest.skip(f"real L1C products not found in {L1C_DIR}")
    return request.param, open_l1c(L1C_DIR / request.param)


@pytest.fixture
def s2b_copy(tmp_path):
    if not L1C_DIR.is_dir():
        pytest.skip(f"real L1C products not found in {L1C_DIR}")
    return copy_product(S2B_NAME, tmp_path)


# --- real products as they are --------------------------------------------------------------------------------
@real
def test_real_metadata(real_product):
    name, product = real_product
    expected = REAL[name]
    assert isinstance(product, L1CProduct) and product.format == "l1c"
    assert product.platform == expected["platform"] and product.tile == "T31TCJ"
    assert product.datetime == expected["sensing"]
    assert product.crs == CRS.from_epsg(32631)
    assert product.processing_baseline == "05.10"
    assert product.quantification == 10000.0
    assert product.bands == L1C_BANDS
    assert product.radio_add_offset == {b: -1000.0 for b in L1C_BANDS}
    assert product.U == pytest.approx(expected["u"], rel=1e-12)
    assert (product.solar_irradiance["B1"], product.solar_irradiance["B8A"]) == expected["irradiance_b1_b8a"]
    assert len(product.solar_irradiance) == 13
    assert product.nodata_dn == 0 and product.saturated_dn == 65535
    assert product.product_id == name.removesuffix(".SAFE")


@real
def test_real_crops_use_the_rasters_grid(real_product):
    name, product = real_product
    assert product.declared_grids[10].shape == (10980, 10980)
    assert product.declared_grids[60] == Grid(Affine(60.0, 0.0, 300000.0, 0.0, -60.0, 4900020.0), 1830, 1830)
    for band in L1C_BANDS:   # every band was resampled to 10 m in the crops
        assert product.band_grid(band).same_as(CROP), band


@real
@needs_l1c
def test_real_crop_warning_is_logged(caplog):
    with caplog.at_level(logging.WARNING, logger="l2a"):
        open_l1c(L1C_DIR / S2B_NAME)
    assert "crop of the tile" in caplog.text and "30 x 30 px of 10 m at (350000, 4850020)" in caplog.text


@real
def test_real_toa_offset_applied_and_plausible(real_product):
    name, product = real_product
    for band in product.bands:
        dn = product.read_dn(band)
        toa, saturated = product.read_toa(band, return_saturated=True)
        assert dn.dtype == np.uint16 and toa.dtype == np.float32 and toa.shape == (30, 30)
        np.testing.assert_array_equal(toa, ((dn.astype(np.float64) - 1000) / 10000).astype(np.float32))
        assert np.isfinite(toa).all() and not saturated.any()
        assert 0.0 < toa.min() and toa.max() < 1.0, band
    blue = product.read_toa("B2")
    if name == S2B_NAME:   # the ALCD reference: clouds over the crop (bright in the blue, cirrus visible in B10)
        assert blue.mean() > 0.4 and product.read_toa("B10").mean() > 0.03
    else:
        assert 0.05 < blue.mean() < 0.2


@real
def test_real_int16_storage_reads_as_uint16(real_product):
    name, product = real_product
    with rasterio.open(band_file(L1C_DIR / name, "B04")) as ds:
        stored = ds.read(1)
    assert stored.dtype == (np.int16 if name == S2B_NAME else np.uint16)
    np.testing.assert_array_equal(product.read_dn("B04"), stored.astype(np.uint16))


@real
def test_real_windows_equal_slices(real_product):
    _, product = real_product
    win = Window(7, 3, 11, 20)
    rows, cols = win.toslices()
    for band in ("B2", "B8A", "B10"):
        np.testing.assert_array_equal(product.read_toa(band, win), product.read_toa(band)[rows, cols])


@real
def test_real_sun_angles(real_product):
    name, product = real_product
    expected = REAL[name]
    sun = product.angles.sun
    assert sun.shape == (23, 23) and sun.is_complete
    assert (sun.col_step, sun.row_step, sun.ulx, sun.uly) == (5000.0, 5000.0, 300000.0, 4900020.0)
    assert product.angles.mean_sun == pytest.approx(expected["mean_sun"])
    zenith, azimuth = product.angles.sun_on(CROP.transform, CROP.shape)
    low, high = expected["sun_at_crop"]
    assert low < float(zenith.min()) and float(zenith.max()) < high
    if name == S2B_NAME:
        assert sun.zenith[0, 0] == 52.4595 and sun.zenith[22, 22] < sun.zenith[0, 0]


@real
def test_real_view_angles_merged_over_the_swath(real_product):
    name, product = real_product
    view = product.angles.view
    assert set(view) == set(L1C_BANDS)
    root = parse_xml(next((L1C_DIR / name).glob("GRANULE/*/MTD_TL.xml")))
    for band_id, band in enumerate(L1C_BANDS):
        detectors = [parse_values_list([v.text for v in g.findall("Zenith/Values_List/VALUES")])
                     for g in root.iter("Viewing_Incidence_Angles_Grids") if g.get("bandId") == str(band_id)]
        assert len(detectors) > 1 and all(np.isnan(d).any() for d in detectors)   # each detector: NaN outside
        covered = np.any([np.isfinite(d) for d in detectors], axis=0)
        grid = view[band]
        assert grid.shape == (23, 23)
        np.testing.assert_array_equal(np.isfinite(grid.zenith), covered)        # NaN only outside the swath
        assert covered.all()   # T31TCJ lies inside the swath of relative orbit 51
        assert 0.0 <= np.nanmin(grid.zenith) and np.nanmax(grid.zenith) < 12.0
        zenith, azimuth = product.angles.view_on(band, CROP.transform, CROP.shape)
        assert np.isfinite(zenith).all() and np.isfinite(azimuth).all()
        assert product.angles.mean_view_of(band)[0] < 12.0


@real
def test_real_product_pickles(real_product):
    name, product = real_product
    clone = pickle.loads(pickle.dumps(product))
    assert clone.datetime == product.datetime and clone.angles.sun.shape == (23, 23)
    np.testing.assert_array_equal(clone.read_toa("B12"), product.read_toa("B12"))


@real
@needs_l1c
def test_real_product_as_zip(tmp_path):
    archive = zip_product(copy_product(S2B_NAME, tmp_path), tmp_path / "l1c.zip")
    product = open_l1c(archive)
    reference = open_l1c(L1C_DIR / S2B_NAME)
    assert product.datetime == reference.datetime and product.grids == reference.grids
    np.testing.assert_array_equal(product.read_toa("B8A"), reference.read_toa("B8A"))


# --- edited copies of the real S2B product --------------------------------------------------------------------
@real
def test_no_offset_list_means_no_offset(s2b_copy):
    mtd = s2b_copy / "MTD_MSIL1C.xml"
    mtd.write_text(re.sub(r"<Radiometric_Offset_List>.*?</Radiometric_Offset_List>", "", mtd.read_text("utf-8"),
                          flags=re.S), encoding="utf-8")
    product = open_l1c(s2b_copy)
    assert product.metadata.offsets is None and product.radio_add_offset == {b: 0.0 for b in L1C_BANDS}
    dn = product.read_dn("B3")
    np.testing.assert_array_equal(product.read_toa("B3"), (dn / 10000).astype(np.float32))


@real
def test_offsets_per_band_with_b8a_at_id_8(s2b_copy):
    mtd = s2b_copy / "MTD_MSIL1C.xml"
    mtd.write_text(mtd.read_text("utf-8").replace('<RADIO_ADD_OFFSET band_id="8">-1000', '<RADIO_ADD_OFFSET '
                                                  'band_id="8">-500'), encoding="utf-8")
    product = open_l1c(s2b_copy)
    assert product.radio_add_offset["B8A"] == -500 and product.radio_add_offset["B8"] == -1000
    np.testing.assert_allclose(product.read_toa("B8A"), (product.read_dn("B8A") - 500.0) / 10000, rtol=1e-6)


@real
def test_nodata_and_saturated_dn(s2b_copy):
    dn = np.full((30, 30), 3000, dtype=np.uint16)
    dn[0, :4] = 0
    dn[5, 5:7] = 65535
    write_jp2(band_file(s2b_copy, "B02"), dn, CROP.transform)
    toa, saturated = open_l1c(s2b_copy).read_toa("B2", return_saturated=True)
    assert np.isnan(toa[0, :4]).all() and np.isnan(toa).sum() == 4
    assert saturated.sum() == 2 and saturated[5, 5:7].all()
    assert toa[5, 5] == pytest.approx(6.4535) and toa[1, 1] == pytest.approx(0.2)


@real
@pytest.mark.parametrize("esa, transform, message", [
    ("B02", Affine(10.0, 0.0, 350005.0, 0.0, -10.0, 4850020.0), "lattice"),           # half a pixel off
    ("B02", Affine(10.0, 0.0, 290000.0, 0.0, -10.0, 4850020.0), "outside the tile"),  # west of the tile
    ("B01", Affine(7.0, 0.0, 350000.0, 0.0, -7.0, 4850020.0), "does not divide"),
    ("B12", Affine(20.0, 0.0, 350000.0, 0.0, -20.0, 4850020.0), "unlike the other 20 m rasters"),
])
def test_raster_not_a_window_of_the_tile(s2b_copy, esa, transform, message):
    path = band_file(s2b_copy, esa)
    write_jp2(path, np.full((30, 30), 2000, dtype=np.uint16), transform)
    with pytest.raises(GridMismatchError, match=message) as info:
        open_l1c(s2b_copy)
    assert path.name in str(info.value)


@real
def test_raster_in_another_crs(s2b_copy):
    write_jp2(band_file(s2b_copy, "B03"), np.full((30, 30), 2000, dtype=np.uint16), CROP.transform, "EPSG:32630")
    with pytest.raises(GridMismatchError, match="CRS"):
        open_l1c(s2b_copy)


@real
def test_missing_band(s2b_copy):
    band_file(s2b_copy, "B03").unlink()
    product = open_l1c(s2b_copy)
    assert "B3" not in product.bands and len(product.bands) == 12
    with pytest.raises(BandNotFoundError):
        product.read_toa("B3")
    band_file(s2b_copy, "B04").unlink()
    with pytest.raises(MissingFileError):
        product.read_toa("B4")


@real
def test_truncated_jp2(s2b_copy):
    path = band_file(s2b_copy, "B11")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptRasterError, match=path.name):
        open_l1c(s2b_copy)


@real
@pytest.mark.parametrize("edit, message", [
    (lambda t: t[: len(t) // 3], "malformed XML"),
    (lambda t: t.replace('<QUANTIFICATION_VALUE unit="none">10000<', "<QUANTIFICATION_VALUE>0<"), "not positive"),
    (lambda t: t.replace('<RADIO_ADD_OFFSET band_id="4">-1000', '<RADIO_ADD_OFFSET band_id="4">x'), "not a number"),
    (lambda t: t.replace("Sentinel-2B", "Landsat-9"), "SPACECRAFT_NAME"),
])
def test_malformed_product_metadata(s2b_copy, edit, message):
    mtd = s2b_copy / "MTD_MSIL1C.xml"
    mtd.write_text(edit(mtd.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(MetadataError, match=message):
        open_l1c(s2b_copy)


@real
def test_malformed_angle_grid(s2b_copy):
    (mtd_tl,) = s2b_copy.glob("GRANULE/*/MTD_TL.xml")
    text = mtd_tl.read_text("utf-8").replace("<VALUES>52.4595 ", "<VALUES>", 1)   # one short row
    mtd_tl.write_text(text, encoding="utf-8")
    with pytest.raises(MetadataError, match="unequal length"):
        open_l1c(s2b_copy)


@real
@pytest.mark.parametrize("target", ["MTD_MSIL1C.xml", "MTD_TL.xml"])
def test_hostile_xml(s2b_copy, target):
    (path,) = s2b_copy.glob(f"**/{target}")
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">'
                    '<!ENTITY ext SYSTEM "file:///etc/passwd">]>\n<Level-1C_User_Product>&b;&ext;'
                    "</Level-1C_User_Product>\n", encoding="utf-8")
    with pytest.raises(UnsafeXMLError):
        open_l1c(s2b_copy)


# --- without real data ----------------------------------------------------------------------------------------
def test_open_l1c_on_an_l2a_product(tmp_path):
    cube = Cube("tiny", (dt.datetime(2024, 5, 1, tzinfo=UTC),), {"B4": np.full((1, 4, 4), 900, np.uint16)},
                np.full((1, 4, 4), 4, np.uint8), CRS.from_epsg(32631), Affine(10, 0, 600000, 0, -10, 5000020))
    with pytest.raises(NotAProductError, match="not a Level-1C"):
        open_l1c(write_sen2cor_like(cube, 0, tmp_path))


def test_dn_to_toa():
    dn = np.array([[0, 1, 1000, 11000, 65535]], dtype=np.uint16)
    toa = dn_to_toa(dn, -1000, 10000)
    assert toa.dtype == np.float32 and np.isnan(toa[0, 0])
    np.testing.assert_allclose(toa[0, 1:], [-0.0999, 0.0, 1.0, 6.4535], rtol=1e-6)
    np.testing.assert_allclose(dn_to_toa(dn, 0, 10000)[0, 1:], [0.0001, 0.1, 1.1, 6.5535], rtol=1e-6)


def _info(transform, height, width, crs="EPSG:32631"):
    return RasterInfo("band.jp2", "band.jp2", Grid(transform, height, width), CRS.from_string(crs), "uint16", 1)


def _tile():
    grids = {res: Grid(Affine(res, 0.0, 300000.0, 0.0, -res, 4900020.0), 10980 * 10 // res, 10980 * 10 // res)
             for res in (10, 20, 60)}
    return TileMetadata("MTD_TL.xml", None, "T31TCJ", None, CRS.from_epsg(32631), grids, Angles())


@pytest.mark.parametrize("res, transform, size", [
    (10, Affine(10, 0, 300000, 0, -10, 4900020), 10980),   # the full tile
    (20, Affine(20, 0, 409800 - 40, 0, -20, 4790220 + 40), 2),   # the lower-right corner, native 20 m
    (60, Affine(10, 0, 350000, 0, -10, 4850020), 30),      # resampled to 10 m
    (60, Affine(20, 0, 300020, 0, -20, 4900000), 5),       # resampled to 20 m
])
def test_resolve_grids_accepts_windows_of_the_tile(res, transform, size):
    grids, crs = resolve_grids([(_info(transform, size, size), res)], _tile(), allow_subset=True)
    assert grids[res].same_as(Grid(transform, size, size)) and crs == CRS.from_epsg(32631)


@pytest.mark.parametrize("res, transform, size, message", [
    (10, Affine(10, 0, 300000, 0, -10, 4900020), 10981, "outside the tile"),
    (20, Affine(20, 0, 300010, 0, -20, 4900020), 5, "lattice"),
    (20, Affine(30, 0, 300000, 0, -30, 4900020), 5, "does not divide"),
    (10, Affine(10, 1, 300000, 0, -10, 4900020), 5, "north-up"),
])
def test_resolve_grids_refuses_other_grids(res, transform, size, message):
    with pytest.raises(GridMismatchError, match=message):
        resolve_grids([(_info(transform, size, size), res)], _tile(), allow_subset=True)


def test_resolve_grids_strict_refuses_a_crop():
    with pytest.raises(GridMismatchError, match="not on the tile's 10 m grid"):
        resolve_grids([(_info(CROP.transform, 30, 30), 10)], _tile(), allow_subset=False)


def test_parse_utc():
    assert parse_utc("2024-03-05T10:58:54.168722Z") == dt.datetime(2024, 3, 5, 10, 58, 54, 168722, tzinfo=UTC)
    assert parse_utc("2024-03-05T10:48:19.024Z") == dt.datetime(2024, 3, 5, 10, 48, 19, 24000, tzinfo=UTC)
    with pytest.raises(MetadataError):
        parse_utc("yesterday")
