"""Reader of ESA Level-1C SAFE products (folder or .zip), the input of the embedded L2A core:
:class:`L1CProduct` and :func:`open_l1c_safe`.

Layout (reference-l2a-formats.md section 4.1)::

    <PRODUCT>.SAFE/MTD_MSIL1C.xml
    <PRODUCT>.SAFE/GRANULE/L1C_T31TCJ_A036542_20240305T105512/MTD_TL.xml
        IMG_DATA/T31TCJ_20240305T104819_{B01..B12,B8A,TCI}.jp2     (each band at its native resolution)

Radiometry: TOA reflectance = (DN + RADIO_ADD_OFFSET[band]) / QUANTIFICATION_VALUE, the offset read per band from
``MTD_MSIL1C.xml`` whenever ``Radiometric_Offset_List`` is present (baseline 04.00 and later), never decided from the
date or the baseline. DN 0 is no-data (NaN), DN 65535 saturated (flagged).

Angles come from ``MTD_TL.xml``: the 23 x 23 sun grid and, per band, the viewing grids of every detector merged into
one (NaN left only outside the swath).

Grids: each band's raster is checked against the grid ``MTD_TL.xml`` declares for its native resolution. Cropped
products (the ALCD test crops: 30 x 30 px JP2 files where every band, 20 and 60 m ones included, was resampled to
10 m) are accepted when the rasters are a window of the tile on its lattice; the rasters' grid is then used, with a
logged warning (see :mod:`l2a.formats.safe.grids`). So ``grids[20]`` may have 10 m pixels: always take a band's grid
from :meth:`L1CProduct.band_grid`.

Every band raster is checked when the product is opened: one band, stored as uint16 (ESA) or as int16 or uint8
(re-encoded crops); anything else is a :class:`~l2a.errors.RasterKindError` naming the file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from pathlib import Path
from typing import Mapping

import numpy as np
from rasterio.crs import CRS
from rasterio.windows import Window

from l2a.angles import Angles
from l2a.errors import (
    BandNotFoundError,
    InvalidParameterError,
    MissingFileError,
    ProductFormatError,
)
from l2a.formats.safe.files import SafeFiles, probe_raster
from l2a.formats.safe.grids import resolve_grids
from l2a.formats.safe.metadata import (
    ProductMetadata,
    TileMetadata,
    parse_product_metadata,
    read_tile_metadata,
    resolve_identity,
)
from l2a.formats.safe.names import BAND_IDS, native_resolution_m
from l2a.grid import Grid
from l2a.io.raster import check_window, read_raster
from l2a.sensors import normalize_band

__all__ = ["L1CProduct", "open_l1c_safe", "dn_to_toa", "L1C_BANDS"]

logger = logging.getLogger(__name__)

#: The thirteen L1C bands, Theia names, in ESA band-id order.
L1C_BANDS = BAND_IDS

_RASTER = re.compile(r"^GRANULE/(?P<granule>[^/]+)/IMG_DATA/(?P<stem>[^/]*?)_?(?P<kind>B\d{2}|B8A)\.jp2$")
_TILE_IN_NAME = re.compile(r"(?:^|_)(T\d{2}[A-Z]{3})(?:_|$)")
#: Stored data types accepted for L1C digital numbers. ESA writes uint16; re-encoded crops (OTB) write int16,
#: whose bits are read back as uint16.
_DN_DTYPES = ("uint16", "int16", "uint8")


def dn_to_toa(dn: np.ndarray, offset: float, quantification: float, nodata_dn: int = 0) -> np.ndarray:
    """Convert L1C digital numbers to TOA reflectance.

    Parameters
    ----------
    dn : numpy.ndarray
        uint16 (rows, cols) digital numbers.
    offset : float
        RADIO_ADD_OFFSET of the band, DN units (-1000 from baseline 04.00; 0 without an offset list).
    quantification : float
        QUANTIFICATION_VALUE (10000).
    nodata_dn : int
        Stored no-data value (0).

    Returns
    -------
    numpy.ndarray
        float32 (rows, cols), TOA reflectance (dimensionless, ~0..1.5), NaN where ``dn == nodata_dn``.
    """
    toa = ((dn.astype(np.float64) + offset) / quantification).astype(np.float32)
    toa[dn == nodata_dn] = np.nan
    return toa


class L1CProduct:
    """An ESA Level-1C product of one tile and one acquisition (not an L2AProduct: TOA, 13 bands, no masks).

    Attributes
    ----------
    path : pathlib.Path
        The product folder or archive.
    product_id : str
        Product name without ``.SAFE``.
    format : str
        ``"l1c"``.
    platform : str
        ``S2A``, ``S2B``, ``S2C``.
    tile : str
        MGRS tile with its ``T`` (``T31TCJ``).
    datetime : datetime.datetime
        Acquisition time (``SENSING_TIME`` of the tile), UTC.
    crs : rasterio.crs.CRS
        CRS of the rasters.
    grids : dict int -> Grid
        Grid of each native resolution present (10, 20, 60 m). A cropped product may carry finer pixels than the
        key says; use :meth:`band_grid`.
    declared_grids : mapping int -> Grid
        Grids ``MTD_TL.xml`` declares (the full tile); empty without ``MTD_TL.xml``.
    bands : tuple of str
        Bands present, Theia names, ESA order (B1 ... B8, B8A, B9 ... B12).
    angles : Angles
        Sun grid (23 x 23 nodes at 5 km), merged viewing grid per band, mean angles; degrees.
    quantification : float
        QUANTIFICATION_VALUE (10000).
    radio_add_offset : dict band -> float
        RADIO_ADD_OFFSET applied to each band present, DN units (all 0 without an offset list).
    solar_irradiance : mapping band -> float
        Exo-atmospheric solar irradiance per band, W m-2 um-1.
    U : float or None
        Earth-Sun distance correction factor of the acquisition day (``Reflectance_Conversion/U``).
    processing_baseline : str or None
        ``"05.10"``..., informative only.
    nodata_dn, saturated_dn : int
        Special values (0 and 65535).
    """

    format = "l1c"

    def __init__(self, files: SafeFiles, *, band_files: Mapping[str, str], band_dtypes: Mapping[str, str],
                 metadata: ProductMetadata, tile_metadata: TileMetadata | None, platform: str, tile: str,
                 datetime: dt.datetime, crs: CRS, grids: Mapping[int, Grid], product_id: str):
        self._files = files
        self._band_files = dict(band_files)
        self._band_dtypes = dict(band_dtypes)
        self.metadata = metadata
        self.tile_metadata = tile_metadata
        self.path = Path(files.path)
        self.product_id = product_id
        self.platform = platform
        self.tile = tile
        self.datetime = datetime.astimezone(dt.timezone.utc)
        self.crs = crs
        self.grids = dict(grids)
        self.declared_grids = dict(tile_metadata.grids) if tile_metadata else {}
        self.bands = tuple(b for b in L1C_BANDS if b in band_files)
        self.angles = tile_metadata.angles if tile_metadata else Angles()
        self.quantification = metadata.quantification
        self.radio_add_offset = {b: metadata.offset(b) for b in self.bands}
        self.solar_irradiance = metadata.solar_irradiance
        self.U = metadata.u
        self.processing_baseline = metadata.processing_baseline
        self.nodata_dn = metadata.nodata_dn
        self.saturated_dn = metadata.saturated_dn

    # --- geometry -------------------------------------------------------------------------------------------
    def _check_band(self, name: str) -> str:
        band = normalize_band(name)
        if band not in self.bands:
            raise BandNotFoundError(f"band {band} is not in this product (bands: {', '.join(self.bands)})", self.path)
        return band

    def grid(self, resolution_m: int) -> Grid:
        """Grid of the bands of a native resolution (10, 20 or 60 m)."""
        if resolution_m not in self.grids:
            raise InvalidParameterError(f"product has no {resolution_m} m bands (has {sorted(self.grids)})",
                                        self.path)
        return self.grids[resolution_m]

    def band_grid(self, name: str) -> Grid:
        """Grid of one band's raster."""
        return self.grid(native_resolution_m(self._check_band(name)))

    # --- reads ----------------------------------------------------------------------------------------------
    def read_dn(self, name: str, window: Window | None = None) -> np.ndarray:
        """Read the digital numbers of one band.

        Parameters
        ----------
        name : str
            Band name (``B1`` ... ``B12``, ``B8A``; ``B01`` accepted).
        window : rasterio.windows.Window, optional
            Window in the band's grid (:meth:`band_grid`); the whole band if None.

        Returns
        -------
        numpy.ndarray
            uint16 (rows, cols) as stored: 0 no-data, 65535 saturated.

        Raises
        ------
        BandNotFoundError, MissingFileError, CorruptRasterError, InvalidParameterError
        """
        band = self._check_band(name)
        grid = self.band_grid(band)
        win = check_window(window, grid.height, grid.width, os.fspath(self.path))
        raw = read_raster(self._files.location(self._band_files[band]), 1, win, grid.shape, what=f"band {band}")
        if raw.dtype == np.int16:
            return raw.view(np.uint16)
        return raw.astype(np.uint16, copy=False)

    def read_toa(self, name: str, window: Window | None = None, return_saturated: bool = False):
        """Read the TOA reflectance of one band.

        Parameters
        ----------
        name : str
            Band name.
        window : rasterio.windows.Window, optional
            Window in the band's grid; the whole band if None.
        return_saturated : bool
            Also return the saturation flags.

        Returns
        -------
        toa : numpy.ndarray
            float32 (rows, cols), (DN + RADIO_ADD_OFFSET) / QUANTIFICATION_VALUE, dimensionless; NaN where DN is
            no-data (0). Saturated pixels keep their (maximal) value.
        saturated : numpy.ndarray
            bool (rows, cols), True where DN is the SATURATED value (65535); only if ``return_saturated``.
        """
        band = self._check_band(name)
        dn = self.read_dn(band, window)
        toa = dn_to_toa(dn, self.radio_add_offset[band], self.quantification, self.nodata_dn)
        return (toa, dn == self.saturated_dn) if return_saturated else toa

    # --- lifecycle ------------------------------------------------------------------------------------------
    def close(self) -> None:
        """Nothing to release (files are opened per read)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"<L1CProduct {self.platform} {self.tile} {self.datetime:%Y-%m-%dT%H:%M:%SZ} "
                f"bands={','.join(self.bands)}>")


def _find_rasters(files: SafeFiles) -> tuple[str, dict[str, str], set[str]]:
    found, granules, tiles = {}, set(), set()
    for rel, m in files.match(_RASTER):
        granules.add(m["granule"])
        tile = _TILE_IN_NAME.search(m["stem"])
        if tile:
            tiles.add(tile.group(1))
        found[normalize_band(m["kind"])] = rel
    if not granules:
        raise MissingFileError("no band raster under GRANULE/*/IMG_DATA", files.display(""))
    if len(granules) > 1:
        raise ProductFormatError(f"holds {len(granules)} granules ({', '.join(sorted(granules))}); expected one",
                                 files.display(""))
    return granules.pop(), found, tiles


def open_l1c_safe(path: str | os.PathLike, *, zip_index=None, root: str = "") -> L1CProduct:
    """Open an ESA Level-1C SAFE product.

    Parameters
    ----------
    path : str or path-like
        The ``.SAFE`` folder, a folder holding it, or a .zip archive.
    zip_index : ZipIndex, optional
        Checked member list when ``path`` is an archive.
    root : str
        Product root inside the folder or archive (``""`` when ``path`` is the ``.SAFE`` folder).

    Returns
    -------
    L1CProduct

    Raises
    ------
    MissingFileError
        No ``MTD_MSIL1C.xml`` or no band raster.
    MetadataError, UnsafeXMLError
        Malformed or hostile metadata; no platform, time or tile to be found.
    CorruptRasterError, RasterKindError, GridMismatchError
        A band raster that does not open, is not a one-band raster of DN (uint16, int16 or uint8), or is neither
        on the tile's grid nor a window of it (naming the file).
    """
    files = SafeFiles(path, zip_index, root)
    mtd = "MTD_MSIL1C.xml"
    metadata = parse_product_metadata(files.read_xml(mtd), "L1C", files.display(mtd))
    granule, band_files, tiles = _find_rasters(files)
    tile_metadata = read_tile_metadata(files, granule)
    infos, dtypes = [], {}
    for band in (b for b in L1C_BANDS if b in band_files):
        info = probe_raster(files, band_files[band], what=f"band {band}", dtypes=_DN_DTYPES, count=1)
        dtypes[band] = info.dtype
        infos.append((info, native_resolution_m(band)))
    recoded = [b for b, d in dtypes.items() if d != "uint16"]
    if recoded:
        logger.info("%s: bands %s are not stored as uint16 (re-encoded product); read as uint16",
                    files.display(""), ",".join(recoded))
    grids, crs = resolve_grids(infos, tile_metadata, allow_subset=True)

    platform, when, tile = resolve_identity(files, metadata, tile_metadata, tiles, crs)
    product = L1CProduct(files, band_files=band_files, band_dtypes=dtypes, metadata=metadata,
                         tile_metadata=tile_metadata, platform=platform, tile=tile, datetime=when, crs=crs,
                         grids=grids, product_id=(metadata.product_uri or files.product_name).removesuffix(".SAFE"))
    logger.debug("opened %r", product)
    return product
