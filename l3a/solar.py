"""The sun's position: declination, equation of time, and the sun zenith a pixel has on the central date.

Used by the directional normalisation with ``CompositeParams.sun = "central"``: every date is normalised to nadir
view *and* to the sun zenith of the central date at that pixel, so that dates of a window where the sun moves fast
(spring and autumn: about 0.4 degrees of noon elevation a day in March at 45 N, so +-9 degrees over +-23 days) agree
in illumination as well as in view.

Method (:func:`central_sun_zenith`), per pixel, from the date's own sun angle grids (product metadata):

1. the hour angle ``h`` of the observation, from its sun zenith ``theta``, the pixel's latitude ``phi`` and the
   declination ``delta`` of the acquisition time, by the solar-position relation
   ``cos(theta) = sin(phi) sin(delta) + cos(phi) cos(delta) cos(h)``; negative (morning) where the sun azimuth is
   east of the meridian (0-180 degrees clockwise from north), positive otherwise;
2. the hour angle at the same UTC clock time (the same local mean time: a sun-synchronous orbit passes at the same
   mean local time every day) on the central date: ``h + (E_c - E)``, with ``E`` and ``E_c`` the equations of time of
   the two dates (up to 16 minutes; a difference of 8 minutes is 2 degrees of hour angle);
3. the central date's zenith ``theta_c`` from the same relation with the central date's declination ``delta_c``.

Steps 1-3 go through the model and back, so ``theta_c`` is returned as ``theta + (theta_c - theta_model)`` where
``theta_model`` is step 3 with the observation's own declination and hour angle: the model's own errors (its
declination, a latitude from a coarse grid) cancel, and a date on the central day keeps its zenith exactly.

Declination and equation of time: Spencer (1971), Fourier series in the day angle ``G = 2 pi (d - 1 + hour / 24) / N``
(``d`` the day of the year from 1, ``N`` the days of the year, ``hour`` UTC), as given by Iqbal (1983, "An
introduction to solar radiation", eq. 1.3.1 and 1.4.1). Being for a mean year, the series is within about 0.25 degree
of the ephemeris declination (0.1-0.2 degree at the equinoxes of 2022-2024) and within about 0.6 minute of its
equation of time; only the change between two dates of a window enters the central zenith, and its error is far
smaller (tests: within 0.1 degree of NOAA's version of the same series, which counts ``G`` from noon). Angles in
degrees at the interface, radians inside.
"""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np

__all__ = ["day_angle", "declination", "equation_of_time_minutes", "hour_angle", "sun_zenith",
           "central_sun_zenith"]

# Spencer (1971) coefficients: declination (radians) and equation of time (radians of the day angle series; x 229.18
# gives minutes), terms (constant, cos G, sin G, cos 2G, sin 2G, cos 3G, sin 3G)
_DECLINATION = (0.006918, -0.399912, 0.070257, -0.006758, 0.000907, -0.002697, 0.00148)
_EQUATION_OF_TIME = (0.000075, 0.001868, -0.032077, -0.014615, -0.040849, 0.0, 0.0)
_MINUTES_PER_RADIAN = 229.18  # 1440 / (2 pi)
_RADIANS_PER_MINUTE = np.pi / 720.0  # the Earth turns 0.25 degree a minute


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is not None and when.utcoffset() is not None:
        return when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def day_angle(when: dt.datetime) -> float:
    """Day angle ``G = 2 pi (d - 1 + hour / 24) / N`` of a UTC time, radians (0 on 1 January 00:00).

    Parameters
    ----------
    when : datetime.datetime
        Time; naive = UTC, aware = converted to UTC.
    """
    when = _utc(when)
    days = 366 if calendar.isleap(when.year) else 365
    hours = when.hour + when.minute / 60.0 + (when.second + when.microsecond * 1e-6) / 3600.0
    return 2.0 * np.pi * (when.timetuple().tm_yday - 1 + hours / 24.0) / days


