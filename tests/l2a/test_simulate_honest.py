"""The simulator does not hand the compositor the answer (issue 12): L2A masks with a real processor's errors, a
ground whose directional reflectance is not the compositor's model, nadir reflectance that depends on the sun, each
detector's own viewing angles, explicit truth (NADIR files, definitions), and windows of a tile at true pixel size.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from l2a.brdf import c_factor
from l2a.cli import cli as l2a_cli
from l2a.cli_options import run_cli
from l2a.errors import InvalidParameterError
from l2a.simulate.atmosphere import forward_model_args
from l2a.simulate import kernels, landscape, orbits
from l2a.simulate.clouds import day_params
from l2a.simulate.driver import _R1_IDX, SimulationConfig, simulate
from l2a.simulate.frame import tile_frame, world_params
from l2a.simulate.masks import PRESETS, MaskQuality, mask_accuracy, mask_quality, quality_params
from l2a.simulate.mgrs import tile_footprint
from l2a.simulate.surface_brdf import (
    MIN_DEPARTURE,
    SNOW_ROW,
    TENDENCIES,
    cover_brdf_factor_ref,
    cover_brdf_table,
    cover_multipliers,
)

D = dt.date
_TILE = "T31TCJ"


def _scene(quality, *, day=D(2018, 6, 15), n=160, row0=0, col0=0, pixel=None, bands=(1,), seed=1, mode=None):
    """scene_block outputs of an n x n block of T31TCJ on one pass."""
    frame = tile_frame(tile_footprint(_TILE))
    q = quality if isinstance(quality, MaskQuality) else PRESETS[quality]
    if mode == kernels.MODE_MONTHLY:
        acq, track, orbit = None, np.array([0.0, 0.0, float(day.timetuple().tm_yday)]), 0
    else:
        (acq,) = orbits.acquisitions_for_tiles([frame], day, day)[_TILE]
        track, orbit = orbits.track_params(acq), acq.relative_orbit
    out = kernels.allocate_outputs(len(bands), n, n)
    kernels.scene_block(frame.nodes, frame.step, pixel or 109800 / n, row0, col0, np.array(bands, np.int64),
                        world_params(seed), day_params(seed, day), track,
                        kernels.MODE_ACQUISITION if mode is None else mode, 7, cover_brdf_table(seed),
                        quality_params(q, seed, day, orbit), *forward_model_args("analytic", "S2A"), *out)
    return out, acq


def _planes(u8):
    inside = u8[kernels.U_EDGE] == 0
    flagged = ((u8[kernels.U_CLOUD_DET] | u8[kernels.U_SHADOW_DET] | u8[kernels.U_CIRRUS_DET]) > 0) & inside
    return inside, flagged


# --- masks ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def masks_by_preset():
    """The same cloudy pass (2018-06-15, R051, half the tile cloudy) under each preset, 300 m pixels."""
    return {name: _scene(name, n=366)[0][4] for name in PRESETS}


def test_perfect_masks_miss_nothing(masks_by_preset):
    u8 = masks_by_preset["perfect"]
    inside, flagged = _planes(u8)
    opaque = inside & (u8[kernels.U_CLOUD] == 2)
    shaded = inside & (u8[kernels.U_SHADOW] == 1)
    assert opaque.sum() > 1000 and shaded.sum() > 100
    assert not (opaque & ~flagged).any() and not (shaded & ~flagged).any()
    # water and snow planes are the true classes
    cls = u8[kernels.U_CLASS]
    assert np.array_equal(u8[kernels.U_WATER_DET] == 1, cls == landscape.CLASS_WATER)
    assert np.array_equal(u8[kernels.U_SNOW_DET] == 1, cls == landscape.CLASS_SNOW)


def test_processor_presets_miss_thin_clouds_first_and_make_false_alarms(masks_by_preset):
    rates = {}
    for name, u8 in masks_by_preset.items():
        inside, flagged = _planes(u8)
        thin = inside & (u8[kernels.U_CLOUD] == 1) & (u8[kernels.U_SHADOW] == 0)
        opaque = inside & (u8[kernels.U_CLOUD] == 2)
        clear = inside & (u8[kernels.U_CLOUD] == 0) & (u8[kernels.U_SHADOW] == 0)
        # clear pixels far (> 2 km) from any true cloud or shadow: the dilation alone rarely flags them
        far = clear & ~ndimage.binary_dilation(~clear & inside, iterations=7)
        rates[name] = {"thin": (thin & ~flagged).sum() / thin.sum(), "opaque": (opaque & ~flagged).sum() / opaque.sum(),
                       "far_false": (far & flagged).sum() / far.sum(), "far": far.sum()}
    assert rates["perfect"]["opaque"] == 0
    for name in ("maja", "sen2cor"):
        r = rates[name]
        assert r["far"] > 1000
        assert r["thin"] > 3 * max(r["opaque"], 1e-3), (name, r)          # omission concentrated on thin clouds
        assert r["thin"] > rates["perfect"]["thin"] + 0.05, (name, r)
        assert r["far_false"] > rates["perfect"]["far_false"] + 0.005, (name, r)      # some commission
    assert rates["sen2cor"]["thin"] > rates["maja"]["thin"]
    assert rates["sen2cor"]["far_false"] > rates["maja"]["far_false"]


def test_mask_errors_come_in_patches_not_salt_and_pepper():
    """Commission alone, 30 m pixels: false clouds fill 240 m cells (8 x 8 pixels), not isolated pixels."""
    only = MaskQuality(name="test", commission=0.05)
    u8 = _scene(only, day=D(2018, 7, 13), n=192, pixel=30.0, row0=1200, col0=600)[0][4]
    inside, flagged = _planes(u8)
    truth_clear = inside & (u8[kernels.U_CLOUD] == 0) & (u8[kernels.U_SHADOW] == 0)
    false = flagged & truth_clear & (u8[kernels.U_CLOUD_DET] == 1)
    labels, count = ndimage.label(false)
    assert false.sum() > 200 and count > 0
    assert false.sum() / count > 20


def test_shadow_from_a_wrong_cloud_height_is_offset():
    exact = MaskQuality(name="exact")
    wrong = MaskQuality(name="height", shadow_height_error_m=3000.0)
    a = _scene(exact, n=366)[0][4]
    b = _scene(wrong, n=366)[0][4]
    sa, sb = a[kernels.U_SHADOW_DET] == 1, b[kernels.U_SHADOW_DET] == 1
    assert sa.sum() > 50 and sb.sum() > 50
    assert (sa != sb).sum() > 0.1 * sa.sum()
    # the true clouds and shadows do not move
    assert np.array_equal(a[kernels.U_SHADOW], b[kernels.U_SHADOW]) and np.array_equal(a[kernels.U_CLOUD], b[kernels.U_CLOUD])


def test_mask_quality_presets_and_validation():
    assert mask_quality("MAJA") is PRESETS["maja"] and PRESETS["perfect"].perfect and not PRESETS["maja"].perfect
    assert mask_quality(PRESETS["sen2cor"]) is PRESETS["sen2cor"]
    with pytest.raises(InvalidParameterError, match="mask quality"):
        mask_quality("fmask")
    with pytest.raises(InvalidParameterError, match="probability"):
        MaskQuality(commission=1.5)
    with pytest.raises(InvalidParameterError, match=">= 0"):
        MaskQuality(shadow_height_error_m=-1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["maja"].commission = 0.0                                        # noqa: B003
    assert SimulationConfig("x", start=D(2018, 6, 1), end=D(2018, 6, 2)).mask_quality is PRESETS["maja"]


def test_mask_accuracy_counts():
    truth = np.zeros((4, 2, 3), np.uint8)
    truth[0] = 1
    truth[1, 0, :2] = 2              # two cloudy pixels
    truth[2, 1, 0] = 1               # one shadow
    clm = np.zeros((2, 3), np.uint8)
    clm[0, 0] = 1                    # one hit, one miss of cloud, shadow missed
    clm[1, 2] = 1                    # one false alarm
    r = mask_accuracy(truth, clm)
    assert (r["pixels"], r["true_cloudy"], r["hits"], r["misses"], r["false_alarms"]) == (6, 3, 1, 2, 1)
    assert r["overall_accuracy"] == pytest.approx(0.5)


# --- directional reflectance ----------------------------------------------------------------------------------------
def test_every_cover_has_its_own_brdf_weights_not_roys():
    for seed in (0, 1, 17):
        m = cover_multipliers(seed)
        for row in TENDENCIES:
            assert np.all(np.abs(m[row] - 1.0) >= MIN_DEPARTURE - 1e-12), (seed, row, m[row])
        assert not np.allclose(cover_multipliers(seed), cover_multipliers(seed + 1))
    m = cover_multipliers(3)
    assert m[landscape.LAKE, 0] < 1 and m[landscape.CONIFER, 1] > 1 and m[SNOW_ROW, 1] < 1


def test_roy_c_factor_does_not_recover_the_simulated_nadir_reflectance():
    """Applying the compositor's c-factor to the directional truth leaves an error off nadir; the simulator's own
    per-cover model, with each band's per-detector viewing angles of the metadata grids, recovers its NADIR
    exactly. If the simulator used Roy's model, the first error would vanish; if it ignored the detectors (one line
    of sight for every band), the second check would fail."""
    n = 122
    bands = tuple(int(b) for b in _R1_IDX)
    out, acq = _scene("perfect", day=D(2018, 6, 10), n=n, bands=bands)
    refl, nadir, u8 = out[0].astype(np.float64), out[1].astype(np.float64), out[4]
    frame = tile_frame(tile_footprint(_TILE))
    coords = kernels.interpolate_nodes_ref(frame.nodes, frame.step, 109800 / n, 0, n, n)
    sun, view, det = kernels.geometry_block_ref(coords[2].ravel(), coords[3].ravel(), orbits.track_params(acq),
                                                orbits.ALONG_TRACK_DEG)
    inside = (det > 0) & np.isfinite(refl[0].ravel())
    assert inside.mean() > 0.3
    code, cls = u8[kernels.U_LANDCOVER].ravel(), u8[kernels.U_CLASS].ravel()
    row = np.where(cls == landscape.CLASS_SNOW, SNOW_ROW, code)
    table = cover_brdf_table(1)
    for k, (b, band) in enumerate(zip(bands, ("B2", "B3", "B4", "B8"))):
        vz, raa = view[b, 0], sun[1] - view[b, 1]
        directional, target = refl[k].ravel(), nadir[k].ravel()
        own = directional * cover_brdf_factor_ref(table, row, b, sun[0], 0.0, 0.0) / cover_brdf_factor_ref(
            table, row, b, sun[0], vz, raa)
        rel_own = np.abs(own - target)[inside] / target[inside]
        assert np.max(rel_own) < 1e-4, band
        off = inside & (vz > 6)
        assert off.sum() > 500
        roy = directional * c_factor(band, sun[0], vz, raa)
        rel_roy = np.abs(roy - target)[off] / target[off]
        assert np.median(rel_roy) > 3e-3, (band, np.median(rel_roy))


def test_nadir_reflectance_depends_on_the_sun_zenith():
    table = cover_brdf_table(1)
    for row in (landscape.MAIZE, landscape.CONIFER, landscape.URBAN, SNOW_ROW):
        f = cover_brdf_factor_ref(table, row, 3, np.array([20.0, 35.0, 65.0]), 0.0, 0.0)
        assert f[1] == pytest.approx(1.0) and abs(f[0] - f[2]) > 0.03, (row, f)
    # the monthly truth of June and December at the same towns (no phenology there): the sun makes the difference
    month = {}
    for day in (D(2018, 6, 15), D(2018, 12, 15)):
        out, _ = _scene("perfect", day=day, n=120, mode=kernels.MODE_MONTHLY)
        month[day.month] = out
    town = (month[6][4][kernels.U_LANDCOVER] == landscape.URBAN) & (month[12][4][kernels.U_CLASS] == landscape.CLASS_LAND)
    assert town.sum() > 10
    ratio = month[12][0][0][town] / month[6][0][0][town]
    assert abs(np.median(ratio) - 1.0) > 0.03 and np.ptp(ratio) < 0.05


# --- truth files and definitions -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("honest")
    simulate(SimulationConfig(out, start=D(2018, 7, 13), end=D(2018, 7, 15), tiles=(_TILE,), size=60, seed=3,
                              workers=2))
    return out


def test_nadir_truth_files_and_definitions(small):
    idx = json.loads((small / "truth" / "index.json").read_text())
    assert idx["simulator"]["mask_quality"] == "maja" and idx["simulator"]["window"] is None
    assert idx["simulator"]["mask_quality_parameters"]["commission"] == PRESETS["maja"].commission
    assert {"acquisition_REFL", "acquisition_NADIR", "monthly_REFL", "nominal_overpass_time"} <= set(idx["definitions"])
    assert set(idx["simulator"]["surface_brdf"]["multipliers"]) >= {str(landscape.MAIZE), str(SNOW_ROW)}
    acqs = idx["tiles"][_TILE]["acquisitions"]
    assert len(acqs) == 2
    for a in acqs:
        assert {"NADIR_R1", "NADIR_R2", "REFL_R1", "REFL_R2"} <= set(a["files"])
        for res in ("R1", "R2"):
            with rasterio.open(small / "truth" / a["files"][f"NADIR_{res}"]) as ds:
                nadir = ds.read()
                assert ds.nodata == -10000 and ds.dtypes[0] == "int16"
            with rasterio.open(small / "truth" / a["files"][f"REFL_{res}"]) as ds:
                refl = ds.read()
            assert np.array_equal(nadir == -10000, refl == -10000)
            valid = refl != -10000
            assert valid.mean() > 0.3 and (nadir[valid] != refl[valid]).mean() > 0.5
        product = small / a["product"]
        assert "simulator_mask_quality" in (next(product.glob("*_MTD_ALL.xml"))).read_text()
    (month,) = idx["tiles"][_TILE]["monthly"]
    assert month["files"]["REFL_R1"] == f"{_TILE}/monthly/{_TILE}_20180715_REFL_R1.tif"


# --- windows ---------------------------------------------------------------------------------------------------------
def test_window_products_are_crops_of_the_tile(tmp_path, capsys):
    kw = dict(start=D(2018, 6, 3), end=D(2018, 6, 5), tiles=(_TILE,), seed=2, workers=2)
    simulate(SimulationConfig(tmp_path / "a", window=(8000, 2000, 96, 72), **kw))
    simulate(SimulationConfig(tmp_path / "b", window=(8048, 2024, 96, 72), **kw))
    idx = json.loads((tmp_path / "a" / "truth" / "index.json").read_text())
    assert idx["simulator"]["window"] == [8000, 2000, 96, 72] and idx["simulator"]["size"] == 10980
    grids = idx["tiles"][_TILE]["grids"]
    assert grids["R1"]["transform"] == [10.0, 0.0, 300000.0 + 80000.0, 0.0, -10.0, 4900020.0 - 20000.0]
    assert (grids["R1"]["width"], grids["R1"]["height"], grids["R2"]["width"], grids["R2"]["height"]) == (96, 72, 48, 36)
    from l2a import open_l2a

    products = sorted(p for p in (tmp_path / "a").iterdir() if p.name.startswith("SENTINEL2"))
    assert products
    for pa in products:
        pb = tmp_path / "b" / pa.name
        with open_l2a(pa) as a, open_l2a(pb) as b:
            assert a.shape("R1") == (72, 96) and a.shape("R2") == (36, 48)
            assert a.transform("R1").c == 380000.0 and a.transform("R1").f == 4880020.0
            b4a, b4b = a.read_band("B4"), b.read_band("B4")
            assert np.array_equal(b4a[24:, 48:], b4b[:48, :48])                 # the overlap, same bytes
            b11a, b11b = a.read_band("B11"), b.read_band("B11")
            assert np.array_equal(b11a[12:, 24:], b11b[:24, :24])
            ma, mb = a.read_masks("R1"), b.read_masks("R1")
            assert np.array_equal(ma["cloud"][24:, 48:], mb["cloud"][:48, :48])
    assert run_cli(l2a_cli, "l2a", ["info", str(products[0])]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tile"] == _TILE


@pytest.mark.parametrize("args, message", [
    (["--window", "0,0,100"], "4 integers"),
    (["--window", "a,b,c,d"], "4 integers"),
    (["--window", "0,0,101,100"], "even"),
    (["--window", "-2,0,100,100"], ">= 0"),
    (["--window", "0,0,0,100"], "> 0"),
    (["--window", "10900,0,200,200"], "past the tile"),
    (["--window", "0,0,100,100", "--size", "1098"], "--size"),
    (["--window", "0,0,100,100", "--level", "l1c"], "multiples of 6"),
    (["--mask-quality", "fmask"], "mask-quality"),
])
def test_cli_window_and_mask_quality_bad_input(tmp_path, capsys, args, message):
    argv = ["simulate", "--out", str(tmp_path / "out"), "--start", "2018-06-01", "--end", "2018-06-05"] + args
    code = run_cli(l2a_cli, "l2a", argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("l2a: error:") and message in err, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_cli_mask_quality_is_recorded(tmp_path):
    code = run_cli(l2a_cli, "l2a", ["simulate", "--out", str(tmp_path), "--tiles", _TILE, "--start", "2018-06-03",
                                    "--end", "2018-06-03", "--size", "20", "--mask-quality", "sen2cor", "-q",
                                    "--workers", "1"])
    assert code == 0
    idx = json.loads((tmp_path / "truth" / "index.json").read_text())
    assert idx["simulator"]["mask_quality"] == "sen2cor"


def test_kernels_from_cosines_match_the_kernels():
    from l2a.brdf import kernels, kernels_cs

    rng = np.random.default_rng(3)
    for sza, vza, raa in zip(rng.uniform(0, 1.3, 200), rng.uniform(0, 0.25, 200), rng.uniform(-4, 4, 200)):
        got = kernels_cs(np.cos(sza), np.sin(sza), np.cos(vza), np.sin(vza), np.cos(raa), np.sin(raa))
        np.testing.assert_allclose(got, kernels(sza, vza, raa), rtol=1e-9, atol=1e-12)
    # the per-band line of sight as a vector gives view_angles' zenith and azimuth
    for cross in (-140000.0, -3000.0, 2000.0, 90000.0):
        for along in (-1.9, 0.5):
            e, n = orbits.view_vector(*orbits.cross_track_vector(cross), np.tan(np.radians(along)))
            zen, az = orbits.view_angles(cross, along)
            assert np.degrees(np.arctan(np.hypot(e, n))) == pytest.approx(zen, abs=1e-9)
            assert np.degrees(np.arctan2(e, n)) % 360 == pytest.approx(az, abs=1e-9)
