"""``l2a process --dem``: the DEM averaged onto the cells, the pressure it implies, the cirrus altitude term, the
simulator's terrain as a DEM, and bad DEMs (one line naming the file, exit 2, no product)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from l2a.cli import cli as l2a_cli
from l2a.cli_options import run_cli
from l2a.errors import CorruptRasterError, InvalidParameterError, MissingFileError
from l2a.process import ProcessParams
from l2a.process.dem import altitude_cells, pressure_hpa
from l2a.process.masks import compute_masks

from .test_process_kernels import _scene

UTM31 = CRS.from_epsg(32631)
# 4 x 4 cells of 240 m in UTM 31N, near Toulouse (1.44 E, 43.6 N)
CELLS = Affine(240.0, 0.0, 360000.0, 0.0, -240.0, 4830000.0)


def _write_dem(path: Path, data: np.ndarray, transform: Affine, crs=UTM31, nodata=None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(data.astype(np.float32), 1)
    return path


def test_standard_atmosphere_pressure():
    assert pressure_hpa(0.0) == pytest.approx(1013.25)
    assert pressure_hpa(1500.0) == pytest.approx(845.6, abs=1.0)   # ICAO standard atmosphere
    assert pressure_hpa(3000.0) == pytest.approx(701.1, abs=1.0)


def test_cells_take_the_mean_altitude_of_a_dem_in_another_crs(tmp_path):
    # a 30 m DEM in UTM: the left half of the cells at 1000 m, the right half at 2000 m
    dem = np.where(np.arange(32)[None, :] < 16, 1000.0, 2000.0) * np.ones((32, 1))
    path = _write_dem(tmp_path / "dem.tif", dem, Affine(30.0, 0.0, 360000.0, 0.0, -30.0, 4830000.0))
    altitude, coverage = altitude_cells(path, UTM31, CELLS, (4, 4))
    assert coverage == 1.0
    np.testing.assert_allclose(altitude[:, :2], 1000.0, atol=1e-3)
    np.testing.assert_allclose(altitude[:, 2:], 2000.0, atol=1e-3)
    # the same ground in geographic coordinates, with a nodata hole: the hole's cells fall back to sea level
    with rasterio.open(path) as ds:
        from rasterio.warp import Resampling, calculate_default_transform, reproject

        t, w, h = calculate_default_transform(ds.crs, "EPSG:4326", ds.width, ds.height, *ds.bounds)
        geo = np.full((h, w), -9999.0, np.float32)
        reproject(ds.read(1), geo, src_transform=ds.transform, src_crs=ds.crs, dst_transform=t,
                  dst_crs="EPSG:4326", resampling=Resampling.nearest, dst_nodata=-9999.0)
    geo[: h // 2, :] = -9999.0
    geo_path = _write_dem(tmp_path / "geo.tif", geo, t, crs=CRS.from_epsg(4326), nodata=-9999.0)
    altitude, coverage = altitude_cells(geo_path, UTM31, CELLS, (4, 4))
    assert 0.25 <= coverage <= 0.75
    assert (altitude[0] == 0.0).all()
    np.testing.assert_allclose(altitude[2:, 0], 1000.0, rtol=0.02)
    np.testing.assert_allclose(altitude[2:, 3], 2000.0, rtol=0.02)


def test_bad_dems_are_refused(tmp_path):
    with pytest.raises(MissingFileError, match="no DEM file"):
        altitude_cells(tmp_path / "none.tif", UTM31, CELLS, (4, 4))
    far = _write_dem(tmp_path / "far.tif", np.ones((8, 8)), Affine(30.0, 0.0, 600000.0, 0.0, -30.0, 5300000.0))
    with pytest.raises(InvalidParameterError, match="covers none of the tile"):
        altitude_cells(far, UTM31, CELLS, (4, 4))
    no_crs = tmp_path / "nocrs.tif"
    with rasterio.open(no_crs, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32") as ds:
        ds.write(np.ones((1, 4, 4), np.float32))
    with pytest.raises(InvalidParameterError, match="no CRS"):
        altitude_cells(no_crs, UTM31, CELLS, (4, 4))
    junk = tmp_path / "junk.tif"
    junk.write_bytes(b"II*\x00" + b"\x00" * 40)
    with pytest.raises(CorruptRasterError, match="cannot be read"):
        altitude_cells(junk, UTM31, CELLS, (4, 4))


def test_cirrus_threshold_rises_with_altitude():
    # B10 TOA 0.02: cirrus at sea level (threshold 0.007), surface signal through dry air at 2000 m (0.031)
    scene = _scene(b10=np.full((40, 40), 0.02))
    assert compute_masks(scene, ProcessParams()).cirrus.all()
    scene.altitude = np.full((40, 40), 2000.0)
    assert not compute_masks(scene, ProcessParams()).cirrus.any()
    scene.altitude = np.full((40, 40), 1000.0)  # 0.007 + 0.000012 x 1000^2 / 2000 = 0.013 < 0.02
    assert compute_masks(scene, ProcessParams()).cirrus.all()


@pytest.mark.slow
def test_simulated_terrain_is_a_dem_for_the_processor(tmp_path, capsys):
    sim = tmp_path / "sim"
    assert run_cli(l2a_cli, "l2a", ["-q", "simulate", "--out", str(sim), "--tiles", "T30TYN", "--start",
                                    "2018-07-05", "--end", "2018-07-05", "--size", "120", "--level", "l1c",
                                    "--seed", "7"]) == 0
    index = json.loads((sim / "truth" / "index.json").read_text())
    dem = sim / "truth" / index["tiles"]["T30TYN"]["dem"]
    with rasterio.open(dem) as ds:
        z = ds.read(1)
        assert ds.crs.to_epsg() == 32630 and z.shape == (60, 60)
    assert 100 < z.min() and 2500 < z.max() < 4500     # the massif in the tile's south
    capsys.readouterr()
    assert run_cli(l2a_cli, "l2a", ["process", str(sim), "--out", str(tmp_path / "l2a"), "--max-cloud", "100",
                                    "--dem", str(dem)]) == 0
    [product] = sorted((tmp_path / "l2a").glob("SENTINEL2*"))
    mtd = next(product.glob("*_MTD_ALL.xml")).read_text()
    assert "T30TYN_DEM_R2.tif (covers 100.0 % of the tile" in mtd
    # a DEM of another tile: one line naming it, exit 2, nothing written
    other = _write_dem(tmp_path / "other.tif", np.ones((8, 8)), Affine(30.0, 0.0, 360000.0, 0.0, -30.0, 4830000.0),
                       crs=UTM31)
    capsys.readouterr()
    code = run_cli(l2a_cli, "l2a", ["process", str(sim), "--out", str(tmp_path / "l2a-other"), "--dem", str(other)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and str(other) in err and "covers none of the tile" in err, err
    assert not any((tmp_path / "l2a-other").glob("SENTINEL2*"))
