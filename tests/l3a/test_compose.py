"""End-to-end synthesis on products written from the real netCDF cubes (real clouds) and on edge cases:
no cloud leaks into land composites, order independence, New Year, CLI conventions and bad input."""

import dataclasses
import datetime as dt
import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import load_cube, write_theia_like  # noqa: E402

from l2a.errors import BandNotFoundError, InvalidParameterError  # noqa: E402
from l2a.io.xmldoc import parse_xml  # noqa: E402
from l3a.cli import main as l3a_main  # noqa: E402
from l3a.compose import compose  # noqa: E402
from l3a.errors import EmptyWindowError, TileGridError  # noqa: E402
from l3a.params import CompositeParams  # noqa: E402
from l3a.product import MASK_KINDS, open_l3a  # noqa: E402

pytestmark = pytest.mark.real
NO_BRDF = dataclasses.replace(CompositeParams(), brdf=False)


@pytest.fixture(scope="module")
def optical(tmp_path_factory):
    """The 19 dates of test_optical_cube (Belgium, Oct-Dec 2023, mostly cloudy) as Theia products."""
    cube = load_cube("test_optical_cube")
    folder = tmp_path_factory.mktemp("optical")
    return cube, [write_theia_like(cube, i, folder) for i in range(len(cube.times))]


@pytest.fixture(scope="module")
def winter(tmp_path_factory):
    """bap_quintad_cdse (Nov 2022 - Feb 2023): a window across New Year."""
    cube = load_cube("bap_quintad_cdse")
    folder = tmp_path_factory.mktemp("winter")
    return cube, [write_theia_like(cube, i, folder) for i in range(len(cube.times))]


