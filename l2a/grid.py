"""Pixel grids: the one grid type of the toolkit (product resolution groups, working grids, national mosaics).

A :class:`Grid` is a north-up raster frame: a pixel-corner affine transform, a shape and optionally a CRS. Windows
are :class:`rasterio.windows.Window` (pixel offsets and sizes on the grid).
"""

from __future__ import annotations

from dataclasses import dataclass

from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

__all__ = ["Grid"]


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

    def same_as(self, other: "Grid", tol: float = 1e-6) -> bool:
        """True when both grids have the same shape and (almost) the same transform."""
        return self.shape == other.shape and self.transform.almost_equals(other.transform, precision=tol)
