"""Grids of ESA SAFE products: every raster on the grid its tile's ``MTD_TL.xml`` declares (:func:`resolve_grids`).

Rasters that are a crop of the tile. ``MTD_TL.xml`` always declares the full tile (10980 x 10980 px at 10 m from
ULX/ULY). Cropped products, such as the ALCD test products (30 x 30 px JP2 files, every band resampled to 10 m,
georeferenced by the GMLJP2 box and by identical ``.aux.xml`` PAM files), do not match it. With
``allow_subset=True`` :func:`resolve_grids` accepts a raster whose grid is a window of the declared tile: same CRS,
north-up square pixels whose size divides the band's native resolution (10 m pixels for a 60 m band: resampled),
origin on the tile's lattice at that pixel size, extent inside the tile. The raster's own grid is then used and a
warning is logged; angle grids keep the tile's origin, so angles interpolated on the crop's grid stay right. Any
other difference is a :class:`~l2a.errors.GridMismatchError` naming the file.
"""

from __future__ import annotations

import logging
import math
from typing import Iterable

from rasterio.crs import CRS

from l2a.errors import GridMismatchError, MetadataError
from l2a.formats.safe.files import RasterInfo
from l2a.formats.safe.metadata import TileMetadata
from l2a.grid import Grid

__all__ = ["describe_grid", "resolve_grids"]

logger = logging.getLogger(__name__)


def describe_grid(grid: Grid) -> str:
    """``"30 x 30 px of 10 m at (350000, 4850020)"``."""
    t = grid.transform
    return f"{grid.height} x {grid.width} px of {abs(t.a):g} m at ({t.c:.10g}, {t.f:.10g})"


def _fit_to_tile(grid: Grid, declared: Grid, display: str) -> Grid:
    """``grid`` when it is a window of the tile (see module docstring), else GridMismatchError."""
    t = grid.transform
    if t.b or t.d or t.a <= 0 or t.e >= 0 or not math.isclose(t.a, -t.e, rel_tol=1e-9):
        raise GridMismatchError(f"raster grid {tuple(t)[:6]} is not north-up with square pixels", display)
    ratio = declared.resolution / t.a
    if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9:
        raise GridMismatchError(f"pixel size {t.a:g} m does not divide the band's {declared.resolution:g} m", display)
    if grid.window_of(declared.scaled(1 / round(ratio))) is None:   # the tile at the raster's pixel size
        left, bottom, right, top = grid.bounds
        tile_left, tile_bottom, tile_right, tile_top = declared.bounds
        tol = 1e-6 * t.a
        if (left < tile_left - tol or right > tile_right + tol or bottom < tile_bottom - tol
                or top > tile_top + tol):
            raise GridMismatchError(f"raster {describe_grid(grid)} extends outside the tile {describe_grid(declared)}",
                                    display)
        raise GridMismatchError(f"raster origin ({t.c:.10g}, {t.f:.10g}) is not on the tile's {t.a:g} m lattice",
                                display)
    return grid


def resolve_grids(rasters: Iterable[tuple[RasterInfo, int]], tile: TileMetadata | None, *,
                  allow_subset: bool = False) -> tuple[dict[int, Grid], CRS | None]:
    """Check rasters against the tile's declared grids and return the grid of each resolution.

    Parameters
    ----------
    rasters : iterable of (RasterInfo, int)
        Each raster with the resolution (m) whose grid it must lie on.
    tile : TileMetadata or None
        Declared geocoding; None when ``MTD_TL.xml`` is missing (grids then come from the rasters, which must
        agree per resolution).
    allow_subset : bool
        Accept rasters that are a window of the declared tile (a crop), with a logged warning; otherwise a raster
        must lie exactly on the declared grid.

    Returns
    -------
    grids : dict int -> Grid
        Grid of each resolution that has rasters.
    crs : CRS or None
        The tile's CRS (the rasters' one without tile metadata; None without rasters either).

    Raises
    ------
    GridMismatchError
        Naming the first raster that is not georeferenced, in another CRS, off its grid, or unlike the other
        rasters of its resolution.
    MetadataError
        If the tile metadata declares no grid at a resolution that has rasters.
    """
    grids: dict[int, Grid] = {}
    crs = None if tile is None else tile.crs
    for info, res in rasters:
        if info.crs is None:
            raise GridMismatchError("raster is not georeferenced (no CRS)", info.display)
        if crs is None:
            crs = info.crs
        elif info.crs != crs:
            raise GridMismatchError(f"raster CRS {info.crs.to_string()} differs from the tile's {crs.to_string()}",
                                    info.display)
        grid = info.grid
        if tile is not None:
            declared = tile.grids.get(res)
            if declared is None:
                raise MetadataError(f"Tile_Geocoding declares no {res} m grid", tile.source)
            if grid.same_as(declared):
                grid = declared
            elif allow_subset:
                grid = _fit_to_tile(grid, declared, info.display)
            else:
                raise GridMismatchError(f"raster is {describe_grid(grid)}, not on the tile's {res} m grid "
                                        f"({describe_grid(declared)})", info.display)
        if res in grids and not grids[res].same_as(grid):
            raise GridMismatchError(f"raster is {describe_grid(grid)}, unlike the other {res} m rasters "
                                    f"({describe_grid(grids[res])})", info.display)
        grids.setdefault(res, grid)
    if tile is not None:
        subsets = [f"{res} m: {describe_grid(g)} instead of {describe_grid(tile.grids[res])}"
                   for res, g in sorted(grids.items()) if not g.same_as(tile.grids[res])]
        if subsets:
            logger.warning("%s: rasters are a crop of the tile MTD_TL.xml declares; using the rasters' grids (%s)",
                           tile.source, "; ".join(subsets))
    return dict(sorted(grids.items())), crs
