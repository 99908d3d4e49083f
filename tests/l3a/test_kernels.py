"""The fused synthesis kernel against its numpy twin, and each rule of SPEC section 4 on hand-made pixels."""

import dataclasses
import datetime as dt

import numpy as np
import pytest

from l2a.constants import REFLECTANCE_NODATA
from l3a import weights
from l3a.flags import DTS_NODATA, FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER
from l3a.kernels import (
    SNOW_AND_WATER_CODES,
    SNOW_WATER_RULE_CODES,
    compose_block,
    compose_block_ref,
    day_of_year_from_day_number,
    day_of_year_from_day_number_ref,
    prepare_date_block,
    prepare_date_block_ref,
)
from l3a.params import PROFILES, CompositeParams
from l3a.weights import day_number

ND = REFLECTANCE_NODATA
WEIGHTED, LATEST = SNOW_WATER_RULE_CODES["weighted"], SNOW_WATER_RULE_CODES["latest"]
OUTPUTS = ("refl", "wgt", "day", "flg", "nob")
UNSET = 32000


def run(function, refl, weight, obs_class, days, rank=None, blue_band=0, rule=WEIGHTED):
    refl = np.asarray(refl, dtype=np.float32 if np.asarray(refl).dtype == np.float32 else np.int16)
    n_dates, n_bands, n_rows, n_cols = refl.shape
    rank = np.arange(n_dates) if rank is None else rank
    # outputs start with values no rule produces here, to catch pixels left unwritten
    out = (np.full((n_bands, n_rows, n_cols), UNSET, np.int16), np.full((n_rows, n_cols), UNSET, np.int16),
           np.full((n_rows, n_cols), -1.0), np.full((n_rows, n_cols), 250, np.uint8),
           np.full((n_rows, n_cols), 250, np.uint8))
    function(refl, np.asarray(weight, dtype=np.float32), np.asarray(obs_class, dtype=np.uint8),
             np.asarray(days, dtype=np.float64), np.asarray(rank, dtype=np.int32), blue_band, rule, *out)
    return dict(zip(OUTPUTS, out))


def run_both(*args, **kwargs):
    """Kernel outputs, after checking that the numpy twin gives exactly the same."""
    got = run(compose_block, *args, **kwargs)
    ref = run(compose_block_ref, *args, **kwargs)
    for name in OUTPUTS:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
    return got


def pixel(values, classes, weights=None, days=None, **kwargs):
    """One pixel: values (dates, bands), classes (dates,), weights (dates,), days (dates,)."""
    values = np.asarray(values)
    n_dates = values.shape[0]
    weights = np.ones(n_dates) if weights is None else np.asarray(weights, dtype=float)
    days = 17800.0 + 5 * np.arange(n_dates) if days is None else days
    got = run_both(values[:, :, None, None], weights[:, None, None], np.asarray(classes)[:, None, None], days,
                   **kwargs)
    return {k: v[..., 0, 0] for k, v in got.items()}


def random_inputs(rng, n_dates=7, n_bands=4, n_rows=9, n_cols=1100, zero_weight=0.1):
    refl = rng.integers(-300, 8000, (n_dates, n_bands, n_rows, n_cols)).astype(np.int16)
    refl[rng.random(refl.shape) < 0.08] = ND  # band-wise nodata
    refl[:, :, rng.random((n_rows, n_cols)) < 0.05] = ND  # pixels never observed
    weight = rng.random((n_dates, n_rows, n_cols)).astype(np.float32)
    weight[rng.random(weight.shape) < zero_weight] = 0.0
    weight[rng.random(weight.shape) < 0.01] = np.nan
    weight[rng.random(weight.shape) < 0.01] = -0.5
    obs_class = rng.choice(5, size=(n_dates, n_rows, n_cols), p=[0.1, 0.35, 0.15, 0.15, 0.25]).astype(np.uint8)
    days = 17500.0 + np.sort(rng.choice(46, n_dates, replace=False))
    return refl, weight, obs_class, days


# ------------------------------------------------------------------------------------------ kernel vs reference


@pytest.mark.parametrize("rule", [WEIGHTED, LATEST])
@pytest.mark.parametrize("blue_band", [0, 2, -1])
def test_kernel_matches_reference_on_random_blocks(rule, blue_band):
    rng = np.random.default_rng(100 + 10 * rule + blue_band)
    refl, weight, obs_class, days = random_inputs(rng)
    got = run_both(refl, weight, obs_class, days, blue_band=blue_band, rule=rule)
    flags = np.bincount(got["flg"].ravel(), minlength=5)
    assert np.all(flags > 0), flags  # every class occurs, so every branch is compared
    assert np.all(got["refl"] != UNSET) and np.all(got["wgt"] != UNSET) and np.all(got["nob"] != 250)


