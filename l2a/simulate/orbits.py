"""Acquisition plan and viewing geometry of the simulated Sentinel-2 constellation.

Model (simplified, documented):

* **Tracks.** Descending ground tracks are straight rhumb lines with heading 193 deg (-167 deg, i.e. 13 deg west of
  south), spaced by 360/143 deg of longitude (143 relative orbits). At the reference latitude 43.7 N, track 0 crosses
  longitude -0.45 E; it is relative orbit 94, the next track east is relative orbit 51 (numbers step by -43 eastwards,
  as ESA's do). The default tiles (lon -0.5..1.9 E) are seen by orbits 94 (west) and 51 (east), whose 290 km swaths
  overlap across the middle of the block (both UTM zones): orbit 94 covers the zone-30 tiles and 40-65 % of the
  zone-31 ones, orbit 51 the reverse; each swath edge cuts two tiles along a slanted line.
* **Dates.** As in the real constellation: relative orbit numbers grow by 1 per orbit and 143 orbits take 10 days,
  so orbit 94 flies 43 orbits (3.007 days) after orbit 51 on the same platform; S2B flies each relative orbit 5 days
  after (and before) S2A. Counted from 2015-07-04 (``EPOCH``), S2A flies orbit 51 on days 2 (mod 10) and orbit 94 on
  days 5, S2B on days 7 and 0 (as the real S2A product of orbit 51 of 2024-01-20 and S2B's of 2024-03-05).
  Generally, track k (-71..71, negative west of track 0, the date line between 71 and -71) flies 3 days before the
  next track west: S2A on days (5 - 3k) mod 10, S2B 5 days later (the 0.007-day drift per track stays under half a
  day up to the date line). Adjacent orbits are thus 3 and 7 days apart, never on the same day; each relative orbit
  is revisited every 5 days by S2A and S2B in turn (every 10 days per platform, the real repeat cycle), so the
  default tiles get four passes per 10 days. Dates are local mean solar days at the track (the UTC day except near
  the date line).
* **Time.** The track crosses the reference latitude at 10:51 local mean solar time (10:42-10:53 UTC for the
  default tiles); along the track, time grows by the ground speed (6.8 km/s).
* **View angles.** View zenith from the cross-track distance (satellite at 786 km, Earth curvature included): 0 at
  nadir, ~11.7 deg at the swath edge (145 km). View azimuth (from the ground towards the satellite) is perpendicular
  to the track: 283 deg east of nadir, 103 deg west of it. Twelve detectors share the swath; odd and even detectors
  look slightly forward / backward, by a per-band angle (0.5-1.9 deg), which gives the per-band offsets and the azimuth
  swing near nadir seen in real metadata.
* **Sun.** NOAA solar position (fractional-year series), no refraction.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
from numba import njit

__all__ = ["Acquisition", "acquisitions_for_tiles", "track_params", "sun_angles", "track_position",
           "view_angles", "cross_track_vector", "view_vector", "TAN_ALONG_TRACK", "detector_of", "sun_angles_ref",
           "track_position_ref", "view_angles_ref", "SWATH_HALF_WIDTH_M", "N_DETECTORS", "ALONG_TRACK_DEG", "EPOCH", "REVISIT_DAYS", "CYCLE_DAYS"]

EPOCH = dt.date(2015, 7, 4)
REVISIT_DAYS = 5
CYCLE_DAYS = 10
N_TRACKS = 143
TRACK_SPACING_DEG = 360.0 / N_TRACKS
REF_LAT_DEG = 43.7
TRACK0_LON_DEG = -0.45
TRACK0_ORBIT = 94
#: S2A flies track 0 (relative orbit 94) on the days ``(day - EPOCH).days % CYCLE_DAYS == TRACK0_S2A_DAY``.
TRACK0_S2A_DAY = 5
#: Days between passes of a track and of the next track east (43 orbits earlier: 43 x 10 / 143 = 3.007 days).
TRACK_STEP_DAYS = 3
HEADING_DEG = 193.0
SWATH_HALF_WIDTH_M = 145000.0
SATELLITE_ALTITUDE_M = 786000.0
GROUND_SPEED_M_S = 6800.0
LOCAL_SOLAR_TIME_H = 10.85
N_DETECTORS = 12
EARTH_RADIUS_M = 6371008.8
#: Along-track look angle of each band (ESA order B1..B12, B8A after B8), degrees; odd detectors look backward.
ALONG_TRACK_DEG = np.array([1.6, 0.5, 0.9, 1.2, 1.3, 1.45, 1.6, 0.7, 1.75, 1.9, 1.0, 1.35, 1.8])
#: Their tangents (per-band viewing directions as vectors, :func:`view_vector`).
TAN_ALONG_TRACK = np.tan(np.radians(ALONG_TRACK_DEG))

_TAN_DRIFT = math.tan(math.radians(HEADING_DEG - 180.0))
_COS_DRIFT = math.cos(math.radians(HEADING_DEG - 180.0))
_PSI_REF = math.log(math.tan(math.pi / 4.0 + math.radians(REF_LAT_DEG) / 2.0))
_H_SIN = math.sin(math.radians(HEADING_DEG))
_H_COS = math.cos(math.radians(HEADING_DEG))
_DET_WIDTH_M = 2.0 * SWATH_HALF_WIDTH_M / N_DETECTORS
# Track parameter vector for the kernels.
T_LON_REF, T_TIME_REF_S, T_DOY = 0, 1, 2
TRACK_PARAMS = 3

# (absolute orbit, relative orbit, date) of real products, to number absolute orbits plausibly.
_ORBIT_REF = {"S2A": (44807, 51, dt.date(2024, 1, 20)), "S2B": (36542, 51, dt.date(2024, 3, 5))}


@dataclass(frozen=True)
class Acquisition:
    """One pass of one platform over one track.

    Attributes
    ----------
    date : datetime.date
        UTC day.
    platform : str
        ``S2A`` or ``S2B``.
    track : int
        Track index in the family (0 = relative orbit 94).
    relative_orbit : int
        1..143.
    absolute_orbit : int
        Orbit count (synthetic but consistent with the relative orbit).
    reference_time : datetime.datetime
        UTC time at which the track crosses the reference latitude.
    """

    date: dt.date
    platform: str
    track: int
    relative_orbit: int
    absolute_orbit: int
    reference_time: dt.datetime

    @property
    def nadir_lon_ref(self) -> float:
        """Longitude of the track at the reference latitude, degrees (-180..180)."""
        return _track_lon(self.track)

    def time_at(self, along_m: float) -> dt.datetime:
        """UTC time at a point ``along_m`` metres south (along the track) of the reference latitude."""
        return self.reference_time + dt.timedelta(seconds=along_m / GROUND_SPEED_M_S)


def _track_lon(k: int) -> float:
    return (TRACK0_LON_DEG + k * TRACK_SPACING_DEG + 180.0) % 360.0 - 180.0


def _relative_orbit(k: int) -> int:
    return (TRACK0_ORBIT - 1 - 43 * k) % N_TRACKS + 1


def _absolute_orbit(platform: str, relative: int, day: dt.date) -> int:
    a_ref, r_ref, d_ref = _ORBIT_REF[platform]
    approx = a_ref + round(N_TRACKS / 10.0 * (day - d_ref).days)
    target = a_ref + (relative - r_ref)
    delta = (target - approx) % N_TRACKS
    absolute = approx + (delta - N_TRACKS if delta > N_TRACKS // 2 else delta)
    while absolute < 1:             # dates before the platform's launch: keep a positive, consistent number
        absolute += N_TRACKS
    return absolute


def _signed_track(k: int) -> int:
    """Track index in -71..71 (the sign of its longitude at the reference latitude)."""
    return (k + N_TRACKS // 2) % N_TRACKS - N_TRACKS // 2


def _s2a_day(k: int) -> int:
    """Days since EPOCH (mod CYCLE_DAYS) on which S2A flies track ``k``; S2B flies it REVISIT_DAYS later."""
    return (TRACK0_S2A_DAY - TRACK_STEP_DAYS * _signed_track(k)) % CYCLE_DAYS


def _make_acquisition(day: dt.date, k: int) -> Acquisition:
    phase = ((day - EPOCH).days - _s2a_day(k)) % CYCLE_DAYS
    if phase % REVISIT_DAYS:
        raise ValueError(f"track {k} (relative orbit {_relative_orbit(k)}) is not flown on {day}")
    platform = "S2A" if phase == 0 else "S2B"
    relative = _relative_orbit(k)
    lon = _track_lon(k)
    utc_h = LOCAL_SOLAR_TIME_H - lon / 15.0
    ref = dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc) + dt.timedelta(
        microseconds=round(utc_h * 3600e6 / 1000.0) * 1000)
    return Acquisition(day, platform, k, relative, _absolute_orbit(platform, relative, day), ref)


def track_params(acq: Acquisition) -> np.ndarray:
    """Kernel parameter vector of an acquisition: nadir longitude at the reference latitude (deg), UTC seconds of
    day at the reference latitude, day of year."""
    out = np.zeros(TRACK_PARAMS, np.float64)
    out[T_LON_REF] = acq.nadir_lon_ref
    t = acq.reference_time
    out[T_TIME_REF_S] = t.hour * 3600.0 + t.minute * 60.0 + t.second + t.microsecond * 1e-6
    out[T_DOY] = float(acq.date.timetuple().tm_yday)
    return out


def acquisitions_for_tiles(frames, start: dt.date, end: dt.date) -> dict[str, list[Acquisition]]:
    """Which acquisitions see each tile.

    Parameters
    ----------
    frames : sequence of TileFrame
        The tiles (their coordinate nodes give lon/lat).
    start, end : datetime.date
        Inclusive UTC date range.

    Returns
    -------
    dict tile -> list of Acquisition
        In time order, then track order; only passes whose swath covers part of the tile.
    """
    out: dict[str, list[Acquisition]] = {}
    for frame in frames:
        lon = frame.nodes[2].ravel()
        lat = frame.nodes[3].ravel()
        found = []
        for k in range(N_TRACKS):
            cross, _ = track_position_ref(lon, lat, _track_lon(k))
            if np.any(np.abs(cross) <= SWATH_HALF_WIDTH_M):
                found.append(k)
        passes = []
        for k in found:
            day = start + dt.timedelta(days=(_s2a_day(k) - (start - EPOCH).days) % REVISIT_DAYS)
            while day <= end:
                passes.append((day, k))
                day += dt.timedelta(days=REVISIT_DAYS)
        out[frame.footprint.tile] = [_make_acquisition(day, k) for day, k in sorted(passes)]
    return out


# --- geometry kernels (numba) -------------------------------------------------------------------------------

@njit(cache=True, nogil=True)
def track_position(lon, lat, lon_ref):
    """Position of a ground point relative to a track.

    Parameters
    ----------
    lon, lat : float
        Point, degrees.
    lon_ref : float
        Track longitude at the reference latitude, degrees.

    Returns
    -------
    cross_m : float
        Distance from the nadir line, m, positive east of the track.
    along_m : float
        Distance along the track south of the reference latitude, m.
    """
    phi = math.radians(lat)
    psi = math.log(math.tan(math.pi / 4.0 + phi / 2.0))
    lon_track = lon_ref + math.degrees(_TAN_DRIFT * (psi - _PSI_REF))
    dlon = (lon - lon_track + 540.0) % 360.0 - 180.0
    cross = math.radians(dlon) * EARTH_RADIUS_M * math.cos(phi) * _COS_DRIFT
    along = math.radians(REF_LAT_DEG - lat) * EARTH_RADIUS_M / _COS_DRIFT
    return cross, along


@njit(cache=True, nogil=True)
def detector_of(cross_m):
    """Detector (1..12, west to east) seeing a point at ``cross_m`` from nadir; 0 outside the swath."""
    if abs(cross_m) > SWATH_HALF_WIDTH_M:
        return 0
    d = int(math.floor((cross_m + SWATH_HALF_WIDTH_M) / _DET_WIDTH_M)) + 1
    return min(max(d, 1), N_DETECTORS)


@njit(cache=True, nogil=True)
def view_angles(cross_m, along_deg):
    """Viewing zenith and azimuth (degrees, azimuth from the ground towards the satellite, clockwise from north).

    Parameters
    ----------
    cross_m : float
        Distance from the nadir line, m (positive east).
    along_deg : float
        Along-track look angle, degrees (positive: looking forward, i.e. the satellite north of the point).
    """
    alpha = math.atan(abs(cross_m) / SATELLITE_ALTITUDE_M)
    s = min((EARTH_RADIUS_M + SATELLITE_ALTITUDE_M) / EARTH_RADIUS_M * math.sin(alpha), 1.0)
    tan_c = math.tan(math.asin(s))
    if cross_m >= 0.0:          # the satellite is west of the point: azimuth heading + 90
        ce, cn = _H_COS, -_H_SIN
    else:
        ce, cn = -_H_COS, _H_SIN
    tan_a = math.tan(math.radians(along_deg))
    ve = tan_c * ce - tan_a * _H_SIN
    vn = tan_c * cn - tan_a * _H_COS
    zen = math.degrees(math.atan(math.sqrt(ve * ve + vn * vn)))
    az = math.degrees(math.atan2(ve, vn)) % 360.0
    return zen, az


@njit(cache=True, nogil=True)
def cross_track_vector(cross_m):
    """East and north components of ``tan(view zenith) u`` (``u`` the unit ground vector towards the satellite) of
    the cross-track part of the line of sight at ``cross_m`` from nadir (see :func:`view_angles`)."""
    alpha = math.atan(abs(cross_m) / SATELLITE_ALTITUDE_M)
    s = min((EARTH_RADIUS_M + SATELLITE_ALTITUDE_M) / EARTH_RADIUS_M * math.sin(alpha), 1.0)
    tan_c = math.tan(math.asin(s))
    if cross_m >= 0.0:
        return tan_c * _H_COS, -tan_c * _H_SIN
    return -tan_c * _H_COS, tan_c * _H_SIN


@njit(cache=True, nogil=True)
def view_vector(cross_east, cross_north, tan_along):
    """East and north components of ``tan(view zenith) u`` for a look angle ``atan(tan_along)`` along the track
    (positive forward) added to the cross-track vector of :func:`cross_track_vector`: :func:`view_angles` without
    its final ``atan``/``atan2`` (zenith = atan(hypot), azimuth = atan2(east, north))."""
    return cross_east - tan_along * _H_SIN, cross_north - tan_along * _H_COS


@njit(cache=True, nogil=True)
def sun_angles(doy, utc_s, lon, lat):
    """Solar zenith and azimuth (degrees, azimuth clockwise from north) by the NOAA fractional-year formulas.

    Parameters
    ----------
    doy : float
        Day of year (1 = 1 January).
    utc_s : float
        UTC seconds of the day.
    lon, lat : float
        Degrees.
    """
    hours = utc_s / 3600.0
    g = 2.0 * math.pi / 365.0 * (doy - 1.0 + (hours - 12.0) / 24.0)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g)
                       - 0.014615 * math.cos(2 * g) - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    tst = hours * 60.0 + eqtime + 4.0 * lon
    ha = math.radians(tst / 4.0 - 180.0)
    phi = math.radians(lat)
    cz = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    cz = min(max(cz, -1.0), 1.0)
    zen = math.degrees(math.acos(cz))
    az = math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi)))
    return zen, (az + 180.0) % 360.0


# --- numpy twins ---------------------------------------------------------------------------------------------

def track_position_ref(lon, lat, lon_ref):
    """numpy twin of :func:`track_position`."""
    phi = np.radians(np.asarray(lat, np.float64))
    psi = np.log(np.tan(np.pi / 4.0 + phi / 2.0))
    lon_track = lon_ref + np.degrees(_TAN_DRIFT * (psi - _PSI_REF))
    dlon = (np.asarray(lon, np.float64) - lon_track + 540.0) % 360.0 - 180.0
    cross = np.radians(dlon) * EARTH_RADIUS_M * np.cos(phi) * _COS_DRIFT
    along = np.radians(REF_LAT_DEG - np.asarray(lat, np.float64)) * EARTH_RADIUS_M / _COS_DRIFT
    return cross, along


def view_angles_ref(cross_m, along_deg):
    """numpy twin of :func:`view_angles`."""
    cross = np.asarray(cross_m, np.float64)
    alpha = np.arctan(np.abs(cross) / SATELLITE_ALTITUDE_M)
    s = np.minimum((EARTH_RADIUS_M + SATELLITE_ALTITUDE_M) / EARTH_RADIUS_M * np.sin(alpha), 1.0)
    tan_c = np.tan(np.arcsin(s))
    east = cross >= 0.0
    ce = np.where(east, _H_COS, -_H_COS)
    cn = np.where(east, -_H_SIN, _H_SIN)
    tan_a = np.tan(np.radians(along_deg))
    ve = tan_c * ce - tan_a * _H_SIN
    vn = tan_c * cn - tan_a * _H_COS
    return np.degrees(np.arctan(np.hypot(ve, vn))), np.degrees(np.arctan2(ve, vn)) % 360.0


def sun_angles_ref(doy, utc_s, lon, lat):
    """numpy twin of :func:`sun_angles`."""
    hours = np.asarray(utc_s, np.float64) / 3600.0
    g = 2.0 * np.pi / 365.0 * (np.asarray(doy, np.float64) - 1.0 + (hours - 12.0) / 24.0)
    eqtime = 229.18 * (0.000075 + 0.001868 * np.cos(g) - 0.032077 * np.sin(g)
                       - 0.014615 * np.cos(2 * g) - 0.040849 * np.sin(2 * g))
    decl = (0.006918 - 0.399912 * np.cos(g) + 0.070257 * np.sin(g) - 0.006758 * np.cos(2 * g)
            + 0.000907 * np.sin(2 * g) - 0.002697 * np.cos(3 * g) + 0.00148 * np.sin(3 * g))
    tst = hours * 60.0 + eqtime + 4.0 * np.asarray(lon, np.float64)
    ha = np.radians(tst / 4.0 - 180.0)
    phi = np.radians(np.asarray(lat, np.float64))
    cz = np.clip(np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(ha), -1.0, 1.0)
    az = np.degrees(np.arctan2(np.sin(ha), np.cos(ha) * np.sin(phi) - np.tan(decl) * np.cos(phi)))
    return np.degrees(np.arccos(cz)), (az + 180.0) % 360.0
