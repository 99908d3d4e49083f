"""Solar position for sun = "central": declination and equation of time against almanac values, and the central
date's sun zenith against the sun computed directly for that date."""

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from real_cubes import sun_angles  # noqa: E402  (NOAA general solar position formulas)

from l3a import solar  # noqa: E402

UTC = dt.timezone.utc


@pytest.mark.parametrize("when, degrees", [
    (dt.datetime(2023, 3, 20, 21, 24), 0.0),  # March equinox
    (dt.datetime(2023, 6, 21, 14, 58), 23.44),  # June solstice
    (dt.datetime(2023, 12, 22, 3, 27), -23.44),  # December solstice
])
def test_declination_at_equinox_and_solstices(when, degrees):
    assert abs(np.degrees(solar.declination(when)) - degrees) < 0.15


@pytest.mark.parametrize("when, minutes", [
    (dt.datetime(2023, 2, 11, 12), -14.2),  # the equation of time's minimum
    (dt.datetime(2023, 11, 3, 12), 16.4),  # its maximum
    (dt.datetime(2023, 4, 15, 12), 0.0),
])
def test_equation_of_time_extremes(when, minutes):
    assert abs(solar.equation_of_time_minutes(when) - minutes) < 0.7


def test_aware_and_naive_utc_agree():
    naive = dt.datetime(2023, 3, 15, 10, 56)
    assert solar.declination(naive) == solar.declination(naive.replace(tzinfo=UTC))
    assert solar.declination(naive) == solar.declination(
        naive.replace(tzinfo=UTC).astimezone(dt.timezone(dt.timedelta(hours=2))))


def test_hour_angle_sign_follows_the_azimuth():
    delta = solar.declination(dt.datetime(2023, 3, 15, 10, 56))
    morning = solar.hour_angle(50.0, 150.0, 44.0, delta)
    afternoon = solar.hour_angle(50.0, 210.0, 44.0, delta)
    assert morning < 0 < afternoon and morning == -afternoon
    assert solar.sun_zenith(44.0, delta, morning) == pytest.approx(50.0, abs=1e-9)


def test_same_time_gives_the_observed_zenith_exactly():
    zenith = np.array([[35.123, 48.9], [60.0, np.nan]], np.float32)
    azimuth = np.full(zenith.shape, 155.0, np.float32)
    when = dt.datetime(2023, 3, 15, 10, 56, tzinfo=UTC)
    got = solar.central_sun_zenith(zenith, azimuth, np.full(zenith.shape, 44.5), when, when)
    np.testing.assert_array_equal(got, zenith.astype(np.float64))


@pytest.mark.parametrize("place", [(1.5, 44.0), (10.0, 62.0), (-58.0, -34.0), (140.0, 35.0)])
@pytest.mark.parametrize("central", [dt.date(2023, 3, 15), dt.date(2023, 6, 15), dt.date(2023, 9, 15),
                                     dt.date(2023, 12, 15), dt.date(2024, 1, 15)])
@pytest.mark.parametrize("offset_days", [-23, -9, 4, 23])
def test_central_zenith_is_the_sun_of_the_central_date(place, central, offset_days):
    """From a date's own sun to the central date's, through the hour angle: the same as the zenith computed
    directly from the longitude and the clock time on the central date (the model, to 1e-9 degree), and within
    0.1 degree of NOAA's formulas (those count the day angle from noon, 12 hours off: up to 0.2 degree of
    declination near the equinoxes, which mostly cancels here)."""
    lon, lat = place

    def model_sun(when):
        hours = when.hour + when.minute / 60.0
        h = np.radians((hours * 60.0 + solar.equation_of_time_minutes(when) + 4.0 * lon) / 4.0 - 180.0)
        return solar.sun_zenith(lat, solar.declination(when), h), np.where(h < 0, 150.0, 210.0)
    local_10h30 = dt.timedelta(hours=10.5 - lon / 15.0)  # Sentinel-2's descending node, local mean time
    acquired = dt.datetime.combine(central + dt.timedelta(days=offset_days), dt.time(), UTC) + local_10h30
    central_time = acquired - dt.timedelta(days=offset_days)
    zenith, azimuth = model_sun(acquired)
    got = solar.central_sun_zenith(zenith, azimuth, lat, acquired, central_time)
    assert abs(got - model_sun(central_time)[0]) < 1e-9
    zenith, azimuth = sun_angles(acquired, np.array([lon]), np.array([lat]))
    expected, _ = sun_angles(central_time, np.array([lon]), np.array([lat]))
    got = solar.central_sun_zenith(zenith, azimuth, lat, acquired, central_time)
    assert abs(got[0] - expected[0]) < 0.1, (got, expected, zenith)


def test_spring_window_moves_the_sun_by_degrees():
    lon, lat = 1.5, 44.0
    central_time = dt.datetime(2023, 3, 15, 10, 50, tzinfo=UTC)
    # a date before the central one had a lower sun (larger zenith): its central zenith is smaller
    for offset, low, high in ((-23, -11.0, -7.0), (23, 7.0, 11.0), (-5, -2.5, -1.5)):
        acquired = central_time + dt.timedelta(days=offset)
        zenith, azimuth = sun_angles(acquired, np.array([lon]), np.array([lat]))
        shift = solar.central_sun_zenith(zenith, azimuth, lat, acquired, central_time)[0] - zenith[0]
        assert low < shift < high, (offset, shift)  # the sun climbs ~0.4 degree a day in March