def test_kernel_matches_reference_with_many_zero_weights():
    rng = np.random.default_rng(7)
    refl, weight, obs_class, days = random_inputs(rng, n_dates=4, zero_weight=0.7)
    run_both(refl, weight, obs_class, days)


@pytest.mark.parametrize("rule", [WEIGHTED, LATEST])
def test_date_order_does_not_matter(rule):
    rng = np.random.default_rng(11)
    refl, weight, obs_class, days = random_inputs(rng, n_dates=8, n_cols=300)
    obs_class[obs_class == FLG_LAND] = FLG_SNOW  # many snow/water-only pixels, where order could matter
    refl[:, 0, :, :150] = 500  # equal blue: cloud ties everywhere on the left half
    rank = np.arange(8)
    base = run_both(refl, weight, obs_class, days, rank, rule=rule)
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(8)
        shuffled = run_both(refl[perm], weight[perm], obs_class[perm], days[perm], rank[perm], rule=rule)
        for name in OUTPUTS:
            np.testing.assert_array_equal(shuffled[name], base[name], err_msg=name)


def test_single_date_block():
    rng = np.random.default_rng(5)
    refl, weight, obs_class, days = random_inputs(rng, n_dates=1, n_cols=200)
    got = run_both(refl, weight, obs_class, days)
    observed = (obs_class[0] > 0) & (refl[0] != ND).any(axis=0)
    np.testing.assert_array_equal(got["flg"], np.where(observed, obs_class[0], 0))
    land = got["flg"] == FLG_LAND
    np.testing.assert_array_equal(got["refl"][:, land], refl[0][:, land])
    np.testing.assert_array_equal(got["nob"][land], 1)


def test_all_nodata_block():
    refl = np.full((3, 2, 4, 5), ND, np.int16)
    classes = np.full((3, 4, 5), FLG_LAND, np.uint8)  # classed land, but no valid band: not observed
    got = run_both(refl, np.ones((3, 4, 5)), classes, [1.0, 2.0, 3.0])
    assert np.all(got["flg"] == FLG_NODATA) and np.all(got["refl"] == ND) and np.all(got["wgt"] == ND)
    assert np.all(np.isnan(got["day"])) and np.all(got["nob"] == 0)
    got = run_both(np.ones((3, 2, 4, 5)), np.ones((3, 4, 5)), np.zeros((3, 4, 5)), [1.0, 2.0, 3.0])
    assert np.all(got["flg"] == FLG_NODATA)  # class 0: not observed even with valid values


def test_all_cloudy_block_keeps_the_darkest_blue():
    rng = np.random.default_rng(9)
    refl = rng.integers(100, 5000, (5, 3, 6, 7)).astype(np.int16)
    got = run_both(refl, np.ones((5, 6, 7)), np.full((5, 6, 7), FLG_CLOUD), 100.0 + np.arange(5))
    darkest = refl[:, 0].argmin(axis=0)
    np.testing.assert_array_equal(got["flg"], FLG_CLOUD)
    np.testing.assert_array_equal(got["refl"], np.take_along_axis(refl, darkest[None, None], axis=0)[0])
    np.testing.assert_array_equal(got["day"], 100.0 + darkest)
    assert np.all(got["wgt"] == 0) and np.all(got["nob"] == 0)


# ------------------------------------------------------------------------------------------ rules, pixel by pixel


def test_land_weighted_mean_ignores_snow_water_and_clouds():
    got = pixel([[1000, 200], [2000, 400], [9000, 9000], [8000, 8000], [7000, 50]],
                [FLG_LAND, FLG_LAND, FLG_SNOW, FLG_CLOUD, FLG_WATER], weights=[1.0, 3.0, 1.0, 1.0, 1.0],
                days=[10.0, 20.0, 30.0, 40.0, 50.0])
    assert got["flg"] == FLG_LAND
    np.testing.assert_array_equal(got["refl"], [1750, 350])  # (1000 + 3 * 2000) / 4, (200 + 3 * 400) / 4
    assert got["wgt"] == 4000 and got["nob"] == 2
    assert got["day"] == pytest.approx(17.5)


