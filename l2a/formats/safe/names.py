"""Names in ESA SAFE products (Sentinel-2 L1C and Sen2Cor L2A): band ids and spellings, and product names.

Band ids in ESA metadata count 0..12 in the order B1 B2 B3 B4 B5 B6 B7 B8 **B8A** B9 B10 B11 B12
(reference-l2a-formats.md section 4.1); :data:`BAND_IDS` maps them to Theia names. File names spell bands ``B02``,
``B8A`` (:func:`esa_band_name`). A compact product name reads
``S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347[.SAFE]`` (:func:`parse_product_name`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from l2a.errors import MetadataError
from l2a.sensors import SENSORS

__all__ = ["BAND_IDS", "band_of_id", "esa_band_name", "native_resolution_m", "ProductName", "parse_product_name"]

#: Theia band names in the order of ESA's band ids 0..12.
BAND_IDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")

_PRODUCT_NAME = re.compile(
    r"^(?P<platform>S2[A-C])_MSI(?P<level>L1C|L2A)_(?P<start>\d{8}T\d{6})_N(?P<baseline>\d{4})_R(?P<orbit>\d{3})_"
    r"(?P<tile>T\d{2}[A-Z]{3})_\d{8}T\d{6}")


def band_of_id(band_id, source=None) -> str:
    """Theia name of an ESA band id (``0`` -> ``B1``, ``8`` -> ``B8A``); :class:`MetadataError` if not 0..12."""
    try:
        i = int(str(band_id).strip())
    except ValueError:
        raise MetadataError(f"band id {band_id!r} is not an integer", source) from None
    if not 0 <= i < len(BAND_IDS):
        raise MetadataError(f"band id {i} is outside 0..12", source)
    return BAND_IDS[i]


def esa_band_name(band: str) -> str:
    """ESA file spelling of a Theia band name (``B2`` -> ``B02``, ``B8A`` -> ``B8A``, ``B11`` -> ``B11``)."""
    return band if band.endswith("A") else f"B{int(band[1:]):02d}"


def native_resolution_m(band: str) -> int:
    """Native pixel size of a Sentinel-2 band, m (10, 20 or 60)."""
    return int(SENSORS["S2A"][band].resolution_m)


@dataclass(frozen=True)
class ProductName:
    """Fields of a compact SAFE product name: platform (``S2A``, ``S2B``, ``S2C``), level (``L1C``/``L2A``),
    datatake sensing start (UTC), processing baseline (``"05.10"``) and tile (``T31TCJ``)."""

    platform: str
    level: str
    datetime: dt.datetime
    baseline: str
    tile: str


def parse_product_name(name: str) -> ProductName | None:
    """Parse ``S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347[.SAFE]``; None if it is not one."""
    m = _PRODUCT_NAME.match(name)
    if not m:
        return None
    when = dt.datetime.strptime(m["start"], "%Y%m%dT%H%M%S").replace(tzinfo=dt.timezone.utc)
    return ProductName(m["platform"], m["level"], when, f"{m['baseline'][:2]}.{m['baseline'][2:]}", m["tile"])
