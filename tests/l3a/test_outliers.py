"""The multi-temporal outlier test (l3a.kernels.outliers): kernel against its numpy twin, what it rejects (missed
thin clouds, shadows) and what it keeps (harvest, mowing, green-up, drying soil, bright stubble, stable pixels), when
it stays inactive, and the synthesis with and without it (the wasp profile untouched)."""

import dataclasses
import datetime as dt
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from l2a.constants import REFLECTANCE_NODATA
from l3a.compose import compose
from l3a.flags import FLG_CLOUD, FLG_LAND, FLG_SNOW, FLG_WATER
from l3a.kernels import screen_outliers, screen_outliers_ref
from l3a.params import DEFAULT, WASP
from l3a.product import open_l3a

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the small Theia products of test_compose_options

ND = REFLECTANCE_NODATA
HAZE, RED, NIR, SWIR = 0, 1, 2, 3  # band axis of the hand-made pixels: B2, B4, B8, B11
P = DEFAULT
ARGS = (HAZE, NIR, SWIR, P.outlier_min_clear, P.haze_rise * 10000.0, P.haze_rise_relative, P.haze_nir_drop,
        P.haze_quantile, P.shadow_darkening, P.haze_flatness)
ARGS_10M = (HAZE, NIR, RED) + ARGS[3:]  # the 10 m roles: blue, NIR, red (the second band and the haze guard)
CANOPY = (300, 400, 3500, 1800)  # a summer crop, x 10000: dark blue and red, bright NIR, mid SWIR


def run_both(refl, obs_class, args=ARGS):
    """Kernel output, after checking that the numpy twin gives exactly the same."""
    refl = np.asarray(refl)
    obs_class = np.asarray(obs_class, np.uint8)
    got = np.full_like(obs_class, 250)
    ref = np.full_like(obs_class, 250)
    screen_outliers(refl, obs_class, *args, got)
    screen_outliers_ref(refl, obs_class, *args, ref)
    np.testing.assert_array_equal(got, ref)
    return got


def pixel(values, classes=None, args=ARGS):
    """One pixel: values (dates, bands) x 10000 -> classes after the test (dates,)."""
    values = np.asarray(values, np.float32)
    classes = np.full(len(values), FLG_LAND, np.uint8) if classes is None else np.asarray(classes, np.uint8)
    return run_both(values[:, :, None, None], classes[:, None, None], args)[:, 0, 0]


def stable(n, jitter=(0, 10, -8, 5, -4, 12, -10, 3)):
    """n clear dates of the canopy, a few 1e-4 of noise each."""
    return [[v + jitter[i % len(jitter)] * (1 + k) for k, v in enumerate(CANOPY)] for i in range(n)]


# ------------------------------------------------------------------------------------------ twin


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
@pytest.mark.parametrize("seed", range(6))
def test_kernel_matches_numpy_twin(dtype, seed):
    rng = np.random.default_rng(seed)
    n_dates = int(rng.integers(0, 13))
    shape = (n_dates, 4, 9, 1100)  # more columns than a kernel chunk
    base = np.array(CANOPY, np.float64)[None, :, None, None]
    refl = base * rng.lognormal(0.0, 0.35, shape)  # wide spread: many rejections of both kinds
    refl[rng.random(shape) < 0.04] = ND
    refl = refl.astype(np.float32) if dtype == np.float32 else np.rint(refl).astype(np.int16)
    obs_class = rng.choice(np.array([0, 1, 2, 3, 4, 4, 4, 4, 4], np.uint8), (n_dates, 9, 1100))
    for args in (ARGS, (HAZE, NIR, -1) + ARGS[3:], (-1, NIR, SWIR) + ARGS[3:], (HAZE, -1, SWIR) + ARGS[3:],
                 ARGS_10M, ARGS[:-1] + (0.0,),
                 (HAZE, NIR, RED, int(rng.integers(1, 6)), 50.0, 0.1, 0.3, float(rng.random()), 0.1,
                  2.0 * float(rng.random()))):
        got = run_both(refl, obs_class, args)
        changed = got != obs_class
        assert np.all(got[changed] == FLG_CLOUD) and np.all(obs_class[changed] == FLG_LAND)
    if n_dates >= 3:
        assert changed.any()