def test_band_nodata_averages_over_valid_observations():
    got = pixel([[1000, ND], [3000, 500], [ND, ND]], [FLG_LAND, FLG_LAND, FLG_LAND], weights=[1.0, 1.0, 1.0])
    np.testing.assert_array_equal(got["refl"], [2000, 500])
    assert got["nob"] == 2 and got["wgt"] == 2000  # the all-nodata observation is not an observation


def test_zero_total_weight_falls_back_to_plain_mean():
    got = pixel([[1000, 10], [2001, 20]], [FLG_LAND, FLG_LAND], weights=[0.0, 0.0], days=[10.0, 13.0])
    np.testing.assert_array_equal(got["refl"], [1501, 15])  # 1500.5 -> 1501
    assert got["wgt"] == 0 and got["flg"] == FLG_LAND and got["nob"] == 2
    assert got["day"] == 11.5


def test_rounding_is_half_away_from_zero():
    got = pixel([[1, -1, 2], [2, -2, 3]], [FLG_LAND, FLG_LAND])
    np.testing.assert_array_equal(got["refl"], [2, -2, 3])  # 1.5 -> 2, -1.5 -> -2, 2.5 -> 3


def test_wgt_is_rounded_and_clipped_nob_clipped():
    got = pixel([[100]] * 3, [FLG_LAND] * 3, weights=[0.3334, 0.3334, 0.0002])  # 0.667 -> 667 (float32 sums)
    assert got["wgt"] == 667
    n = 300
    got = pixel([[100]] * n, [FLG_LAND] * n, weights=[1.0] * n, days=np.arange(n, dtype=float))
    assert got["wgt"] == 32767 and got["nob"] == 255


def test_snow_water_weighted_rule_picks_larger_summed_weight():
    values = [[100], [200], [3000], [4000]]
    classes = [FLG_WATER, FLG_WATER, FLG_SNOW, FLG_CLOUD]
    got = pixel(values, classes, weights=[0.2, 0.2, 0.5, 1.0])  # water 0.4 < snow 0.5; the cloud counts for nothing
    assert got["flg"] == FLG_SNOW and got["refl"][0] == 3000 and got["wgt"] == 500 and got["nob"] == 1
    got = pixel(values, classes, weights=[0.3, 0.3, 0.5, 1.0])  # water 0.6 wins although snow is later
    assert got["flg"] == FLG_WATER
    assert got["refl"][0] == 150 and got["wgt"] == 600 and got["nob"] == 2


def test_snow_water_ties():
    # equal weights: the larger count wins
    got = pixel([[100], [200], [3000]], [FLG_WATER, FLG_WATER, FLG_SNOW], weights=[0.25, 0.25, 0.5])
    assert got["flg"] == FLG_WATER
    # equal weights and counts: the latest acquisition's class, whatever the array order
    for rank, expected in (([0, 1], FLG_SNOW), ([1, 0], FLG_WATER)):
        got = pixel([[100], [3000]], [FLG_WATER, FLG_SNOW], weights=[0.5, 0.5], rank=rank)
        assert got["flg"] == expected
    got = pixel([[100], [3000]], [FLG_WATER, FLG_SNOW], weights=[0.0, 0.0])
    assert got["flg"] == FLG_SNOW and got["refl"][0] == 3000 and got["wgt"] == 0


def test_snow_water_latest_rule_is_wasp():
    values = [[100, 1], [200, 2], [3000, 3], [4000, 4]]
    classes = [FLG_WATER, FLG_WATER, FLG_SNOW, FLG_CLOUD]
    got = pixel(values, classes, weights=[0.9, 0.9, 0.1, 1.0], days=[1.0, 2.0, 3.0, 4.0], rule=LATEST)
    assert got["flg"] == FLG_SNOW  # the latest snow/water acquisition, whatever the weights
    np.testing.assert_array_equal(got["refl"], [3000, 3])
    assert got["wgt"] == 0 and got["nob"] == 1 and got["day"] == 3.0
    # latest means acquisition order (rank), not array order
    got = pixel(values, classes, days=[1.0, 2.0, 3.0, 4.0], rank=[3, 2, 1, 0], rule=LATEST)
    assert got["flg"] == FLG_WATER and got["refl"][0] == 100


def test_land_wins_over_snow_and_water_in_both_rules():
    for rule in (WEIGHTED, LATEST):
        got = pixel([[100], [3000], [500]], [FLG_WATER, FLG_SNOW, FLG_LAND], weights=[1.0, 1.0, 0.01], rule=rule)
        assert got["flg"] == FLG_LAND and got["refl"][0] == 500 and got["wgt"] == 10


