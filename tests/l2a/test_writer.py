"""Writer of the toolkit's Theia-format L2A products: round trip through the reader (folder and .zip), COG
structure, MTD_ALL.xml content, atomicity, determinism and refusal of bad input."""

import datetime as dt
import os
import pickle
import zipfile

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from l2a import open_l2a
from l2a.errors import InvalidParameterError, ProductExistsError, SyntheoError
from l2a.formats.theia.bits import encode_clm
from l2a.formats.theia.writer import (
    L2AMetadata,
    TheiaL2AWriter,
    theia_product_name,
    write_l2a,
)
from l2a.grid import Grid
from l2a.io.xmldoc import parse_xml
from l2a.sensors import CALIBRATION_VERSION, L2A_BANDS

from .conftest import make_meta, random_content


def _zip_folder(folder, archive):
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                zf.write(f, f"{folder.name}/{f.relative_to(folder).as_posix()}")
    return archive


@pytest.mark.parametrize("container", ["folder", "zip"])
def test_round_trip(written_product, tmp_path, container):
    folder, content = written_product
    meta = content.meta
    path = folder if container == "folder" else _zip_folder(folder, tmp_path / f"{folder.name}.zip")
    with open_l2a(path) as p:
        assert (p.format, p.platform, p.tile, p.product_id) == ("theia", "S2B", "T31TCJ", theia_product_name(meta))
        assert p.datetime == meta.datetime and p.crs == meta.crs and p.bands == L2A_BANDS
        assert all(p.grids[res].same_as(meta.grids[res]) for res in ("R1", "R2"))
        assert (p.relative_orbit, p.orbit_number, dict(p.metadata.extra)) == (51, 7012, {"seed": "7"})
        assert p.calibration_version == CALIBRATION_VERSION and p.metadata.software_version
        for band, data in content.bands.items():
            res = "R1" if band in ("B2", "B3", "B4", "B8") else "R2"
            expected = np.where(content.truth[res]["nodata"], -10000, data)
            np.testing.assert_array_equal(p.read_band(band), expected)
        for res in ("R1", "R2"):
            masks = p.read_masks(res)
            for name, truth in content.truth[res].items():
                np.testing.assert_array_equal(masks[name], truth, err_msg=f"{name} {res}")
            dn = content.atb[res][1].astype(float)
            aot = p.read_aot(res=res)
            valid = (dn > 0) & ~content.truth[res]["nodata"]
            assert np.isnan(aot[~valid]).all() and np.isfinite(aot[valid]).all()
            assert np.abs(aot[valid] - dn[valid] * 0.005).max() <= 0.0025   # within the quantisation step
        # angles: grids back node for node (NaN included), at the same origin
        sun, orig = p.angles.sun, meta.angles.sun
        np.testing.assert_array_equal(sun.zenith, orig.zenith)
        assert (sun.ulx, sun.uly, sun.col_step) == (orig.ulx, orig.uly, orig.col_step)
        assert set(p.angles.view) == set(meta.angles.view)
        for band, grid in meta.angles.view.items():
            np.testing.assert_array_equal(p.angles.view[band].azimuth, grid.azimuth)
            assert p.angles.mean_view_of(band) == pytest.approx(meta.angles.mean_view_of(band))
        assert p.angles.mean_sun == pytest.approx(meta.angles.mean_sun)
        edge = content.truth["R1"]["nodata"]
        cloudy = (content.truth["R1"]["cloud"] | content.truth["R1"]["shadow"]) & ~edge
        assert p.cloud_percent == round(100 * cloudy.sum() / (~edge).sum())
        assert p.snow_percent == round(100 * (content.truth["R1"]["snow"] & ~edge).sum() / (~edge).sum())


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")   # the quicklook is a picture
def test_mtd_all_document(written_product):
    folder, content = written_product
    root = parse_xml(next(folder.glob("*_MTD_ALL.xml")))
    assert root.tag == "Muscate_Metadata_Document"
    assert root.find("Dataset_Identification/GEOGRAPHICAL_ZONE[@type='Tile']").text == "T31TCJ"
    pc = root.find("Product_Characteristics")
    assert (pc.findtext("PLATFORM"), pc.findtext("PRODUCT_LEVEL")) == ("SENTINEL2B", "L2A")
    assert pc.findtext("ACQUISITION_DATE") == "2018-07-15T10:53:02.456Z" and pc.findtext("PRODUCT_ID") == folder.name
    assert [g.get("group_id") for g in pc.findall("Band_Group_List/Group")] == ["R1", "R2"]
    files = [e.text for e in root.iter("IMAGE_FILE")] + [e.text for e in root.iter("MASK_FILE")]
    assert len(files) > 20 and all((folder / f).is_file() for f in files)
    natures = {e.text for e in root.iter("NATURE")}
    assert {"Flat_Reflectance", "Aerosol_Optical_Thickness", "Detailed_Cloud", "Edge", "Saturation", "Snow"} <= natures
    assert root.findtext(".//HORIZONTAL_CS_CODE") == "32631"
    r1 = root.find(".//Group_Geopositioning[@group_id='R1']")
    assert [r1.findtext(k) for k in ("ULX", "ULY", "XDIM", "YDIM", "NROWS", "NCOLS")] == \
        ["300000", "4900020", "10", "-10", "24", "30"]
    rad = root.find("Radiometric_Informations")
    keys = ("REFLECTANCE", "AEROSOL_OPTICAL_THICKNESS", "WATER_VAPOR_CONTENT")
    assert [rad.findtext(f"{k}_QUANTIFICATION_VALUE") for k in keys] == ["10000", "200", "20"]
    assert rad.find("Special_Values_List/SPECIAL_VALUE[@name='nodata']").text == "-10000"
    grid = root.find(".//Band_Viewing_Incidence_Angles_Grids_List[@band_id='B2']/Viewing_Incidence_Angles_Grids")
    assert grid.findtext("Zenith/COL_STEP") == "5000" and grid.findtext("Zenith/Values_List/VALUES").startswith("NaN ")
    assert root.find(".//Sun_Angles_Grids/Zenith/Values_List/VALUES") is not None
    assert root.find(".//QUALITY_INDEX[@name='CloudPercent']") is not None
    assert root.findtext("Syntheo_Informations/CALIBRATION_VERSION") == CALIBRATION_VERSION
    quicklook = folder / root.findtext(".//QUICKLOOK")
    with rasterio.open(quicklook) as ds:
        assert ds.driver == "JPEG" and ds.count == 3 and ds.shape == content.meta.grids["R1"].shape
        picture = ds.read().astype(float)
        assert picture[:, :, :4].mean() < 20 < picture[:, :, 8:].mean()    # EDG columns: nodata, black


