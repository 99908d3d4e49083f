"""The month -> central date rule."""

import datetime as dt

import pytest

from l2a.errors import InvalidParameterError
from l3a.dates import month_central_date


@pytest.mark.parametrize("text, central", [("2018-07", dt.date(2018, 7, 15)), ("2020-02", dt.date(2020, 2, 15)),
                                           ("1999-12", dt.date(1999, 12, 15))])
def test_month_central_date_is_the_15th(text, central):
    assert month_central_date(text) == central


@pytest.mark.parametrize("text", ["2018-13", "2018", "July 2018", "2018-07-15", ""])
def test_bad_month_is_one_line_naming_it(text):
    with pytest.raises(InvalidParameterError, match="is not a month as YYYY-MM") as exc:
        month_central_date(text)
    assert repr(text) in str(exc.value) and "\n" not in str(exc.value)
