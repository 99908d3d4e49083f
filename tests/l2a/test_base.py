"""Base modules: sensors, errors, safe XML, safe archives, angles, COG writer, CLI conventions."""

import zipfile

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from l2a import angles, sensors
from l2a.cli import main as l2a_main
from l2a.errors import (
    BandNotFoundError,
    InvalidParameterError,
    MetadataError,
    NotAProductError,
    SyntheoError,
    UnsafeArchiveError,
    UnsafeXMLError,
)
from l2a.io.archive import open_zip_index
from l2a.io.cog import CogWriter, write_cog
from l2a.io.xmldoc import parse_xml, parse_xml_bytes


# --- sensors ---------------------------------------------------------------------------------------------------
def test_band_tables_cover_platforms():
    for p in ("S2A", "S2B", "S2C"):
        table = sensors.bands_of(p)
        assert set(sensors.L2A_BANDS) <= set(table)
        assert table["B2"].resolution_m == 10 and table["B5"].resolution_m == 20 and table["B1"].resolution_m == 60
        assert 480 < table["B2"].wavelength_nm < 500 and 2180 < table["B12"].wavelength_nm < 2210
    venus = sensors.bands_of("VENµS")
    # VENµS numbering differs: its B3 is the blue, its B7 the red
    assert venus["B3"].s2_equivalent == "B2" and venus["B7"].s2_equivalent == "B4"
    assert sensors.bands_of("SENTINEL2B") is sensors.SENSORS["S2B"]


def test_band_names_and_resolution():
    assert sensors.normalize_band("B02") == "B2"
    assert sensors.normalize_band("b8a") == "B8A"
    assert sensors.band_resolution("B8") == "R1" and sensors.band_resolution("B11") == "R2"
    with pytest.raises(BandNotFoundError):
        sensors.band_resolution("B1")
    with pytest.raises(BandNotFoundError):
        sensors.normalize_band("NIR")


def test_calibration_table_is_versioned_and_neutral():
    assert sensors.CALIBRATION_VERSION
    assert all(sensors.calibration_factor(p, b) == 1.0 for p in sensors.PLATFORMS for b in sensors.bands_of(p))
    with pytest.raises(InvalidParameterError):
        sensors.calibration_factor("LANDSAT8", "B2")


def test_error_messages_name_the_file():
    e = MetadataError("missing field X", "/a/b.xml")
    assert str(e) == "/a/b.xml: missing field X" and isinstance(e, ValueError) and isinstance(e, SyntheoError)
    assert "B9" in str(BandNotFoundError("band B9 absent", "/p"))


