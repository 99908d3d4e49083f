"""Pixel grids: the one grid type of the toolkit (product resolution groups, working grids, national mosaics).

A :class:`Grid` is a north-up raster frame: a pixel-corner affine transform, a shape and optionally a CRS. Windows
are :class:`rasterio.windows.Window` (pixel offsets and sizes on the grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

__all__ = ["Grid"]

#: Tolerance on pixel offsets, in pixels, when deciding whether two grids share a lattice.
_PIXEL_TOL = 1e-6


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid.

    Attributes
    ----------
    transform : Affine
        Pixel-corner affine transform (CRS units, m).
    height, width : int
        Rows and columns.
    crs : CRS or None
        Coordinate reference system; None where the owner (a product) holds it.
    """

    transform: Affine
    height: int
    width: int
    crs: CRS | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def resolution(self) -> float:
        """Pixel size, CRS units."""
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        left, top = self.transform.c, self.transform.f
        return left, top + self.transform.e * self.height, left + self.transform.a * self.width, top

    def window_transform(self, window: Window) -> Affine:
        """Affine transform of a window of this grid."""
        return self.transform @ Affine.translation(window.col_off, window.row_off)

    def window_bounds(self, window: Window) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of a window of this grid, CRS units."""
        t = self.window_transform(window)
        return t.c, t.f + t.e * window.height, t.c + t.a * window.width, t.f

    def blocks(self, size: int) -> list[Window]:
        """Row-major windows of ``size`` x ``size`` pixels covering the grid (smaller at the right and bottom)."""
        return [Window(c, r, min(size, self.width - c), min(size, self.height - r))
                for r in range(0, self.height, size) for c in range(0, self.width, size)]

    def scaled(self, factor: float) -> "Grid":
        """The grid with pixels ``factor`` times larger over the same upper-left corner (``factor`` 2: 10 m -> 20 m;
        0.5: 20 m -> 10 m). Partial pixels at the right and bottom edges are kept, so the result covers the grid."""
        t = self.transform
        return replace(self, transform=Affine(t.a * factor, t.b, t.c, t.d, t.e * factor, t.f),
                       height=math.ceil(round(self.height / factor, 9)),
                       width=math.ceil(round(self.width / factor, 9)))

    def window_of(self, other: "Grid") -> Window | None:
        """Where this grid lies in ``other``: the window of ``other`` it covers pixel for pixel, or None when it is not
        a pixel-aligned part of ``other`` with the same pixel size (CRSs are not compared)."""
        ta, to = self.transform, other.transform
        if not (math.isclose(ta.a, to.a, rel_tol=1e-9) and math.isclose(ta.e, to.e, rel_tol=1e-9)
                and ta.b == to.b and ta.d == to.d):
            return None
        col, row = (ta.c - to.c) / to.a, (ta.f - to.f) / to.e
        if abs(col - round(col)) > _PIXEL_TOL or abs(row - round(row)) > _PIXEL_TOL:
            return None
        col, row = round(col), round(row)
        if col < 0 or row < 0 or col + self.width > other.width or row + self.height > other.height:
            return None
        return Window(col, row, self.width, self.height)

    def is_window_of(self, other: "Grid") -> bool:
        """True when this grid is a pixel-aligned part of ``other`` with the same pixel size (see :meth:`window_of`)."""
        return self.window_of(other) is not None

    def window_covering(self, bounds: tuple[float, float, float, float], pad: int = 0) -> Window | None:
        """The window of this grid's pixels that covers ``bounds`` (left, bottom, right, top, this grid's CRS units),
        ``pad`` pixels wider on every side and clipped to the grid; None when no pixel of the grid is in it.

        Parameters
        ----------
        bounds : (left, bottom, right, top)
            Rectangle in this grid's CRS units.
        pad : int
            Extra pixels on every side (>= 0), room for a resampling kernel.
        """
        inverse = ~self.transform
        x0, y0 = inverse @ (bounds[0], bounds[3])
        x1, y1 = inverse @ (bounds[2], bounds[1])
        r0, r1 = max(0, math.floor(min(y0, y1)) - pad), min(self.height, math.ceil(max(y0, y1)) + pad)
        c0, c1 = max(0, math.floor(min(x0, x1)) - pad), min(self.width, math.ceil(max(x0, x1)) + pad)
        if r1 <= r0 or c1 <= c0:
            return None
        return Window(c0, r0, c1 - c0, r1 - r0)

    def same_as(self, other: "Grid", tol: float = 1e-6) -> bool:
        """True when both grids have the same shape and (almost) the same transform (CRSs are not compared)."""
        return self.shape == other.shape and self.transform.almost_equals(other.transform, precision=tol)

    def lonlat_outline(self, crs: CRS | None = None, points_per_side: int = 11) -> list[tuple[float, float]]:
        """The grid's outline in longitude/latitude (degrees, WGS 84): a closed ring of ``4 * points_per_side + 1``
        (lon, lat) points, densified because a straight UTM edge is curved in geographic coordinates.

        ``crs`` is the grid's CRS when the grid holds none (products keep theirs apart).
        """
        from pyproj import Transformer

        crs = crs if crs is not None else self.crs
        if crs is None:
            raise ValueError("the grid has no CRS; pass crs")
        left, bottom, right, top = self.bounds
        n = points_per_side
        ring = ([(x, top) for x in _spaced(left, right, n)] + [(right, y) for y in _spaced(top, bottom, n)]
                + [(x, bottom) for x in _spaced(right, left, n)] + [(left, y) for y in _spaced(bottom, top, n)])
        to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon, lat = to_lonlat.transform([p[0] for p in ring], [p[1] for p in ring])
        points = [(float(x), float(y)) for x, y in zip(lon, lat)]
        return points + points[:1]


def _spaced(start: float, stop: float, n: int) -> list[float]:
    """``n`` values from ``start`` towards ``stop`` (``stop`` excluded: it starts the next side)."""
    return [start + (stop - start) * i / n for i in range(n)]