def test_cog_structure(tmp_path):
    grids = {"R1": Grid(Affine(10, 0, 300000, 0, -10, 4900020), 700, 1030),
             "R2": Grid(Affine(20, 0, 300000, 0, -20, 4900020), 350, 515)}
    meta = make_meta(grids=grids, bands=("B2", "B5"))
    rng = np.random.default_rng(0)
    clm = rng.choice(np.array([0, 7, 35], np.uint8), grids["R1"].shape)
    with TheiaL2AWriter(tmp_path, meta) as w:
        w.write_band("B2", rng.integers(0, 5000, grids["R1"].shape).astype(np.int16))
        w.write_mask("CLM", "R1", clm)
        w.write_atb("R1", rng.integers(0, 200, (2,) + grids["R1"].shape).astype(np.uint8))
    with rasterio.open(next(w.path.glob("*_FRE_B2.tif"))) as ds:
        assert ds.profile["tiled"] and ds.block_shapes[0] == (512, 512)
        assert ds.compression.name.lower() == "deflate" and ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.overviews(1) and ds.nodata == -10000 and ds.descriptions == ("B2",) and ds.scales == (1e-4,)
    with rasterio.open(next(w.path.glob("MASKS/*_CLM_R1.tif"))) as ds:
        assert ds.overviews(1) and ds.nodata is None and ds.descriptions == ("CLM",)
        overview = ds.read(1, out_shape=(ds.height // 2, ds.width // 2))
        assert set(np.unique(overview)) <= {0, 7, 35}          # bit masks: nearest, never averaged
    with rasterio.open(next(w.path.glob("*_ATB_R1.tif"))) as ds:
        assert ds.count == 2 and ds.nodata == 0 and ds.descriptions == ("WVC", "AOT") and ds.dtypes[0] == "uint8"
    assert not list(w.path.glob("*_FRE_B5.tif"))                 # never written: absent


def test_blocks_equal_whole_and_bytes_are_reproducible(tmp_path):
    content = random_content(make_meta(), seed=11)
    whole = write_l2a(tmp_path / "a", content.meta, content.bands, content.masks, content.atb)
    with TheiaL2AWriter(tmp_path / "b", content.meta) as w:
        for band, data in content.bands.items():
            for rows in (slice(0, 5), slice(5, None)):
                start = rows.start
                w.write_band(band, data[rows], Window(0, start, data.shape[1], data[rows].shape[0]))
        for (kind, res), data in content.masks.items():
            w.write_mask(kind, res, data)
        for res, data in content.atb.items():
            w.write_atb(res, data[:, :, :7], Window(0, 0, 7, data.shape[1]))
            w.write_atb(res, data[:, :, 7:], Window(7, 0, data.shape[2] - 7, data.shape[1]))
    again = write_l2a(tmp_path / "c", content.meta, content.bands, content.masks, content.atb)
    names = sorted(f.relative_to(whole) for f in whole.rglob("*") if f.is_file())
    assert names == sorted(f.relative_to(w.path) for f in w.path.rglob("*") if f.is_file())
    for name in names:     # same inputs -> same bytes, whatever the block order
        assert (whole / name).read_bytes() == (w.path / name).read_bytes() == (again / name).read_bytes(), name


def test_existing_product_and_overwrite(written_product, tmp_path):
    _, content = written_product
    meta = content.meta
    first = write_l2a(tmp_path, meta, {"B2": content.bands["B2"]}, {})
    with pytest.raises(ProductExistsError, match=first.name) as info:
        TheiaL2AWriter(tmp_path, meta)
    assert isinstance(info.value, SyntheoError)
    second = write_l2a(tmp_path, meta, {"B4": content.bands["B4"]}, {}, overwrite=True)
    assert second == first and not list(second.glob("*_FRE_B2.tif")) and list(second.glob("*_FRE_B4.tif"))
    assert sorted(os.listdir(tmp_path)) == [first.name]          # no temporary left behind


def test_failure_leaves_nothing(tmp_path):
    content = random_content(make_meta(), seed=1)
    with pytest.raises(RuntimeError):
        with TheiaL2AWriter(tmp_path, content.meta) as w:
            w.write_band("B2", content.bands["B2"])
            raise RuntimeError("simulated crash")
    assert os.listdir(tmp_path) == []
    with pytest.raises(InvalidParameterError):
        w.write_band("B2", content.bands["B2"])


def test_bad_input(tmp_path):
    content = random_content(make_meta(), seed=2)
    b2 = content.bands["B2"]
    with TheiaL2AWriter(tmp_path, content.meta, write_sre=True) as w:
        with pytest.raises(InvalidParameterError, match="int16"):
            w.write_band("B2", b2.astype(np.float32) / 10000)
        with pytest.raises(InvalidParameterError, match="window"):
            w.write_band("B2", b2[:5], Window(0, 0, b2.shape[1], 6))
        with pytest.raises(InvalidParameterError, match="outside"):
            w.write_band("B2", b2, Window(1, 0, b2.shape[1], b2.shape[0]))
        with pytest.raises(InvalidParameterError, match="mask kind"):
            w.write_mask("XYZ", "R1", content.masks["CLM", "R1"])
        with pytest.raises(InvalidParameterError, match="2 bands"):
            w.write_atb("R1", np.zeros((3,) + b2.shape, np.uint8))
        with pytest.raises(InvalidParameterError, match="uint8"):
            w.write_mask("CLM", "R1", encode_clm(b2 > 0, b2 < 0).astype(np.int16))
        w.write_band("B2", b2)
    assert list(w.path.glob("*_SRE_B2.tif")) and list(w.path.glob("*_FRE_B2.tif"))
    with pytest.raises(InvalidParameterError, match="R2 grid"):
        make_meta(grids={"R1": content.meta.grids["R1"]})
    with pytest.raises(InvalidParameterError):
        make_meta(platform="LANDSAT8")


def test_metadata_normalisation():
    meta = make_meta(tile="31tcj", platform="SENTINEL-2A", datetime=dt.datetime(2021, 1, 2, 3, 4, 5),
                     crs="EPSG:32631", version="2.1", bands=("B02", "B8A"))
    assert (meta.tile, meta.platform, meta.version, meta.bands) == ("T31TCJ", "S2A", "2-1", ("B2", "B8A"))
    assert meta.datetime.tzinfo == dt.timezone.utc and meta.crs == CRS.from_epsg(32631)
    assert theia_product_name(meta) == "SENTINEL2A_20210102-030405-000_L2A_T31TCJ_C_V2-1"
    assert isinstance(meta, L2AMetadata)


def test_metadata_and_products_pickle(written_product):
    """Dask workers receive metadata and products by pickle."""
    folder, content = written_product
    meta = pickle.loads(pickle.dumps(content.meta))
    assert theia_product_name(meta) == theia_product_name(content.meta) and dict(meta.extra) == {"seed": "7"}
    np.testing.assert_array_equal(meta.angles.view["B2"].zenith, content.meta.angles.view["B2"].zenith)
    product = pickle.loads(pickle.dumps(open_l2a(folder)))
    np.testing.assert_array_equal(product.read_band("B11"), open_l2a(folder).read_band("B11"))
    assert product.metadata.geopositions["R2"].nrows == 12


def test_product_permissions_follow_the_umask(written_product):
    folder, _ = written_product
    umask = os.umask(0)
    os.umask(umask)
    for path in (folder, folder / "MASKS", next(folder.glob("*_MTD_ALL.xml")), next(folder.glob("*_FRE_B2.tif"))):
        assert path.stat().st_mode & 0o044 == 0o044 & ~umask, path   # readable by others, as any file they make
