"""Reading rasters with the toolkit's error conventions (missing -> MissingFileError, undecodable ->
CorruptRasterError, of the wrong kind -> RasterKindError) and window checks. Readers of every format go through these
few functions.

Readers check the kind of every raster (data type of each band, band count) when they open a product, with
:func:`check_raster_kind` or ``open_raster(..., dtypes=..., count=...)``: a complex or multi-band file given as a
band or a mask is refused at once, naming the file, instead of being read as something else later.
"""

from __future__ import annotations

import os
import re
from typing import Collection

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from l2a.errors import CorruptRasterError, InvalidParameterError, MissingFileError, RasterKindError

__all__ = ["open_raster", "read_raster", "check_raster_kind", "check_window", "window_shape", "root_cause"]


def _is_missing(path: str) -> bool:
    if path.startswith("/vsi"):
        return False
    return not os.path.exists(path)


#: GDAL's words for an HTTP answer saying a remote file does not exist.
_HTTP_GONE = re.compile(r"HTTP response code: (404|410)\b")


def open_raster(path: str | os.PathLike, what: str = "raster", *, dtypes: Collection[str] | None = None,
                count: int | tuple[int, int] | None = None) -> rasterio.DatasetReader:
    """Open a raster for reading, optionally checking its kind (see :func:`check_raster_kind`).

    Parameters
    ----------
    path : str or path-like
        File or GDAL virtual path.
    what : str
        What the raster is, for messages (``"band B4"``, ``"CLM mask"``).
    dtypes : collection of str, optional
        Data types accepted for every band (numpy names: ``"int16"``, ``"float32"``); not checked if None.
    count : int or (int, int), optional
        Band count accepted: exact, or an inclusive (min, max) range; not checked if None.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    CorruptRasterError
        If GDAL cannot open it (truncated, not a raster, unsupported).
    RasterKindError
        If the path is a folder or not a regular file, or the raster is not of the kind asked for.
    """
    p = os.fspath(path)
    if _is_missing(p):
        raise MissingFileError(f"{what} not found", p)
    if not p.startswith("/vsi") and not os.path.isfile(p):  # a folder, a device or a pipe (which would block)
        kind = "a folder, not a file" if os.path.isdir(p) else "not a regular file (a device, pipe or socket)"
        raise RasterKindError(f"{what} is {kind}", p)
    try:
        ds = rasterio.open(p)
    except RasterioIOError as exc:
        status = _HTTP_GONE.search(str(exc))
        if status:   # a remote file (/vsicurl/) that the server says is not there
            raise MissingFileError(f"{what} not found (HTTP {status.group(1)})", p) from exc
        raise CorruptRasterError(f"cannot open {what}: {str(exc).splitlines()[0][:200]}", p) from exc
    if dtypes is not None or count is not None:
        try:
            check_raster_kind(ds, dtypes, count, what)
        except RasterKindError:
            ds.close()
            raise
    return ds


def _or_list(values: Collection[str]) -> str:
    values = list(values)
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def check_raster_kind(raster: rasterio.DatasetReader | str | os.PathLike, dtypes: Collection[str] | None = None,
                      count: int | tuple[int, int] | None = 1, what: str = "raster") -> None:
    """Check that a raster is of the kind a format stores in that place.

    Parameters
    ----------
    raster : rasterio dataset, str or path-like
        An open dataset, or a path (opened and closed here).
    dtypes : collection of str, optional
        Data types accepted for every band, numpy names (``("int16",)``, ``("uint8", "float32")``); any if None.
    count : int or (int, int), optional
        Band count accepted: exact (1 for a band or a mask), or an inclusive (min, max) range; any if None.
    what : str
        What the raster is, for messages (``"band B4"``, ``"CLM mask"``).

    Raises
    ------
    RasterKindError
        Naming the file: a band of another data type (complex, 32-bit integer...), or another band count.
    MissingFileError, CorruptRasterError
        When ``raster`` is a path that does not exist or does not open.
    """
    if isinstance(raster, (str, os.PathLike)):
        with open_raster(raster, what) as ds:
            check_raster_kind(ds, dtypes, count, what)
        return
    if count is not None:
        low, high = (count, count) if isinstance(count, int) else count
        if not low <= raster.count <= high:
            expected = str(low) if low == high else f"{low} to {high}"
            raise RasterKindError(f"{what} has {raster.count} band(s), expected {expected}", raster.name)
    if dtypes is not None:
        wrong = sorted({d for d in raster.dtypes if d not in dtypes})
        if wrong:
            raise RasterKindError(f"{what} is stored as {', '.join(wrong)}, expected {_or_list(dtypes)}",
                                  raster.name)


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
            raise CorruptRasterError(f"cannot decode {what}: {root_cause(exc)}", p) from exc


def root_cause(exc: BaseException) -> str:
    """The first line of the innermost message of an exception chain (GDAL's own words, e.g. "TIFFFillTile: Read
    error ... got 73057 bytes, expected 147038", rather than rasterio's "Read failed. See previous exception")."""
    text = ""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc).strip() or text
        exc = exc.__cause__ or exc.__context__
    return text.splitlines()[0][:200] if text else "unknown error"
