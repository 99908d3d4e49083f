"""Cloud-Optimised GeoTIFF output, written window by window and finished atomically.

Every raster the toolkit writes (L2A, L3A, mosaics) goes through :class:`CogWriter`: blocks are written into a
temporary tiled GeoTIFF beside the target (ZSTD level 1: cheap to write and to read back), which is then translated
by GDAL's COG driver (DEFLATE with predictor, internal overviews, nodata, band descriptions, scale, and the
per-dataset mask when one was written) into another temporary name and renamed onto the target. A crash never leaves
a partial file under the final name.

Overviews are computed here, level from level (:mod:`l2a.kernels`: 2 x 2 mean of the valid pixels, or one pixel of
each cell for classes and bit masks), into temporary GeoTIFFs that a VRT attaches to the full resolution as its
overviews; the COG driver then only encodes every pixel once. GDAL's own overview pass (its generic resampler, then
a temporary overview file) cost more CPU than encoding the full resolution itself. Rasters with a per-dataset mask
keep GDAL's overviews, which mask the overview pixels consistently with the data.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Mapping, Sequence

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from l2a.errors import InvalidParameterError, OutputError
from l2a.io.atomic import publish
from l2a.io.xmldoc import parse_xml

__all__ = ["CogWriter", "write_cog", "check_deflate_level", "overview_shapes", "COG_BLOCKSIZE", "DEFLATE_LEVELS",
           "OWN_OVERVIEW_RESAMPLINGS"]

logger = logging.getLogger(__name__)

#: Internal tile size of the COGs, pixels.
COG_BLOCKSIZE = 512
#: DEFLATE levels GDAL accepts (libdeflate): 1 fastest .. 12 smallest; GDAL's default is 6.
DEFLATE_LEVELS = range(1, 13)
#: Overview resamplings :class:`CogWriter` computes itself (others go to GDAL).
OWN_OVERVIEW_RESAMPLINGS = ("average", "nearest")
# Creation options of the temporary GeoTIFFs: ZSTD level 1 costs less CPU than uncompressed files (whose pages the
# kernel copies and writes back) and takes far less disk.
_TEMP_COMPRESSION = {"compress": "ZSTD", "zstd_level": 1}
# Rows of a level read at a time while computing the next one (even: whole 2 x 2 cells).
_OVERVIEW_STRIP_ROWS = 1024


def check_deflate_level(level: int | None) -> int | None:
    """Validate a DEFLATE level: an int in 1..12 (:data:`DEFLATE_LEVELS`), or None for GDAL's default (6).

    Raises
    ------
    InvalidParameterError
        If ``level`` is not None nor an int (bools refused) in 1..12.
    """
    if level is None:
        return None
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or int(level) not in DEFLATE_LEVELS:
        raise InvalidParameterError(f"DEFLATE level must be an integer from 1 (fastest) to 12 (smallest) or None "
                                    f"(GDAL default 6), not {level!r}")
    return int(level)


class CogWriter:
    """Write a raster by windows, then finish it as a COG at ``path``.

    Parameters
    ----------
    path : str or path-like
        Final file name (``.tif``).
    crs : CRS
        Coordinate reference system.
    transform : Affine
        Pixel-corner transform.
    height, width : int
        Raster size, pixels.
    dtype : str or numpy dtype
        Data type (``int16``, ``uint8``, ...).
    count : int
        Number of bands.
    nodata : float, optional
        Nodata value (None: no nodata, e.g. bit masks).
    descriptions : sequence of str, optional
        One description per band (band names such as ``B4``).
    scale, offset : float, optional
        Value scaling written in the metadata (``1e-4`` for reflectance x 10000).
    resampling : str
        Overview resampling: ``average`` for continuous values, ``nearest`` for classes and bit masks.
    tags : mapping, optional
        Dataset-level metadata items.
    threads : int
        Compression threads (GDAL ``NUM_THREADS``).
    overviews : bool
        Build internal overviews.
    deflate_level : int, optional
        DEFLATE level of the COG, 1 fastest .. 12 smallest (GDAL creation option ``LEVEL``); None = GDAL default 6
        (the option is then not passed at all).

    Raises
    ------
    InvalidParameterError
        Non-positive size, or ``deflate_level`` not None nor in 1..12.
    """

    def __init__(self, path: str | os.PathLike, *, crs: CRS, transform: Affine, height: int, width: int,
                 dtype, count: int = 1, nodata: float | None = None, descriptions: Sequence[str] | None = None,
                 scale: float | None = None, offset: float | None = None, resampling: str = "average",
                 tags: Mapping[str, str] | None = None, threads: int = 2, overviews: bool = True,
                 deflate_level: int | None = None):
        if height <= 0 or width <= 0 or count <= 0:
            raise InvalidParameterError(f"raster size must be positive, not {count} x {height} x {width}", path)
        self.deflate_level = check_deflate_level(deflate_level)
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        self.count = count
        self.resampling = resampling
        self.threads = max(1, int(threads))
        self.overviews = overviews
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".tif", dir=folder)
        os.close(fd)
        block = COG_BLOCKSIZE if min(height, width) >= COG_BLOCKSIZE else None
        profile = dict(driver="GTiff", height=height, width=width, count=count, dtype=self.dtype.name, crs=crs,
                       transform=transform, nodata=nodata, bigtiff="IF_SAFER", **_TEMP_COMPRESSION)
        if block:
            profile.update(tiled=True, blockxsize=block, blockysize=block)
        try:
            self._ds = rasterio.open(self._tmp, "w", **profile)
        except (RasterioIOError, CPLE_BaseError) as exc:
            # GDAL refuses paths the OS accepts (e.g. longer than its own buffers): an output error naming the file
            _remove(self._tmp)
            raise OutputError(f"cannot create the raster ({exc})", self.path) from exc
        if descriptions is not None:
            for i, d in enumerate(descriptions, start=1):
                self._ds.set_band_description(i, d)
        if scale is not None or offset is not None:
            self._ds.scales = [1.0 if scale is None else scale] * count
            self._ds.offsets = [0.0 if offset is None else offset] * count
        if tags:
            self._ds.update_tags(**{k: str(v) for k, v in tags.items()})
        self._nodata = nodata
        self._has_mask = False
        self._closed = False

    def write(self, array: np.ndarray, window: Window | None = None, band: int | None = None) -> None:
        """Write a block.

        Parameters
        ----------
        array : numpy.ndarray
            (rows, cols) for one band (``band`` given or single-band raster) or (bands, rows, cols).
        window : Window, optional
            Target window; the whole raster if None.
        band : int, optional
            1-based band index for a 2-D array in a multi-band raster.
        """
        arr = np.asarray(array)
        if arr.dtype != self.dtype:
            raise InvalidParameterError(f"array dtype {arr.dtype} differs from raster dtype {self.dtype}", self.path)
        if arr.ndim == 2:
            self._ds.write(arr, band or 1, window=window)
        else:
            self._ds.write(arr, window=window)

    def write_mask(self, mask: np.ndarray, window: Window | None = None) -> None:
        """Write a block of the per-dataset validity mask (a GDAL internal mask band, shared by every band and kept
        by the COG driver, overviews included).

        Parameters
        ----------
        mask : numpy.ndarray
            uint8 (rows, cols): 255 valid, 0 masked (other non-zero values count as valid); or bool, True valid.
        window : Window, optional
            Target window; the whole raster if None.

        Raises
        ------
        InvalidParameterError
            If ``mask`` is not a 2-D uint8 or bool array.
        """
        arr = np.asarray(mask)
        if arr.ndim != 2 or arr.dtype not in (np.uint8, np.bool_):
            raise InvalidParameterError(f"mask must be a 2-D uint8 or bool array, not {arr.dtype} {arr.shape}",
                                        self.path)
        if arr.dtype == np.bool_:
            arr = np.where(arr, np.uint8(255), np.uint8(0))
        self._ds.write_mask(arr, window=window)
        self._has_mask = True

    def update_tags(self, **tags) -> None:
        self._ds.update_tags(**{k: str(v) for k, v in tags.items()})

    def close(self) -> str:
        """Finish the COG and move it onto the final path; returns that path."""
        if self._closed:
            return self.path
        self._ds.close()
        self._closed = True
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, tmp_cog = tempfile.mkstemp(prefix=".tmp-cog-", suffix=".tif", dir=folder)
        os.close(fd)
        predictor = "3" if self.dtype.kind == "f" else "2"
        level = {} if self.deflate_level is None else {"level": str(self.deflate_level)}
        levels: list[str] = []
        try:
            source = self._tmp
            if self.overviews and not self._has_mask and self.resampling in OWN_OVERVIEW_RESAMPLINGS:
                levels = _write_overview_levels(self._tmp, self.resampling, self._nodata)
                if levels:
                    source = _attach_overviews(self._tmp, levels)
            rasterio.shutil.copy(source, tmp_cog, driver="COG", compress="DEFLATE", predictor=predictor,
                                 blocksize=COG_BLOCKSIZE, overviews="AUTO" if self.overviews else "NONE",
                                 overview_resampling=self.resampling, resampling=self.resampling,
                                 num_threads=str(self.threads), bigtiff="IF_SAFER", **level)
            os.chmod(tmp_cog, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs are ordinary files
            publish(tmp_cog, self.path, overwrite=True)
        except (RasterioIOError, CPLE_BaseError) as exc:
            _remove(tmp_cog)
            raise OutputError(f"cannot write the COG ({exc})", self.path) from exc
        except BaseException:
            _remove(tmp_cog)
            raise
        finally:
            for path in (self._tmp, _vrt_path(self._tmp), *levels):
                _remove(path)
        return self.path

    def abort(self) -> None:
        """Discard everything written so far."""
        if not self._closed:
            self._ds.close()
            self._closed = True
        _remove(self._tmp)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def overview_shapes(height: int, width: int) -> list[tuple[int, int]]:
    """(rows, cols) of the internal overview levels of a COG of ``height`` x ``width`` pixels: halved (rounding up)
    until both sides fit in one :data:`COG_BLOCKSIZE` tile, as GDAL's COG driver decides how many levels to make."""
    shapes = []
    while height > COG_BLOCKSIZE or width > COG_BLOCKSIZE:
        height, width = (height + 1) // 2, (width + 1) // 2
        shapes.append((height, width))
    return shapes