def test_cloud_darkest_blue_ties_and_nodata_blue():
    # ties on blue: the earliest acquisition, whatever the array order
    got = pixel([[500, 1], [500, 2], [900, 3]], [FLG_CLOUD] * 3, rank=[2, 1, 0], days=[30.0, 20.0, 10.0])
    np.testing.assert_array_equal(got["refl"], [500, 2])
    assert got["day"] == 20.0 and got["flg"] == FLG_CLOUD and got["wgt"] == 0 and got["nob"] == 0
    # a nodata blue ranks after any valid blue
    got = pixel([[ND, 1], [4000, 2]], [FLG_CLOUD] * 2)
    np.testing.assert_array_equal(got["refl"], [4000, 2])
    # without a blue band: the lowest mean of the valid bands
    got = pixel([[100, 5000], [900, 900], [ND, 1000]], [FLG_CLOUD] * 3, blue_band=-1)
    np.testing.assert_array_equal(got["refl"], [900, 900])


def test_snow_or_water_wins_over_cloud():
    got = pixel([[100], [50]], [FLG_CLOUD, FLG_WATER], weights=[1.0, 0.0])
    assert got["flg"] == FLG_WATER and got["refl"][0] == 50


# ------------------------------------------------------------------------------------------ dates and DTS


def test_new_year_window_gives_a_correct_dts():
    acquisitions = [dt.date(2018, 12, 27), dt.date(2019, 1, 1), dt.date(2019, 1, 6)]
    days = [day_number(d) for d in acquisitions]
    got = pixel([[1000], [1000], [1000]], [FLG_LAND] * 3, weights=[1.0, 1.0, 1.0], days=days)
    dts = day_of_year_from_day_number(np.array([got["day"]]))
    assert dts[0] == 0  # 1 January 2019, not the mean of DOY 360, 0 and 5 (121)
    got = pixel([[1000], [1000]], [FLG_LAND] * 2, weights=[1.0, 3.0], days=days[:2])
    assert day_of_year_from_day_number(np.array([got["day"]]))[0] == 364  # 30.75 Dec -> 31 Dec 2018


def test_day_of_year_from_day_number():
    days = np.array([[day_number(dt.date(2019, 1, 1)), day_number(dt.date(2020, 12, 31))],
                     [day_number(dt.date(2018, 12, 31)) + 0.5, np.nan]])
    for function in (day_of_year_from_day_number, day_of_year_from_day_number_ref):
        dts = function(days)
        assert dts.dtype == np.int16
        np.testing.assert_array_equal(dts, [[0, 365], [0, DTS_NODATA]])  # leap year; halves round up


def test_day_of_year_kernel_matches_reference():
    rng = np.random.default_rng(8)
    days = np.concatenate([
        np.arange(-150000.0, 150000.0),  # every day of ~800 years around 1970, leap and century years included
        rng.uniform(-1e9, 1e9, 20000), rng.uniform(17000, 21000, 20000),
        [np.nan, np.inf, -np.inf, 1e9, -1e9, 1e9 + 1, 1e300, -0.5, 0.5, 0.49999999999999994, -719468.0, 11016.0]])
    days = np.concatenate([days, days + 0.5, days - 0.5, days + 0.25]).reshape(4, -1)
    got = day_of_year_from_day_number(days)
    np.testing.assert_array_equal(got, day_of_year_from_day_number_ref(days))
    assert got.shape == days.shape and got.dtype == np.int16
    assert day_of_year_from_day_number(np.array([])).shape == (0,)


# ------------------------------------------------------------------------------------------ wrapper checks


def _valid_args(n_dates=2, n_bands=2, n_rows=3, n_cols=4):
    return [np.zeros((n_dates, n_bands, n_rows, n_cols), np.int16), np.ones((n_dates, n_rows, n_cols), np.float32),
            np.full((n_dates, n_rows, n_cols), FLG_LAND, np.uint8), np.arange(n_dates, dtype=np.float64),
            np.arange(n_dates, dtype=np.int32), 0, WEIGHTED, np.zeros((n_bands, n_rows, n_cols), np.int16),
            np.zeros((n_rows, n_cols), np.int16), np.zeros((n_rows, n_cols)), np.zeros((n_rows, n_cols), np.uint8),
            np.zeros((n_rows, n_cols), np.uint8)]