def _digest(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.tif"))}


def test_no_cloud_leaks_into_land_composite(optical, tmp_path):
    cube, paths = optical
    central = dt.date(2023, 10, 15)
    out = open_l3a(compose(paths, central, NO_BRDF, tmp_path))
    flg = out.read_mask("FLG", "R1")
    assert (flg == 4).sum() > 1000  # 22 October is clear
    in_window = [i for i, t in enumerate(cube.times) if abs((t.date() - central).days) <= 23]
    scl = cube.scl[in_window]
    clear = np.isin(scl, (2, 4, 5, 7))
    cloudy = np.isin(scl, (3, 8, 9, 10))
    # pixels cloudy (or shadowed) on every date can never be land
    assert (flg[cloudy.all(axis=0)] == 1).all()
    assert (flg[clear.any(axis=0)] == 4).all()
    for band in ("B2", "B4", "B8"):
        frc = out.read_frc(band).astype(float)
        obs = cube.bands[band][in_window].astype(float)
        lo = np.where(clear, obs, np.inf).min(axis=0)
        hi = np.where(clear, obs, -np.inf).max(axis=0)
        land = flg == 4
        # a weighted mean of clear observations only: inside their range (cloudy values are far brighter)
        assert (frc[land] >= lo[land] - 0.5).all() and (frc[land] <= hi[land] + 0.5).all(), band
    nob = out.read_mask("NOB", "R1")
    assert np.array_equal(nob[flg == 4], clear.sum(axis=0)[flg == 4])


def test_always_cloudy_keeps_the_darkest_blue(optical, tmp_path):
    cube, paths = optical
    central = dt.date(2023, 11, 15)  # every date within 23 days is cloudy
    out = open_l3a(compose(paths, central, NO_BRDF, tmp_path))
    flg = out.read_mask("FLG", "R1")
    assert (flg == 1).all() and (out.read_mask("WGT", "R1") == 0).all()
    in_window = [i for i, t in enumerate(cube.times) if abs((t.date() - central).days) <= 23]
    blue = cube.bands["B2"][in_window]
    assert np.array_equal(out.read_frc("B2"), blue.min(axis=0))


def test_input_order_changes_no_byte(optical, tmp_path):
    _, paths = optical
    central = dt.date(2023, 10, 15)
    a = compose(paths, central, CompositeParams(), tmp_path / "a")
    shuffled = list(paths)
    np.random.default_rng(3).shuffle(shuffled)
    b = compose(shuffled, central, CompositeParams(), tmp_path / "b")
    assert _digest(a) == _digest(b)


def test_deflate_level_changes_bytes_not_pixels(optical, tmp_path):
    _, paths = optical
    central = dt.date(2023, 10, 15)
    default = open_l3a(compose(paths, central, NO_BRDF, tmp_path / "default"))
    small = open_l3a(compose(paths, central, NO_BRDF, tmp_path / "small", deflate_level=9))
    fast = open_l3a(compose(paths, central, NO_BRDF, tmp_path / "fast", deflate_level=1))
    assert small.bands == default.bands
    for band in default.bands:
        assert small.frc_path(band).name == default.frc_path(band).name == f"{default.name}_FRC_{band}.tif"
        assert small.frc_path(band).read_bytes() != default.frc_path(band).read_bytes()
        # reflectance is written at level 1 by default (DEFAULT_DEFLATE_LEVELS)
        assert fast.frc_path(band).read_bytes() == default.frc_path(band).read_bytes()
        np.testing.assert_array_equal(small.read_frc(band), default.read_frc(band))
    for res in default.grids:
        for kind in MASK_KINDS:
            np.testing.assert_array_equal(small.read_mask(kind, res), default.read_mask(kind, res))
    ipp = {folder: parse_xml(next((tmp_path / folder).glob("*/DATA/*_IPP_ALL.xml"))).find("OUTPUT_COMPRESSION")
           for folder in ("default", "small")}
    assert ipp["default"].attrib == {"predictor": "2", "level_frc": "1", "level_wgt": "1", "level_dts": "6",
                                     "level_flg": "6", "level_nob": "6"}
    assert {k: v for k, v in ipp["small"].attrib.items() if k.startswith("level_")} == dict.fromkeys(
        ("level_frc", "level_wgt", "level_dts", "level_flg", "level_nob"), "9")
    with pytest.raises(BandNotFoundError):
        default.frc_path("B1")
    with pytest.raises(InvalidParameterError, match="DEFLATE level"):
        compose(paths, central, NO_BRDF, tmp_path / "bad", deflate_level=13)
    assert not (tmp_path / "bad").exists()


def test_new_year_window_dates(winter, tmp_path):
    cube, paths = winter
    central = dt.date(2023, 1, 1)
    out = open_l3a(compose(paths, central, NO_BRDF, tmp_path))
    flg = out.read_mask("FLG", "R1")
    dts = out.read_mask("DTS", "R1")
    land = flg == 4
    assert land.any()
    # the weighted-mean date of a land pixel lies between its first and last clear dates (Dec .. Jan), as a day of
    # year of its own year: never a meaningless mid-year day
    assert ((dts[land] >= 334) | (dts[land] <= 24)).all()
    assert (dts[flg == 0] == -10000).all()


def test_cli_compose_month_and_info(optical, tmp_path, capsys):
    _, paths = optical
    folder = paths[0].parent
    with pytest.raises(SystemExit) as exc:
        l3a_main(["-q", "compose", str(folder), "--tile", "31UES", "--month", "2023-10", "--no-brdf",
                  "--out", str(tmp_path)])
    out = capsys.readouterr().out.strip().splitlines()
    assert exc.value.code == 0
    product = Path(out[-1])
    assert product.is_absolute() and product.name == "SENTINEL2B_20231015-000000-000_L3A_T31UES_C_V1-0"
    names = {p.name.split("_V1-0_")[-1] for p in product.rglob("*") if p.is_file()}
    assert {"FRC_B2.tif", "WGT_R1.tif", "DTS_R1.tif", "FLG_R1.tif", "NOB_R1.tif", "QKL_ALL.jpg", "MTD_ALL.xml",
            "IPP_ALL.xml", "STAC.json"} <= names
    stac = json.loads(next(product.glob("*_STAC.json")).read_text())
    assert stac["properties"]["start_datetime"].startswith("2023-09-22")
    with rasterio.open(next(product.glob("*_FRC_B4.tif"))) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG" and ds.nodata == -10000
    # an existing complete product is skipped unless --overwrite
    with pytest.raises(SystemExit) as exc:
        l3a_main(["-q", "compose", str(folder), "--tile", "T31UES", "--month", "2023-10", "--out", str(tmp_path)])
    assert exc.value.code == 0 and capsys.readouterr().out.strip().splitlines()[-1] == str(product)
    with pytest.raises(SystemExit) as exc:
        l3a_main(["info", str(product)])
    info = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0 and info["tile"] == "T31UES" and info["central_date"] == "2023-10-15"
    assert sum(info["flg_percent"].values()) == pytest.approx(100, abs=0.01)


@pytest.mark.parametrize("args, message", [
    (["--month", "2024-06"], "no product of tile T31UES"),
    (["--month", "2023-13"], "not a month"),
    (["--month", "2023-10", "--date", "2023-10-15"], "exactly one of"),
    (["--month", "2023-10", "--bands", "B2,B5"], "B5"),
])
def test_cli_bad_input_one_line_exit_2(optical, tmp_path, capsys, args, message):
    _, paths = optical
    with pytest.raises(SystemExit) as exc:
        l3a_main(["compose", *map(str, paths[:6]), "--tile", "T31UES", *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.splitlines()
    # warnings (e.g. products without ATB) may come first, each on one line; the error is one last line
    assert exc.value.code == 2 and err[-1].startswith("l3a: error: ") and message in err[-1]
    assert not [line for line in err if "Traceback" in line or line.startswith(" ")]
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_same_tile_on_two_grids_is_an_error(optical, tmp_path):
    cube, paths = optical
    shifted = dataclasses.replace(cube, transform=cube.transform @ Affine.translation(1, 0))
    other = write_theia_like(shifted, 5, tmp_path / "shifted")
    with pytest.raises(TileGridError, match="another R1 grid"):
        compose([paths[4], other], dt.date(2023, 10, 15), NO_BRDF, tmp_path / "o")
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_duplicates_and_empty_products_warn_and_go_on(optical, tmp_path, caplog):
    cube, paths = optical
    dup = tmp_path / "dup"
    shutil.copytree(paths[4], dup / paths[4].name)
    empty = dataclasses.replace(cube, scl=np.zeros_like(cube.scl))
    nodata_product = write_theia_like(empty, 3, tmp_path / "empty", platform="S2A")
    with caplog.at_level("WARNING", logger="l3a"):
        out = compose([*paths[3:6], dup / paths[4].name, nodata_product], dt.date(2023, 10, 15), NO_BRDF,
                      tmp_path / "o")
    text = caplog.text
    assert "duplicate acquisition" in text and "no valid pixel" in text
    assert open_l3a(out).read_mask("FLG", "R1").max() == 4
    with pytest.raises(EmptyWindowError):
        compose([nodata_product], dt.date(2023, 10, 15), NO_BRDF, tmp_path / "o2")
