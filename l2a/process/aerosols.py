"""Aerosol optical thickness and water vapour of a scene, per coarse cell.

**AOT** (dark dense vegetation, the relations MODIS, Sen2Cor and MAJA's multi-spectral method rely on): in each
cell, the pixels of dense vegetation (surface NDVI > 0.75 at the default AOT) whose surface B12 reflectance is
0.01-0.15 are dark; their surface
red should be 0.41 x their B12 and their surface blue 0.77 x that red (medians measured on real Theia L2A
products; MODIS and Sen2Cor use 0.5 and 0.5). Cells are pooled 3 x 3 (MAJA estimates one AOT
every 3 coarse pixels), and the AOT that best satisfies both relations for the pool's mean TOA blue and red is found
through the 6S table (:func:`l2a.process.kernels.invert_aot`). Pools with fewer than ``ddv_min_pixels`` dark
pixels get no estimate; gaps are filled by normalised Gaussian convolution, the field smoothed (sigma 2 cells as
MAJA), and a scene without any dark pixel takes the default AOT (0.1). The IAB mask marks interpolated cells.

**Water vapour** from the B9/B8A TOA ratio (MAJA's bands): the slant column whose water transmittance ratio (6S
table) matches it, divided by the air mass; cells whose B8A is darker than 0.1 (water, shadow) are filled like the
AOT; a product without B9 takes the default (2 g/cm2) everywhere.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..atmosphere.kernels import water_transmittance
from ..atmosphere.table import AtmosphereTable
from .kernels import bilinear_upsample, invert_aot
from .params import ProcessParams

__all__ = ["fill_gaps", "water_vapour_cells", "estimate_aot", "AOT_POOL_CELLS"]

#: Coarse cells per side of an AOT estimation pool (MAJA's Step_AOT).
AOT_POOL_CELLS = 3
#: Darkest B8A TOA reflectance at which the B9/B8A ratio is trusted (MAJA's Water_Vapor_Reflectance_Threshold).
WV_MIN_NIR = 0.1
WV_MAX = 8.0


def fill_gaps(values: np.ndarray, sigma: float, default: float) -> tuple[np.ndarray, np.ndarray]:
    """Fill the NaN cells of a field and smooth it.

    Parameters
    ----------
    values : float (ny, nx)
        The field, NaN where unknown.
    sigma : float
        Gaussian sigma (cells) of the smoothing; gaps are filled with growing sigmas (x1, x4, x16) by normalised
        convolution, then with the median of the known cells.
    default : float
        The value everywhere when no cell is known.

    Returns
    -------
    filled : float64 (ny, nx)
    interpolated : bool (ny, nx)
        Cells that had no value of their own.
    """
    known = np.isfinite(values)
    if not known.any():
        return np.full(values.shape, float(default)), np.ones(values.shape, bool)
    out = np.where(known, values, np.nan).astype(np.float64)
    for s in (sigma, 4 * sigma, 16 * sigma):
        gaps = ~np.isfinite(out)
        if not gaps.any():
            break
        weight = ndimage.gaussian_filter(known.astype(np.float64), s, mode="nearest")
        total = ndimage.gaussian_filter(np.where(known, values, 0.0).astype(np.float64), s, mode="nearest")
        with np.errstate(invalid="ignore", divide="ignore"):
            estimate = np.where(weight > 1e-3, total / weight, np.nan)
        out = np.where(gaps, estimate, out)
    out = np.where(np.isfinite(out), out, float(np.median(values[known])))
    if sigma > 0:
        out = ndimage.gaussian_filter(out, sigma, mode="nearest")
    return out, ~known


def water_vapour_cells(toa_b9: np.ndarray | None, toa_b8a: np.ndarray, sun_zenith: np.ndarray,
                       view_zenith: np.ndarray, table: AtmosphereTable, params: ProcessParams
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Water vapour (g/cm2) per cell and where it was interpolated; see the module docstring."""
    if toa_b9 is None:
        return np.full(toa_b8a.shape, params.default_water_vapour), np.ones(toa_b8a.shape, bool)
    arrays = table.arrays
    b9, b8a = table.band_index("B9", gas=True), table.band_index("B8A", gas=True)
    slant = np.linspace(0.0, float(arrays.slant_water[-1]), 721)
    ratio_curve = np.array([water_transmittance(arrays, b9, s) / water_transmittance(arrays, b8a, s) for s in slant])
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = toa_b9 / toa_b8a
        ok = np.isfinite(observed) & (toa_b8a > WV_MIN_NIR)
    # the ratio falls with the column: interpolate on the reversed (increasing) curve
    column = np.interp(observed, ratio_curve[::-1], slant[::-1])
    air_mass = 1.0 / np.cos(np.radians(sun_zenith)) + 1.0 / np.cos(np.radians(view_zenith))
    wv = np.where(ok, np.clip(column / air_mass, 0.0, WV_MAX), np.nan)
    return fill_gaps(wv, 2.0, params.default_water_vapour)