@pytest.mark.parametrize("index, bad, error", [
    (0, np.zeros((2, 2, 3, 4), np.float64), TypeError),
    (1, np.ones((2, 3, 4), np.float64), TypeError),
    (2, np.ones((2, 3, 5), np.uint8), ValueError),
    (2, np.full((2, 3, 4), 7, np.uint8), ValueError),
    (4, np.zeros(2, np.int32), ValueError),  # repeated ranks
    (5, 2, ValueError),  # blue band out of range
    (6, 3, ValueError),  # unknown rule
    (7, np.zeros((3, 3, 4), np.int16), ValueError),
    (9, np.zeros((3, 4), np.float32), TypeError),
])
def test_wrapper_checks_shapes_and_dtypes(index, bad, error):
    args = _valid_args()
    args[index] = bad
    with pytest.raises(error):
        compose_block(*args)


# ------------------------------------------------------------------------------------------ per-date inputs

PREP_OUTPUTS = ("refl", "weight", "class")


def _tables(rows, cols, pixel, grids):
    """bilinear_axis tables for (cell size, grid) pairs in kernel order (cloud, edge, c-factor), None: unused."""
    row_index = np.zeros((3, 2, rows[1] - rows[0]), np.intp)
    row_frac = np.zeros((3, rows[1] - rows[0]))
    col_index = np.zeros((3, 2, cols[1] - cols[0]), np.intp)
    col_frac = np.zeros((3, cols[1] - cols[0]))
    for g, item in enumerate(grids):
        if item is None:
            continue
        cell, shape = item
        row_index[g, 0], row_index[g, 1], row_frac[g] = weights.bilinear_axis(*rows, pixel, cell, shape[0])
        col_index[g, 0], col_index[g, 1], col_frac[g] = weights.bilinear_axis(*cols, pixel, cell, shape[1])
    return row_index, row_frac, col_index, col_frac


def random_date_block(rng, n_bands=4, rows=(37, 70), cols=(900, 1500), pixel=10.0, aot="dn", edge=True, brdf=True):
    """Raw rasters of one date and block (a window inside a 2000 x 2000 grid) and its coarse grids."""
    n_rows, n_cols = rows[1] - rows[0], cols[1] - cols[0]
    refl = rng.integers(-12000, 14000, (n_bands, n_rows, n_cols)).astype(np.int16)
    refl[rng.random(refl.shape) < 0.05] = ND
    refl[rng.random(refl.shape) < 0.02] = -9000  # a stored nodata value other than -10000
    refl[:, rng.random((n_rows, n_cols)) < 0.03] = ND  # pixels without any band
    planes = {name: np.where(rng.random((n_rows, n_cols)) < p, rng.integers(1, 256, (n_rows, n_cols)), 0)
              .astype(np.uint8) for name, p in (("clm", 0.2), ("mg2", 0.4), ("edg", 0.05), ("sat", 0.05))}
    dn = rng.integers(0, 256, (n_rows, n_cols)).astype(np.uint8)  # 0: nodata; up to AOT 1.275 > aot_max
    if aot == "dn":
        aot_args = dict(aot=dn, aot_scale=200.0, aot_nodata=0.0)
    elif aot == "float":
        value = np.where(dn == 0, np.nan, dn / 200.0 - 0.1).astype(np.float32)  # negative AOT too
        aot_args = dict(aot=value, aot_scale=1.0, aot_nodata=np.nan)
    else:
        aot_args = dict(aot=None, aot_scale=1.0, aot_nodata=0.0)
    extent = 2000 * pixel
    cloud = rng.random((int(np.ceil(extent / 240.0)),) * 2).astype(np.float32)
    edge_grid = rng.uniform(0.01, 1.0, (int(np.ceil(extent / 60.0)),) * 2).astype(np.float32) if edge else None
    c_factors = rng.uniform(0.85, 1.15, (n_bands, 17, 17)).astype(np.float32) if brdf else None
    has_c = (np.arange(n_bands) % 3 != 1) if brdf else None
    grids = [(240.0, cloud.shape), None if edge_grid is None else (60.0, edge_grid.shape),
             None if c_factors is None else (1200.0, c_factors.shape[1:])]
    return dict(refl=refl, **planes, cloud_weight=cloud, edge_weight=edge_grid, c_factors=c_factors,
                has_c_factor=has_c, tables=_tables(rows, cols, pixel, grids), rows=rows, cols=cols, pixel=pixel,
                **aot_args)