def test_in_place_and_independent_of_date_order():
    rng = np.random.default_rng(3)
    refl = (np.array(CANOPY, np.float64)[None, :, None, None] * rng.lognormal(0, 0.3, (8, 4, 5, 6))).astype(np.float32)
    obs_class = np.full((8, 5, 6), FLG_LAND, np.uint8)
    out = run_both(refl, obs_class)
    in_place = obs_class.copy()
    screen_outliers(refl, in_place, *ARGS, in_place)
    np.testing.assert_array_equal(in_place, out)
    perm = rng.permutation(8)
    np.testing.assert_array_equal(run_both(refl[perm], obs_class[perm]), out[perm])


# ------------------------------------------------------------------------------------------ what is rejected


def test_thin_cloud_missed_by_the_mask_is_rejected():
    values = stable(5)
    values[2] = [CANOPY[0] + 300, CANOPY[1] + 280, CANOPY[2] + 150, CANOPY[3] + 100]  # tau ~0.4: +0.03 in blue
    assert list(pixel(values)) == [FLG_LAND, FLG_LAND, FLG_CLOUD, FLG_LAND, FLG_LAND]


def test_thin_cloud_at_10_m_passes_the_spectral_guard():
    # nearly flat offset: blue +0.04, red +0.035 (0.04 >= 0.8 x 0.035), NIR +0.02
    values = stable(5)
    values[2] = [CANOPY[0] + 400, CANOPY[1] + 350, CANOPY[2] + 200, CANOPY[3] + 100]
    assert list(pixel(values, args=ARGS_10M)) == [FLG_LAND, FLG_LAND, FLG_CLOUD, FLG_LAND, FLG_LAND]


def test_haze_threshold_grows_with_the_reference():
    soil = (1000, 1400, 2200, 3000)  # a bright soil: blue 0.10
    values = [[v + 10 * i for v in soil] for i in range(4)]
    values.append([soil[0] + 250, soil[1] + 250, soil[2] + 200, soil[3] + 150])  # +0.025: within 0.01 + 0.3 x 0.10
    assert np.all(pixel(values) == FLG_LAND)
    canopy = stable(4) + [[CANOPY[0] + 250, CANOPY[1] + 250, CANOPY[2] + 200, CANOPY[3] + 150]]
    assert pixel(canopy)[4] == FLG_CLOUD  # the same +0.025 over a canopy (0.03) is haze


def test_shadow_is_rejected():
    values = stable(5)
    values[1] = [0.6 * CANOPY[0], 0.4 * CANOPY[1], 0.25 * CANOPY[2], 0.2 * CANOPY[3]]  # diffuse light only
    assert list(pixel(values)) == [FLG_LAND, FLG_CLOUD, FLG_LAND, FLG_LAND, FLG_LAND]


def test_shadow_and_thin_cloud_together():
    values = stable(6)
    values[0] = [0.6 * v for v in CANOPY]
    values[4] = [CANOPY[0] + 400, CANOPY[1] + 400, CANOPY[2] + 250, CANOPY[3] + 150]
    assert list(pixel(values)) == [FLG_CLOUD, FLG_LAND, FLG_LAND, FLG_LAND, FLG_CLOUD, FLG_LAND]


# ------------------------------------------------------------------------------------------ what is kept


def test_harvest_is_kept():
    # crop cut mid-window: stubble and soil, blue and red up, NIR down, SWIR up
    values = stable(3) + [[650, 1200, 2200, 2900], [700, 1250, 2100, 3000]]
    assert np.all(pixel(values) == FLG_LAND)


def test_mowing_is_kept():
    values = stable(4) + [[420, 650, 2300, 2400]]
    assert np.all(pixel(values) == FLG_LAND)


