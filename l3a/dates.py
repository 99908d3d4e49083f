"""Central dates of syntheses: the month -> central date rule (SPEC section 4), used by the CLIs and the scripts, and
the month ranges of batches (``2018-06..2018-09``).

A monthly synthesis is centred on the 15th of its month, the same day for every tile (tile-edge seams came from
central dates that differed between tiles).
"""

from __future__ import annotations

import datetime as dt

from l2a.errors import InvalidParameterError

__all__ = ["MONTH_CENTRAL_DAY", "MONTH_RANGE_SEPARATOR", "month_central_date", "month_range"]

#: Day of the month on which a monthly synthesis is centred.
MONTH_CENTRAL_DAY = 15


def month_central_date(month: str) -> dt.date:
    """Central date of a monthly synthesis.

    Parameters
    ----------
    month : str
        The month as ``YYYY-MM`` (``"2018-07"``).

    Returns
    -------
    datetime.date
        The 15th of that month (``datetime.date(2018, 7, 15)``).

    Raises
    ------
    InvalidParameterError
        If ``month`` is not a month as ``YYYY-MM`` (one line quoting it).
    """
    try:
        first = dt.datetime.strptime(str(month), "%Y-%m").date()
    except ValueError:
        raise InvalidParameterError(f"{month!r} is not a month as YYYY-MM") from None
    return first.replace(day=MONTH_CENTRAL_DAY)


#: Separator of the first and last month of a range (``2018-06..2018-09``).
MONTH_RANGE_SEPARATOR = ".."


def month_range(text: str) -> tuple[str, ...]:
    """The months of a range, inclusive, as ``YYYY-MM`` strings in calendar order.

    Parameters
    ----------
    text : str
        ``YYYY-MM..YYYY-MM`` (first and last month, inclusive) or one month ``YYYY-MM``.

    Returns
    -------
    tuple of str
        ``("2018-06", "2018-07", "2018-08", "2018-09")`` for ``"2018-06..2018-09"``; a range may cross New Year.

    Raises
    ------
    InvalidParameterError
        If a bound is not a month as ``YYYY-MM``, or the last month comes before the first (one line quoting it).
    """
    parts = str(text).strip().split(MONTH_RANGE_SEPARATOR)
    try:
        if len(parts) > 2:
            raise InvalidParameterError("too many '..'")
        first, last = (month_central_date(p.strip()) for p in (parts * 2)[:2])
    except InvalidParameterError:
        raise InvalidParameterError(f"{text!r} is not a month YYYY-MM nor a range YYYY-MM..YYYY-MM") from None
    if last < first:
        raise InvalidParameterError(f"{text!r}: the last month comes before the first")
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(months)
