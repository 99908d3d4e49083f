"""Band selection shared by ``l3a compose`` and ``mosaic build``."""

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from l2a.errors import BandNotFoundError
from l3a.bands import select_bands


@dataclass
class Product:
    bands: tuple
    path: Path


ALL = ("B2", "B3", "B4", "B8", "B5", "B6", "B7", "B8A", "B11", "B12")


def test_default_is_the_common_bands_in_l2a_order(caplog):
    products = [Product(ALL, Path("a")), Product(("B8", "B4", "B3", "B2", "B11"), Path("b"))]
    with caplog.at_level(logging.WARNING):
        assert select_bands(products, None) == ("B2", "B3", "B4", "B8", "B11")
    assert "B12" in caplog.text  # the bands left out are named
    assert select_bands(products, ()) == ("B2", "B3", "B4", "B8", "B11")


def test_requested_bands_in_any_spelling_and_order():
    products = [Product(ALL, Path("a"))]
    assert select_bands(products, ["b04", "B02", "B4"]) == ("B2", "B4")
    assert select_bands(products, ["b04", "B02", "B4"], keep_request_order=True) == ("B4", "B2")


def test_missing_band_names_the_product():
    products = [Product(ALL, Path("a")), Product(("B2",), Path("b"))]
    with pytest.raises(BandNotFoundError, match="band B4 is not in this product") as exc:
        select_bands(products, ["B4"])
    assert exc.value.path == "b"
    with pytest.raises(BandNotFoundError, match="no band in common"):
        select_bands([Product(("B2",), Path("a")), Product(("B3",), Path("b"))], None)