def _unguarded(args):
    return args[:-1] + (0.0,)


@pytest.mark.parametrize("n_wet, n_dry", [(3, 2), (2, 3)])
def test_drying_soil_is_kept(n_wet, n_dry):
    # bare soil wetted by rain, then drying: blue +0.03, red +0.05, NIR +0.03 (soil brightens more in red than blue)
    wet = (500, 700, 1500, 2000)
    dry = (800, 1200, 1800, 2600)
    values = [[v + 5 * i for v in wet] for i in range(n_wet)] + [[v - 5 * i for v in dry] for i in range(n_dry)]
    assert np.all(pixel(values, args=ARGS_10M) == FLG_LAND)
    # without the guard, the dry dates looked like haze (blue above 0.05 + 0.01 + 0.3 x 0.05, NIR not down)
    assert list(pixel(values, args=_unguarded(ARGS_10M))) == [FLG_LAND] * n_wet + [FLG_CLOUD] * n_dry


def test_bright_stubble_is_kept():
    # ripe cereal cut to stubble and straw: blue 0.06 -> 0.12, red 0.05 -> 0.16, NIR 0.30 -> 0.28 (-7 %)
    ripe = (600, 500, 3000, 2500)
    stubble = (1200, 1600, 2800, 3000)
    values = [[v + 5 * i for v in ripe] for i in range(3)] + [[v - 5 * i for v in stubble] for i in range(2)]
    assert np.all(pixel(values, args=ARGS_10M) == FLG_LAND)
    expected = [FLG_LAND] * 3 + [FLG_CLOUD] * 2  # taken for haze without the guard, or without a second band
    assert list(pixel(values, args=_unguarded(ARGS_10M))) == expected
    assert list(pixel(values, args=(HAZE, NIR, -1) + ARGS[3:])) == expected


def test_drying_soil_at_20_m_is_kept():
    # 20 m roles: B5 (705 nm) as haze band, B8A, B11 as the guard; drying raises the SWIR most
    wet = (700, 800, 1500, 2000)  # B5, (unused), B8A, B11
    dry = (1100, 1300, 1800, 2900)
    values = [[v + 5 * i for v in wet] for i in range(3)] + [[v - 5 * i for v in dry] for i in range(2)]
    assert np.all(pixel(values) == FLG_LAND)
    assert list(pixel(values, args=_unguarded(ARGS))) == [FLG_LAND] * 3 + [FLG_CLOUD] * 2


def test_green_up_is_kept():
    # emergence to closed canopy within the window: blue, red and SWIR fall, NIR doubles
    values = [[600, 900, 2000, 2700], [500, 750, 2500, 2400], [420, 600, 3000, 2100], [350, 480, 3500, 1900],
              [300, 400, 4000, 1700]]
    assert np.all(pixel(values) == FLG_LAND)


def test_senescence_is_kept():
    values = [[300, 400, 3800, 1700], [330, 480, 3400, 1950], [380, 620, 3000, 2300], [450, 800, 2600, 2600]]
    assert np.all(pixel(values) == FLG_LAND)


# ------------------------------------------------------------------------------------------ inactive


def test_fewer_than_three_clear_observations_leave_the_pixel_alone():
    values = stable(4)
    values[3] = [v + 600 for v in CANOPY]  # a bright haze...
    classes = [FLG_LAND, FLG_CLOUD, FLG_SNOW, FLG_LAND]  # ...but only two clear land observations
    assert list(pixel(values, classes)) == classes
    values[1][NIR] = ND  # a third land date, invalid in a test band, is no candidate either
    classes[1] = FLG_LAND
    assert list(pixel(values, classes)) == classes
    values[1][NIR] = CANOPY[NIR]
    assert list(pixel(values, classes))[3] == FLG_CLOUD  # with three, it is tested


