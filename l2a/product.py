"""The one product model, :class:`L2AProduct`, shared by every L2A format.

A reader subclass (Theia/MUSCATE, Sen2Cor SAFE) fills the attributes at open time from metadata and file names and
implements the three windowed reads. Users get the same API whatever the format:

* reflectance: :meth:`L2AProduct.read_band` -> int16, reflectance x 10000, nodata -10000;
* masks: :meth:`L2AProduct.read_masks` -> dict of boolean planes ``cloud``, ``shadow``, ``snow``, ``water``,
  ``nodata``, ``saturated``;
* aerosols: :meth:`L2AProduct.read_aot` -> float32 AOT at 550 nm, NaN where unknown.

Readers that stream whole tiles (``l3a compose``) may skip the conversions when the stored values already are what
the reads return: :meth:`L2AProduct.band_source`, :meth:`L2AProduct.mask_source` and :meth:`L2AProduct.aot_source`
tell where the stored values of a band, a mask or the AOT live (:class:`RasterSource`: file, band index, grid) and
how they convert. They return None when a format has no such raw layout (then use the reads).
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

from l2a.io.raster import check_window

from .angles import Angles
from .constants import (
    RESOLUTIONS,
)
from .errors import BandNotFoundError, InvalidParameterError
from .grid import Grid
from .sensors import CALIBRATION_VERSION, band_resolution, normalize_band

__all__ = ["L2AProduct", "RasterSource", "check_resolution"]

@dataclass(frozen=True)
class RasterSource:
    """Where one plane of stored values of a product lives, and how its values convert.

    Physical value = (stored + ``add_offset``) / ``quantification``: reflectance 0-1 for a band, dimensionless AOT
    at 550 nm, the stored code itself for a mask (``quantification`` 1, decoded by the format's rules).

    Attributes
    ----------
    path : str
        GDAL path of the raster: a file path, or a ``/vsizip/`` path inside an archive.
    index : int
        1-based band index of the plane in the raster.
    res : str
        Resolution group (``"R1"`` or ``"R2"``) on whose grid the raster lies; when it is not the group asked for,
        the reader resamples (the stored values are then not the read values pixel for pixel).
    quantification : float
        Divide ``stored + add_offset`` by this to get the physical value (10000 for reflectance stored x 10000,
        so that stored values are :meth:`L2AProduct.read_band` values when it is 10000 and ``add_offset`` is 0).
    add_offset : float
        Added to stored values before the division, stored units (Sen2Cor BOA_ADD_OFFSET, -1000 from baseline
        04.00); 0 for most rasters.
    nodata : float or None
        Stored value marking pixels without data (NaN possible), None when the raster has none.
    """

    path: str
    index: int
    res: str
    quantification: float = 1.0
    add_offset: float = 0.0
    nodata: float | None = None


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
    mask_kinds : tuple of str
        Mask rasters of the format that :meth:`mask_source` describes, as the format spells them (Theia ``CLM``,
        ``MG2``, ``EDG``, ``SAT``; Sen2Cor ``SCL``); empty when the format has no raw layout.
    """

    format: str = ""
    mask_kinds: tuple[str, ...] = ()

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

    # --- raw layout -----------------------------------------------------------------------------------------
    def band_source(self, name: str) -> RasterSource | None:
        """Where the stored values of a band live and how they convert to reflectance.

        :meth:`read_band` returns them as int16 reflectance x 10000 (:data:`REFLECTANCE_QUANTIFICATION`), after
        the format's own rules (nodata, resampling, edge mask; see the subclass).

        Parameters
        ----------
        name : str
            Band name (``B2`` ... ``B12``, ``B8A``; ``B02`` accepted).

        Returns
        -------
        RasterSource or None
            None when the format has no raw layout (use :meth:`read_band`); the base class always returns None.

        Raises
        ------
        BandNotFoundError
            If the product has no such band.
        """
        self._check_band(name)
        return None

    def mask_source(self, kind: str, res: str = "R1") -> RasterSource | None:
        """Where the stored codes of one mask raster read for group ``res`` live.

        Parameters
        ----------
        kind : str
            One of :attr:`mask_kinds`.
        res : {"R1", "R2"}
            Resolution group the masks are read for; the raster may lie on the other group's grid
            (:attr:`RasterSource.res`), when the product only has it there.

        Returns
        -------
        RasterSource or None
            None when the product has no raster of this kind at either resolution (what it would tell counts as
            clear), when ``kind`` is not in :attr:`mask_kinds`, or when the format has no raw layout (use
            :meth:`read_masks`); the base class always returns None.

        Raises
        ------
        InvalidParameterError
            If ``res`` is not a resolution group name.
        """
        check_resolution(res)
        return None

    def aot_source(self, res: str = "R1") -> RasterSource | None:
        """Where the stored aerosol optical thickness read for group ``res`` lives and how it converts.

        Parameters
        ----------
        res : {"R1", "R2"}
            Resolution group the AOT is read for; the raster may lie on the other group's grid.

        Returns
        -------
        RasterSource or None
            None without an AOT raster (:attr:`has_aot` False) or when the format has no raw layout (use
            :meth:`read_aot`); the base class always returns None.

        Raises
        ------
        InvalidParameterError
            If ``res`` is not a resolution group name.
        """
        check_resolution(res)
        return None

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