def _write_overview_levels(path: str, resampling: str, nodata: float | None) -> list[str]:
    """Compute the overview levels of the GeoTIFF at ``path``, each from the one above, into temporary GeoTIFFs
    beside it (ZSTD level 1); returns their paths, largest first (none for a raster of one tile).

    Reads ``_OVERVIEW_STRIP_ROWS`` rows at a time: memory is a strip of the level above plus one of the level below.
    """
    from l2a.kernels import downsample2_average, downsample2_nearest, downsampled_shape

    with rasterio.open(path) as ds:
        shapes = overview_shapes(ds.height, ds.width)
    folder = os.path.dirname(os.path.abspath(path))
    paths: list[str] = []
    above = path
    try:
        for rows, cols in shapes:
            fd, below = tempfile.mkstemp(prefix=".tmp-ovr-", suffix=".tif", dir=folder)
            os.close(fd)
            paths.append(below)
            with rasterio.open(above) as src:
                profile = dict(driver="GTiff", height=rows, width=cols, count=src.count, dtype=src.dtypes[0],
                               crs=src.crs, transform=src.transform @ Affine.scale(src.width / cols,
                                                                                    src.height / rows),
                               nodata=src.nodata, bigtiff="IF_SAFER", **_TEMP_COMPRESSION)
                if min(rows, cols) >= COG_BLOCKSIZE:
                    profile.update(tiled=True, blockxsize=COG_BLOCKSIZE, blockysize=COG_BLOCKSIZE)
                is_float = np.dtype(src.dtypes[0]).kind == "f"
                with rasterio.open(below, "w", **profile) as dst:
                    for row in range(0, src.height, _OVERVIEW_STRIP_ROWS):
                        block = src.read(window=Window(0, row, src.width, min(_OVERVIEW_STRIP_ROWS,
                                                                              src.height - row)))
                        out = np.empty((src.count,) + downsampled_shape(*block.shape[1:]), block.dtype)
                        if resampling == "nearest":
                            downsample2_nearest(block, out)
                        else:
                            downsample2_average(block, 0.0 if nodata is None else float(nodata), nodata is not None,
                                                is_float, out)
                        dst.write(out, window=Window(0, row // 2, out.shape[2], out.shape[1]))
            above = below
    except BaseException:
        for p in paths:
            _remove(p)
        raise
    return paths


def _vrt_path(path: str) -> str:
    return os.path.splitext(path)[0] + ".vrt"


def _attach_overviews(path: str, levels: Sequence[str]) -> str:
    """A VRT of the GeoTIFF at ``path`` (written by GDAL: georeferencing, nodata, descriptions, scales and metadata
    as they are) with ``levels`` declared as the overviews of every band; returns its path."""
    import xml.etree.ElementTree as ET

    vrt = _vrt_path(path)
    rasterio.shutil.copy(path, vrt, driver="VRT")
    root = parse_xml(vrt)
    for band in root.iter("VRTRasterBand"):
        for level in levels:
            overview = ET.SubElement(band, "Overview")
            ET.SubElement(overview, "SourceFilename", relativeToVRT="0").text = os.path.abspath(level)
            ET.SubElement(overview, "SourceBand").text = band.get("band")
    ET.ElementTree(root).write(vrt, encoding="utf-8")
    return vrt


def write_cog(path: str | os.PathLike, array: np.ndarray, *, crs: CRS, transform: Affine, **kwargs) -> str:
    """Write a whole array (rows, cols) or (bands, rows, cols) as a COG; keyword arguments as :class:`CogWriter`."""
    arr = np.asarray(array)
    count = 1 if arr.ndim == 2 else arr.shape[0]
    with CogWriter(path, crs=crs, transform=transform, height=arr.shape[-2], width=arr.shape[-1], dtype=arr.dtype,
                   count=count, **kwargs) as w:
        w.write(arr)
    return os.fspath(path)
