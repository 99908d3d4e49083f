"""Sentinel-2 tile codes (MGRS 100 km squares): the one place where a user's or a file's spelling becomes the
canonical ``T31TCJ``."""

from __future__ import annotations

import re

from l2a.errors import InvalidParameterError

__all__ = ["normalize_tile", "mgrs_tile", "s2_tile_origin"]

#: Zone (1-2 digits), latitude band (C..X, no I/O), column (A..Z, no I/O), row (A..V, no I/O); optional ``T``.
_MGRS_RE = re.compile(r"^T?(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z])([A-HJ-NP-V])$")


def normalize_tile(tile: str) -> str:
    """An MGRS tile code with its ``T`` and a two-digit zone (``31tcj`` -> ``T31TCJ``, ``T1CAA`` -> ``T01CAA``);
    anything else (a Venus site name, say) is returned stripped, unchanged otherwise."""
    text = str(tile).strip()
    m = _MGRS_RE.match(text.upper())
    if m:
        return f"T{int(m.group(1)):02d}{m.group(2)}{m.group(3)}{m.group(4)}"
    return text


def mgrs_tile(tile: str) -> str:
    """Like :func:`normalize_tile`, but only for MGRS codes with a UTM zone in 1..60.

    Raises
    ------
    InvalidParameterError
        One line naming the code, when it is not an MGRS tile code.
    """
    m = _MGRS_RE.match(str(tile).strip().upper())
    if not m:
        raise InvalidParameterError(f"tile {tile!r} is not an MGRS tile code like T31TCJ")
    if not 1 <= int(m.group(1)) <= 60:
        raise InvalidParameterError(f"tile {tile!r}: UTM zone {int(m.group(1))} is not in 1..60")
    return normalize_tile(tile)


# MGRS letters (I and O are never used)
_COL_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"
_BAND_LETTERS = "CDEFGHJKLMNPQRSTUVWX"


def s2_tile_origin(tile: str) -> tuple[float, float] | None:
    """Upper-left corner of a Sentinel-2 tile in its UTM zone, m (None if ``tile`` is not an MGRS code).

    A Sentinel-2 tile is 109.8 km wide; its upper-left corner lies on the west edge of its MGRS 100 km square and
    20 m above the square's north edge (T31TCJ -> (300000, 4900020), T38KPE -> (600000, 8000020), as in the
    products' metadata). Used to place angle grids when a metadata file gives no geoposition.
    """
    m = _MGRS_RE.match(tile.strip().upper())
    if not m:
        return None
    zone, band, col, row = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    if not 1 <= zone <= 60:
        return None
    col_set = (zone - 1) % 3                   # column letters cycle A-H, J-R, S-Z over zones 1, 2, 3
    e_index = _COL_LETTERS.index(col) - 8 * col_set
    if not 0 <= e_index < 8:
        return None
    easting = (e_index + 1) * 100000.0
    row_offset = 5 if zone % 2 == 0 else 0     # even zones start their row letters at F
    n_mod = ((_ROW_LETTERS.index(row) - row_offset) % 20) * 100000.0
    lat_mid = -80.0 + 8.0 * _BAND_LETTERS.index(band) + 4.0
    approx = lat_mid * 110946.0 + (10_000_000.0 if lat_mid < 0 else 0.0)
    k = round((approx - n_mod) / 2_000_000.0)
    northing = n_mod + 2_000_000.0 * k
    return easting, northing + 100020.0
