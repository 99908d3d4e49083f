"""Terrain for the processor: an optional DEM averaged onto the coarse cells, and the surface pressure it implies.

Without a DEM the processor assumes flat ground at sea level (1013.25 hPa, no altitude term in the cirrus test).
With one (any raster GDAL opens, in any CRS: SRTM or Copernicus DEM tiles, a VRT over them, the simulator's
``truth/{tile}/{tile}_DEM_R2.tif``), each coarse cell takes the mean altitude of the DEM pixels it covers, which
sets:

* the surface pressure of the 6S terms (Rayleigh scattering and gases above the ground: at 2000 m the blue path
  reflectance is about a fifth smaller than at sea level), by the standard atmosphere;
* the altitude term of MAJA's cirrus test (bright high ground whose B10 sees the surface through dry air).

Slopes (the FRE/SRE difference) are not modelled: FRE and SRE stay equal.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError
from rasterio.warp import Resampling, reproject

from ..errors import CorruptRasterError, InvalidParameterError, MissingFileError

__all__ = ["altitude_cells", "pressure_hpa", "SEA_LEVEL_HPA"]

SEA_LEVEL_HPA = 1013.25


def pressure_hpa(altitude_m: np.ndarray) -> np.ndarray:
    """Surface pressure (hPa) of the standard atmosphere at ``altitude_m`` (m; any shape; below sea level kept)."""
    z = np.asarray(altitude_m, np.float64)
    return SEA_LEVEL_HPA * (1.0 - 0.0065 * z / 288.15) ** 5.255


def altitude_cells(path: str | os.PathLike, crs, transform: Affine, shape: tuple[int, int]
                   ) -> tuple[np.ndarray, float]:
    """Mean altitude of a DEM over each cell of a grid.

    Parameters
    ----------
    path : path-like
        The DEM (one band, metres above sea level; its nodata pixels are ignored).
    crs, transform, shape
        The cell grid (the tile's CRS, the cells' affine transform, (rows, cols)).

    Returns
    -------
    altitude : float64 (rows, cols)
        Metres; 0 (sea level, the flat default) where the DEM has no data.
    coverage : float
        Fraction of the cells the DEM covers.

    Raises
    ------
    MissingFileError, CorruptRasterError
        No such file, or not a raster GDAL reads.
    InvalidParameterError
        A DEM without CRS, or one that covers none of the cells.
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError("no DEM file", path)
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise InvalidParameterError("the DEM has no CRS", path)
            out = np.full(shape, np.nan, np.float32)
            reproject(rasterio.band(ds, 1), out, dst_transform=transform, dst_crs=crs,
                      resampling=Resampling.average, src_nodata=ds.nodata, dst_nodata=np.nan)
    except RasterioIOError as exc:
        raise CorruptRasterError(f"the DEM cannot be read ({exc})", path) from exc
    covered = np.isfinite(out)
    if not covered.any():
        raise InvalidParameterError("the DEM covers none of the tile", path)
    return np.where(covered, out, 0.0).astype(np.float64), float(covered.mean())
