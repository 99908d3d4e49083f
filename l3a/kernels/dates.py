"""DTS from mean days: the day-of-year kernel (numba) and its pure-numpy twin."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..flags import DTS_NODATA

__all__ = ["day_of_year_from_day_number", "day_of_year_from_day_number_ref"]

_EPOCH = np.datetime64("1970-01-01", "D")

#: Mean days beyond +-this many days from 1970 (about 2.7 million years) are not dates: DTS nodata.
_DAY_NUMBER_LIMIT = 1e9


@njit(cache=True, nogil=True)
def _first_of_january(year):
    # days since 1970-01-01 of 1 January of `year`, proleptic Gregorian (H. Hinnant's days_from_civil)
    y = year - 1  # January counts in the previous March-based year
    era = y // 400
    yoe = y - era * 400
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + 306 - 719468


@njit(cache=True, nogil=True)
def _year_of(days):
    # year of a day number (H. Hinnant's civil_from_days: 400-year eras, years starting on 1 March)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    day_of_march_year = doe - (365 * yoe + yoe // 4 - yoe // 100)
    month_from_march = (5 * day_of_march_year + 2) // 153
    return yoe + era * 400 + (1 if month_from_march >= 10 else 0)  # January and February: the next year


@njit(cache=True, nogil=True)
def _day_of_year_kernel(values, out):
    # serial: the driver calls it from its writer thread while the main thread runs the parallel kernel
    start, stop = np.int64(0), np.int64(0)  # [1 January, next 1 January) of the last year seen
    for i in range(values.size):
        x = values[i]
        if not (abs(x) <= _DAY_NUMBER_LIMIT):  # NaN, infinite or out of range
            out[i] = DTS_NODATA
            continue
        days = np.int64(math.floor(x + 0.5))
        if days < start or days >= stop:
            year = _year_of(days)
            start, stop = _first_of_january(year), _first_of_january(year + 1)
        out[i] = days - start


def day_of_year_from_day_number(day_number: np.ndarray) -> np.ndarray:
    """DTS: 0-based day of year (1 January = 0) of a mean day, in that day's own year (numba, serial).

    Parameters
    ----------
    day_number : numpy.ndarray
        float64 (...), days since 1970-01-01 (``out_day`` of :func:`compose_block`); NaN where there is no date.

    Returns
    -------
    numpy.ndarray
        int16 (...), day of year 0-365 of ``floor(day_number + 0.5)`` (rounded to the nearest day, halves up);
        -10000 (:data:`DTS_NODATA`) where ``day_number`` is NaN (FLG 0), infinite or beyond +-1e9 days. A mean of
        31 December and 2 January is 1 January (0) of the later year.
    """
    values = np.ascontiguousarray(day_number, dtype=np.float64)
    out = np.empty(values.shape, np.int16)
    _day_of_year_kernel(values.reshape(-1), out.reshape(-1))
    return out


def day_of_year_from_day_number_ref(day_number: np.ndarray) -> np.ndarray:
    """Pure-numpy twin of :func:`day_of_year_from_day_number` (numpy calendar types)."""
    values = np.asarray(day_number, dtype=np.float64)
    finite = np.abs(values) <= _DAY_NUMBER_LIMIT
    days = np.floor(np.where(finite, values, 0.0) + 0.5).astype(np.int64)
    dates = _EPOCH + days.astype("timedelta64[D]")
    year_start = dates.astype("datetime64[Y]").astype("datetime64[D]")
    doy = (dates - year_start).astype(np.int64)
    return np.where(finite, doy, DTS_NODATA).astype(np.int16)