def run_prepare(function, block, params=CompositeParams(), date_weight=0.8, refl_nodata=-9000, apply_edge=True):
    refl = block["refl"].astype(np.float32)  # the driver reads the stored int16 into float32
    out_weight = np.full(refl.shape[1:], -1.0, np.float32)
    out_class = np.full(refl.shape[1:], 250, np.uint8)
    function(refl, block["clm"], block["mg2"], block["edg"], block["sat"], block["aot"], block["cloud_weight"],
             block["edge_weight"], block["c_factors"], block["has_c_factor"], *block["tables"],
             refl_nodata=refl_nodata, apply_edge=apply_edge, aot_scale=block["aot_scale"],
             aot_nodata=block["aot_nodata"], date_weight=date_weight, aot_weight_min=params.aot_weight_min,
             aot_weight_max=params.aot_weight_max, aot_max=params.aot_max,
             snow_and_water=SNOW_AND_WATER_CODES[params.snow_and_water_is], cloud_bits=params.cloud_bits,
             out_weight=out_weight, out_class=out_class)
    return dict(zip(PREP_OUTPUTS, (refl, out_weight, out_class)))


def run_prepare_both(block, **kwargs):
    got = run_prepare(prepare_date_block, block, **kwargs)
    ref = run_prepare(prepare_date_block_ref, block, **kwargs)
    for name in PREP_OUTPUTS:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
    return got


@pytest.mark.parametrize("aot", ["dn", "float", None])
@pytest.mark.parametrize("edge, brdf", [(True, True), (False, False), (True, False)])
@pytest.mark.parametrize("apply_edge", [True, False])
def test_prepare_matches_reference_on_random_blocks(aot, edge, brdf, apply_edge):
    rng = np.random.default_rng([3, len(str(aot)), edge, brdf, apply_edge])
    block = random_date_block(rng, aot=aot, edge=edge, brdf=brdf)
    got = run_prepare_both(block, apply_edge=apply_edge)
    assert np.all(np.bincount(got["class"].ravel(), minlength=5) > 0)  # every class, every branch
    assert not np.any(got["weight"] < 0) and np.all(got["class"] <= FLG_LAND)


@pytest.mark.parametrize("profile", ["default", "wasp", "any_bit", "shadows_and_cirrus"])
def test_prepare_matches_reference_with_profiles_and_stored_nodata(profile):
    params = {"any_bit": dataclasses.replace(CompositeParams(), cloud_bits=255),
              "shadows_and_cirrus": dataclasses.replace(CompositeParams(), cloud_bits=0b11100000)}.get(profile)
    params = params or PROFILES[profile]
    rng = np.random.default_rng(21)
    for refl_nodata in (None, -10000, -9000):
        run_prepare_both(random_date_block(rng, n_bands=6, pixel=20.0), params=params, refl_nodata=refl_nodata,
                         date_weight=0.5217391304347826)


def test_prepare_small_and_edge_blocks():
    rng = np.random.default_rng(4)
    for rows, cols in (((0, 1), (0, 1)), ((1999, 2000), (0, 2000)), ((0, 3), (1990, 2000))):
        run_prepare_both(random_date_block(rng, n_bands=1, rows=rows, cols=cols))
    block = random_date_block(rng)
    block["refl"][...] = ND
    got = run_prepare_both(block)
    assert np.all(got["class"] == FLG_NODATA) and np.all(got["refl"] == ND)


