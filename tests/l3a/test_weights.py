"""Per-date weights: cloud (coarse grid + Gaussian blurs), resampling geometry, AOT, date, swath edges."""

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest

from l2a.errors import InvalidParameterError
from l3a.params import DEFAULT, WASP
from l3a.weights import (
    aot_weight,
    cloud_weight_coarse,
    coarse_cloud_fraction,
    coarse_factor,
    date_offset_days,
    date_weight,
    day_number,
    edge_weight,
    edge_weight_coarse,
    observation_class,
    upsample_coarse,
)


# ------------------------------------------------------------------------------------------ coarse cloud fraction


@pytest.mark.parametrize("pixel, factor", [(10, 24), (20, 12), (60, 4), (5, 48), (240, 1), (300, 1), (25, 10)])
def test_coarse_factor(pixel, factor):
    assert coarse_factor(pixel, 240) == factor


def test_coarse_factor_rejects_nonpositive():
    with pytest.raises(InvalidParameterError):
        coarse_factor(0, 240)


def test_coarse_fraction_divisible_is_block_mean():
    rng = np.random.default_rng(1)
    mask = rng.random((48, 72)) < 0.3
    got = coarse_cloud_fraction(mask, 10.0)
    expected = mask.reshape(2, 24, 3, 24).mean(axis=(1, 3))
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)


def test_coarse_fraction_partial_cells_average_present_pixels():
    mask = np.zeros((30, 50), dtype=bool)  # factor 24: cells of 24/6 rows and 24/24/2 cols
    mask[24:, 48:] = True  # the whole last (partial) cell: 6 x 2 pixels
    mask[0, 0] = True
    got = coarse_cloud_fraction(mask, 10.0)
    assert got.shape == (2, 3)
    assert got[1, 2] == 1.0  # fully cloudy although it holds only 12 pixels
    assert got[0, 0] == pytest.approx(1 / 576)
    assert got[1, 0] == 0.0 and got[0, 2] == 0.0


def test_coarse_fraction_pixel_at_least_coarse_is_the_pixel_grid():
    mask = np.array([[True, False], [False, False]])
    for pixel in (240.0, 500.0):
        got = coarse_cloud_fraction(mask, pixel)
        np.testing.assert_array_equal(got, mask.astype(np.float32))


def test_coarse_fraction_strips_stack_to_whole():
    rng = np.random.default_rng(2)
    mask = rng.random((100, 61)) < 0.5
    whole = coarse_cloud_fraction(mask, 20.0)  # factor 12
    strips = np.vstack([coarse_cloud_fraction(mask[r:r + 36], 20.0) for r in range(0, 100, 36)])
    np.testing.assert_array_equal(strips, whole)


# ------------------------------------------------------------------------------------------ cloud weight


def test_cloud_weight_no_cloud_is_one_and_full_cloud_is_zero():
    np.testing.assert_array_equal(cloud_weight_coarse(np.zeros((5, 7), np.float32), DEFAULT), 1.0)
    np.testing.assert_array_equal(cloud_weight_coarse(np.ones((5, 7), np.float32), DEFAULT), 0.0)


def test_cloud_weight_threshold_is_strict():
    fraction = np.zeros((9, 9), np.float32)
    fraction[4, 4] = 0.5  # not more than half cloudy: vanishes, as in WASP
    np.testing.assert_array_equal(cloud_weight_coarse(fraction, DEFAULT), 1.0)
    fraction[4, 4] = 0.51  # one cloudy cell: A ~ 1 / (2 pi 2^2) = 0.04 at its centre
    weight = cloud_weight_coarse(fraction, DEFAULT)
    assert weight[4, 4] == pytest.approx(0.96, abs=0.01)
    assert weight[4, 4] == weight.min() and weight[0, 0] > weight[4, 4]


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_cloud_weight_half_plane_matches_closed_form():
    """Large half-plane cloud at 10 m: W ~ Phi(d/480) Phi(d/2400) (reference-wasp.md section 2.1)."""
    pixel, edge_m = 10.0, 12000.0
    cols = 2400  # 24 km: 12 km of cloud, 12 km clear
    mask = np.zeros((48, cols), dtype=bool)
    mask[:, : int(edge_m / pixel)] = True
    fraction = coarse_cloud_fraction(mask, pixel, DEFAULT.coarse_resolution_m)
    coarse = cloud_weight_coarse(fraction, DEFAULT)
    weight = upsample_coarse(coarse, 240.0, pixel, rows=(0, 48), cols=(0, cols))
    assert weight.dtype == np.float32 and weight.shape == mask.shape
    row = weight[24]
    distance = (np.arange(cols) + 0.5) * pixel - edge_m  # from the cloud edge, m (> 0 outside the cloud)
    at = {d: row[np.argmin(np.abs(distance - d))] for d in (5.0, 1000.0, 5000.0)}
    assert at[5.0] == pytest.approx(0.25, abs=0.05)
    assert at[1000.0] == pytest.approx(0.65, abs=0.05)
    assert at[5000.0] == pytest.approx(0.98, abs=0.05)
    clear = distance > 0
    expected = np.array([_phi(d / 480.0) * _phi(d / 2400.0) for d in distance[clear]])
    np.testing.assert_allclose(row[clear], expected, atol=0.05)
    assert np.all(np.diff(row[clear]) >= -1e-6)  # grows away from the cloud