def test_other_classes_are_never_changed():
    values = stable(5)
    values[4] = [v + 900 for v in CANOPY]
    classes = [FLG_LAND, FLG_LAND, FLG_LAND, FLG_WATER, FLG_WATER]
    assert list(pixel(values, classes)) == classes


# ------------------------------------------------------------------------------------------ synthesis


def _products(folder):
    from test_compose_options import SIZE, UTC, write_product

    clear = {"B2": 300, "B4": 400, "B8": 3500, "B11": 1800}
    hazy = {"B2": 700, "B4": 750, "B8": 3600, "B11": 1900}  # a thin cloud the mask missed (CLM 0)
    paths = [write_product(folder, dt.datetime(2023, 6, day, 10, 50, tzinfo=UTC), reflectance=clear)
             for day in (5, 10, 20)]
    paths.append(write_product(folder, dt.datetime(2023, 6, 15, 10, 50, tzinfo=UTC), reflectance=hazy))
    return paths, SIZE


def test_synthesis_rejects_the_missed_thin_cloud(tmp_path):
    paths, _ = _products(tmp_path / "in")
    no_brdf = dataclasses.replace(DEFAULT, brdf=False)
    on = open_l3a(compose(paths, dt.date(2023, 6, 15), no_brdf, tmp_path / "on"))
    off = open_l3a(compose(paths, dt.date(2023, 6, 15), dataclasses.replace(no_brdf, outlier_test=False),
                           tmp_path / "off"))
    assert np.all(on.read_frc("B2") == 300) and np.all(off.read_frc("B2") > 300)
    assert np.all(on.read_mask("FLG", "R1") == FLG_LAND)
    assert np.all(on.read_mask("NOB", "R1") == 3) and np.all(off.read_mask("NOB", "R1") == 4)
    # WGT sums the kept observations only
    assert np.all(on.read_mask("WGT", "R1") < off.read_mask("WGT", "R1"))
    # each resolution group tests with its own bands: R2 holds B11 alone here (no B5, no B8A), so it is not tested
    assert np.all(on.read_mask("NOB", "R2") == 4)
    np.testing.assert_array_equal(on.read_frc("B11"), off.read_frc("B11"))


def test_wasp_products_identical_with_and_without_the_test_code(tmp_path, monkeypatch):
    paths, _ = _products(tmp_path / "in")
    central = dt.date(2023, 6, 15)
    with_code = compose(paths, central, WASP, tmp_path / "with")
    module = importlib.import_module("l3a.compose")
    monkeypatch.setattr(module, "screen_block", lambda *args: None)
    without = compose(paths, central, WASP, tmp_path / "without")
    a, b = open_l3a(with_code), open_l3a(without)
    for band in ("B2", "B4", "B8", "B11"):
        np.testing.assert_array_equal(a.read_frc(band), b.read_frc(band))
    for res in ("R1", "R2"):
        for mask in ("WGT", "DTS", "FLG", "NOB"):
            np.testing.assert_array_equal(a.read_mask(mask, res), b.read_mask(mask, res))
    assert np.all(a.read_mask("NOB", "R1") == 4)  # the hazy date is averaged, as WASP does


def test_cli_outlier_test_option_is_recorded(tmp_path, capsys):
    from test_compose_options import recorded_params

    from l3a.cli import main as l3a_main

    paths, _ = _products(tmp_path / "in")
    found = {}
    for name, extra in (("default", []), ("off", ["--no-outlier-test"]), ("wasp", ["--profile", "wasp"]),
                        ("wasp_on", ["--profile", "wasp", "--outlier-test"])):
        with pytest.raises(SystemExit) as exc:
            l3a_main(["-q", "compose", *map(str, paths), "--tile", "T31TCJ", "--date", "2023-06-15", *extra,
                      "--out", str(tmp_path / name)])
        assert exc.value.code == 0
        product = capsys.readouterr().out.strip().splitlines()[-1]
        found[name] = json.loads(recorded_params(Path(product))["outlier_test"])
    assert found == {"default": True, "off": False, "wasp": False, "wasp_on": True}