def test_prepare_reference_equals_the_weights_module():
    """The twin is the driver's numpy path: upsample_coarse, aot_weight, observation_class, rint of refl * c."""
    params = CompositeParams()
    rng = np.random.default_rng(9)
    block = random_date_block(rng)
    rows, cols, pixel = block["rows"], block["cols"], block["pixel"]
    date_weight = 0.7826086956521738
    got = run_prepare(prepare_date_block_ref, block, params=params, date_weight=date_weight)

    def up(grid, cell):
        return weights.upsample_coarse(grid, cell, pixel, rows=rows, cols=cols)

    edge_pixel = block["edg"] != 0
    refl = block["refl"].copy()
    refl[(refl == -9000) | edge_pixel[None]] = ND
    valid_any = (refl != ND).any(axis=0)
    aot = np.where((block["aot"] == 0) | edge_pixel, np.nan, block["aot"] / 200.0).astype(np.float32)
    expected = up(block["cloud_weight"], 240.0)
    expected *= up(block["edge_weight"], 60.0)
    expected *= weights.aot_weight(aot, params)
    np.testing.assert_array_equal(got["weight"], expected * np.float32(date_weight))

    cloudy = (block["clm"] & params.cloud_bits) != 0
    unobserved = edge_pixel | ~valid_any | ((block["sat"] != 0) & ~cloudy)
    expected_class = weights.observation_class(unobserved, cloudy, (block["mg2"] & 4) != 0,
                                               (block["mg2"] & 1) != 0, params.snow_and_water_is)
    np.testing.assert_array_equal(got["class"], expected_class)

    refl = refl.astype(np.float32)
    land = expected_class == FLG_LAND
    for b in range(refl.shape[0]):
        if block["has_c_factor"][b]:
            plane = refl[b]
            corrected = plane * up(block["c_factors"][b], 1200.0)  # float32, not rounded
            normalised = land & (plane != ND)
            plane[normalised] = np.clip(corrected[normalised], -9999, 32767)
    np.testing.assert_array_equal(got["refl"], refl)
    assert got["refl"].dtype == np.float32 and np.any(got["refl"] != np.rint(got["refl"]))


def test_prepare_wrapper_checks():
    rng = np.random.default_rng(1)
    block = random_date_block(rng, rows=(0, 4), cols=(0, 5))
    with pytest.raises(TypeError):
        run_prepare(prepare_date_block, {**block, "clm": block["clm"].astype(bool)})
    with pytest.raises(ValueError):
        run_prepare(prepare_date_block, {**block, "sat": block["sat"][:, :4]})
    with pytest.raises(TypeError):
        run_prepare(prepare_date_block, {**block, "aot": block["aot"].astype(np.float64)})
    with pytest.raises(ValueError):
        run_prepare(prepare_date_block, {**block, "c_factors": block["c_factors"][:2]})
    row_index = block["tables"][0].copy()
    row_index[0, 1, 0] = 10**6
    with pytest.raises(ValueError):
        run_prepare(prepare_date_block, {**block, "tables": (row_index,) + block["tables"][1:]})


# ------------------------------------------------------------------------------------------ review points (issue 12.5)


def test_kernel_matches_reference_on_unrounded_float_reflectance():
    """BRDF-normalised reflectance reaches the compose kernel in float32, with fractions; the twin agrees."""
    rng = np.random.default_rng(41)
    refl, weight, obs_class, days = random_inputs(rng)
    fraction = rng.uniform(-0.5, 0.5, refl.shape).astype(np.float32)
    refl = np.where(refl == ND, np.float32(ND), refl.astype(np.float32) + fraction)
    for rule in (WEIGHTED, LATEST):
        got = run(compose_block, refl, weight, obs_class, days, rule=rule)
        ref = run(compose_block_ref, refl, weight, obs_class, days, rule=rule)
        for name in OUTPUTS:
            np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
        assert np.all(got["refl"] != UNSET)


def run_float(*args, **kwargs):
    """run_both with float32 reflectance (what the driver gives the compose kernel)."""
    refl = np.asarray(args[0], dtype=np.float32)
    got = run(compose_block, refl, *args[1:], **kwargs)
    ref = run(compose_block_ref, refl, *args[1:], **kwargs)
    for name in OUTPUTS:
        np.testing.assert_array_equal(got[name], ref[name], err_msg=name)
    return got


def test_taken_as_is_observations_are_rounded_half_away():
    # always cloudy: the darkest blue, its other bands rounded half away from zero
    values = np.array([[[[300.5]], [[-20.5]]], [[[400.0]], [[1.0]]]], np.float32)
    got = run_float(values, np.ones((2, 1, 1)), np.full((2, 1, 1), FLG_CLOUD), [1.0, 2.0])
    assert got["refl"][:, 0, 0].tolist() == [301, -21]


def _single_date_prepare(values, c_factor, clm=0, mg2=0, cloud_bits=1):
    """prepare_date_block (and its twin) on one row of pixels with a constant c-factor in every band."""
    values = np.asarray(values, np.int16)  # (bands, cols)
    n_bands, n_cols = values.shape
    plane = np.zeros((1, n_cols), np.uint8)
    block = dict(refl=values[:, None, :], clm=np.broadcast_to(np.asarray(clm, np.uint8), (1, n_cols)).copy(),
                 mg2=np.broadcast_to(np.asarray(mg2, np.uint8), (1, n_cols)).copy(), edg=plane, sat=plane, aot=None,
                 aot_scale=1.0, aot_nodata=0.0, cloud_weight=np.ones((1, 1), np.float32), edge_weight=None,
                 c_factors=np.full((n_bands, 1, 1), c_factor, np.float32), has_c_factor=np.ones(n_bands, bool),
                 tables=_tables((0, 1), (0, n_cols), 10.0, [(240.0, (1, 1)), None, (1200.0, (1, 1))]))
    params = dataclasses.replace(CompositeParams(), cloud_bits=cloud_bits)
    return run_prepare_both(block, params=params, date_weight=1.0, refl_nodata=None)


