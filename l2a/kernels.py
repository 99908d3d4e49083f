"""Pixel kernels of the raster writers: numba loops on plain arrays, each with a numpy twin (``*_ref``).

* :func:`downsample2_average` -- one level of a 2 x 2 pyramid, mean of the valid pixels (continuous values);
* :func:`downsample2_nearest` -- the same level, one pixel of each 2 x 2 cell (classes, bit masks).

They build the internal overviews of every COG the toolkit writes (:mod:`l2a.io.cog`): one pass over the data per
level, instead of GDAL's generic resampler, which costs more than encoding the full resolution.

An overview pixel ``(i, j)`` covers source rows ``2i, 2i + 1`` and columns ``2j, 2j + 1``, clipped to the source
(an odd last row or column covers one), so level sizes are ``ceil(n / 2)`` as ``gdaladdo`` makes them.

The kernels are serial (memory-bound, a small part of writing a COG): writers finish COGs in background threads
while other numba kernels run in parallel, and numba's fallback ``workqueue`` threading layer aborts the process
when two threads enter parallel regions at once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["downsample2_average", "downsample2_average_ref", "downsample2_nearest", "downsample2_nearest_ref",
           "downsampled_shape"]


def downsampled_shape(rows: int, cols: int) -> tuple[int, int]:
    """Shape of one 2 x 2 pyramid level over ``(rows, cols)`` pixels: ``(ceil(rows / 2), ceil(cols / 2))``."""
    return (rows + 1) // 2, (cols + 1) // 2


@njit(cache=True, nogil=True)
def downsample2_average(src, nodata, has_nodata, is_float, out):
    """Mean of the valid pixels of each 2 x 2 cell.

    Parameters
    ----------
    src : numeric (bands, rows, cols)
        Source level.
    nodata : float
        Invalid value (ignored unless ``has_nodata``); NaN is always invalid in float data.
    has_nodata : bool
        Whether ``nodata`` marks invalid pixels.
    is_float : bool
        Float data: the mean is stored as it is; integer data: rounded half away from zero.
    out : same dtype (bands, ceil(rows / 2), ceil(cols / 2))
        The level below; a cell without a valid pixel gets ``nodata`` (NaN in float data without nodata, 0 in
        integer data without nodata, which cannot happen since every integer pixel is valid then).
    """
    bands, rows, cols = src.shape
    out_rows, out_cols = out.shape[1], out.shape[2]
    empty = nodata if has_nodata else (math.nan if is_float else 0.0)
    for i in range(out_rows):
        r0 = 2 * i
        r1 = min(r0 + 2, rows)
        for b in range(bands):
            for j in range(out_cols):
                c0 = 2 * j
                c1 = min(c0 + 2, cols)
                total = 0.0
                count = 0
                for r in range(r0, r1):
                    for c in range(c0, c1):
                        v = float(src[b, r, c])
                        if v != v or (has_nodata and v == nodata):
                            continue
                        total += v
                        count += 1
                if count == 0:
                    out[b, i, j] = empty
                else:
                    mean = total / count
                    if not is_float:
                        mean = math.floor(abs(mean) + 0.5) * (1.0 if mean >= 0 else -1.0)
                    out[b, i, j] = mean


def downsample2_average_ref(src: np.ndarray, nodata: float | None) -> np.ndarray:
    """Numpy twin of :func:`downsample2_average` (``nodata`` None: no invalid value but NaN)."""
    bands, rows, cols = src.shape
    pad = np.full((bands, rows + rows % 2, cols + cols % 2), np.nan)
    pad[:, :rows, :cols] = src
    if nodata is not None:
        pad[pad == nodata] = np.nan
    cells = pad.reshape(bands, pad.shape[1] // 2, 2, pad.shape[2] // 2, 2)
    count = np.sum(~np.isnan(cells), axis=(2, 4))
    total = np.nansum(cells, axis=(2, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    if src.dtype.kind != "f":
        mean = np.sign(mean) * np.floor(np.abs(mean) + 0.5)
    empty = nodata if nodata is not None else (np.nan if src.dtype.kind == "f" else 0)
    return np.where(count > 0, mean, empty).astype(src.dtype)


@njit(cache=True, nogil=True)
def downsample2_nearest(src, out):
    """The lower-right pixel of each 2 x 2 cell (pixel ``(2i + 1, 2j + 1)``, clipped to the source), as GDAL's
    nearest-neighbour overviews pick at a factor of 2; never mixes classes or bits.

    src : any dtype (bands, rows, cols); out : same dtype (bands, ceil(rows / 2), ceil(cols / 2)).
    """
    bands, rows, cols = src.shape
    out_rows, out_cols = out.shape[1], out.shape[2]
    for i in range(out_rows):
        r = min(2 * i + 1, rows - 1)
        for b in range(bands):
            for j in range(out_cols):
                out[b, i, j] = src[b, r, min(2 * j + 1, cols - 1)]


def downsample2_nearest_ref(src: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`downsample2_nearest`."""
    _, rows, cols = src.shape
    r = np.minimum(np.arange((rows + 1) // 2) * 2 + 1, rows - 1)
    c = np.minimum(np.arange((cols + 1) // 2) * 2 + 1, cols - 1)
    return src[:, r][:, :, c]