def test_cloud_weight_uses_cell_size_for_sigma():
    fraction = np.zeros((41, 41), np.float32)
    fraction[20, :21] = 1.0
    fraction[:, :20] = 1.0
    w240 = cloud_weight_coarse(fraction, DEFAULT)  # cells of 240 m: sigma 2 and 10 cells
    w480 = cloud_weight_coarse(fraction, DEFAULT, cell_size_m=480.0)  # sigma 1 and 5 cells: sharper in cells
    assert w480[20, 25] > w240[20, 25]


# ------------------------------------------------------------------------------------------ upsampling geometry


def test_upsample_reproduces_a_linear_field_between_centres():
    coarse = np.add.outer(np.arange(5.0), 10 * np.arange(4.0))  # value = i + 10 j at cell centre (i, j)
    fine = upsample_coarse(coarse, 240.0, 10.0, shape=(120, 96))
    r = np.arange(120)
    u = np.clip((r + 0.5) * 10.0 / 240.0 - 0.5, 0, 4)  # cell-centre coordinate of each fine row
    c = np.arange(96)
    v = np.clip((c + 0.5) * 10.0 / 240.0 - 0.5, 0, 3)
    np.testing.assert_allclose(fine, np.add.outer(u, 10 * v), atol=1e-4)
    # a fine pixel centre on a cell centre takes that cell's value: not possible at 10 m (24 is even), but at 80 m
    on_centre = upsample_coarse(coarse, 240.0, 80.0, shape=(15, 12))  # pixel 1 centre at 120 m = cell 0 centre
    assert on_centre[1, 1] == pytest.approx(coarse[0, 0])
    assert on_centre[4, 4] == pytest.approx(coarse[1, 1])


def test_upsample_window_is_a_slice_of_the_whole():
    rng = np.random.default_rng(3)
    coarse = rng.random((6, 5)).astype(np.float32)
    whole = upsample_coarse(coarse, 240.0, 20.0, shape=(70, 60))
    part = upsample_coarse(coarse, 240.0, 20.0, rows=(13, 41), cols=(7, 60))
    np.testing.assert_array_equal(part, whole[13:41, 7:60])
    assert np.all((whole >= coarse.min() - 1e-6) & (whole <= coarse.max() + 1e-6))


def test_upsample_constant_and_single_cell():
    np.testing.assert_array_equal(upsample_coarse(np.full((3, 3), 0.7, np.float32), 240.0, 10.0, shape=(72, 72)),
                                  np.float32(0.7))
    np.testing.assert_array_equal(upsample_coarse(np.array([[0.3]]), 240.0, 10.0, shape=(10, 20)), np.float32(0.3))


def test_upsample_needs_a_window():
    with pytest.raises(ValueError):
        upsample_coarse(np.zeros((2, 2)), 240.0, 10.0)


# ------------------------------------------------------------------------------------------ AOT


def test_aot_weight_values():
    aot = np.array([0.0, 0.4, 0.8, 2.0, np.nan, -0.1], dtype=np.float32)
    got = aot_weight(aot, DEFAULT)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, [1.0, 0.33 + 0.67 * 0.5, 0.33, 0.33, 1.0, 1.0], atol=1e-6)


# ------------------------------------------------------------------------------------------ date


@pytest.mark.parametrize("dt_days, ramp, step", [
    (0, 1.0, 1.0),
    (10, 1 - 10 / 23 * 0.5, 1.0),
    (-20, 1 - 20 / 23 * 0.5, 1.0),
    (22, 1 - 22 / 23 * 0.5, 1.0),
    (23, 0.5, 0.5),
    (-23, 0.5, 0.5),
    (24, 0.0, 0.0),
    (-40, 0.0, 0.0),
])
def test_date_weight_ramp_and_wasp_step(dt_days, ramp, step):
    assert date_weight(dt_days, DEFAULT) == pytest.approx(ramp)
    assert date_weight(dt_days, WASP) == pytest.approx(step)


def test_date_weight_reference_table():
    # reference-wasp.md section 2.3: intended 0.78 / 0.57 / 0.50 at 10 / 20 / 23 days
    assert [round(date_weight(d, DEFAULT), 2) for d in (10, 20, 23)] == [0.78, 0.57, 0.5]


def test_date_weight_zero_half_window_and_bad_input():
    p = dataclasses.replace(DEFAULT, half_window_days=0)
    assert date_weight(0, p) == 1.0 and date_weight(1, p) == 0.0
    with pytest.raises(InvalidParameterError):
        date_weight(1.5, DEFAULT)


