"""Central dates of syntheses: the month -> central date rule (SPEC section 4), used by the CLIs and the scripts.

A monthly synthesis is centred on the 15th of its month, the same day for every tile (tile-edge seams came from
central dates that differed between tiles).
"""

from __future__ import annotations

import datetime as dt

from l2a.errors import InvalidParameterError

__all__ = ["MONTH_CENTRAL_DAY", "month_central_date"]

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
