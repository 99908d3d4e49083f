"""Numba kernels of the tile renderer: resampling a source raster at given source pixel coordinates.

Coordinates follow the GDAL convention: ``col = 0.0`` is the left edge of source column 0, so the centre of source
pixel (r, c) is at (r + 0.5, c + 0.5). Each kernel has a readable numpy twin ``<name>_ref``; the tests compare them,
and :func:`bilinear` / :func:`nearest` check shapes and dtypes before calling a kernel. The kernels are serial
(``parallel=False``): the pyramid driver already runs one per thread, and numba's default threading layer must not
be entered from several threads at once.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# data-model constants as compile-time constants (their homes import nothing heavy)
from l2a.constants import REFLECTANCE_QUANTIFICATION

from .flags import FLG_CLOUD, FLG_LAND, FLG_SNOW

_SCALE = 1.0 / REFLECTANCE_QUANTIFICATION   # reflectance of one stored unit

__all__ = ["bilinear", "nearest", "sample_bilinear", "sample_bilinear_ref", "sample_nearest", "sample_nearest_ref",
           "interpolate_grid", "interpolate_grid_ref", "stretch_rgba", "stretch_rgba_ref", "downsample_rgba",
           "downsample_rgba_ref"]


@njit(cache=True, nogil=True)
def sample_bilinear(src, col, row, out):
    """Bilinear resampling that ignores nodata neighbours and renormalises the weights of the others (as GDAL).

    Parameters
    ----------
    src : float32 (bands, src_rows, src_cols)
        Values, NaN = nodata (a pixel is nodata in every band if NaN in band 0).
    col, row : float64 (rows, cols)
        Source pixel coordinates of the output pixel centres.
    out : float32 (bands, rows, cols)
        Result; NaN where no valid neighbour has a positive weight.
    """
    bands, src_rows, src_cols = src.shape
    rows, cols = col.shape
    for i in range(rows):
        for j in range(cols):
            x = col[i, j] - 0.5
            y = row[i, j] - 0.5
            xf = math.floor(x)
            yf = math.floor(y)
            x0 = int(xf)
            y0 = int(yf)
            fx = x - xf
            fy = y - yf
            w00 = (1.0 - fx) * (1.0 - fy)
            w01 = fx * (1.0 - fy)
            w10 = (1.0 - fx) * fy
            w11 = fx * fy
            if y0 < 0 or y0 >= src_rows:
                w00 = 0.0
                w01 = 0.0
            if y0 + 1 < 0 or y0 + 1 >= src_rows:
                w10 = 0.0
                w11 = 0.0
            if x0 < 0 or x0 >= src_cols:
                w00 = 0.0
                w10 = 0.0
            if x0 + 1 < 0 or x0 + 1 >= src_cols:
                w01 = 0.0
                w11 = 0.0
            ya = min(max(y0, 0), src_rows - 1)
            yb = min(max(y0 + 1, 0), src_rows - 1)
            xa = min(max(x0, 0), src_cols - 1)
            xb = min(max(x0 + 1, 0), src_cols - 1)
            if math.isnan(src[0, ya, xa]):
                w00 = 0.0
            if math.isnan(src[0, ya, xb]):
                w01 = 0.0
            if math.isnan(src[0, yb, xa]):
                w10 = 0.0
            if math.isnan(src[0, yb, xb]):
                w11 = 0.0
            wsum = w00 + w01 + w10 + w11
            if wsum > 0.0:
                inv = 1.0 / wsum
                for b in range(bands):
                    v = 0.0
                    if w00 > 0.0:
                        v += w00 * src[b, ya, xa]
                    if w01 > 0.0:
                        v += w01 * src[b, ya, xb]
                    if w10 > 0.0:
                        v += w10 * src[b, yb, xa]
                    if w11 > 0.0:
                        v += w11 * src[b, yb, xb]
                    out[b, i, j] = v * inv
            else:
                for b in range(bands):
                    out[b, i, j] = np.nan


def sample_bilinear_ref(src: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`sample_bilinear`; returns float32 (bands, rows, cols)."""
    x, y = col - 0.5, row - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    total = np.zeros((src.shape[0],) + col.shape, np.float64)
    wsum = np.zeros(col.shape, np.float64)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = y0 + dy, x0 + dx
            inside = (yy >= 0) & (yy < src.shape[1]) & (xx >= 0) & (xx < src.shape[2])
            v = src[:, np.clip(yy, 0, src.shape[1] - 1), np.clip(xx, 0, src.shape[2] - 1)].astype(np.float64)
            w = np.where(inside & ~np.isnan(v[0]) & (wy * wx > 0), wy * wx, 0.0)
            total += np.nan_to_num(v) * w
            wsum += w
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(wsum > 0, total / wsum, np.nan)
    return out.astype(np.float32)


