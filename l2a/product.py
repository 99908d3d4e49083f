"""The one product model, :class:`L2AProduct`, shared by every L2A format.

A reader subclass (Theia/MUSCATE, Sen2Cor SAFE) fills the attributes at open time from metadata and file names and
implements the three windowed reads. Users get the same API whatever the format:

* reflectance: :meth:`L2AProduct.read_band` -> int16, reflectance x 10000, nodata -10000;
* masks: :meth:`L2AProduct.read_masks` -> dict of boolean planes ``cloud``, ``shadow``, ``snow``, ``water``,
  ``nodata``, ``saturated``;
* aerosols: :meth:`L2AProduct.read_aot` -> float32 AOT at 550 nm, NaN where unknown.
"""

from __future__ import annotations

import abc
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from .angles import Angles
from .errors import BandNotFoundError, InvalidParameterError
from .raster import check_window
from .sensors import CALIBRATION_VERSION, band_resolution, normalize_band

__all__ = ["Grid", "L2AProduct", "MASK_NAMES", "REFLECTANCE_NODATA", "RESOLUTIONS"]

#: Names of the boolean mask planes returned by :meth:`L2AProduct.read_masks`.
MASK_NAMES = ("cloud", "shadow", "snow", "water", "nodata", "saturated")
#: Nodata value of int16 reflectance x 10000.
REFLECTANCE_NODATA = -10000
#: Resolution groups of Sentinel-2 L2A products.
RESOLUTIONS = ("R1", "R2")


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid.

    Attributes
    ----------
    transform : Affine
        Pixel-corner affine transform (CRS units, m).
    height, width : int
        Rows and columns.
    """

    transform: Affine
    height: int
    width: int

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


def check_resolution(res: str) -> str:
    """Validate a resolution group name (``"R1"`` or ``"R2"``)."""
    if res not in RESOLUTIONS:
        raise InvalidParameterError(f"resolution must be one of {RESOLUTIONS}, not {res!r}")
    return res


class L2AProduct(abc.ABC):
    """A Level-2A surface-reflectance product of one tile and one acquisition, whatever its format.

    Attributes
    ----------
    path : pathlib.Path
        The product folder or archive.
    format : str
        ``"theia"`` (MUSCATE/MAJA and the toolkit's own products) or ``"sen2cor"`` (ESA SAFE).
    platform : str
        ``S2A``, ``S2B``, ``S2C`` or ``VENUS``.
    tile : str
        MGRS tile code with its ``T`` (``T31TCJ``).
    datetime : datetime.datetime
        Acquisition time, timezone-aware UTC.
    crs : rasterio.crs.CRS
        Coordinate reference system of the rasters.
    grids : mapping ``"R1"``/``"R2"`` -> Grid
        Pixel grid of each resolution group present.
    bands : tuple of str
        Bands present, Theia names, in L2A order.
    angles : Angles
        Sun and viewing angles (grids and/or means; possibly empty).
    reflectance_quantification : float
        Divide stored values by this to get reflectance (10000).
    aot_quantification : float or None
        Divide stored AOT by this (Theia 200, Sen2Cor 1000).
    calibration_version : str
        Version of the calibration-adjustment table the product was made with (or read with).
    """

    format: str = ""

    def __init__(self, path: str | os.PathLike, *, platform: str, tile: str, datetime: dt.datetime, crs: CRS,
                 grids: Mapping[str, Grid], bands: tuple[str, ...], angles: Angles | None = None,
                 reflectance_quantification: float = 10000.0, aot_quantification: float | None = None,
                 calibration_version: str = CALIBRATION_VERSION, product_id: str | None = None):
        self.path = Path(path)
        self.platform = platform
        self.tile = tile
        if datetime.tzinfo is None:
            datetime = datetime.replace(tzinfo=dt.timezone.utc)
        self.datetime = datetime.astimezone(dt.timezone.utc)
        self.crs = crs
        self.grids = dict(grids)
        self.bands = tuple(bands)
        self.angles = angles if angles is not None else Angles()
        self.reflectance_quantification = float(reflectance_quantification)
        self.aot_quantification = aot_quantification
        self.calibration_version = calibration_version
        self.product_id = product_id or self.path.name.removesuffix(".zip").removesuffix(".SAFE")

    # --- geometry -------------------------------------------------------------------------------------------
    def grid(self, res: str) -> Grid:
        """Pixel grid of a resolution group (``"R1"`` 10 m, ``"R2"`` 20 m)."""
        check_resolution(res)
        if res not in self.grids:
            raise InvalidParameterError(f"product has no {res} rasters", self.path)
        return self.grids[res]

    def transform(self, res: str = "R1") -> Affine:
        return self.grid(res).transform

    def shape(self, res: str = "R1") -> tuple[int, int]:
        return self.grid(res).shape

    def band_grid(self, band: str) -> Grid:
        """Grid of the resolution group a band belongs to."""
        return self.grid(band_resolution(band))

    def _check_band(self, name: str) -> str:
        band = normalize_band(name)
        if band not in self.bands:
            raise BandNotFoundError(f"band {band} is not in this product (bands: {', '.join(self.bands)})",
                                    self.path)
        return band

    def _check_window(self, res: str, window: Window | None) -> Window:
        g = self.grid(res)
        return check_window(window, g.height, g.width, os.fspath(self.path))

    # --- reads ----------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def read_band(self, name: str, window: Window | None = None) -> np.ndarray:
        """Read surface reflectance of one band.

        Parameters
        ----------
        name : str
            Band name (``B2`` ... ``B12``, ``B8A``; ``B02`` accepted).
        window : rasterio.windows.Window, optional
            Window in the band's own resolution grid; the whole band if None.

        Returns
        -------
        numpy.ndarray
            int16 (rows, cols), reflectance x 10000, nodata -10000 (outside the swath and undecodable pixels).

        Raises
        ------
        BandNotFoundError, MissingFileError, CorruptRasterError
        """

    @abc.abstractmethod
    def read_masks(self, res: str = "R1", window: Window | None = None) -> dict[str, np.ndarray]:
        """Read the validity masks at one resolution.

        Returns
        -------
        dict of str -> numpy.ndarray
            bool (rows, cols) planes ``cloud``, ``shadow``, ``snow``, ``water``, ``nodata``, ``saturated``.
            Whatever the product lacks counts as clear (False), never as cloud.
        """

    @property
    @abc.abstractmethod
    def has_aot(self) -> bool:
        """True when the product carries an aerosol optical thickness raster."""

    @abc.abstractmethod
    def read_aot(self, window: Window | None = None, res: str = "R1") -> np.ndarray:
        """Read the aerosol optical thickness at 550 nm.

        Returns
        -------
        numpy.ndarray
            float32 (rows, cols), dimensionless, NaN where unknown (nodata, edge).

        Raises
        ------
        MissingFileError
            If the product has no AOT raster (check :attr:`has_aot` first).
        """

    # --- lifecycle ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Release resources (readers open files per read; subclasses may cache handles)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.format} {self.platform} {self.tile} "
                f"{self.datetime:%Y-%m-%dT%H:%M:%SZ} bands={','.join(self.bands)}>")
