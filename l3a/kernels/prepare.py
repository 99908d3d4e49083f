"""The per-date preparation kernel (numba) and its pure-numpy twin.

:func:`prepare_date_block` turns the raw rasters of one date and block (reflectance, Theia CLM/MG2/EDG/SAT codes,
AOT) and the date's coarse grids into the inputs of :func:`l3a.kernels.compose.compose_block`, in one pass:
reflectance nodata, observation class, weight ``W_cloud * W_edge * W_aot * W_date`` and BRDF normalisation of the
clear land observations. :func:`prepare_date_block_ref` computes the same with plain numpy, bit for bit.

The reflectance stays float32 (x 10000): the BRDF-normalised value of a date is not rounded; the synthesis rounds
once, after the weighted mean (SPEC section 4, "one rounding at the end").

The Theia bit layout comes from :mod:`l2a.formats.theia.bits` (its one table), passed to the kernel as arguments;
which CLM bits mean cloud is the caller's ``cloud_bits`` (``CompositeParams.cloud_bits``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from l2a.constants import REFLECTANCE_NODATA
from l2a.formats.theia.bits import MG2_SNOW_BIT, MG2_WATER_BIT

from ..flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER

__all__ = ["SNOW_AND_WATER_CODES", "BRDF_MIN", "BRDF_MAX", "prepare_date_block", "prepare_date_block_ref"]

#: ``CompositeParams.snow_and_water_is`` -> the ``snow_and_water`` code of :func:`prepare_date_block`.
SNOW_AND_WATER_CODES = {"snow": 0, "water": 1}

# grids interpolated by prepare_date_block, in the order of its interpolation tables
_GRID_CLOUD, _GRID_EDGE, _GRID_C_FACTOR = 0, 1, 2
# aot argument of the kernel: absent, uint8 DN (weights from a 256-entry table), float32 AOT
_AOT_NONE, _AOT_DN, _AOT_FLOAT = 0, 1, 2
# bounds of a BRDF-normalised reflectance x 10000 (above the nodata value -10000, within int16)
BRDF_MIN, BRDF_MAX = -9999.0, 32767.0


@njit(cache=True, nogil=True)
def _interpolate_row(grid, i0, i1, t, lo, hi, out):
    # first step of the separable bilinear interpolation, coarse columns [lo, hi) only, in float64 then rounded to
    # float32 (as upsample_coarse)
    lower = grid[i0]
    upper = grid[i1]
    for j in range(lo, hi):
        a = np.float64(lower[j])
        out[j] = np.float32(a + t * (np.float64(upper[j]) - a))


@njit(cache=True, nogil=True)
def _runs(i0, i1):
    # starts of the runs of columns that share their two coarse cells (and the end), and the cells used [lo, hi)
    n = i0.size
    starts = np.empty(n + 1, dtype=np.int64)
    count = 0
    lo, hi = 0, 0
    for c in range(n):
        if c == 0 or i0[c] != i0[c - 1] or i1[c] != i1[c - 1]:
            starts[count] = c
            count += 1
        lo = i0[c] if c == 0 else min(lo, i0[c])
        hi = i1[c] + 1 if c == 0 else max(hi, i1[c] + 1)
    starts[count] = n
    return starts[:count + 1], lo, hi


@njit(cache=True, nogil=True)
def _interpolate_cols(row, runs, i0, i1, t, out, multiply):
    # second step, in float32: a + t * (b - a), run by run (a and b - a are constant along a run); the result is
    # stored, or multiplied into `out`
    for k in range(runs.size - 1):
        c0, c1 = runs[k], runs[k + 1]
        a = row[i0[c0]]
        d = row[i1[c0]] - a
        if multiply:
            for c in range(c0, c1):
                out[c] = out[c] * (a + t[c] * d)
        else:
            for c in range(c0, c1):
                out[c] = a + t[c] * d


@njit(cache=True, nogil=True)
def _aot_weight_table(aot_scale, aot_nodata, aot_weight_min, aot_weight_span, aot_weight_max, aot_max):
    # W_aot of each uint8 DN (the same operations as for a float AOT, done once per DN value)
    table = np.empty(256, dtype=np.float32)
    for dn in range(256):
        table[dn] = _aot_weight(np.float64(dn), aot_scale, aot_nodata, aot_weight_min, aot_weight_span,
                                aot_weight_max, aot_max)
    return table


@njit(cache=True, nogil=True)
def _aot_weight(stored, aot_scale, aot_nodata, aot_weight_min, aot_weight_span, aot_weight_max, aot_max):
    # float32: min + (max - min) * (1 - clip(aot, 0, aot_max) / aot_max); aot_weight_max where the AOT is missing
    if stored == aot_nodata:
        return aot_weight_max
    a = np.float32(stored / aot_scale)
    if math.isnan(a):
        return aot_weight_max
    zero = np.float32(0.0)
    a = zero if a < zero else (aot_max if a > aot_max else a)
    return aot_weight_min + aot_weight_span * (np.float32(1.0) - a / aot_max)


@njit(cache=True, nogil=True)
def _prepare_date_block_kernel(refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor,
                               row_index, row_frac, col_index, col_frac, refl_nodata, check_refl_nodata,
                               apply_edge, aot_mode, aot_scale, aot_nodata, date_weight, aot_weight_min,
                               aot_weight_span, aot_weight_max, aot_max, has_edge, snow_and_water,
                               cloud_bits, mg2_water_bit, mg2_snow_bit, out_weight, out_class):
    # One pass over the rows of one date: nodata, class, weight and BRDF normalisation of clear land observations
    # (float32, not rounded). Serial: the driver runs one
    # call per date in its reader threads. Within a row, simple loops over contiguous columns (selects, no
    # branches) let LLVM vectorise. Every float operation is the one (and in the order) of the numpy twin, in the
    # same precision, so results are bit for bit those of prepare_date_block_ref.
    n_bands, n_rows, n_cols = refl.shape
    nodata = np.float32(REFLECTANCE_NODATA)
    brdf_min, brdf_max = np.float32(BRDF_MIN), np.float32(BRDF_MAX)
    table = _aot_weight_table(aot_scale, aot_nodata, aot_weight_min, aot_weight_span, aot_weight_max, aot_max)
    coarse_row = np.empty(max(cloud_weight.shape[1], edge_weight.shape[1], c_factors.shape[2]), dtype=np.float32)
    weight_row = np.empty(n_cols, dtype=np.float32)
    edge_row = np.zeros(n_cols, dtype=np.bool_)
    valid_any = np.zeros(n_cols, dtype=np.bool_)
    cloud_i0, cloud_i1, cloud_t = col_index[_GRID_CLOUD, 0], col_index[_GRID_CLOUD, 1], col_frac[_GRID_CLOUD]
    edge_i0, edge_i1, edge_t = col_index[_GRID_EDGE, 0], col_index[_GRID_EDGE, 1], col_frac[_GRID_EDGE]
    c_i0, c_i1, c_t = col_index[_GRID_C_FACTOR, 0], col_index[_GRID_C_FACTOR, 1], col_frac[_GRID_C_FACTOR]
    cloud_runs, cloud_lo, cloud_hi = _runs(cloud_i0, cloud_i1)
    edge_runs, edge_lo, edge_hi = _runs(edge_i0, edge_i1)
    c_runs, c_lo, c_hi = _runs(c_i0, c_i1)
    for r in range(n_rows):
        edg_row = edg[r]
        # weight: W_cloud * W_edge * W_aot * W_date, float32 in that order
        _interpolate_row(cloud_weight, row_index[_GRID_CLOUD, 0, r], row_index[_GRID_CLOUD, 1, r],
                         row_frac[_GRID_CLOUD, r], cloud_lo, cloud_hi, coarse_row)
        _interpolate_cols(coarse_row, cloud_runs, cloud_i0, cloud_i1, cloud_t, weight_row, False)
        if has_edge:
            _interpolate_row(edge_weight, row_index[_GRID_EDGE, 0, r], row_index[_GRID_EDGE, 1, r],
                             row_frac[_GRID_EDGE, r], edge_lo, edge_hi, coarse_row)
            _interpolate_cols(coarse_row, edge_runs, edge_i0, edge_i1, edge_t, weight_row, True)
        for c in range(n_cols):
            edge_row[c] = apply_edge and edg_row[c] != 0
        if aot_mode == _AOT_NONE:
            for c in range(n_cols):
                weight_row[c] = weight_row[c] * aot_weight_max
        elif aot_mode == _AOT_DN:
            aot_row = aot[r]
            for c in range(n_cols):
                w_aot = aot_weight_max if edge_row[c] else table[np.intp(aot_row[c])]
                weight_row[c] = weight_row[c] * w_aot
        else:
            aot_row = aot[r]
            for c in range(n_cols):
                w_aot = _aot_weight(np.float64(aot_row[c]), aot_scale, aot_nodata, aot_weight_min, aot_weight_span,
                                    aot_weight_max, aot_max)
                weight_row[c] = weight_row[c] * (aot_weight_max if edge_row[c] else w_aot)
        out_weight_row = out_weight[r]
        for c in range(n_cols):
            out_weight_row[c] = weight_row[c] * date_weight

        # nodata reflectance; observed = any band valid
        for c in range(n_cols):
            valid_any[c] = False
        for b in range(n_bands):
            band_row = refl[b, r]
            for c in range(n_cols):
                v = band_row[c]
                bad = edge_row[c] | (check_refl_nodata & (v == refl_nodata))
                v = nodata if bad else v
                band_row[c] = v
                valid_any[c] = valid_any[c] | (v != nodata)

        # class, SPEC order: nodata > cloud or shadow > snow / water > land
        clm_row, mg2_row, sat_row, class_row = clm[r], mg2[r], sat[r], out_class[r]
        both = FLG_SNOW if snow_and_water == 0 else FLG_WATER
        for c in range(n_cols):
            m = mg2_row[c]
            water = (m & mg2_water_bit) != 0
            snow = (m & mg2_snow_bit) != 0
            k = both if (water & snow) else (FLG_WATER if water else (FLG_SNOW if snow else FLG_LAND))
            cloudy = (clm_row[c] & cloud_bits) != 0  # cloud or shadow
            k = FLG_CLOUD if cloudy else k
            unobserved = (edg_row[c] != 0) | (not valid_any[c]) | ((sat_row[c] != 0) & (not cloudy))
            class_row[c] = FLG_NODATA if unobserved else k

        # BRDF normalisation of clear land observations only (the land coefficients do not hold over snow, water
        # or clouds): reflectance * c in float32, not rounded, within [BRDF_MIN, BRDF_MAX]
        for b in range(n_bands):
            if not has_c_factor[b]:
                continue
            _interpolate_row(c_factors[b], row_index[_GRID_C_FACTOR, 0, r], row_index[_GRID_C_FACTOR, 1, r],
                             row_frac[_GRID_C_FACTOR, r], c_lo, c_hi, coarse_row)
            _interpolate_cols(coarse_row, c_runs, c_i0, c_i1, c_t, weight_row, False)  # reused: the c-factor
            band_row = refl[b, r]
            for c in range(n_cols):
                v = band_row[c]
                x = v * weight_row[c]
                x = brdf_min if x < brdf_min else (brdf_max if x > brdf_max else x)
                band_row[c] = x if ((class_row[c] == FLG_LAND) & (v != nodata)) else v


def _prepare_arguments(refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor,
                       row_index, row_frac, col_index, col_frac, refl_nodata, apply_edge, aot_scale, aot_nodata,
                       date_weight, aot_weight_min, aot_weight_max, aot_max, snow_and_water, cloud_bits, out_weight,
                       out_class):
    """Check shapes and dtypes; return the positional arguments of the kernel (placeholders for absent grids)."""
    def need(array, name, dtypes, shape=None, ndim=None):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
        if array.dtype not in [np.dtype(d) for d in dtypes]:
            raise TypeError(f"{name} must be {' or '.join(np.dtype(d).name for d in dtypes)}, got {array.dtype.name}")
        if shape is not None and array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
        if ndim is not None and (array.ndim != ndim or array.size == 0):
            raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {array.shape}")

    if not isinstance(refl, np.ndarray) or refl.ndim != 3:
        raise ValueError("refl must be a 3-D array (bands, rows, cols)")
    n_bands, n_rows, n_cols = refl.shape
    need(refl, "refl", [np.float32])
    for name, plane in (("clm", clm), ("mg2", mg2), ("edg", edg), ("sat", sat)):
        need(plane, name, [np.uint8], (n_rows, n_cols))
    has_aot = aot is not None
    if has_aot:
        need(aot, "aot", [np.uint8, np.float32], (n_rows, n_cols))
        if not aot_scale > 0:
            raise ValueError(f"aot_scale must be > 0, got {aot_scale}")
        aot_mode = _AOT_DN if aot.dtype == np.uint8 else _AOT_FLOAT
    else:
        aot = np.zeros((1, 1), np.uint8)
        aot_mode = _AOT_NONE
    need(cloud_weight, "cloud_weight", [np.float32], ndim=2)
    has_edge = edge_weight is not None
    if has_edge:
        need(edge_weight, "edge_weight", [np.float32], ndim=2)
    else:
        edge_weight = np.ones((1, 1), np.float32)
    if c_factors is None:
        c_factors = np.ones((n_bands, 1, 1), np.float32)
        has_c_factor = np.zeros(n_bands, np.bool_)
    else:
        need(c_factors, "c_factors", [np.float32], ndim=3)
        if c_factors.shape[0] != n_bands:
            raise ValueError(f"c_factors must have {n_bands} bands, got {c_factors.shape[0]}")
        has_c_factor = np.asarray(has_c_factor, dtype=np.bool_)
        need(has_c_factor, "has_c_factor", [np.bool_], (n_bands,))
    need(row_index, "row_index", [np.intp], (3, 2, n_rows))
    need(row_frac, "row_frac", [np.float64], (3, n_rows))
    need(col_index, "col_index", [np.intp], (3, 2, n_cols))
    need(col_frac, "col_frac", [np.float64], (3, n_cols))
    for g, grid, used in ((_GRID_CLOUD, cloud_weight, True), (_GRID_EDGE, edge_weight, has_edge),
                          (_GRID_C_FACTOR, c_factors[0], bool(has_c_factor.any()))):
        if used and n_rows and n_cols and (row_index[g].min() < 0 or row_index[g].max() >= grid.shape[0]
                                           or col_index[g].min() < 0 or col_index[g].max() >= grid.shape[1]):
            raise ValueError(f"interpolation table {g} points outside its grid of shape {grid.shape}")
    need(out_weight, "out_weight", [np.float32], (n_rows, n_cols))
    need(out_class, "out_class", [np.uint8], (n_rows, n_cols))
    if snow_and_water not in SNOW_AND_WATER_CODES.values():
        raise ValueError(f"snow_and_water {snow_and_water} is not one of {sorted(SNOW_AND_WATER_CODES.values())}")
    if not aot_max > 0:
        raise ValueError(f"aot_max must be > 0, got {aot_max}")
    if isinstance(cloud_bits, bool) or int(cloud_bits) != cloud_bits or not 1 <= int(cloud_bits) <= 255:
        raise ValueError(f"cloud_bits must be a CLM bit mask 1-255, got {cloud_bits!r}")
    check_nodata = refl_nodata is not None
    # weights are float32 products: the scalars enter as float32, as numpy casts Python floats against float32
    f32 = np.float32
    return (refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
            col_index, col_frac.astype(np.float32), int(refl_nodata) if check_nodata else 0, check_nodata,
            bool(apply_edge), aot_mode, float(aot_scale) if has_aot else 1.0, float(aot_nodata) if has_aot else 0.0,
            f32(date_weight), f32(aot_weight_min), f32(aot_weight_max - aot_weight_min), f32(aot_weight_max),
            f32(aot_max), has_edge, int(snow_and_water), int(cloud_bits), MG2_WATER_BIT, MG2_SNOW_BIT,
            out_weight, out_class)


def prepare_date_block(refl: np.ndarray, clm: np.ndarray, mg2: np.ndarray, edg: np.ndarray, sat: np.ndarray,
                       aot: np.ndarray | None, cloud_weight: np.ndarray, edge_weight: np.ndarray | None,
                       c_factors: np.ndarray | None, has_c_factor: np.ndarray | None, row_index: np.ndarray,
                       row_frac: np.ndarray, col_index: np.ndarray, col_frac: np.ndarray, *,
                       refl_nodata: int | None, apply_edge: bool, aot_scale: float, aot_nodata: float,
                       date_weight: float, aot_weight_min: float, aot_weight_max: float, aot_max: float,
                       snow_and_water: int, cloud_bits: int, out_weight: np.ndarray, out_class: np.ndarray) -> None:
    """Inputs of :func:`compose_block` for one date of a block, from its raw rasters, in one pass (numba, serial).

    Per pixel: reflectance nodata, observation class, weight ``W_cloud * W_edge * W_aot * W_date`` and BRDF
    normalisation of the clear land observations (class 4), with the coarse grids (cloud weight, edge weight,
    c-factors) bilinearly interpolated from per-row and per-column tables (:func:`l3a.weights.bilinear_axis`),
    exactly as :func:`l3a.weights.upsample_coarse`, :func:`l3a.weights.aot_weight` and the driver's classes would
    give them.

    Parameters
    ----------
    refl : numpy.ndarray
        float32 (bands, rows, cols), reflectance x 10000 as stored (whole numbers); modified in place:
        ``refl_nodata`` and (with ``apply_edge``) EDG pixels become -10000; in bands with a c-factor, clear land
        observations (class 4) are BRDF-normalised, ``refl * c`` in float32, not rounded, clipped to
        [-9999, 32767]; snow, water, cloud and nodata values are kept as they are.
    clm, mg2, edg, sat : numpy.ndarray
        uint8 (rows, cols), Theia mask codes: CLM with any of ``cloud_bits`` = cloud or shadow; MG2 bit 0 water,
        bit 2 snow; EDG != 0 not observed; SAT != 0 saturated (a saturated pixel not cloudy is not observed). Zeros
        for an absent mask.
    aot : numpy.ndarray or None
        uint8 ATB DN or float32 AOT (rows, cols): AOT = ``float32(value / aot_scale)``, missing where
        ``value == aot_nodata``, NaN, or (with ``apply_edge``) EDG; None without AOT (every pixel missing).
    cloud_weight : numpy.ndarray
        float32 (crows, ccols), W_cloud on its coarse grid.
    edge_weight : numpy.ndarray or None
        float32, W_edge on its coarse grid; None: no edge weight.
    c_factors : numpy.ndarray or None
        float32 (bands, frows, fcols), BRDF c-factor of each band on its coarse grid; None: no normalisation.
    has_c_factor : numpy.ndarray or None
        bool (bands,), which bands of ``c_factors`` are normalised.
    row_index, row_frac : numpy.ndarray
        intp (3, 2, rows) and float64 (3, rows): :func:`l3a.weights.bilinear_axis` tables of the block's rows for
        the cloud (0), edge (1) and c-factor (2) grids (rows of unused grids are ignored).
    col_index, col_frac : numpy.ndarray
        intp (3, 2, cols) and float64 (3, cols): the same for the block's columns.
    refl_nodata : int or None
        Nodata value of the stored reflectance (None: none).
    apply_edge : bool
        Apply EDG to the reflectance and the AOT (True for raw rasters; False when the reader did already).
    aot_scale, aot_nodata : float
        ATB quantification (DN per unit AOT) and nodata DN; 1.0 and NaN for a float32 AOT.
    date_weight : float
        W_date of the date.
    aot_weight_min, aot_weight_max, aot_max : float
        :class:`~l3a.params.CompositeParams` fields of W_aot.
    snow_and_water : int
        :data:`SNOW_AND_WATER_CODES` code: what a pixel flagged both snow and water counts as.
    cloud_bits : int
        CLM bits meaning cloud or shadow, a mask 1-255 (``CompositeParams.cloud_bits``; 1 = bit 0).
    out_weight : numpy.ndarray
        float32 (rows, cols), written: the weight.
    out_class : numpy.ndarray
        uint8 (rows, cols), written: class 0 not observed, 1 cloudy, 2 snow, 3 water, 4 land.
    """
    _prepare_date_block_kernel(*_prepare_arguments(
        refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
        col_index, col_frac, refl_nodata, apply_edge, aot_scale, aot_nodata, date_weight, aot_weight_min,
        aot_weight_max, aot_max, snow_and_water, cloud_bits, out_weight, out_class))


def _interpolate_ref(grid, row_index, row_frac, col_index, col_frac32):
    """Separable bilinear interpolation, the operations of :func:`l3a.weights.upsample_coarse`."""
    values = grid.astype(np.float64)
    lower = values[row_index[0]]
    rows = (lower + row_frac[:, None] * (values[row_index[1]] - lower)).astype(np.float32)
    out = rows[:, col_index[0]]
    return out + col_frac32 * (rows[:, col_index[1]] - out)


def prepare_date_block_ref(refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor,
                           row_index, row_frac, col_index, col_frac, *, refl_nodata, apply_edge, aot_scale,
                           aot_nodata, date_weight, aot_weight_min, aot_weight_max, aot_max, snow_and_water,
                           cloud_bits, out_weight, out_class) -> None:
    """Pure-numpy twin of :func:`prepare_date_block`: same arguments, same results bit for bit."""
    (refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
     col_index, col_frac32, refl_nodata, check_nodata, apply_edge, aot_mode, aot_scale, aot_nodata, date_weight32,
     lo, span, hi, top, has_edge, snow_and_water, cloud_bits, mg2_water_bit, mg2_snow_bit, out_weight,
     out_class) = _prepare_arguments(
        refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
        col_index, col_frac, refl_nodata, apply_edge, aot_scale, aot_nodata, date_weight, aot_weight_min,
        aot_weight_max, aot_max, snow_and_water, cloud_bits, out_weight, out_class)
    nodata = np.float32(REFLECTANCE_NODATA)
    edge_pixel = (edg != 0) if apply_edge else np.zeros(edg.shape, bool)
    invalid = edge_pixel | ((refl == refl_nodata) if check_nodata else False)
    refl[...] = np.where(invalid, nodata, refl)
    valid_any = (refl != nodata).any(axis=0)

    water = (mg2 & mg2_water_bit) != 0
    snow = (mg2 & mg2_snow_bit) != 0
    cls = np.full(clm.shape, FLG_LAND, np.uint8)
    cls[water & ~snow] = FLG_WATER
    cls[snow & ~water] = FLG_SNOW
    cls[water & snow] = FLG_SNOW if snow_and_water == SNOW_AND_WATER_CODES["snow"] else FLG_WATER
    cls[(clm & cloud_bits) != 0] = FLG_CLOUD
    cls[(edg != 0) | ~valid_any | ((sat != 0) & (cls != FLG_CLOUD))] = FLG_NODATA
    out_class[...] = cls

    def table(g):
        return row_index[g], row_frac[g], col_index[g], col_frac32[g]

    weight = _interpolate_ref(cloud_weight, *table(_GRID_CLOUD))
    if has_edge:
        weight = weight * _interpolate_ref(edge_weight, *table(_GRID_EDGE))
    if aot_mode != _AOT_NONE:
        with np.errstate(invalid="ignore"):
            value = (aot.astype(np.float64) / aot_scale).astype(np.float32)
        missing = (aot == aot_nodata) | np.isnan(value) | edge_pixel
        clipped = np.clip(np.where(missing, np.float32(0.0), value), np.float32(0.0), top)
        w_aot = np.where(missing, hi, lo + span * (np.float32(1.0) - clipped / top))
    else:
        w_aot = np.full(clm.shape, hi, np.float32)
    out_weight[...] = weight * w_aot * date_weight32

    land = cls == FLG_LAND  # clear land observations only
    for b in np.flatnonzero(has_c_factor):
        factor = _interpolate_ref(c_factors[b], *table(_GRID_C_FACTOR))
        plane = refl[b]
        corrected = np.clip(plane * factor, np.float32(BRDF_MIN), np.float32(BRDF_MAX))  # float32, not rounded
        normalised = land & (plane != nodata)
        plane[normalised] = corrected[normalised]