def _series(coefficients, g: float) -> float:
    c0, c1, s1, c2, s2, c3, s3 = coefficients
    return (c0 + c1 * np.cos(g) + s1 * np.sin(g) + c2 * np.cos(2 * g) + s2 * np.sin(2 * g) + c3 * np.cos(3 * g)
            + s3 * np.sin(3 * g))


def declination(when: dt.datetime) -> float:
    """Solar declination at a UTC time, radians (Spencer 1971; -0.409 at the December solstice, +0.409 in June)."""
    return float(_series(_DECLINATION, day_angle(when)))


def equation_of_time_minutes(when: dt.datetime) -> float:
    """Equation of time (apparent minus mean solar time) at a UTC time, minutes (Spencer 1971; -14 in February,
    +16 in November)."""
    return float(_series(_EQUATION_OF_TIME, day_angle(when)) * _MINUTES_PER_RADIAN)


def hour_angle(sun_zenith_deg, sun_azimuth_deg, latitude_deg, declination_rad: float) -> np.ndarray:
    """Hour angle of the sun from its zenith and azimuth at a place, radians (negative before solar noon).

    Parameters
    ----------
    sun_zenith_deg, sun_azimuth_deg : float or numpy.ndarray
        Sun zenith (0-90) and azimuth (clockwise from north), degrees, broadcastable.
    latitude_deg : float or numpy.ndarray
        Latitude of the place, degrees (north positive), broadcastable.
    declination_rad : float
        Solar declination at that time (:func:`declination`), radians.

    Returns
    -------
    numpy.ndarray
        float64, radians in [-pi, pi]; ``cos(h)`` is clipped to [-1, 1] where the zenith, latitude and declination
        do not quite agree (a zenith below the noon zenith gives noon).
    """
    zenith = np.radians(np.asarray(sun_zenith_deg, np.float64))
    azimuth = np.radians(np.asarray(sun_azimuth_deg, np.float64))
    latitude = np.radians(np.asarray(latitude_deg, np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        cos_h = (np.cos(zenith) - np.sin(latitude) * np.sin(declination_rad)) / (
            np.cos(latitude) * np.cos(declination_rad))
    h = np.arccos(np.clip(cos_h, -1.0, 1.0))
    return np.where(np.sin(azimuth) > 0.0, -h, h)  # sun in the east: morning


def sun_zenith(latitude_deg, declination_rad: float, hour_angle_rad) -> np.ndarray:
    """Sun zenith, degrees: ``arccos(sin(phi) sin(delta) + cos(phi) cos(delta) cos(h))`` (float64)."""
    latitude = np.radians(np.asarray(latitude_deg, np.float64))
    cos_zenith = (np.sin(latitude) * np.sin(declination_rad)
                  + np.cos(latitude) * np.cos(declination_rad) * np.cos(hour_angle_rad))
    return np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))


def central_sun_zenith(sun_zenith_deg, sun_azimuth_deg, latitude_deg, acquired: dt.datetime,
                       central: dt.datetime) -> np.ndarray:
    """Sun zenith a pixel has at the same UTC clock time on the central date (module docstring: method).

    Parameters
    ----------
    sun_zenith_deg, sun_azimuth_deg : float or numpy.ndarray
        The observation's sun zenith and azimuth at the pixels (the product's sun angle grids), degrees.
    latitude_deg : float or numpy.ndarray
        Latitude of the pixels, degrees, broadcastable with the angles.
    acquired : datetime.datetime
        Acquisition time (naive = UTC).
    central : datetime.datetime
        The same clock time on the central date (naive = UTC).

    Returns
    -------
    numpy.ndarray
        float64, degrees; exactly ``sun_zenith_deg`` when the two times are equal; NaN where an input is NaN.
    """
    zenith = np.asarray(sun_zenith_deg, np.float64)
    delta = declination(acquired)
    delta_central = declination(central)
    h = hour_angle(zenith, sun_azimuth_deg, latitude_deg, delta)
    h_central = h + (equation_of_time_minutes(central) - equation_of_time_minutes(acquired)) * _RADIANS_PER_MINUTE
    model = sun_zenith(latitude_deg, delta, h)
    return zenith + (sun_zenith(latitude_deg, delta_central, h_central) - model)