def test_one_rounding_only_after_the_weighted_mean():
    """Two land dates normalised to 1000.6 and 1001.6: one rounding gives round(1001.1) = 1001; rounding each date
    first would give round((1001 + 1002) / 2) = round(1001.5) = 1002."""
    c = np.float32(1.0006)
    dates = [_single_date_prepare([[1000]], c), _single_date_prepare([[1001]], c)]
    refl = np.stack([d["refl"] for d in dates])  # (2, 1, 1, 1) float32
    per_date = refl[:, 0, 0, 0].astype(np.float64)
    assert abs(per_date[0] - 1000.6) < 1e-3 and abs(per_date[1] - 1001.6) < 1e-3  # not rounded per date
    got = run_float(refl, np.ones((2, 1, 1)), np.full((2, 1, 1), FLG_LAND), [1.0, 2.0])
    assert got["refl"][0, 0, 0] == 1001
    rounded_per_date = run_both(np.rint(refl).astype(np.int16), np.ones((2, 1, 1)), np.full((2, 1, 1), FLG_LAND),
                                [1.0, 2.0])
    assert rounded_per_date["refl"][0, 0, 0] == 1002  # what the former per-date rounding gave


def test_brdf_only_on_clear_land_observations():
    """Land is normalised; snow, water, snow+water, cloud and nodata values are left as they are."""
    mg2_water, mg2_snow = 1, 4
    clm = [0, 0, 0, 0, 1, 0]
    mg2 = [0, mg2_snow, mg2_water, mg2_snow | mg2_water, 0, 0]
    values = [[2000, 2000, 2000, 2000, 2000, ND], [1500, 1500, 1500, 1500, 1500, 1500]]
    got = _single_date_prepare(values, 1.1, clm=clm, mg2=mg2)
    assert got["class"][0].tolist() == [FLG_LAND, FLG_SNOW, FLG_WATER, FLG_SNOW, FLG_CLOUD, FLG_LAND]
    np.testing.assert_array_equal(got["refl"][:, 0, 1:5], np.asarray(values, np.float32)[:, 1:5])
    np.testing.assert_array_equal(got["refl"][:, 0, 0], np.float32([2000, 1500]) * np.float32(1.1))
    assert got["refl"][0, 0, 5] == ND and got["refl"][1, 0, 5] == np.float32(1500) * np.float32(1.1)


def test_normalised_values_are_clipped_above_nodata():
    got = _single_date_prepare([[-9500, 32000]], 1.1)
    assert got["refl"][0, 0].tolist() == [-9999.0, 32767.0]


@pytest.mark.parametrize("cloud_bits, cloudy", [
    (1, [False, True, True, True]),  # bit 0 (default): the thinnest-cloud-only pixel is clear
    (255, [True, True, True, True]),  # any bit (the former mask): it is a cloud
    (1 << 4, [True, False, False, False]),
    (0b10100000, [False, False, True, True]),  # shadows of detected clouds (5) and high clouds (7)
])
def test_cloud_bits_decide_which_clm_bits_are_cloud(cloud_bits, cloudy):
    clm = [1 << 4, 0b00000111, 0b00100001, 0b10000011]  # thinnest only; cloud; shadow; cirrus
    got = _single_date_prepare([[1000] * 4], 1.0, clm=clm, cloud_bits=cloud_bits)
    assert (got["class"][0] == FLG_CLOUD).tolist() == cloudy
    assert not np.any((got["class"][0] != FLG_CLOUD) & (got["class"][0] != FLG_LAND))


def test_prepare_checks_cloud_bits():
    with pytest.raises(ValueError, match="cloud_bits"):
        _single_date_prepare([[1000]], 1.0, cloud_bits=0)
    with pytest.raises(ValueError, match="cloud_bits"):
        _single_date_prepare([[1000]], 1.0, cloud_bits=256)
