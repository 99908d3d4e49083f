"""Sentinel-2 tiles of the MGRS grid: code validation and real footprints.

A tile code ``T31TCJ`` reads: UTM zone ``31``, latitude band ``T``, 100 km square column ``C`` and row ``J``.

* Column letters cycle over three zone sets (``A-H`` for zones 1, 4, ...; ``J-R`` for 2, 5, ...; ``S-Z`` for 3, 6,
  ...); the n-th letter of the set is the square whose west edge is at easting n x 100 km.
* Row letters ``A-V`` (no I, O) repeat every 2000 km of northing, starting at northing 0 in odd zones and shifted by
  five letters (``F`` at 0) in even zones. The latitude band letter picks the 2000 km cycle: the one whose square
  falls inside the band's northing range.
* A Sentinel-2 tile is 109 800 m square, anchored on the 60 m lattice at the square's north-west corner:
  ``ULX = floor(west / 60) * 60``, ``ULY = ceil(north / 60) * 60`` (T31TCJ -> (300000, 4900020), as in the real
  MTD_TL.xml), CRS ``EPSG:326zz`` (north). In the southern hemisphere (``EPSG:327zz``) the 60 m lattice counts from
  the equator (false northing 10 000 km): T38KPE -> (600000, 8000020), as in the real Theia products.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS

from l2a.errors import InvalidParameterError
from l2a.grid import Grid

__all__ = ["TileFootprint", "tile_footprint", "parse_tiles", "normalize_tile_code", "DEFAULT_TILES",
           "TILE_SIZE_M"]

#: Side of a Sentinel-2 tile, m.
TILE_SIZE_M = 109800.0
#: Default block: two tiles of UTM zone 30 and two of zone 31, overlapping across the zone boundary.
DEFAULT_TILES = ("T30TYN", "T30TYP", "T31TCH", "T31TCJ")

_ANCHOR_M = 60.0
_FALSE_NORTHING_M = 10_000_000.0
_CYCLE_M = 2_000_000.0
_SQUARE_M = 100_000.0
_BAND_LETTERS = "CDEFGHJKLMNPQRSTUVWX"
_ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV"
_COLUMN_SETS = ("ABCDEFGH", "JKLMNPQR", "STUVWXYZ")
_CODE_RE = re.compile(r"^T?(\d{1,2})([A-Z])([A-Z])([A-Z])$")


@dataclass(frozen=True)
class TileFootprint:
    """Where a Sentinel-2 tile lies.

    Attributes
    ----------
    tile : str
        Code with its ``T`` (``T31TCJ``).
    epsg : int
        UTM CRS code (32631).
    ulx, uly : float
        Upper-left corner, m (UTM).
    size_m : float
        Side, m (109 800).
    """

    tile: str
    epsg: int
    ulx: float
    uly: float
    size_m: float = TILE_SIZE_M

    @property
    def crs(self) -> CRS:
        return CRS.from_epsg(self.epsg)

    @property
    def zone(self) -> int:
        return self.epsg % 100

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top), m."""
        return self.ulx, self.uly - self.size_m, self.ulx + self.size_m, self.uly

    def grid(self, pixels: int) -> Grid:
        """North-up grid of ``pixels`` x ``pixels`` covering the tile (pixel size ``size_m / pixels``)."""
        step = self.size_m / pixels
        return Grid(Affine(step, 0.0, self.ulx, 0.0, -step, self.uly), pixels, pixels)


def normalize_tile_code(code: str) -> str:
    """Validate an MGRS tile code and return it with its ``T`` (``31TCJ`` -> ``T31TCJ``).

    Raises
    ------
    InvalidParameterError
        If the code is not a Sentinel-2 MGRS tile (bad zone, band, column or row letter).
    """
    return tile_footprint(code).tile


