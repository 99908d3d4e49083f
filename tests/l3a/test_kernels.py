"""The fused synthesis kernel against its numpy twin, and each rule of SPEC section 4 on hand-made pixels."""

import datetime as dt

import numpy as np
import pytest

from l3a.kernels import (
    DTS_NODATA,
    FLG_CLOUD,
    FLG_LAND,
    FLG_NODATA,
    FLG_SNOW,
    FLG_WATER,
    SNOW_WATER_RULE_CODES,
    compose_block,
    compose_block_ref,
    day_of_year_from_day_number,
)
from l3a.weights import day_number

ND = -10000
WEIGHTED, LATEST = SNOW_WATER_RULE_CODES["weighted"], SNOW_WATER_RULE_CODES["latest"]
OUTPUTS = ("refl", "wgt", "day", "flg", "nob")
UNSET = 32000


def run(function, refl, weight, obs_class, days, rank=None, blue_band=0, rule=WEIGHTED):
    refl = np.asarray(refl, dtype=np.int16)
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
    dts = day_of_year_from_day_number(days)
    assert dts.dtype == np.int16
    np.testing.assert_array_equal(dts, [[0, 365], [0, DTS_NODATA]])  # leap year; halves round up


# ------------------------------------------------------------------------------------------ wrapper checks


def _valid_args(n_dates=2, n_bands=2, n_rows=3, n_cols=4):
    return [np.zeros((n_dates, n_bands, n_rows, n_cols), np.int16), np.ones((n_dates, n_rows, n_cols), np.float32),
            np.full((n_dates, n_rows, n_cols), FLG_LAND, np.uint8), np.arange(n_dates, dtype=np.float64),
            np.arange(n_dates, dtype=np.int32), 0, WEIGHTED, np.zeros((n_bands, n_rows, n_cols), np.int16),
            np.zeros((n_rows, n_cols), np.int16), np.zeros((n_rows, n_cols)), np.zeros((n_rows, n_cols), np.uint8),
            np.zeros((n_rows, n_cols), np.uint8)]


@pytest.mark.parametrize("index, bad, error", [
    (0, np.zeros((2, 2, 3, 4), np.float32), TypeError),
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
