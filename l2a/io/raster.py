"""Reading rasters with the toolkit's error conventions (missing -> MissingFileError, undecodable ->
CorruptRasterError) and window checks. Readers of every format go through these few functions."""

from __future__ import annotations

import os

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from l2a.errors import CorruptRasterError, InvalidParameterError, MissingFileError

__all__ = ["open_raster", "read_raster", "check_window", "window_shape"]


def _is_missing(path: str) -> bool:
    if path.startswith("/vsi"):
        return False
    return not os.path.exists(path)


def open_raster(path: str | os.PathLike, what: str = "raster") -> rasterio.DatasetReader:
    """Open a raster for reading.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    CorruptRasterError
        If GDAL cannot open it (truncated, not a raster, unsupported).
    """
    p = os.fspath(path)
    if _is_missing(p):
        raise MissingFileError(f"{what} not found", p)
    try:
        return rasterio.open(p)
    except RasterioIOError as exc:
        raise CorruptRasterError(f"cannot open {what}: {str(exc).splitlines()[0][:200]}", p) from exc


def check_window(window: Window | None, height: int, width: int, source: str | None = None) -> Window:
    """Return ``window`` (or the full extent if None) after checking it lies inside a ``height x width`` grid.

    Raises :class:`InvalidParameterError` for a window with non-integer offsets, empty or outside the grid.
    """
    if window is None:
        return Window(0, 0, width, height)
    if not isinstance(window, Window):
        raise InvalidParameterError(f"window must be a rasterio.windows.Window, not {type(window).__name__}", source)
    co, ro, w, h = window.col_off, window.row_off, window.width, window.height
    if any(float(v) != int(v) for v in (co, ro, w, h)):
        raise InvalidParameterError(f"window {window} has fractional offsets or sizes", source)
    co, ro, w, h = int(co), int(ro), int(w), int(h)
    if w <= 0 or h <= 0 or co < 0 or ro < 0 or co + w > width or ro + h > height:
        raise InvalidParameterError(f"window {window} is outside the {height} x {width} grid", source)
    return Window(co, ro, w, h)


def window_shape(window: Window) -> tuple[int, int]:
    """(rows, cols) of an integer window."""
    return int(window.height), int(window.width)


def read_raster(path: str | os.PathLike, band: int = 1, window: Window | None = None,
                expected_shape: tuple[int, int] | None = None, what: str = "raster") -> np.ndarray:
    """Read one band (1-based) of a raster, optionally a window of it.

    Parameters
    ----------
    path : str or path-like
        File or GDAL virtual path.
    band : int
        1-based band index.
    window : Window, optional
        Pixel window in this raster's grid; the full raster if None.
    expected_shape : (rows, cols), optional
        Full raster shape the product expects; a different shape is a :class:`CorruptRasterError`.

    Returns
    -------
    numpy.ndarray
        2-D array in the file's dtype.
    """
    p = os.fspath(path)
    with open_raster(p, what) as ds:
        if expected_shape is not None and (ds.height, ds.width) != tuple(expected_shape):
            raise CorruptRasterError(
                f"{what} is {ds.height} x {ds.width}, expected {expected_shape[0]} x {expected_shape[1]}", p)
        if band > ds.count:
            raise CorruptRasterError(f"{what} has {ds.count} band(s), band {band} requested", p)
        win = check_window(window, ds.height, ds.width, p)
        try:
            return ds.read(band, window=win)
        except RasterioIOError as exc:
            raise CorruptRasterError(f"cannot decode {what}: {str(exc).splitlines()[0][:200]}", p) from exc