def _pool(a: np.ndarray, k: int, how: str) -> np.ndarray:
    ny, nx = a.shape
    py, px = -(-ny // k), -(-nx // k)
    fill = 0.0 if how == "sum" else np.nan
    padded = np.full((py * k, px * k), fill, np.float64)
    padded[:ny, :nx] = a
    blocks = padded.reshape(py, k, px, k)
    if how == "sum":
        return blocks.sum(axis=(1, 3))
    with np.errstate(invalid="ignore"):
        return np.nanmean(blocks, axis=(1, 3))


def estimate_aot(sums: np.ndarray, sun_zenith: np.ndarray, view_zenith: dict, rel_azimuth: dict,
                 water_vapour: np.ndarray, pressure: np.ndarray, table: AtmosphereTable, platform_code: int,
                 params: ProcessParams) -> tuple[np.ndarray, np.ndarray, int]:
    """AOT at 550 nm per coarse cell.

    Parameters
    ----------
    sums : float64 (4, ny, nx)
        From :func:`l2a.process.kernels.dark_pixel_sums`: count, TOA blue, red and B12 of dark pixels.
    sun_zenith : float (ny, nx)
        Degrees.
    view_zenith, rel_azimuth : dict band -> float (ny, nx)
        Of B2, B4 and B12, degrees (relative azimuth 0 = backscatter).
    water_vapour : float (ny, nx)
        g/cm2.
    pressure : float (ny, nx)
        Surface pressure, hPa.
    table, platform_code
        The 6S table and the platform's code in it.

    Returns
    -------
    aot : float64 (ny, nx)
    interpolated : bool (ny, nx)
        Cells whose pool had no estimate of its own.
    n_estimates : int
        Pools with an estimate.
    """
    ny, nx = sun_zenith.shape
    k = AOT_POOL_CELLS
    count, blue, red, swir = (_pool(sums[i], k, "sum") for i in range(4))
    enough = count >= params.ddv_min_pixels
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = [np.where(enough, s / np.maximum(count, 1), np.nan).ravel() for s in (blue, red, swir)]
    geo = lambda a: _pool(np.asarray(a, np.float64), k, "mean").ravel()  # noqa: E731
    sz = geo(sun_zenith)
    vz = np.stack([geo(view_zenith[b]) for b in ("B2", "B4", "B12")])
    az = np.stack([geo(rel_azimuth[b]) for b in ("B2", "B4", "B12")])
    wv = geo(water_vapour)
    pressure = geo(pressure)
    usable = np.isfinite(sz) & np.isfinite(vz).all(axis=0) & np.isfinite(az).all(axis=0) & np.isfinite(wv)
    toa = np.stack(mean)
    toa[:, ~usable] = np.nan
    sz, vz, az, wv = (np.nan_to_num(x, nan=0.0) for x in (sz, vz, az, wv))
    pressure = np.nan_to_num(pressure, nan=1013.25)
    pooled = np.empty(sz.size)
    bands = np.array([table.band_index(b) for b in ("B2", "B4", "B12")], np.int64)
    invert_aot(table.arrays, bands, platform_code, toa, sz, vz, az, wv, pressure, params.ddv_red_swir,
               params.ddv_blue_red, float(table.arrays.aot[-1]), pooled)
    pooled = pooled.reshape(count.shape)
    n_estimates = int(np.isfinite(pooled).sum())
    filled, interpolated = fill_gaps(pooled, params.aot_smoothing_cells / k, params.default_aot)
    aot = np.empty((ny, nx), np.float32)
    bilinear_upsample(filled, k, 0, 0, aot)
    flags = np.repeat(np.repeat(interpolated, k, axis=0), k, axis=1)[:ny, :nx]
    return aot.astype(np.float64), flags, n_estimates