def test_date_offset_across_new_year_and_time_zones():
    central = dt.date(2019, 1, 15)
    assert date_offset_days(dt.datetime(2018, 12, 31, 23, 59), central) == -15
    assert date_offset_days(dt.datetime(2019, 2, 7, 0, 1), central) == 23
    # an aware datetime counts by its UTC day: 00:30 at UTC+2 is the previous UTC day
    paris = dt.timezone(dt.timedelta(hours=2))
    assert date_offset_days(dt.datetime(2019, 1, 1, 0, 30, tzinfo=paris), dt.date(2019, 1, 1)) == -1
    assert date_offset_days(dt.datetime(2020, 3, 1, 10, 50, tzinfo=dt.timezone.utc), dt.date(2020, 2, 15)) == 15
    assert date_offset_days(dt.date(2018, 12, 20), central) == -26


def test_day_number_is_days_since_1970():
    assert day_number(dt.date(1970, 1, 1)) == 0
    assert day_number(dt.datetime(2019, 1, 1, 23, 59)) == 17897
    assert day_number(dt.datetime(2018, 12, 31, 10, 56)) == 17896


# ------------------------------------------------------------------------------------------ swath edges


def _strip_nodata(cols=1200, rows=60, border_m=2000.0, pixel=10.0):
    nodata = np.zeros((rows, cols), dtype=bool)
    nodata[:, : int(border_m / pixel)] = True
    return nodata


def test_edge_weight_ramp():
    pixel = 10.0
    nodata = _strip_nodata()
    weight = edge_weight(nodata, pixel, DEFAULT)
    assert weight.dtype == np.float32 and weight.shape == nodata.shape
    row = weight[30]
    distance = (np.arange(nodata.shape[1]) + 0.5) * pixel - 2000.0  # from the data border, m
    valid = distance > 0
    assert row[valid][0] == pytest.approx(0.01, abs=0.03)  # first valid pixel: the floor
    assert np.all(row[distance >= 3000.0 + 2 * DEFAULT.edge_resolution_m] == 1.0)
    expected = 0.01 + 0.99 * np.clip(distance[valid] / 3000.0, 0, 1)
    np.testing.assert_allclose(row[valid], expected, atol=0.03)
    assert np.all(np.diff(row[valid]) >= 0)
    assert row[~valid].max() <= 0.03  # nodata pixels: excluded by their class anyway


def test_edge_weight_tile_frame_is_not_an_edge():
    nodata = np.zeros((300, 400), dtype=bool)
    np.testing.assert_array_equal(edge_weight(nodata, 10.0, DEFAULT), 1.0)
    nodata = _strip_nodata(cols=700, rows=200)
    weight = edge_weight(nodata, 10.0, DEFAULT)
    # top and bottom frame rows are like the middle ones; the right frame column is far from the data border
    np.testing.assert_array_equal(weight[0], weight[100])
    np.testing.assert_array_equal(weight[-1], weight[100])
    assert np.all(weight[:, -1] == 1.0)


def test_edge_weight_rows_window_and_switch():
    nodata = _strip_nodata(cols=500, rows=130)
    nodata[:40, 300:320] = True
    whole = edge_weight(nodata, 10.0, DEFAULT)
    np.testing.assert_array_equal(edge_weight(nodata, 10.0, DEFAULT, rows=(17, 90)), whole[17:90])
    np.testing.assert_array_equal(edge_weight(nodata, 10.0, WASP), 1.0)  # WASP: no edge weight
    coarse, cell = edge_weight_coarse(nodata, 10.0, DEFAULT)
    assert cell == 60.0 and coarse.shape == (22, 84)


def test_edge_weight_all_nodata_is_the_floor():
    coarse, cell = edge_weight_coarse(np.ones((50, 50), bool), 20.0, DEFAULT)
    assert cell == 60.0
    np.testing.assert_array_equal(coarse, np.float32(0.01))


# ------------------------------------------------------------------------------------------ classes


def test_observation_class_follows_spec_order():
    #          nodata  cloud  snow   water
    cases = [(True, True, True, True, 0),
             (False, True, True, True, 1),
             (False, False, True, False, 2),
             (False, False, False, True, 3),
             (False, False, False, False, 4)]
    nodata, cloud, snow, water, expected = (np.array([c[k] for c in cases]) for k in range(5))
    np.testing.assert_array_equal(observation_class(nodata, cloud, snow, water), expected)
    both = np.array([True])
    assert observation_class(~both, ~both, both, both)[0] == 2  # snow-covered lake: snow
    assert observation_class(~both, ~both, both, both, WASP.snow_and_water_is)[0] == 3  # WASP: water wins


def test_observation_class_missing_masks_count_as_clear():
    got = observation_class(np.array([False, True]))
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, [4, 0])
    with pytest.raises(InvalidParameterError):
        observation_class(np.array([False]), snow_and_water_is="ice")
