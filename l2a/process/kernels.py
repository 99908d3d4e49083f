"""numba kernels of the L1C -> L2A processor: plain arrays in, plain arrays out, each with a numpy twin (``*_ref``).

* :func:`cell_mean` -- mean TOA reflectance of the valid pixels of each coarse cell, from digital numbers;
* :func:`dark_pixel_sums` -- per cell, the sums of the TOA blue, red and surface SWIR (B12) reflectance of the dark
  dense vegetation pixels (the AOT inversion's input);
* :func:`project_shadows` -- the union of the shadows every cloud cell could cast over a sweep of cloud heights;
* :func:`bilinear_upsample` -- coarse cell values to the pixels of a window (masks, AOT, water vapour, terms);
* :func:`invert_aot` -- AOT per estimation cell from the dark-vegetation means (blue/red/SWIR relations);
* :func:`refine_pixels` -- water, snow and shadow tests of each 20 m pixel (the coarse masks refined);
* :func:`correct_block` -- surface reflectance of a window of one band from its DNs and per-cell atmospheric terms.

Coarse cell ``(i, j)`` covers pixel rows ``i f .. i f + f - 1`` and columns ``j f .. j f + f - 1`` of a grid whose
pixel is ``f`` times finer (the last cells may be partial). Pixel centres are interpolated between cell centres.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from l2a.atmosphere.kernels import atmosphere_terms, surface_from_toa
from l2a.jitcache import drop_stale_numba_cache

__all__ = ["cell_mean", "cell_mean_ref", "dark_pixel_sums", "dark_pixel_sums_ref", "project_shadows",
           "project_shadows_ref", "bilinear_upsample", "bilinear_upsample_ref", "correct_block", "correct_block_ref",
           "invert_aot", "invert_aot_ref", "refine_pixels", "refine_pixels_ref", "PIXEL_WATER", "PIXEL_SNOW",
           "PIXEL_SHADOW", "CORR_PATH", "CORR_GAIN", "CORR_ALBEDO", "N_CORR"]

# the AOT inversion compiles the 6S table's kernels in
drop_stale_numba_cache(Path(__file__).parent, ["kernels.py", "../atmosphere/kernels.py"], "process-sources.sha1")

#: Planes of the per-cell correction terms of :func:`correct_block`: path reflectance, gas x t_down x t_up,
#: spherical albedo.
CORR_PATH, CORR_GAIN, CORR_ALBEDO = range(3)
N_CORR = 3
REFLECTANCE_SCALE = 10000.0
INT16_NODATA = -10000


@njit(cache=True, nogil=True)
def cell_mean(dn, offset, quantification, nodata_dn, saturated_dn, factor, out_mean, out_count, out_saturated):
    """Mean TOA reflectance of each cell over its valid (not no-data, not saturated) pixels.

    Parameters
    ----------
    dn : uint16 (rows, cols)
        Digital numbers.
    offset, quantification : float
        TOA = (DN + offset) / quantification.
    nodata_dn, saturated_dn : int
        Special DNs (0, 65535), left out.
    factor : int
        Pixels per cell side.
    out_mean : float32 (ceil(rows / f), ceil(cols / f))
        Mean TOA reflectance; NaN for a cell without valid pixel.
    out_count : int32, same shape
        Valid pixels of each cell.
    out_saturated : int32, same shape
        Saturated pixels of each cell.
    """
    _cell_means(dn, offset, quantification, nodata_dn, saturated_dn, factor, np.zeros((0, 0), np.bool_), 1,
                out_mean, out_count, out_saturated)


@njit(cache=True, nogil=True)
def cell_mean_excluding(dn, offset, quantification, factor, exclude, sub, out_mean, out_count):
    """Mean TOA reflectance of each cell over its valid pixels that ``exclude`` does not mark.

    Parameters
    ----------
    dn : uint16 (rows, cols)
        Digital numbers (0 no data and 65535 saturated are left out, as in :func:`cell_mean`).
    offset, quantification : float
        TOA = (DN + offset) / quantification.
    factor : int
        Pixels of ``dn`` per cell side.
    exclude : bool (rows // sub, cols // sub)
        Pixels to leave out, on a grid ``sub`` times coarser than ``dn`` (the 20 m grid for a 10 m band: sub 2).
    sub : int
    out_mean : float64 (cells_y, cells_x)
        NaN for a cell with no pixel left.
    out_count : int32 (cells_y, cells_x)
        Pixels left in each cell.
    """
    _cell_means(dn, offset, quantification, 0, 65535, factor, exclude, sub, out_mean, out_count,
                np.zeros(out_mean.shape, np.int32))


@njit(cache=True, nogil=True)
def _cell_means(dn, offset, quantification, nodata_dn, saturated_dn, factor, exclude, sub, out_mean, out_count,
                out_saturated):
    """The one loop of :func:`cell_mean` and :func:`cell_mean_excluding`: per cell, the mean TOA reflectance and
    count of the pixels neither no-data, saturated nor marked by ``exclude`` (on a grid ``sub`` times coarser; an
    empty array excludes nothing), and the saturated pixels."""
    ny, nx = out_mean.shape
    sums = np.zeros((ny, nx))
    counts = np.zeros((ny, nx), np.int32)
    out_saturated[:] = 0
    rows, cols = dn.shape
    er, ec = exclude.shape
    for r in range(rows):
        i = r // factor
        for c in range(cols):
            v = dn[r, c]
            if v == saturated_dn:
                out_saturated[i, c // factor] += 1
                continue
            if v == nodata_dn:
                continue
            if r // sub < er and c // sub < ec and exclude[r // sub, c // sub]:
                continue
            j = c // factor
            sums[i, j] += (v + offset) / quantification
            counts[i, j] += 1
    for i in range(ny):
        for j in range(nx):
            out_count[i, j] = counts[i, j]
            out_mean[i, j] = sums[i, j] / counts[i, j] if counts[i, j] > 0 else np.nan


def cell_mean_excluding_ref(dn, offset, quantification, factor, exclude, sub, shape):
    """numpy twin of :func:`cell_mean_excluding`: (mean float64, count) of ``shape``."""
    rows, cols = dn.shape
    ex = np.zeros((rows, cols), bool)
    up = np.repeat(np.repeat(exclude, sub, axis=0), sub, axis=1)[:rows, :cols]
    ex[:up.shape[0], :up.shape[1]] = up
    keep = (dn != 0) & (dn != 65535) & ~ex
    toa = np.where(keep, (dn.astype(np.float64) + offset) / quantification, 0.0)
    ny, nx = shape
    pad = ((0, ny * factor - rows), (0, nx * factor - cols))
    s = np.pad(toa, pad).reshape(ny, factor, nx, factor).sum(axis=(1, 3))
    n = np.pad(keep, pad).reshape(ny, factor, nx, factor).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan), n


def cell_mean_ref(dn, offset, quantification, nodata_dn, saturated_dn, factor):
    """numpy twin of :func:`cell_mean`: (mean, count, saturated)."""
    rows, cols = dn.shape
    ny, nx = -(-rows // factor), -(-cols // factor)
    valid = (dn != nodata_dn) & (dn != saturated_dn)
    toa = np.where(valid, (dn.astype(np.float64) + offset) / quantification, 0.0)
    pad = ((0, ny * factor - rows), (0, nx * factor - cols))
    s = np.pad(toa, pad).reshape(ny, factor, nx, factor).sum(axis=(1, 3))
    n = np.pad(valid, pad).reshape(ny, factor, nx, factor).sum(axis=(1, 3))
    sat = np.pad(dn == saturated_dn, pad).reshape(ny, factor, nx, factor).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / n, np.nan).astype(np.float32), n.astype(np.int32), sat.astype(np.int32)


@njit(cache=True, nogil=True)
def _fine_mean(dn, r, c, k):
    """Mean DN of the ``k x k`` fine pixels under coarse pixel (r, c), whether one is no data (0) and whether one
    is saturated (65535)."""
    total = 0.0
    nodata = False
    saturated = False
    for dr in range(k):
        for dc in range(k):
            v = dn[r * k + dr, c * k + dc]
            if v == 0:
                nodata = True
            elif v == 65535:
                saturated = True
            total += v
    return total / (k * k), nodata, saturated


@njit(cache=True, nogil=True)
def dark_pixel_sums(blue, red, nir, offsets, quantification, fine_per_pixel, swir, swir_offset, corr, eligible,
                    cell_factor, ndvi_min, swir_min, swir_max, out):
    """Sums over the dark dense vegetation pixels of each cell, on the SWIR band's grid.

    Parameters
    ----------
    blue, red, nir : uint16 (rows * k, cols * k)
        DNs of B2, B4, B8 on the finer grid (``k = fine_per_pixel`` times finer than ``swir``); each SWIR pixel
        uses the mean TOA reflectance of its ``k x k`` fine pixels. DN 0 (no data) and 65535 (saturated) are left
        out.
    offsets : float64 (3,)
        RADIO_ADD_OFFSET of B2, B4, B8 (DN).
    quantification : float
        TOA = (DN + offset) / quantification.
    fine_per_pixel : int
        ``k`` (2 for 10 m bands against a 20 m B12, 1 when both share a grid).
    swir : uint16 (rows, cols)
        DNs of B12.
    swir_offset : float
        Its offset.
    corr : float64 (3, 2, cells_y, cells_x)
        Per cell, the path reflectance and gas x t_down x t_up of B4, B8 and B12 at a default AOT: surface ~ (TOA -
        path) / gain (the spherical-albedo term is neglected: enough to select pixels).
    eligible : bool (cells_y, cells_x)
        Cells whose pixels may be used (not cloud, shadow, water or snow).
    cell_factor : int
        SWIR pixels per cell side.
    ndvi_min, swir_min, swir_max : float
        A pixel is dark vegetation when its surface NDVI (B4, B8) > ``ndvi_min`` and its surface B12 is within
        [``swir_min``, ``swir_max``].
    out : float64 (4, cells_y, cells_x)
        Accumulated: count, sum of TOA blue, sum of TOA red, sum of TOA B12 (the inversion corrects the means at
        each candidate AOT; the selection's surface B12 uses the terms given).
    """
    rows, cols = swir.shape
    k = fine_per_pixel
    for r in range(rows):
        i = r // cell_factor
        for c in range(cols):
            j = c // cell_factor
            if not eligible[i, j]:
                continue
            s = swir[r, c]
            if s == 0 or s == 65535:
                continue
            toa12 = (s + swir_offset) / quantification
            rho12 = (toa12 - corr[2, 0, i, j]) / corr[2, 1, i, j]
            if rho12 < swir_min or rho12 > swir_max:
                continue
            b, nodata_b, sat_b = _fine_mean(blue, r, c, k)
            rd, nodata_r, sat_r = _fine_mean(red, r, c, k)
            n, nodata_n, sat_n = _fine_mean(nir, r, c, k)
            if nodata_b or nodata_r or nodata_n or sat_b or sat_r or sat_n:
                continue
            b = (b + offsets[0]) / quantification
            rd = (rd + offsets[1]) / quantification
            n = (n + offsets[2]) / quantification
            rho_red = (rd - corr[0, 0, i, j]) / corr[0, 1, i, j]
            rho_nir = (n - corr[1, 0, i, j]) / corr[1, 1, i, j]
            if rho_nir + rho_red <= 0.0 or (rho_nir - rho_red) / (rho_nir + rho_red) <= ndvi_min:
                continue
            out[0, i, j] += 1.0
            out[1, i, j] += b
            out[2, i, j] += rd
            out[3, i, j] += toa12


def dark_pixel_sums_ref(blue, red, nir, offsets, quantification, fine_per_pixel, swir, swir_offset, corr, eligible,
                        cell_factor, ndvi_min, swir_min, swir_max):
    """numpy twin of :func:`dark_pixel_sums`: the (4, cells_y, cells_x) sums."""
    k = fine_per_pixel
    rows, cols = swir.shape

    def coarsen(dn, offset):
        d = dn[:rows * k, :cols * k].astype(np.float64).reshape(rows, k, cols, k)
        bad = ((d == 0) | (d == 65535)).any(axis=(1, 3))
        return (d.mean(axis=(1, 3)) + offset) / quantification, bad

    (b, bb), (rd, br), (n, bn) = coarsen(blue, offsets[0]), coarsen(red, offsets[1]), coarsen(nir, offsets[2])
    ci = np.arange(rows) // cell_factor
    cj = np.arange(cols) // cell_factor
    toa12 = (swir.astype(np.float64) + swir_offset) / quantification
    cells = np.ix_(ci, cj)
    rho12 = (toa12 - corr[2, 0][cells]) / corr[2, 1][cells]
    rho_red = (rd - corr[0, 0][cells]) / corr[0, 1][cells]
    rho_nir = (n - corr[1, 0][cells]) / corr[1, 1][cells]
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (rho_nir - rho_red) / (rho_nir + rho_red)
        ok = (eligible[cells] & (swir != 0) & (swir != 65535) & ~(bb | br | bn) & (rho12 >= swir_min)
              & (rho12 <= swir_max) & (rho_nir + rho_red > 0) & (ndvi > ndvi_min))
    out = np.zeros((4,) + eligible.shape)
    ii, jj = np.meshgrid(ci, cj, indexing="ij")
    for plane, values in enumerate((np.ones_like(b), b, rd, toa12)):
        np.add.at(out[plane], (ii[ok], jj[ok]), values[ok])
    return out


@njit(cache=True, nogil=True)
def project_shadows(cloud, shift_rows, shift_cols, k_first, k_last, out):
    """Union of the shadows of every cloud cell over a sweep of heights (MAJA's geometric projection).

    Parameters
    ----------
    cloud : bool (ny, nx)
        Cloud cells.
    shift_rows, shift_cols : float64 (ny, nx)
        Displacement (cells) from a cloud as imaged to its shadow for one height step: the shadow of a cloud of
        cell (i, j) at height ``k x step`` lies at ``(i + k shift_rows[i, j], j + k shift_cols[i, j])``.
    k_first, k_last : int
        Heights swept, in steps (both included).
    out : bool (ny, nx)
        Set where some cloud's shadow may fall (cloud cells themselves included when hit).
    """
    ny, nx = cloud.shape
    for i in range(ny):
        for j in range(nx):
            if not cloud[i, j]:
                continue
            for k in range(k_first, k_last + 1):
                r = int(math.floor(i + k * shift_rows[i, j] + 0.5))
                c = int(math.floor(j + k * shift_cols[i, j] + 0.5))
                if 0 <= r < ny and 0 <= c < nx:
                    out[r, c] = True


def project_shadows_ref(cloud, shift_rows, shift_cols, k_first, k_last):
    """numpy twin of :func:`project_shadows`."""
    out = np.zeros(cloud.shape, bool)
    ii, jj = np.nonzero(cloud)
    for k in range(k_first, k_last + 1):
        r = np.floor(ii + k * shift_rows[ii, jj] + 0.5).astype(int)
        c = np.floor(jj + k * shift_cols[ii, jj] + 0.5).astype(int)
        ok = (r >= 0) & (r < cloud.shape[0]) & (c >= 0) & (c < cloud.shape[1])
        out[r[ok], c[ok]] = True
    return out


@njit(cache=True, nogil=True)
def _cell_coord(p, factor, n):
    """Cell index below pixel centre ``p`` and the fraction towards the next cell centre (clamped at the edges)."""
    u = (p + 0.5) / factor - 0.5
    if u <= 0.0:
        return 0, 0.0
    if u >= n - 1:
        return max(n - 2, 0), 1.0 if n > 1 else 0.0
    i = int(math.floor(u))
    return i, u - i


@njit(cache=True, nogil=True)
def bilinear_upsample(coarse, factor, row0, col0, out):
    """Values at the pixel centres of a window, bilinear between cell centres.

    Parameters
    ----------
    coarse : float (ny, nx)
        Cell values (no NaN).
    factor : int
        Pixels per cell side.
    row0, col0 : int
        Window offset in the pixel grid.
    out : float32 (rows, cols)
        Filled.
    """
    ny, nx = coarse.shape
    rows, cols = out.shape
    for r in range(rows):
        i, ti = _cell_coord(row0 + r, factor, ny)
        i1 = min(i + 1, ny - 1)
        for c in range(cols):
            j, tj = _cell_coord(col0 + c, factor, nx)
            j1 = min(j + 1, nx - 1)
            out[r, c] = ((1 - ti) * ((1 - tj) * coarse[i, j] + tj * coarse[i, j1])
                         + ti * ((1 - tj) * coarse[i1, j] + tj * coarse[i1, j1]))


def _axis_weights(start, n_pixels, factor, n_cells):
    u = (np.arange(start, start + n_pixels) + 0.5) / factor - 0.5
    if n_cells == 1:
        return np.zeros(n_pixels, int), np.zeros(n_pixels)
    u = np.clip(u, 0, n_cells - 1)
    i = np.minimum(np.floor(u).astype(int), n_cells - 2)
    return i, u - i


def bilinear_upsample_ref(coarse, factor, row0, col0, shape):
    """numpy twin of :func:`bilinear_upsample` (float64 (rows, cols))."""
    ny, nx = coarse.shape
    i, ti = _axis_weights(row0, shape[0], factor, ny)
    j, tj = _axis_weights(col0, shape[1], factor, nx)
    i1, j1 = np.minimum(i + 1, ny - 1), np.minimum(j + 1, nx - 1)
    ti, tj = ti[:, None], tj[None, :]
    return ((1 - ti) * ((1 - tj) * coarse[np.ix_(i, j)] + tj * coarse[np.ix_(i, j1)])
            + ti * ((1 - tj) * coarse[np.ix_(i1, j)] + tj * coarse[np.ix_(i1, j1)]))


@njit(cache=True, nogil=True)
def correct_block(dn, offset, quantification, nodata_dn, terms, factor, row0, col0, out):
    """Surface reflectance (x 10000, int16) of a window of one band.

    Parameters
    ----------
    dn : uint16 (rows, cols)
        The window's digital numbers (no-data 0 -> -10000; saturated pixels are corrected as they are and flagged in
        SAT by the caller).
    offset, quantification : float
        TOA = (DN + offset) / quantification.
    nodata_dn : int
        No-data DN.
    terms : float64 (N_CORR, ny, nx)
        Per-cell path reflectance, gain (gas x t_down x t_up) and spherical albedo of this band, interpolated
        bilinearly to each pixel centre.
    factor, row0, col0 : int
        Pixels per cell side; window offset in the band's grid.
    out : int16 (rows, cols)
        Surface reflectance x 10000, rounded, within [-9999, 32767]; -10000 where no data.
    """
    _, ny, nx = terms.shape
    rows, cols = dn.shape
    for r in range(rows):
        i, ti = _cell_coord(row0 + r, factor, ny)
        i1 = min(i + 1, ny - 1)
        for c in range(cols):
            v = dn[r, c]
            if v == nodata_dn:
                out[r, c] = INT16_NODATA
                continue
            j, tj = _cell_coord(col0 + c, factor, nx)
            j1 = min(j + 1, nx - 1)
            w00 = (1 - ti) * (1 - tj)
            w01 = (1 - ti) * tj
            w10 = ti * (1 - tj)
            w11 = ti * tj
            path = (w00 * terms[CORR_PATH, i, j] + w01 * terms[CORR_PATH, i, j1] + w10 * terms[CORR_PATH, i1, j]
                    + w11 * terms[CORR_PATH, i1, j1])
            gain = (w00 * terms[CORR_GAIN, i, j] + w01 * terms[CORR_GAIN, i, j1] + w10 * terms[CORR_GAIN, i1, j]
                    + w11 * terms[CORR_GAIN, i1, j1])
            albedo = (w00 * terms[CORR_ALBEDO, i, j] + w01 * terms[CORR_ALBEDO, i, j1]
                      + w10 * terms[CORR_ALBEDO, i1, j] + w11 * terms[CORR_ALBEDO, i1, j1])
            toa = (v + offset) / quantification
            y = (toa - path) / gain
            rho = y / (1.0 + albedo * y)
            value = math.floor(rho * REFLECTANCE_SCALE + 0.5)
            out[r, c] = np.int16(min(max(value, -9999.0), 32767.0))


def correct_block_ref(dn, offset, quantification, nodata_dn, terms, factor, row0, col0):
    """numpy twin of :func:`correct_block` (int16 (rows, cols))."""
    shape = dn.shape
    path, gain, albedo = (bilinear_upsample_ref(terms[k], factor, row0, col0, shape) for k in range(N_CORR))
    toa = (dn.astype(np.float64) + offset) / quantification
    y = (toa - path) / gain
    rho = y / (1 + albedo * y)
    out = np.clip(np.floor(rho * REFLECTANCE_SCALE + 0.5), -9999, 32767).astype(np.int16)
    out[dn == nodata_dn] = INT16_NODATA
    return out



@njit(cache=True, nogil=True)
def _aot_cost(arrays, bands, platform, toa, sun_zenith, view_zenith, rel_azimuth, water_vapour, pressure, red_swir,
              blue_red, aot, terms):
    """Squared misfit of the dark-vegetation relations (red = a B12, blue = b red) at one AOT; ``toa`` holds the
    mean TOA blue, red and B12, each corrected at this AOT."""
    rho = np.empty(3)
    for b in range(3):
        atmosphere_terms(arrays, bands[b], platform, sun_zenith, view_zenith[b], rel_azimuth[b], aot, water_vapour,
                         pressure, terms)
        rho[b] = surface_from_toa(toa[b], terms)
    red_expected = red_swir * rho[2]
    return (rho[1] - red_expected) ** 2 + (rho[0] - blue_red * red_expected) ** 2


@njit(cache=True, nogil=True)
def invert_aot(arrays, bands, platform, toa, sun_zenith, view_zenith, rel_azimuth, water_vapour, pressure, red_swir,
               blue_red, aot_max, out):
    """AOT of each estimation cell from the mean TOA reflectance of its dark vegetation (golden-section search).

    Parameters
    ----------
    arrays : l2a.atmosphere.table.TableArrays
        The 6S table.
    bands : int64 (3,)
        Table indices of the blue (B2), red (B4) and SWIR (B12) bands.
    platform : int
        Table platform code.
    toa : float64 (3, n)
        Mean TOA blue, red and B12 of the dark pixels; NaN where a cell has too few.
    sun_zenith : float64 (n,)
        Degrees.
    view_zenith, rel_azimuth : float64 (3, n)
        Of the three bands, degrees (relative azimuth 0 = backscatter).
    water_vapour : float64 (n,)
        g/cm2.
    pressure : float64 (n,)
        Surface pressure, hPa.
    red_swir, blue_red : float
        Surface relations: red = ``red_swir`` x B12, blue = ``blue_red`` x red.
    aot_max : float
        Upper bound of the search.
    out : float64 (n,)
        AOT at 550 nm; NaN where the input is NaN.
    """
    terms = np.empty(7)
    t = np.empty(3)
    vz = np.empty(3)
    az = np.empty(3)
    g = (math.sqrt(5.0) - 1.0) / 2.0
    for k in range(out.shape[0]):
        ok = True
        for b in range(3):
            t[b] = toa[b, k]
            vz[b] = view_zenith[b, k]
            az[b] = rel_azimuth[b, k]
            if not (t[b] == t[b]):
                ok = False
        if not ok:
            out[k] = np.nan
            continue
        lo, hi = 0.0, aot_max
        x1 = hi - g * (hi - lo)
        x2 = lo + g * (hi - lo)
        f1 = _aot_cost(arrays, bands, platform, t, sun_zenith[k], vz, az, water_vapour[k], pressure[k], red_swir,
                       blue_red, x1, terms)
        f2 = _aot_cost(arrays, bands, platform, t, sun_zenith[k], vz, az, water_vapour[k], pressure[k], red_swir,
                       blue_red, x2, terms)
        for _ in range(30):  # interval 0.8 * 0.618^30 < 1e-6
            if f1 <= f2:
                hi = x2
                x2 = x1
                f2 = f1
                x1 = hi - g * (hi - lo)
                f1 = _aot_cost(arrays, bands, platform, t, sun_zenith[k], vz, az, water_vapour[k], pressure[k],
                               red_swir, blue_red, x1, terms)
            else:
                lo = x1
                x1 = x2
                f1 = f2
                x2 = lo + g * (hi - lo)
                f2 = _aot_cost(arrays, bands, platform, t, sun_zenith[k], vz, az, water_vapour[k], pressure[k],
                               red_swir, blue_red, x2, terms)
        out[k] = 0.5 * (lo + hi)


def invert_aot_ref(table, bands, platform, toa, sun_zenith, view_zenith, rel_azimuth, water_vapour, pressure,
                   red_swir, blue_red, aot_max, step=0.0005):
    """numpy twin of :func:`invert_aot`: brute-force search on a grid of ``step``."""
    from l2a.atmosphere.reference import atmosphere_terms_ref, surface_from_toa_ref

    grid = np.arange(0.0, aot_max + step / 2, step)
    n_cells = toa.shape[1]
    out = np.full(n_cells, np.nan)
    for k in range(n_cells):
        if not np.isfinite(toa[:, k]).all():
            continue
        n = grid.size
        surf = []
        for b in range(3):
            terms = atmosphere_terms_ref(table, bands[b], platform, np.full(n, sun_zenith[k]),
                                         np.full(n, view_zenith[b, k]), np.full(n, rel_azimuth[b, k]), grid,
                                         np.full(n, water_vapour[k]), np.full(n, pressure[k]))
            surf.append(surface_from_toa_ref(toa[b, k], terms))
        red_expected = red_swir * surf[2]
        cost = (surf[1] - red_expected) ** 2 + (surf[0] - blue_red * red_expected) ** 2
        out[k] = grid[np.argmin(cost)]
    return out


#: Bits of the per-pixel refinement of :func:`refine_pixels`.
PIXEL_WATER, PIXEL_SNOW, PIXEL_SHADOW = 1, 2, 4


@njit(cache=True, nogil=True)
def refine_pixels(green, red, nir, swir, offsets, quantification, fine_per_pixel, corr, cell_factor, cloud,
                  shadow_zone, nir_reference, swir_reference, thresholds, out):
    """Water, snow and cloud-shadow tests of every pixel of the 20 m grid (the refinement of the coarse masks).

    Parameters
    ----------
    green, red : uint16 (rows * k, cols * k)
        DNs of B3 and B4 on the 10 m grid (``k = fine_per_pixel``); each 20 m pixel takes the mean of its k x k.
    nir, swir : uint16 (rows, cols)
        DNs of B8A and B11.
    offsets : float64 (4,)
        RADIO_ADD_OFFSET of B3, B4, B8A, B11.
    quantification : float
        TOA = (DN + offset) / quantification.
    corr : float64 (4, 2, cells_y, cells_x)
        Per cell, path reflectance and gain (gas x t_down x t_up) of B3, B4, B8A and B11 for the gas + Rayleigh
        correction the tests run on.
    cell_factor : int
        20 m pixels per cell side.
    cloud : bool (cells_y, cells_x)
        Cloud cells before dilation: only the shadow and snow bits are kept there (a cell holding a cloud's edge
        often holds part of its shadow; a cell of patchy snow on rock passes the cloud test as a whole, its snow
        pixels do not: bright in green, dark at 1.6 um, as no water cloud is).
    shadow_zone : bool (cells_y, cells_x)
        Cells where a detected cloud may cast its shadow: there water must also pass the NDWI test, and a pixel
        that is not water and is darkened in NIR and SWIR is shadow.
    nir_reference, swir_reference : float64 (cells_y, cells_x)
        Clear-sky B8A and B11 reflectance around each cell.
    thresholds : float64 (8,)
        ndsi_min, snow_red_min, snow_swir_max, snow_nir_min, water_ndvi_max, water_nir_max, water_ndwi_min,
        shadow_darkening_max (:class:`~l2a.process.params.ProcessParams`).
    out : uint8 (rows, cols)
        Bits :data:`PIXEL_WATER`, :data:`PIXEL_SNOW`, :data:`PIXEL_SHADOW`; 0 where no data.
    """
    rows, cols = out.shape
    k = fine_per_pixel
    for r in range(rows):
        i = r // cell_factor
        for c in range(cols):
            out[r, c] = 0
            j = c // cell_factor
            vn = nir[r, c]
            vs = swir[r, c]
            if vn == 0 or vs == 0:
                continue
            g, nodata_g, _ = _fine_mean(green, r, c, k)
            rd, nodata_r, _ = _fine_mean(red, r, c, k)
            if nodata_g or nodata_r:
                continue
            rho_g = ((g + offsets[0]) / quantification - corr[0, 0, i, j]) / corr[0, 1, i, j]
            rho_r = ((rd + offsets[1]) / quantification - corr[1, 0, i, j]) / corr[1, 1, i, j]
            rho_n = ((vn + offsets[2]) / quantification - corr[2, 0, i, j]) / corr[2, 1, i, j]
            rho_s = ((vs + offsets[3]) / quantification - corr[3, 0, i, j]) / corr[3, 1, i, j]
            bits = 0
            if rho_g + rho_s > 0.0 and (rho_g - rho_s) / (rho_g + rho_s) > thresholds[0] \
                    and rho_r > thresholds[1] and rho_s < thresholds[2] and rho_n > thresholds[3]:
                bits |= PIXEL_SNOW
            elif rho_n + rho_r > 0.0 and (rho_n - rho_r) / (rho_n + rho_r) < thresholds[4] \
                    and rho_n < thresholds[5] and (not shadow_zone[i, j] or (
                        rho_g + rho_n > 0.0 and (rho_g - rho_n) / (rho_g + rho_n) > thresholds[6])):
                bits |= PIXEL_WATER
            elif shadow_zone[i, j] and rho_n < thresholds[7] * nir_reference[i, j] \
                    and rho_s < thresholds[7] * swir_reference[i, j]:
                bits |= PIXEL_SHADOW
            if cloud[i, j]:
                bits &= PIXEL_SHADOW | PIXEL_SNOW
            out[r, c] = bits


def refine_pixels_ref(green, red, nir, swir, offsets, quantification, fine_per_pixel, corr, cell_factor, cloud,
                      shadow_zone, nir_reference, swir_reference, thresholds):
    """numpy twin of :func:`refine_pixels` (uint8 (rows, cols))."""
    rows, cols = nir.shape
    k = fine_per_pixel

    def coarsen(dn):
        d = dn[:rows * k, :cols * k].astype(np.float64).reshape(rows, k, cols, k)
        return d.mean(axis=(1, 3)), (d == 0).any(axis=(1, 3))

    (g, bg), (rd, br) = coarsen(green), coarsen(red)
    ci, cj = np.arange(rows) // cell_factor, np.arange(cols) // cell_factor
    cells = np.ix_(ci, cj)

    def surface(mean_dn, b):
        return ((mean_dn + offsets[b]) / quantification - corr[b, 0][cells]) / corr[b, 1][cells]

    rho_g, rho_r = surface(g, 0), surface(rd, 1)
    rho_n, rho_s = surface(nir.astype(np.float64), 2), surface(swir.astype(np.float64), 3)
    ok = (nir != 0) & (swir != 0) & ~bg & ~br
    in_cloud = cloud[cells]
    with np.errstate(invalid="ignore", divide="ignore"):
        snow = ok & (rho_g + rho_s > 0) & ((rho_g - rho_s) / (rho_g + rho_s) > thresholds[0]) \
            & (rho_r > thresholds[1]) & (rho_s < thresholds[2]) & (rho_n > thresholds[3])
        zone = shadow_zone[cells]
        ndwi_ok = (rho_g + rho_n > 0) & ((rho_g - rho_n) / (rho_g + rho_n) > thresholds[6])
        water = ok & ~snow & (rho_n + rho_r > 0) & ((rho_n - rho_r) / (rho_n + rho_r) < thresholds[4]) \
            & (rho_n < thresholds[5]) & (~zone | ndwi_ok)
        shadow = ok & ~snow & ~water & zone & (rho_n < thresholds[7] * nir_reference[cells]) \
            & (rho_s < thresholds[7] * swir_reference[cells])
        water &= ~in_cloud
    return (snow * PIXEL_SNOW + water * PIXEL_WATER + shadow * PIXEL_SHADOW).astype(np.uint8)