@njit(cache=True, nogil=True)
def sample_nearest(src, col, row, fill, out):
    """Nearest-neighbour resampling.

    Parameters
    ----------
    src : uint8 (src_rows, src_cols)
    col, row : float64 (rows, cols)
        Source pixel coordinates of the output pixel centres.
    fill : int
        Value outside the source.
    out : uint8 (rows, cols)
    """
    src_rows, src_cols = src.shape
    rows, cols = col.shape
    for i in range(rows):
        for j in range(cols):
            xx = math.floor(col[i, j])
            yy = math.floor(row[i, j])
            if 0 <= yy < src_rows and 0 <= xx < src_cols:
                out[i, j] = src[yy, xx]
            else:
                out[i, j] = fill


def sample_nearest_ref(src: np.ndarray, col: np.ndarray, row: np.ndarray, fill: int) -> np.ndarray:
    """Numpy twin of :func:`sample_nearest`; returns uint8 (rows, cols)."""
    xx, yy = np.floor(col).astype(np.int64), np.floor(row).astype(np.int64)
    inside = (yy >= 0) & (yy < src.shape[0]) & (xx >= 0) & (xx < src.shape[1])
    v = src[np.clip(yy, 0, src.shape[0] - 1), np.clip(xx, 0, src.shape[1] - 1)]
    return np.where(inside, v, fill).astype(src.dtype)


def _check_coords(col: np.ndarray, row: np.ndarray) -> None:
    if col.shape != row.shape or col.ndim != 2 or col.dtype != np.float64 or row.dtype != np.float64:
        raise ValueError(f"col and row must be float64 arrays of one 2-D shape, not {col.dtype}{col.shape} and "
                         f"{row.dtype}{row.shape}")


