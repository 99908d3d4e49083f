"""``l2a validate``: each figure on a small simulated closed loop, and each failing on a planted defect."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from l2a.cli import cli as l2a_cli
from l2a.cli_options import run_cli
from l2a.validate import validate_l2a


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    """Two simulated L1C dates of T31TCJ at 240 px (one cloudy, with mountains' snow out of reach), processed."""
    root = tmp_path_factory.mktemp("l2a-loop")
    assert run_cli(l2a_cli, "l2a", ["-q", "simulate", "--out", str(root / "sim"), "--tiles", "T31TCJ", "--start",
                                    "2018-07-08", "--end", "2018-07-10", "--size", "240", "--level", "l1c",
                                    "--seed", "3"]) == 0
    assert run_cli(l2a_cli, "l2a", ["-q", "process", str(root / "sim"), "--out", str(root / "l2a"), "--max-cloud",
                                    "100"]) == 0
    products = sorted((root / "l2a").glob("SENTINEL2*"))
    assert len(products) == 2
    return root, products


def _copy(product: Path, dest: Path) -> Path:
    out = dest / product.name
    shutil.copytree(product, out)
    return out


def _edit_raster(path: Path, change) -> None:
    with rasterio.open(path) as ds:
        data, profile = ds.read(), ds.profile
    profile.update(driver="GTiff")
    profile.pop("tiled", None)
    with rasterio.open(path, "w", **{k: v for k, v in profile.items() if k not in ("blockxsize", "blockysize")}) as ds:
        ds.write(change(data))


def test_report_has_every_figure(loop, capsys):
    root, products = loop
    capsys.readouterr()
    assert run_cli(l2a_cli, "l2a", ["validate", str(products[0]), "--truth", str(root / "sim")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["reflectance"]) == {"B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12"}
    assert report["clear_land_pixels"] > 100
    assert {"estimated", "all"} <= set(report["aot"])
    assert set(report["masks"]) == {"cloud_or_shadow", "cloud", "shadow", "snow", "water"}
    assert 0.0 <= report["masks"]["cloud_or_shadow"]["overall_accuracy"] <= 1.0


def test_reflectance_error_fails_on_a_planted_offset(loop, tmp_path):
    root, products = loop
    good = validate_l2a(products[1], root / "sim")["reflectance"]["B4"]
    bad_product = _copy(products[1], tmp_path)
    _edit_raster(next(bad_product.glob("*_FRE_B4.tif")), lambda d: np.where(d == -10000, d, d + 200))
    bad = validate_l2a(bad_product, root / "sim")["reflectance"]["B4"]
    assert abs(bad["bias"] - good["bias"] - 0.02) < 0.001
    assert bad["rmse"] > max(good["rmse"], 0.01)   # the 0.01 target is missed


def test_mask_accuracy_fails_when_clouds_are_not_flagged(loop, tmp_path):
    root, products = loop
    cloudy = max(products, key=lambda p: validate_l2a(p, root / "sim")["masks"]["cloud"]["true_pixels"])
    good = validate_l2a(cloudy, root / "sim")["masks"]
    assert good["cloud"]["true_pixels"] > 50
    bad_product = _copy(cloudy, tmp_path)
    for clm in (bad_product / "MASKS").glob("*_CLM_R*.tif"):
        _edit_raster(clm, np.zeros_like)
    for mg2 in (bad_product / "MASKS").glob("*_MG2_R*.tif"):
        _edit_raster(mg2, lambda d: d & ~np.uint8(0b1010))
    bad = validate_l2a(bad_product, root / "sim")["masks"]
    assert bad["cloud"]["recall"] == 0.0
    assert bad["cloud_or_shadow"]["overall_accuracy"] < good["cloud_or_shadow"]["overall_accuracy"] - 0.02


def test_aot_error_fails_on_a_planted_aot(loop, tmp_path):
    root, products = loop
    good = validate_l2a(products[1], root / "sim")["aot"]["all"]["rmse"]
    bad_product = _copy(products[1], tmp_path)
    for atb in bad_product.glob("*_ATB_R*.tif"):
        _edit_raster(atb, lambda d: np.where(np.arange(2)[:, None, None] == 1, np.minimum(d.astype(int) + 40, 255),
                                             d).astype(np.uint8))
    bad = validate_l2a(bad_product, root / "sim")["aot"]["all"]["rmse"]
    assert bad > good + 0.1


def test_water_agreement_fails_when_water_is_called_land(loop, tmp_path):
    root, products = loop
    product = products[1]
    good = validate_l2a(product, root / "sim")["masks"]["water"]
    if good["true_pixels"] < 5:
        raise AssertionError("the scene must hold water for this test (seed 3 has a lake and rivers)")
    bad_product = _copy(product, tmp_path)
    for mg2 in (bad_product / "MASKS").glob("*_MG2_R*.tif"):
        _edit_raster(mg2, lambda d: d & ~np.uint8(1))
    assert validate_l2a(bad_product, root / "sim")["masks"]["water"]["recall"] == 0.0
    bad = validate_l2a(bad_product, root / "sim")["masks"]["water"]
    assert all(bad[f"{k}_recall"] in (0.0, None) for k in ("lake", "river"))
    assert any(good[f"{k}_pixels"] for k in ("lake", "river"))


def test_shadow_recall_fails_when_shadows_are_not_flagged(loop, tmp_path):
    root, products = loop
    cloudy = max(products, key=lambda p: validate_l2a(p, root / "sim")["masks"]["shadow"]["true_pixels"])
    good = validate_l2a(cloudy, root / "sim")["masks"]["shadow"]
    assert good["true_pixels"] > 20 and good["recall"] > 0.5
    bad_product = _copy(cloudy, tmp_path)
    for clm in (bad_product / "MASKS").glob("*_CLM_R*.tif"):
        _edit_raster(clm, lambda d: d & ~np.uint8((1 << 5) | (1 << 6)))
    for mg2 in (bad_product / "MASKS").glob("*_MG2_R*.tif"):
        _edit_raster(mg2, lambda d: d & ~np.uint8(0b1000))
    assert validate_l2a(bad_product, root / "sim")["masks"]["shadow"]["recall"] == 0.0


def test_snow_agreement_fails_when_snow_is_called_land(tmp_path):
    # a July pass over the massif of T30TYN holds snow
    sim = tmp_path / "sim"
    assert run_cli(l2a_cli, "l2a", ["-q", "simulate", "--out", str(sim), "--tiles", "T30TYN", "--start",
                                    "2018-07-05", "--end", "2018-07-05", "--size", "120", "--level", "l1c",
                                    "--seed", "7"]) == 0
    assert run_cli(l2a_cli, "l2a", ["-q", "process", str(sim), "--out", str(tmp_path / "l2a"), "--max-cloud",
                                    "100"]) == 0
    [product] = sorted((tmp_path / "l2a").glob("SENTINEL2*"))
    good = validate_l2a(product, sim)["masks"]["snow"]
    assert good["true_pixels"] > 5 and good["recall"] > 0.5
    for mg2 in (product / "MASKS").glob("*_MG2_R*.tif"):
        _edit_raster(mg2, lambda d: d & ~np.uint8(0b100))
    assert validate_l2a(product, sim)["masks"]["snow"]["recall"] == 0.0