@functools.lru_cache(maxsize=256)
def tile_footprint(code: str) -> TileFootprint:
    """Footprint of a Sentinel-2 tile from its MGRS code.

    Parameters
    ----------
    code : str
        ``T31TCJ`` or ``31TCJ`` (case-insensitive).

    Returns
    -------
    TileFootprint

    Raises
    ------
    InvalidParameterError
        One line naming the code and what is wrong with it.
    """
    text = str(code).strip().upper()
    m = _CODE_RE.match(text)
    if not m:
        raise InvalidParameterError(f"tile {code!r} is not an MGRS tile code like T31TCJ")
    zone, band, column, row = int(m.group(1)), m.group(2), m.group(3), m.group(4)
    name = f"T{zone:02d}{band}{column}{row}"
    if not 1 <= zone <= 60:
        raise InvalidParameterError(f"tile {code!r}: UTM zone {zone} is not in 1..60")
    if band not in _BAND_LETTERS:
        raise InvalidParameterError(f"tile {code!r}: {band!r} is not a latitude band letter (C..X, no I or O)")
    letters = _COLUMN_SETS[(zone - 1) % 3]
    if column not in letters:
        raise InvalidParameterError(f"tile {code!r}: column {column!r} does not exist in zone {zone} "
                                    f"(letters {letters[0]}-{letters[-1]})")
    if row not in _ROW_LETTERS:
        raise InvalidParameterError(f"tile {code!r}: {row!r} is not a row letter (A..V, no I or O)")
    west = (letters.index(column) + 1) * _SQUARE_M
    south = _square_south(zone, band, row, code)
    north = south + _SQUARE_M
    epsg = (32600 if band >= "N" else 32700) + zone
    ulx = math.floor(west / _ANCHOR_M) * _ANCHOR_M
    if band >= "N":
        uly = math.ceil(north / _ANCHOR_M) * _ANCHOR_M
    else:   # the lattice counts from the equator, i.e. from the false northing
        uly = _FALSE_NORTHING_M - math.floor((_FALSE_NORTHING_M - north) / _ANCHOR_M) * _ANCHOR_M
    return TileFootprint(name, epsg, float(ulx), float(uly))


def _square_south(zone: int, band: str, row: str, code: str) -> float:
    """Northing of the south edge of the 100 km square, m, in the cycle that falls in the latitude band."""
    offset = 5 if zone % 2 == 0 else 0
    in_cycle = ((_ROW_LETTERS.index(row) - offset) % 20) * _SQUARE_M
    lo, hi = _band_northings(zone, band)
    best = None
    for k in range(-1, 6):
        south = in_cycle + k * _CYCLE_M
        if south + _SQUARE_M > lo and south < hi:
            overlap = min(south + _SQUARE_M, hi) - max(south, lo)
            if best is None or overlap > best[0]:
                best = (overlap, south)
    if best is None:
        raise InvalidParameterError(f"tile {code!r}: row {row!r} does not fall in latitude band {band!r} of "
                                    f"zone {zone}")
    return best[1]


@functools.lru_cache(maxsize=128)
def _band_northings(zone: int, band: str) -> tuple[float, float]:
    """UTM northing range (m) of a latitude band along the zone's central meridian, widened by 100 km to keep the
    squares that straddle the band edges (as Sentinel-2 tiles do)."""
    from pyproj import Transformer

    i = _BAND_LETTERS.index(band)
    lat_south = -80.0 + 8.0 * i
    lat_north = 84.0 if band == "X" else lat_south + 8.0
    epsg = (32600 if band >= "N" else 32700) + zone
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    lon0 = -183.0 + 6.0 * zone
    _, n_south = to_utm.transform(lon0, lat_south)
    _, n_north = to_utm.transform(lon0, lat_north)
    return n_south - _SQUARE_M, n_north + _SQUARE_M


def parse_tiles(text: str | None) -> tuple[str, ...]:
    """Parse a comma-separated tile list (``T31TCJ,31TCH``); the default block when ``text`` is empty.

    Returns
    -------
    tuple of str
        Normalised codes, sorted, duplicates removed.
    """
    if text is None or not text.strip():
        return DEFAULT_TILES
    codes = [c for c in (p.strip() for p in text.split(",")) if c]
    if not codes:
        raise InvalidParameterError("no tile given")
    return tuple(sorted({normalize_tile_code(c) for c in codes}))