def bilinear(src: np.ndarray, col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Checked call of :func:`sample_bilinear`: float32 (bands, rows, cols) from float32 (bands, src_rows, src_cols)."""
    _check_coords(col, row)
    if src.ndim != 3 or src.dtype != np.float32:
        raise ValueError(f"src must be float32 (bands, rows, cols), not {src.dtype}{src.shape}")
    out = np.empty((src.shape[0],) + col.shape, np.float32)
    sample_bilinear(np.ascontiguousarray(src), col, row, out)
    return out


def nearest(src: np.ndarray, col: np.ndarray, row: np.ndarray, fill: int) -> np.ndarray:
    """Checked call of :func:`sample_nearest`: uint8 (rows, cols) from uint8 (src_rows, src_cols)."""
    _check_coords(col, row)
    if src.ndim != 2 or src.dtype != np.uint8:
        raise ValueError(f"src must be uint8 (rows, cols), not {src.dtype}{src.shape}")
    out = np.empty(col.shape, np.uint8)
    sample_nearest(np.ascontiguousarray(src), col, row, int(fill), out)
    return out


@njit(cache=True, nogil=True)
def interpolate_grid(control, at_row, at_col, out):
    """Bilinear interpolation of values known on a grid of control pixels, at every pixel.

    Parameters
    ----------
    control : float64 (n_rows, n_cols)
        Values at pixels (at_row[k], at_col[l]).
    at_row, at_col : float64 (n_rows,), (n_cols,)
        Increasing pixel indices of the control rows and columns (at least two each; the first is 0 and the last
        the last pixel).
    out : float64 (rows, cols)
    """
    rows, cols = out.shape
    n_r = at_row.shape[0]
    n_c = at_col.shape[0]
    kc = np.empty(cols, np.int64)
    tc = np.empty(cols, np.float64)
    k = 0
    for j in range(cols):
        while k < n_c - 2 and j >= at_col[k + 1]:
            k += 1
        kc[j] = k
        tc[j] = (j - at_col[k]) / (at_col[k + 1] - at_col[k])
    k = 0
    for i in range(rows):
        while k < n_r - 2 and i >= at_row[k + 1]:
            k += 1
        t = (i - at_row[k]) / (at_row[k + 1] - at_row[k])
        for j in range(cols):
            c = kc[j]
            u = tc[j]
            top = control[k, c] * (1.0 - u) + control[k, c + 1] * u
            bottom = control[k + 1, c] * (1.0 - u) + control[k + 1, c + 1] * u
            out[i, j] = top * (1.0 - t) + bottom * t


def interpolate_grid_ref(control: np.ndarray, at_row: np.ndarray, at_col: np.ndarray,
                         shape: tuple[int, int]) -> np.ndarray:
    """Numpy twin of :func:`interpolate_grid`; returns float64 (rows, cols)."""
    def weights(at, n):
        pos = np.arange(n, dtype=np.float64)
        k = np.clip(np.searchsorted(at, pos, side="right") - 1, 0, len(at) - 2)
        return k, (pos - at[k]) / (at[k + 1] - at[k])

    kr, tr = weights(at_row, shape[0])
    kc, tc = weights(at_col, shape[1])
    top = control[kr][:, kc] * (1 - tc) + control[kr][:, kc + 1] * tc
    bottom = control[kr + 1][:, kc] * (1 - tc) + control[kr + 1][:, kc + 1] * tc
    return top * (1 - tr)[:, None] + bottom * tr[:, None]


@njit(cache=True, nogil=True)
def stretch_rgba(refl, flg, low, high, gamma, flagged, hatch_period, row0, col0, grey, out):
    """True-colour RGBA: stretch, gamma, alpha from FLG (see :mod:`mosaic.render`).

    Parameters
    ----------
    refl : float32 (3, rows, cols)
        Red, green, blue reflectance x10000, NaN where not valid.
    flg : uint8 (rows, cols)
        FLG codes (:mod:`mosaic.flags`): 0 nodata, 1 always cloudy, 2-4 valid, 255 outside.
    low, high : float
        Reflectance shown black and white (0-1 scale).
    gamma : float
    flagged : int
        0 transparent, 1 grey, 2 hatched always-cloudy pixels.
    hatch_period : int
        Hatching period, pixels.
    row0, col0 : int
        Global pixel position of the block's first pixel (aligns the hatching).
    grey : uint8 (4,)
        RGBA of flagged pixels in the grey and hatch styles.
    out : uint8 (4, rows, cols)
    """
    rows, cols = flg.shape
    scale = 255.0 * _SCALE / (high - low)      # stored value -> 0-255
    offset = low * REFLECTANCE_QUANTIFICATION
    inv_gamma = 1.0 / gamma
    linear = gamma == 1.0
    half = hatch_period // 2
    for i in range(rows):
        for j in range(cols):
            f = flg[i, j]
            r = refl[0, i, j]
            g = refl[1, i, j]
            b = refl[2, i, j]
            if f >= FLG_SNOW and f <= FLG_LAND and r == r and g == g and b == b:   # x == x is False for NaN
                for c in range(3):
                    x = (refl[c, i, j] - offset) * scale
                    if x <= 0.0:
                        out[c, i, j] = 0
                    elif x >= 255.0:
                        out[c, i, j] = 255
                    else:
                        if not linear:
                            x = 255.0 * (x / 255.0) ** inv_gamma
                        out[c, i, j] = int(x + 0.5)
                out[3, i, j] = 255
            elif f == FLG_CLOUD and (flagged == 1 or (flagged == 2 and (row0 + i + col0 + j) % hatch_period < half)):
                for c in range(4):
                    out[c, i, j] = grey[c]
            else:
                for c in range(4):
                    out[c, i, j] = 0


def stretch_rgba_ref(refl, flg, low, high, gamma, flagged, hatch_period, row0, col0, grey) -> np.ndarray:
    """Numpy twin of :func:`stretch_rgba`; returns uint8 (4, rows, cols)."""
    rows, cols = flg.shape
    out = np.zeros((4, rows, cols), np.uint8)
    valid = (flg >= FLG_SNOW) & (flg <= FLG_LAND) & ~np.isnan(refl).any(axis=0)
    x = np.clip((refl.astype(np.float64) - low * REFLECTANCE_QUANTIFICATION) * (_SCALE / (high - low)), 0.0, 1.0)
    if gamma != 1.0:
        x = x ** (1.0 / gamma)
    byte = np.floor(np.nan_to_num(x) * 255.0 + 0.5).astype(np.uint8)
    out[:3] = np.where(valid, byte, 0)
    out[3] = np.where(valid, 255, 0)
    cloud = flg == FLG_CLOUD
    if flagged == 2:
        r = row0 + np.arange(rows)[:, None]
        c = col0 + np.arange(cols)[None, :]
        cloud &= (r + c) % hatch_period < hatch_period // 2
    if flagged in (1, 2):
        out[:, cloud] = np.asarray(grey, np.uint8)[:, None]
    return out


@njit(cache=True, nogil=True)
def downsample_rgba(rgba, out):
    """Halve an RGBA block: 2 x 2 mean in premultiplied alpha, rounded half up (integer arithmetic).

    Parameters
    ----------
    rgba : uint8 (4, rows, cols), rows and cols even, straight alpha
    out : uint8 (4, rows // 2, cols // 2), straight alpha; colours 0 where fully transparent
    """
    _, rows, cols = out.shape
    for i in range(rows):
        for j in range(cols):
            a00 = np.int64(rgba[3, 2 * i, 2 * j])
            a01 = np.int64(rgba[3, 2 * i, 2 * j + 1])
            a10 = np.int64(rgba[3, 2 * i + 1, 2 * j])
            a11 = np.int64(rgba[3, 2 * i + 1, 2 * j + 1])
            alpha_sum = a00 + a01 + a10 + a11
            out[3, i, j] = (alpha_sum + 2) // 4
            for c in range(3):
                if alpha_sum == 0:
                    out[c, i, j] = 0
                else:
                    p = (a00 * rgba[c, 2 * i, 2 * j] + a01 * rgba[c, 2 * i, 2 * j + 1]
                         + a10 * rgba[c, 2 * i + 1, 2 * j] + a11 * rgba[c, 2 * i + 1, 2 * j + 1])
                    out[c, i, j] = (2 * p + alpha_sum) // (2 * alpha_sum)


def downsample_rgba_ref(rgba: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`downsample_rgba`; returns uint8 (4, rows // 2, cols // 2)."""
    _, rows, cols = rgba.shape
    a = rgba[3].astype(np.int64)
    alpha_sum = a.reshape(rows // 2, 2, cols // 2, 2).sum(axis=(1, 3))
    out = np.zeros((4, rows // 2, cols // 2), np.uint8)
    out[3] = (alpha_sum + 2) // 4
    has = alpha_sum > 0
    for c in range(3):
        p = (rgba[c].astype(np.int64) * a).reshape(rows // 2, 2, cols // 2, 2).sum(axis=(1, 3))
        out[c] = np.where(has, (2 * p + alpha_sum) // np.where(has, 2 * alpha_sum, 1), 0)
    return out
