"""Per-date weights of the synthesis: ``W = W_cloud * W_aot * W_date * W_edge`` (SPEC section 4).

Pure array code (numpy, scipy.ndimage); no product I/O.

Grid geometry
-------------
All grids of a tile share the tile's upper-left corner as origin. A *fine* grid has square pixels of
``pixel_size_m``; fine pixel ``(r, c)`` covers ``[r * p, (r + 1) * p)`` metres south of the origin and its centre is at
``(r + 0.5) * p``. A *coarse* grid is made of cells of ``factor`` x ``factor`` fine pixels, with
``factor = coarse_factor(pixel_size_m, resolution_m)`` and cell size ``factor * pixel_size_m``; cell ``(i, j)`` covers
fine pixels ``[i * factor, (i + 1) * factor)`` (the last row and column of cells may be partial) and its centre is at
``(i + 0.5) * cell_size_m``. :func:`upsample_coarse` interpolates a coarse grid bilinearly between cell centres at
the centres of the pixels of any fine grid (of any pixel size) sharing that origin, and holds the edge cells' values
beyond the outermost centres. So the block driver computes the small coarse grids once per tile and date, then asks
for rows ``[r0, r1)`` of the fine weight at each resolution.

Weights
-------
- ``W_cloud``: :func:`coarse_cloud_fraction` -> :func:`cloud_weight_coarse` -> :func:`upsample_coarse`. The cloud
  fraction of a coarse cell is an area average (WASP filters with a bicubic kernel of radius 480 m; the area average is
  the documented simplification). Cloudy pixels themselves get weight 0 through their class, in the kernel.
- ``W_aot``: :func:`aot_weight`, per pixel.
- ``W_date``: :func:`date_weight` of :func:`date_offset_days`, one number per date.
- ``W_edge``: :func:`edge_weight_coarse` -> :func:`upsample_coarse` (or :func:`edge_weight` for a whole array).

The other per-date input of the kernel, the class of each observation, comes from :func:`observation_class`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from scipy import ndimage

from .errors import InvalidParameterError
from .flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER
from .params import SNOW_AND_WATER_CLASSES, CompositeParams

__all__ = [
    "coarse_factor",
    "coarse_cloud_fraction",
    "cloud_weight_coarse",
    "upsample_coarse",
    "bilinear_axis",
    "aot_weight",
    "date_weight",
    "date_offset_days",
    "day_number",
    "edge_weight_coarse",
    "edge_weight",
    "observation_class",
]

_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


# --------------------------------------------------------------------------------------------------- coarse grids


def coarse_factor(pixel_size_m: float, resolution_m: float) -> int:
    """Number of fine pixels per side of a coarse cell: ``round(resolution_m / pixel_size_m)``, at least 1.

    Parameters
    ----------
    pixel_size_m : float
        Fine pixel size, m (> 0).
    resolution_m : float
        Wanted coarse resolution, m (> 0). The actual cell size is ``factor * pixel_size_m`` (240 m from 10, 20, 60
        or 5 m pixels; the pixel itself when ``pixel_size_m >= resolution_m``).
    """
    if not pixel_size_m > 0 or not resolution_m > 0:
        raise InvalidParameterError(f"pixel size {pixel_size_m!r} m and resolution {resolution_m!r} m must be > 0")
    return max(1, int(round(resolution_m / pixel_size_m)))


def _block_mean(mask: np.ndarray, factor: int) -> np.ndarray:
    """Fraction of True pixels in each ``factor`` x ``factor`` cell (partial last cells: over the pixels present)."""
    rows, cols = mask.shape
    if factor == 1:
        return mask.astype(np.float32)
    row_starts = np.arange(0, rows, factor)
    col_starts = np.arange(0, cols, factor)
    # row strips one coarse row at a time: bounded temporaries whatever the tile size
    sums = np.empty((row_starts.size, col_starts.size), dtype=np.int64)
    for i, r0 in enumerate(row_starts):
        strip = np.count_nonzero(mask[r0:r0 + factor], axis=0)
        sums[i] = np.add.reduceat(strip, col_starts)
    row_counts = np.minimum(row_starts + factor, rows) - row_starts
    col_counts = np.minimum(col_starts + factor, cols) - col_starts
    return (sums / np.multiply.outer(row_counts, col_counts)).astype(np.float32)


def coarse_cloud_fraction(cloud_or_shadow: np.ndarray, pixel_size_m: float,
                          coarse_resolution_m: float = 240.0) -> np.ndarray:
    """Cloud (or shadow) fraction of each coarse cell, by area average.

    Parameters
    ----------
    cloud_or_shadow : numpy.ndarray
        bool (rows, cols), True where the pixel is cloud or cloud shadow (CLM bit 0).
    pixel_size_m : float
        Pixel size of ``cloud_or_shadow``, m.
    coarse_resolution_m : float
        Wanted cell size, m (``CompositeParams.coarse_resolution_m``); see :func:`coarse_factor`.

    Returns
    -------
    numpy.ndarray
        float32 (ceil(rows / factor), ceil(cols / factor)), fraction 0-1. Partial cells on the last row or column
        average the pixels they hold. Strips whose row count is a multiple of ``factor`` give, stacked, the grid of
        the whole array.
    """
    mask = np.asarray(cloud_or_shadow)
    if mask.ndim != 2:
        raise ValueError(f"cloud_or_shadow must be 2-D (rows, cols), got shape {mask.shape}")
    return _block_mean(mask.astype(bool, copy=False), coarse_factor(pixel_size_m, coarse_resolution_m))


def cloud_weight_coarse(fraction: np.ndarray, params: CompositeParams,
                        cell_size_m: float | None = None) -> np.ndarray:
    """WASP cloud weight on the coarse grid: ``W = (1 - A) * (1 - B)``, 0 where ``A >= 1`` or ``B >= 1``.

    ``C = fraction > cloud_fraction_threshold``; ``A`` and ``B`` are Gaussian blurs of ``C`` (scipy, truncated at
    4 sigma, ``mode="nearest"``: the tile frame repeats the edge cells, as ITK's zero-flux boundary) of sigma
    ``sigma_small_m`` and ``sigma_large_m`` expressed in cells.

    Parameters
    ----------
    fraction : numpy.ndarray
        float32 (crows, ccols), cloud fraction 0-1 from :func:`coarse_cloud_fraction`.
    params : CompositeParams
    cell_size_m : float, optional
        Actual cell size, m (``coarse_factor(p, params.coarse_resolution_m) * p``); default
        ``params.coarse_resolution_m``.

    Returns
    -------
    numpy.ndarray
        float32 (crows, ccols), W_cloud 0-1 (1 far from clouds, ~0.25 at the edge of a large cloud).
    """
    fraction = np.asarray(fraction)
    if fraction.ndim != 2:
        raise ValueError(f"fraction must be 2-D (rows, cols), got shape {fraction.shape}")
    cell = params.coarse_resolution_m if cell_size_m is None else float(cell_size_m)
    cloudy = (fraction > params.cloud_fraction_threshold).astype(np.float64)
    if not cloudy.any():
        return np.ones(fraction.shape, dtype=np.float32)
    a = ndimage.gaussian_filter(cloudy, params.sigma_small_m / cell, mode="nearest")
    b = ndimage.gaussian_filter(cloudy, params.sigma_large_m / cell, mode="nearest")
    weight = (1.0 - a) * (1.0 - b)
    weight[(a >= 1.0) | (b >= 1.0)] = 0.0
    return np.clip(weight, 0.0, 1.0).astype(np.float32)


def bilinear_axis(start: int, stop: int, pixel_size_m: float, cell_size_m: float, n_coarse: int):
    """Interpolation table of :func:`upsample_coarse` along one axis, for fine pixels ``[start, stop)``.

    Parameters
    ----------
    start, stop : int
        Half-open range of fine pixel indices along the axis.
    pixel_size_m, cell_size_m : float
        Fine pixel and coarse cell sizes, m.
    n_coarse : int
        Number of coarse cells along the axis (>= 1).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        intp (n,) index of the first bracketing cell centre, intp (n,) index of the second (the same at the edges),
        float64 (n,) weight of the second, 0-1. The fused block kernel takes these tables as they are.
    """
    centres = (np.arange(start, stop, dtype=np.float64) + 0.5) * pixel_size_m  # m from the origin
    u = centres / cell_size_m - 0.5  # position in cell-centre units (cell i's centre at u = i)
    u = np.clip(u, 0.0, n_coarse - 1.0)  # hold the edge cells beyond the outermost centres
    i0 = np.minimum(np.floor(u).astype(np.intp), max(n_coarse - 2, 0))
    i1 = np.minimum(i0 + 1, n_coarse - 1)
    t = u - i0
    return i0, i1, t


def upsample_coarse(coarse: np.ndarray, cell_size_m: float, pixel_size_m: float,
                    rows: tuple[int, int] | None = None, cols: tuple[int, int] | None = None,
                    shape: tuple[int, int] | None = None) -> np.ndarray:
    """Bilinear resampling of a coarse grid at the pixel centres of a (window of a) fine grid.

    Both grids share their origin (the tile's upper-left corner); see the module docstring for the geometry. The
    value at a fine pixel centre is interpolated between the four surrounding coarse cell centres; beyond the
    outermost centres (half a cell along the tile frame) the edge values are held.

    Parameters
    ----------
    coarse : numpy.ndarray
        float (crows, ccols), values at coarse cell centres.
    cell_size_m : float
        Coarse cell size, m.
    pixel_size_m : float
        Fine pixel size, m (10 or 20 m for Sentinel-2 R1 and R2).
    rows, cols : (int, int), optional
        Half-open ranges ``[start, stop)`` of fine rows and columns wanted. Default: the whole fine grid of ``shape``.
    shape : (int, int), optional
        Size of the fine grid, (rows, cols); needed only when ``rows`` or ``cols`` is not given.

    Returns
    -------
    numpy.ndarray
        float32 (stop - start rows, stop - start cols). A window is exactly the same slice of the whole grid.
    """
    coarse = np.asarray(coarse)
    if coarse.ndim != 2 or coarse.size == 0:
        raise ValueError(f"coarse must be a non-empty 2-D array, got shape {coarse.shape}")
    if not cell_size_m > 0 or not pixel_size_m > 0:
        raise InvalidParameterError(f"cell size {cell_size_m!r} m and pixel size {pixel_size_m!r} m must be > 0")
    if rows is None or cols is None:
        if shape is None:
            raise ValueError("upsample_coarse needs rows and cols, or the fine grid shape")
        rows = (0, shape[0]) if rows is None else rows
        cols = (0, shape[1]) if cols is None else cols
    (r0, r1), (c0, c1) = rows, cols
    if r1 < r0 or c1 < c0 or r0 < 0 or c0 < 0:
        raise ValueError(f"bad window rows {rows} cols {cols}")
    n_rows, n_cols = coarse.shape
    ri0, ri1, rt = bilinear_axis(r0, r1, pixel_size_m, cell_size_m, n_rows)
    ci0, ci1, ct = bilinear_axis(c0, c1, pixel_size_m, cell_size_m, n_cols)
    values = coarse.astype(np.float64, copy=False)
    # along rows first (small: window rows x coarse cols), then along columns; the a + t (b - a) form keeps a
    # constant field exactly constant
    lower = values[ri0]
    tmp = (lower + rt[:, None] * (values[ri1] - lower)).astype(np.float32)
    out = tmp[:, ci0]
    out += ct.astype(np.float32) * (tmp[:, ci1] - out)
    return out


# --------------------------------------------------------------------------------------------------- AOT and date


def aot_weight(aot: np.ndarray, params: CompositeParams) -> np.ndarray:
    """Aerosol weight: ``min + (max - min) * (1 - aot / aot_max)`` below ``aot_max``, else ``min``.

    Parameters
    ----------
    aot : numpy.ndarray
        float32 (rows, cols), aerosol optical thickness at 550 nm (unitless); NaN where missing.
    params : CompositeParams
        ``aot_weight_min`` (0.33), ``aot_weight_max`` (1), ``aot_max`` (0.8).

    Returns
    -------
    numpy.ndarray
        float32 (rows, cols), W_aot in [aot_weight_min, aot_weight_max]. Missing AOT gives ``aot_weight_max`` (1 in
        both profiles: no evidence of haze); a negative AOT (not physical) counts as 0.
    """
    aot = np.asarray(aot, dtype=np.float32)
    lo, hi = params.aot_weight_min, params.aot_weight_max
    clipped = np.clip(aot, 0.0, params.aot_max)
    weight = lo + (hi - lo) * (1.0 - clipped / params.aot_max)
    return np.where(np.isnan(aot), np.float32(hi), weight).astype(np.float32)


def date_weight(dt_days: int, params: CompositeParams) -> float:
    """Date weight of an acquisition ``dt_days`` from the central date.

    ``ramp`` (default): ``1 - (|dt| / H) * (1 - min_date_weight)``. ``step`` (WASP 1.x, integer division):
    ``1`` for ``|dt| < H``, ``min_date_weight`` at ``|dt| == H``. Beyond the window (``|dt| > H``) the input is not
    used and the weight is 0 (the driver leaves such inputs out and logs them).

    Parameters
    ----------
    dt_days : int
        Acquisition day minus central day, whole days (:func:`date_offset_days`).
    params : CompositeParams
        ``half_window_days`` (H, 23), ``min_date_weight`` (0.5), ``date_weight`` ("ramp" or "step").

    Returns
    -------
    float
        W_date in [min_date_weight, 1], or 0 outside the window.
    """
    if isinstance(dt_days, bool) or int(dt_days) != dt_days:
        raise InvalidParameterError(f"dt_days: expected whole days, got {dt_days!r}")
    delta = abs(int(dt_days))
    half = params.half_window_days
    if delta > half:
        return 0.0
    if half == 0:
        return 1.0
    if params.date_weight == "step":
        return 1.0 - (delta // half) * (1.0 - params.min_date_weight)
    return 1.0 - (delta / half) * (1.0 - params.min_date_weight)


def _utc_date(when: dt.datetime | dt.date) -> dt.date:
    if isinstance(when, dt.datetime):
        if when.tzinfo is not None and when.utcoffset() is not None:
            when = when.astimezone(dt.timezone.utc)
        return when.date()
    if isinstance(when, dt.date):
        return when
    raise TypeError(f"expected a datetime or date, got {type(when).__name__}")


def date_offset_days(acquisition_datetime_utc: dt.datetime | dt.date, central_date: dt.date) -> int:
    """Whole days from the central date to the acquisition's UTC calendar day.

    Parameters
    ----------
    acquisition_datetime_utc : datetime.datetime or datetime.date
        Acquisition time; a naive datetime is taken as UTC, an aware one is converted to UTC first.
    central_date : datetime.date
        Central date of the synthesis (a datetime counts by its own UTC calendar day).

    Returns
    -------
    int
        ``acquisition day - central day`` in days (negative before the central date); calendar arithmetic, so a
        window across New Year or a leap day is right and no local time or DST is involved.
    """
    return _utc_date(acquisition_datetime_utc).toordinal() - _utc_date(central_date).toordinal()


def day_number(acquisition_datetime_utc: dt.datetime | dt.date) -> int:
    """Absolute day number of the acquisition's UTC calendar day: days since 1970-01-01.

    This is the ``day_number`` that :func:`l3a.kernels.compose_block` averages (absolute, so a window across New
    Year averages correctly); :func:`l3a.kernels.day_of_year_from_day_number` turns the mean into DTS.
    """
    return _utc_date(acquisition_datetime_utc).toordinal() - _EPOCH_ORDINAL


# --------------------------------------------------------------------------------------------------- edges


def edge_weight_coarse(nodata: np.ndarray, pixel_size_m: float, params: CompositeParams) -> tuple[np.ndarray, float]:
    """Swath-edge weight on a coarse grid: a ramp with the distance to the border of the product's valid data.

    ``W_edge = edge_weight_min + (1 - edge_weight_min) * min(d / edge_feather_m, 1)``, where ``d`` is the distance from
    a cell centre to the nearest cell holding any nodata pixel (its near side: ``(edt - 0.5) * cell``), computed by
    ``scipy.ndimage.distance_transform_edt`` on a grid of ``params.edge_resolution_m`` (60 m by default, for speed on
    10980 x 10980 tiles). A cell with any nodata pixel has ``edge_weight_min``, so the coarse border lies up to one
    cell inside the valid data: ``d`` underestimates the true distance by at most one cell (0.02 in W_edge at 60 m).
    The tile frame is not an edge: outside the array counts as valid (the distance transform only sees nodata cells
    inside the array). Nodata pixels themselves are excluded by their class in the kernel, whatever their weight.

    Parameters
    ----------
    nodata : numpy.ndarray
        bool (rows, cols), True where the product has no data (EDG / outside the swath).
    pixel_size_m : float
        Pixel size of ``nodata``, m.
    params : CompositeParams
        ``edge_feather_m`` (3000 m), ``edge_weight_min`` (0.01), ``edge_resolution_m`` (60 m).

    Returns
    -------
    (numpy.ndarray, float)
        W_edge, float32 (crows, ccols), in [edge_weight_min, 1] (all 1 when there is no nodata pixel), and the cell
        size in m, for :func:`upsample_coarse`.
    """
    nodata = np.asarray(nodata)
    if nodata.ndim != 2:
        raise ValueError(f"nodata must be 2-D (rows, cols), got shape {nodata.shape}")
    factor = coarse_factor(pixel_size_m, params.edge_resolution_m)
    cell = factor * float(pixel_size_m)
    coarse_nodata = _block_mean(nodata.astype(bool, copy=False), factor) > 0.0
    if not coarse_nodata.any():
        return np.ones(coarse_nodata.shape, dtype=np.float32), cell
    if coarse_nodata.all():
        return np.full(coarse_nodata.shape, params.edge_weight_min, dtype=np.float32), cell
    cells = ndimage.distance_transform_edt(~coarse_nodata)  # distance to the nearest nodata cell centre, cells
    distance_m = np.maximum(cells - 0.5, 0.0) * cell
    distance_m[coarse_nodata] = 0.0
    ramp = np.minimum(distance_m / params.edge_feather_m, 1.0)
    weight = params.edge_weight_min + (1.0 - params.edge_weight_min) * ramp
    return weight.astype(np.float32), cell


def edge_weight(nodata: np.ndarray, pixel_size_m: float, params: CompositeParams,
                rows: tuple[int, int] | None = None) -> np.ndarray:
    """Swath-edge weight at full resolution (whole array, or rows ``[r0, r1)`` of it).

    :func:`edge_weight_coarse` then :func:`upsample_coarse`; a block driver should keep the coarse grid and
    upsample block by block instead of calling this per block.

    Parameters
    ----------
    nodata : numpy.ndarray
        bool (rows, cols), True where the product has no data.
    pixel_size_m : float
        Pixel size, m.
    params : CompositeParams
    rows : (int, int), optional
        Half-open range of rows wanted (default all).

    Returns
    -------
    numpy.ndarray
        float32 (rows, cols) or (r1 - r0, cols), W_edge in [edge_weight_min, 1]; all 1 if ``params.edge_weight`` is
        False.
    """
    nodata = np.asarray(nodata)
    n_rows, n_cols = nodata.shape
    rows = (0, n_rows) if rows is None else rows
    if not params.edge_weight:
        return np.ones((rows[1] - rows[0], n_cols), dtype=np.float32)
    coarse, cell = edge_weight_coarse(nodata, pixel_size_m, params)
    return upsample_coarse(coarse, cell, pixel_size_m, rows=rows, cols=(0, n_cols))


# --------------------------------------------------------------------------------------------------- classes


def observation_class(nodata: np.ndarray, cloud_or_shadow: np.ndarray | None = None, snow: np.ndarray | None = None,
                      water: np.ndarray | None = None, snow_and_water_is: str = "snow") -> np.ndarray:
    """Class of each observation of one date, in SPEC order: nodata, cloud or shadow, snow, water, land.

    Parameters
    ----------
    nodata : numpy.ndarray
        bool (rows, cols), True where not observed (EDG, outside the swath, nodata reflectance).
    cloud_or_shadow, snow, water : numpy.ndarray or None
        bool (rows, cols) masks of the product; None when the product has no such mask (a missing mask counts as
        clear, never as cloud).
    snow_and_water_is : str
        ``CompositeParams.snow_and_water_is``: what a pixel flagged both snow and water counts as (``"snow"`` by
        default: a snow-covered lake looks like snow; ``"water"`` in the WASP profile).

    Returns
    -------
    numpy.ndarray
        uint8 (rows, cols): 0 not observed, 1 cloudy, 2 snow, 3 water, 4 land (the ``obs_class`` of
        :func:`l3a.kernels.compose_block`).
    """
    if snow_and_water_is not in SNOW_AND_WATER_CLASSES:
        raise InvalidParameterError(
            f"snow_and_water_is: {snow_and_water_is!r} is not one of {', '.join(SNOW_AND_WATER_CLASSES)}")
    nodata = np.asarray(nodata, dtype=bool)
    classes = np.full(nodata.shape, FLG_LAND, dtype=np.uint8)
    layers = [(water, FLG_WATER), (snow, FLG_SNOW)]
    if snow_and_water_is == "water":
        layers.reverse()
    for mask, code in layers:  # the second wins where both are set
        if mask is not None:
            classes[np.asarray(mask, dtype=bool)] = code
    if cloud_or_shadow is not None:
        classes[np.asarray(cloud_or_shadow, dtype=bool)] = FLG_CLOUD
    classes[nodata] = FLG_NODATA
    return classes