# --- safe XML --------------------------------------------------------------------------------------------------
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>"""


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, EXTERNAL])
def test_hostile_xml_refused(doc, tmp_path):
    f = tmp_path / "MTD.xml"
    f.write_bytes(doc)
    with pytest.raises(UnsafeXMLError) as exc:
        parse_xml(f)
    assert str(f) in str(exc.value)


def test_malformed_xml_and_namespaces(tmp_path):
    with pytest.raises(MetadataError):
        parse_xml_bytes(b"<a><b></a>", "x.xml")
    root = parse_xml_bytes(b'<n1:a xmlns:n1="urn:x"><n1:b>3</n1:b></n1:a>', "x.xml")
    assert root.tag == "a" and root.find("b").text == "3"


# --- archives --------------------------------------------------------------------------------------------------
def _zip(tmp_path, entries, name="p.zip"):
    z = tmp_path / name
    with zipfile.ZipFile(z, "w") as zf:
        for n, data in entries.items():
            zf.writestr(n, data)
    return z


@pytest.mark.parametrize("bad", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "C:/evil.txt"])
def test_zip_traversal_refused(tmp_path, bad):
    z = _zip(tmp_path, {"ok/file.txt": b"x", bad: b"y"})
    with pytest.raises(UnsafeArchiveError):
        open_zip_index(z)


def test_zip_symlink_and_bomb_refused(tmp_path):
    z = tmp_path / "l.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="link"):
        open_zip_index(z)
    bomb = _zip(tmp_path, {"zeros.bin": b"\0" * (50 * 1024 * 1024)}, "b.zip")
    # stored uncompressed by writestr default (ZIP_STORED): rewrite with deflate for a real ratio
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (50 * 1024 * 1024))
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        open_zip_index(bomb)


def test_zip_ok_and_not_a_zip(tmp_path):
    z = _zip(tmp_path, {"P/a.txt": b"hello"})
    idx = open_zip_index(z)
    assert idx.names == ("P/a.txt",) and idx.read_bytes("P/a.txt") == b"hello"
    assert idx.vsi("P/a.txt").startswith("/vsizip/")
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"not a zip")
    with pytest.raises(NotAProductError):
        open_zip_index(fake)


# --- angles ----------------------------------------------------------------------------------------------------
def _view_grid():
    """A swath crossing the tile: view zenith ~ linear across track, NaN beyond the swath edge (columns >= 15)."""
    cols = np.arange(23, dtype=float)
    vx = (cols - 5) * 0.02  # tan(vza) signed across track
    zen = np.degrees(np.arctan(np.abs(vx)))[None, :].repeat(23, 0)
    az = np.where(vx >= 0, 100.0, 280.0)[None, :].repeat(23, 0)
    zen[:, 15:] = np.nan
    az[:, 15:] = np.nan
    return angles.AngleGrid(zen, az, ulx=300000.0, uly=4900020.0)


def test_angle_interpolation_fills_swath_edge_without_nan():
    g = _view_grid()
    tr = Affine(1000.0, 0, 300000.0, 0, -1000.0, 4900020.0)
    zen, az = angles.angles_on_grid(g, tr, (110, 110))
    assert zen.dtype == np.float32 and np.isfinite(zen).all() and np.isfinite(az).all()
    # continues the linear trend beyond the last known node (column 14 -> 70 km): extrapolated, not flat
    x_km = np.arange(110) + 0.5
    expected = np.degrees(np.arctan(np.abs((x_km / 5 - 5) * 0.02)))
    assert np.allclose(zen[50], expected, atol=0.05)


def test_merge_detectors_and_mean():
    a = np.full((3, 3), np.nan)
    b = a.copy()
    a[:, :2] = 5.0
    b[:, 1:] = 7.0
    zen, az = angles.merge_detectors([(a, np.full((3, 3), 90.0)), (b, np.full((3, 3), 90.0))])
    assert zen[0, 0] == pytest.approx(5) and zen[0, 2] == pytest.approx(7) and 5 < zen[0, 1] < 7
    assert np.allclose(az, 90)
    g = angles.AngleGrid(np.array([[10.0, np.nan]]), np.array([[350.0, 10.0]]), 0, 0)
    z, a_ = g.mean()
    assert z == 10 and a_ == pytest.approx(350)
    with pytest.raises(MetadataError):
        angles.parse_values_list(["1 2", "3"])


def test_constant_angles_when_only_means():
    a = angles.Angles(mean_sun=(30.0, 150.0), mean_view={"B4": (5.0, 100.0)})
    zen, az = a.sun_on(Affine.identity(), (2, 3))
    assert zen.shape == (2, 3) and (zen == 30).all()
    assert a.view_on("B8", Affine.identity(), (2, 2)) is None
    assert not a.has_grids


# --- COG -------------------------------------------------------------------------------------------------------
def test_cog_windowed_write_is_valid_cog(tmp_path):
    from rasterio.windows import Window
    crs = CRS.from_epsg(32631)
    tr = Affine(10, 0, 300000, 0, -10, 4900020)
    data = (np.arange(1200 * 1100) % 9000).astype("int16").reshape(1200, 1100)
    out = tmp_path / "b.tif"
    with CogWriter(out, crs=crs, transform=tr, height=1200, width=1100, dtype="int16", nodata=-10000,
                   descriptions=["B4"], scale=1e-4) as w:
        for r in range(0, 1200, 500):
            w.write(data[r:r + 500], Window(0, r, 1100, min(500, 1200 - r)))
    with rasterio.open(out) as ds:
        assert (ds.read(1) == data).all()
        assert ds.nodata == -10000 and ds.descriptions == ("B4",) and ds.scales == (1e-4,)
        assert ds.profile["tiled"] and ds.compression.name.upper() == "DEFLATE"
        assert ds.overviews(1)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    assert [p.name for p in tmp_path.iterdir()] == ["b.tif"]  # no temporary left


def test_cog_abort_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with CogWriter(tmp_path / "x.tif", crs=CRS.from_epsg(32631), transform=Affine(1, 0, 0, 0, -1, 0), height=10,
                       width=10, dtype="uint8"):
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidParameterError):
        CogWriter(tmp_path / "y.tif", crs=CRS.from_epsg(32631), transform=Affine.identity(), height=0, width=4,
                  dtype="int16")


def test_write_cog_whole_array(tmp_path):
    a = np.arange(12, dtype="uint8").reshape(3, 4)
    write_cog(tmp_path / "m.tif", a, crs=CRS.from_epsg(32631), transform=Affine(10, 0, 0, 0, -10, 0),
              resampling="nearest")
    with rasterio.open(tmp_path / "m.tif") as ds:
        assert (ds.read(1) == a).all() and ds.nodata is None


# --- CLI conventions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prog", ["l2a", "l3a", "mosaic"])
def test_cli_version_and_help(prog, capsys):
    import importlib
    mod = importlib.import_module(f"{prog}.cli")
    with pytest.raises(SystemExit) as exc:
        mod.main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip().startswith(prog)
    with pytest.raises(SystemExit) as exc:
        mod.main(["--no-such-option"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith(f"{prog}: error: ") and err.count("\n") == 1


def test_info_errors_are_one_line(tmp_path, capsys):
    for target in [tmp_path / "missing", tmp_path]:
        with pytest.raises(SystemExit) as exc:
            l2a_main(["info", str(target)])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.startswith("l2a: error: ") and err.count("\n") == 1
        assert "Traceback" not in err
