"""Multi-temporal outlier test of a block (numba) and its pure-numpy twin: clouds and shadows the L2A masks missed.

The L2A masks miss thin clouds, the thin edges of thick ones and shifted shadows (MAJA's own accuracy is about 91 %),
and a missed cloud enters the weighted mean with full weight. The synthesis sees every date of the window at once,
so, as MAJA's multi-temporal tests do against a cloud-free reference image, each pixel's clear land observations
are compared with a robust reference made from the same pixel's other clear observations:

1. **Candidates.** The observations of class land (FLG 4) whose test bands are all valid. If there are fewer than
   ``min_clear`` (3: with two, nothing says which one is wrong), the pixel is left as it is.
2. **Shadow test** (needs ``nir_band`` and ``shadow_band``). References: the upper median of the candidates, per band
   (the value of rank ``n // 2`` in ascending order; shadows pull values down, so the upper one of the two middle
   values). An observation darker than its reference by more than the fraction ``shadow_darkening`` in NIR **and**
   in the second band (SWIR at 20 m, red at 10 m) is a shadow: a cloud shadow removes the direct sun, so every band
   darkens together, to the diffuse skylight (10-30 % of the sunlit value). A surface change does not do that:
   a harvest, a cut or senescence lowers NIR but raises red and SWIR (bare soil or dry matter instead of
   chlorophyll and leaf water), a green-up raises NIR, so their NIR and SWIR/red move in opposite directions and
   they are kept. (A surface that darkens in every band, such as soil wetted by rain, is rejected like a shadow: a
   transient state a monthly synthesis is better without.)
3. **Haze test** (needs ``haze_band`` and ``nir_band``), on the candidates the shadow test kept, if ``min_clear`` of
   them remain. Reference: the value of rank ``floor(haze_quantile * (n - 1))`` of the haze band (blue at 10 m,
   705 nm red edge at 20 m, where there is no blue), low because haze only ever brightens. An observation is thin
   cloud or haze when its haze band exceeds the reference by more than ``haze_rise + haze_rise_relative *
   reference`` (an absolute floor for the noise of dark surfaces plus a part growing with the reference, since
   surfaces and their atmospheric-correction errors vary in proportion to their brightness) **and** its NIR is not
   darker than the upper-median NIR by more than the fraction ``haze_nir_drop``. A thin cloud adds a nearly flat
   reflectance, large next to a dark blue surface and small next to a bright NIR one, and it never darkens NIR
   much (what its transmittance takes from the surface its own reflectance gives back). The surface changes that
   brighten the blue, harvest, mowing, senescence, come with a NIR drop (vegetation replaced by soil or dry
   matter), and a green-up darkens the blue: they are kept.
4. **Spectral guard of the haze test** (needs the second band too; off with ``haze_flatness`` 0). Some surface
   changes brighten the blue without a NIR drop: soil drying after rain, a ripe cereal cut to bright stubble and
   straw. They differ from haze in colour: a thin cloud adds a nearly flat reflectance (water droplets scatter
   all visible wavelengths alike, haze aerosols favour the blue), which raises a dark band by about as much as a
   bright one, and what it takes back through its transmittance is proportional to the surface, so larger in the
   brighter longer band; its rise in the haze band is therefore at least about its rise in a longer band. Soil
   and dry matter get brighter from the blue to the red and on into the SWIR (and drying acts most in the SWIR,
   where water absorbs), so as they brighten, the longer band rises more than the haze band. The guard band is the
   second band of the shadow test: red B4 at 10 m, SWIR B11 at 20 m. At 20 m there is no red, and B6 and B7 would
   not do: they lie on the red edge, where a soil is barely brighter than at 705 nm (a drying soil would rise about
   as much there as in B5, like haze) and where any change of the vegetation moves them most. SWIR separates the
   two causes widely: soil and straw are brightest there and drying acts most there, while a thin cloud adds less
   there than in the visible (ice and liquid water absorb at 1.6 um, aerosols hardly scatter there) and takes more
   back from the brighter surface. The rise of each band is measured against its own reference, the value of the
   same rank (``haze_quantile``) among the same observations (the candidates the shadow test kept). An observation
   meeting the conditions of 3 is haze only if ``rise(haze band) >= haze_flatness * rise(second band)``. With 0.8,
   the red may rise up to 1.25 times as much as the blue: margin for a cloud that is not quite flat and for the
   noise of each band (a thin cloud over a canopy raises blue and red by about the same, over a soil the red
   less). A soil's red-to-blue reflectance ratio is about 1.3-1.7, so a soil brightening by a common factor has a
   ratio of rises of 0.59-0.77, and it is kept. A guard band that falls while the haze band rises never saves an
   observation. Soils whose red-to-blue ratio is below 1.25 (grey, dark, organic soils) can still be taken for
   haze when they dry at 10 m.

A rejected observation is given the cloud class (FLG 1) in ``out_class``: it leaves the average, WGT and NOB like an
observation the mask called cloud. The pixel itself stays land: at least half of the candidates pass the shadow test
(those at or above the upper median in NIR) and, among them, at least the reference of the haze test passes (its
rise is 0, below any positive limit). The guard only keeps observations the haze test would otherwise reject.
Other classes (snow, water, cloud, not observed) and observations with an invalid test band are never changed.

Values are compared in float64 from the block's reflectance (x 10000, nodata -10000); thresholds come in the same
units. References are order statistics (no arithmetic), so the results do not depend on the order of the dates.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from l2a.constants import REFLECTANCE_NODATA

from ..flags import FLG_CLOUD, FLG_LAND

__all__ = ["screen_outliers", "screen_outliers_ref"]


_CHUNK_COLS = 512  # columns per inner chunk: contiguous runs for the date-major loops, small per-thread scratch


@njit(cache=True, nogil=True)
def _select_rank(values, rank, m, out, n_less, n_less_equal):
    # Per column j, the value of rank rank[j] (0-based, ascending) among values[:, j] (non-candidates are +inf):
    # values[i, j] is it when fewer than rank + 1 values are below it and more than rank are at most it. Counting
    # instead of sorting keeps the loops branch-free over contiguous columns (a few tens of dates: D^2 compares),
    # and a selection (no arithmetic) gives the same value whatever the order of the dates.
    n_dates = values.shape[0]
    inf32 = np.float32(math.inf)
    for j in range(m):
        out[j] = math.inf
    for i in range(n_dates):
        row_i = values[i]
        for j in range(m):
            n_less[j] = 0
            n_less_equal[j] = 0
        for k in range(n_dates):
            row_k = values[k]
            for j in range(m):
                n_less[j] += np.int32(1) if row_k[j] < row_i[j] else np.int32(0)
                n_less_equal[j] += np.int32(1) if row_k[j] <= row_i[j] else np.int32(0)
        for j in range(m):
            hit = (row_i[j] < inf32) & (n_less[j] <= rank[j]) & (rank[j] < n_less_equal[j])
            out[j] = np.float64(row_i[j]) if hit else out[j]


@njit(parallel=True, cache=True, nogil=True)
def _screen_kernel(refl, obs_class, haze_band, nir_band, shadow_band, min_clear, haze_rise, haze_rise_relative,
                   haze_nir_keep, haze_quantile, shadow_keep, haze_flatness, chunk, out_class):
    # Rows are independent (prange); within a row, chunks of columns with date-major loops over contiguous runs.
    n_dates, _, n_rows, n_cols = refl.shape
    nodata = REFLECTANCE_NODATA
    do_shadow = (nir_band >= 0) & (shadow_band >= 0)
    do_haze = (haze_band >= 0) & (nir_band >= 0)
    do_guard = do_haze & (shadow_band >= 0) & (haze_flatness > 0.0)  # spectral guard of the haze test
    inf32 = np.float32(math.inf)
    for r in prange(n_rows):
        # candidate values, +inf for non-candidates; float32 holds int16 and float32 reflectance exactly, and is
        # twice as wide as float64 in SIMD compares; every threshold is computed in float64
        nir = np.empty((n_dates, chunk), dtype=np.float32)
        second = np.empty((n_dates, chunk), dtype=np.float32)  # then +inf for the shadows too (guard band)
        haze = np.empty((n_dates, chunk), dtype=np.float32)  # then +inf for the shadows too
        n = np.empty(chunk, dtype=np.int64)
        rank = np.empty(chunk, dtype=np.int32)
        nir_ref = np.empty(chunk, dtype=np.float64)
        second_ref = np.empty(chunk, dtype=np.float64)
        haze_ref = np.empty(chunk, dtype=np.float64)
        guard_ref = np.empty(chunk, dtype=np.float64)
        suspect = np.empty((n_dates, chunk), dtype=np.uint8)  # rejected by the haze test before its guard
        n_less = np.empty(chunk, dtype=np.int32)
        n_less_equal = np.empty(chunk, dtype=np.int32)
        for c0 in range(0, n_cols, chunk):
            m = min(chunk, n_cols - c0)
            for d in range(n_dates):
                out_class[d, r, c0:c0 + m] = obs_class[d, r, c0:c0 + m]
            if not (do_shadow | do_haze):
                continue
            for j in range(m):
                n[j] = 0
            for d in range(n_dates):
                class_row = obs_class[d, r, c0:c0 + m]
                nir_row = refl[d, nir_band, r, c0:c0 + m]
                second_row = refl[d, max(shadow_band, 0), r, c0:c0 + m]
                haze_row = refl[d, max(haze_band, 0), r, c0:c0 + m]
                for j in range(m):
                    valid = ((class_row[j] == FLG_LAND) & (nir_row[j] != nodata)
                             & ((shadow_band < 0) | (second_row[j] != nodata))
                             & ((haze_band < 0) | (haze_row[j] != nodata)))
                    nir[d, j] = np.float32(nir_row[j]) if valid else inf32
                    second[d, j] = np.float32(second_row[j]) if valid else inf32
                    haze[d, j] = np.float32(haze_row[j]) if valid else inf32
                    n[j] += 1 if valid else 0
            for j in range(m):
                rank[j] = np.int32(n[j] // 2)  # upper median
            _select_rank(nir, rank, m, nir_ref, n_less, n_less_equal)
            if do_shadow:
                _select_rank(second, rank, m, second_ref, n_less, n_less_equal)
                for d in range(n_dates):
                    out_row = out_class[d, r, c0:c0 + m]
                    for j in range(m):
                        is_shadow = ((n[j] >= min_clear) & (np.float64(nir[d, j]) < shadow_keep * nir_ref[j])
                                     & (np.float64(second[d, j]) < shadow_keep * second_ref[j]))
                        out_row[j] = FLG_CLOUD if is_shadow else out_row[j]
                        haze[d, j] = inf32 if is_shadow else haze[d, j]  # out of the haze test
                        second[d, j] = inf32 if is_shadow else second[d, j]  # and out of its guard reference
            if not do_haze:
                continue
            for j in range(m):
                n[j] = 0
            for d in range(n_dates):
                for j in range(m):
                    n[j] += 1 if haze[d, j] < inf32 else 0
            for j in range(m):
                rank[j] = np.int32(max(int(math.floor(haze_quantile * (n[j] - 1))), 0))
            _select_rank(haze, rank, m, haze_ref, n_less, n_less_equal)
            n_suspects = 0
            for d in range(n_dates):
                out_row = out_class[d, r, c0:c0 + m]
                for j in range(m):
                    limit = haze_ref[j] + haze_rise + haze_rise_relative * max(haze_ref[j], 0.0)
                    value = np.float64(haze[d, j])
                    is_haze = ((n[j] >= min_clear) & (value < math.inf) & (value > limit)
                               & (np.float64(nir[d, j]) >= haze_nir_keep * nir_ref[j]))
                    out_row[j] = FLG_CLOUD if is_haze else out_row[j]
                    suspect[d, j] = np.uint8(1) if is_haze else np.uint8(0)
                    n_suspects += 1 if is_haze else 0
            if not do_guard or n_suspects == 0:
                continue
            # spectral guard, only in the chunks where the haze test rejected something: the reference of the second
            # band is its value of the same rank among the same candidates (shadows are +inf there too), and a
            # suspect whose haze band rose less than haze_flatness times the second band's rise is given back its
            # class, land (suspects are finite, so "<" is exactly the negation of the twin's ">=")
            _select_rank(second, rank, m, guard_ref, n_less, n_less_equal)
            for d in range(n_dates):
                out_row = out_class[d, r, c0:c0 + m]
                for j in range(m):
                    rise = np.float64(haze[d, j]) - haze_ref[j]
                    steeper = rise < haze_flatness * (np.float64(second[d, j]) - guard_ref[j])
                    out_row[j] = FLG_LAND if (suspect[d, j] != 0) & steeper else out_row[j]


def _check_inputs(refl, obs_class, haze_band, nir_band, shadow_band, min_clear, haze_rise, haze_rise_relative,
                  haze_nir_drop, haze_quantile, shadow_darkening, haze_flatness, out_class):
    if not isinstance(refl, np.ndarray) or refl.ndim != 4 or refl.dtype not in (np.float32, np.int16):
        raise ValueError("refl must be a float32 or int16 array (dates, bands, rows, cols)")
    n_dates, n_bands, n_rows, n_cols = refl.shape
    for array, name in ((obs_class, "obs_class"), (out_class, "out_class")):
        if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.shape != (n_dates, n_rows, n_cols):
            raise ValueError(f"{name} must be a uint8 array of shape {(n_dates, n_rows, n_cols)}")
    for value, name in ((haze_band, "haze_band"), (nir_band, "nir_band"), (shadow_band, "shadow_band")):
        if not -1 <= int(value) < n_bands:
            raise ValueError(f"{name} {value} is not -1 or a band index below {n_bands}")
    if int(min_clear) < 1:
        raise ValueError(f"min_clear {min_clear} must be at least 1")
    if not 0.0 <= float(haze_quantile) <= 1.0:
        raise ValueError(f"haze_quantile {haze_quantile} is not in [0, 1]")
    if not (0.0 <= float(haze_nir_drop) <= 1.0 and 0.0 <= float(shadow_darkening) <= 1.0):
        raise ValueError("haze_nir_drop and shadow_darkening must be fractions in [0, 1]")
    if not (math.isfinite(haze_rise) and math.isfinite(haze_rise_relative)):
        raise ValueError("haze_rise and haze_rise_relative must be finite")
    if not (math.isfinite(haze_flatness) and float(haze_flatness) >= 0.0):
        raise ValueError(f"haze_flatness {haze_flatness} must be finite and at least 0")


def screen_outliers(refl: np.ndarray, obs_class: np.ndarray, haze_band: int, nir_band: int, shadow_band: int,
                    min_clear: int, haze_rise: float, haze_rise_relative: float, haze_nir_drop: float,
                    haze_quantile: float, shadow_darkening: float, haze_flatness: float,
                    out_class: np.ndarray) -> None:
    """Give the cloud class to the clear land observations that differ from the pixel's other dates as a cloud or
    a shadow does (see the module; numba, parallel over rows).

    Parameters
    ----------
    refl : numpy.ndarray
        float32 or int16 (dates, bands, rows, cols), reflectance x 10000 (BRDF-normalised where the synthesis
        normalises), nodata -10000.
    obs_class : numpy.ndarray
        uint8 (dates, rows, cols), class of each observation (FLG codes; only 4, land, is tested).
    haze_band, nir_band, shadow_band : int
        Band indices of the haze band (blue B2 at 10 m, B5 at 20 m), NIR (B8, B8A) and the second band (red B4 at
        10 m, SWIR B11 at 20 m), which darkens with NIR in a shadow only and is the spectral guard of the haze test;
        -1 when absent: the tests needing it are skipped (without a second band, the haze test runs unguarded).
    min_clear : int
        Candidates (clear land observations with valid test bands) needed for a test to run (>= 1; 3).
    haze_rise : float
        Rise of the haze band above its reference always allowed, reflectance x 10000.
    haze_rise_relative : float
        Allowed rise per unit of reference (unitless).
    haze_nir_drop : float
        An observation whose NIR is darker than the upper-median NIR by more than this fraction (0-1) is a surface
        change, never haze.
    haze_quantile : float
        Quantile (0-1) of the haze band taken as reference (lower rank).
    shadow_darkening : float
        Fraction (0-1) by which NIR and the second band must both be darker than their upper medians for a shadow.
    haze_flatness : float
        Spectral guard of the haze test (unitless, >= 0; 0.8): an observation is haze only if the rise of its haze
        band above its reference is at least ``haze_flatness`` times the rise of its second band above the second
        band's reference (same rank, same observations); 0 turns the guard off.
    out_class : numpy.ndarray
        uint8 (dates, rows, cols), written: ``obs_class`` with the rejected observations set to 1 (cloud); may be
        ``obs_class`` itself.
    """
    _check_inputs(refl, obs_class, haze_band, nir_band, shadow_band, min_clear, haze_rise, haze_rise_relative,
                  haze_nir_drop, haze_quantile, shadow_darkening, haze_flatness, out_class)
    _screen_kernel(refl, obs_class, int(haze_band), int(nir_band), int(shadow_band), int(min_clear),
                   float(haze_rise), float(haze_rise_relative), 1.0 - float(haze_nir_drop), float(haze_quantile),
                   1.0 - float(shadow_darkening), float(haze_flatness), max(1, min(_CHUNK_COLS, refl.shape[3])),
                   out_class)


def screen_outliers_ref(refl: np.ndarray, obs_class: np.ndarray, haze_band: int, nir_band: int, shadow_band: int,
                        min_clear: int, haze_rise: float, haze_rise_relative: float, haze_nir_drop: float,
                        haze_quantile: float, shadow_darkening: float, haze_flatness: float,
                        out_class: np.ndarray) -> None:
    """Pure-numpy twin of :func:`screen_outliers`: same arguments, same output bit for bit.

    Whole-block arrays: non-candidates are pushed to +inf so that a sort along the dates puts the candidates first,
    and the references are read at their ranks.
    """
    _check_inputs(refl, obs_class, haze_band, nir_band, shadow_band, min_clear, haze_rise, haze_rise_relative,
                  haze_nir_drop, haze_quantile, shadow_darkening, haze_flatness, out_class)
    nodata = REFLECTANCE_NODATA
    result = obs_class.copy()
    do_shadow = nir_band >= 0 and shadow_band >= 0
    do_haze = haze_band >= 0 and nir_band >= 0
    if not (do_shadow or do_haze) or refl.shape[0] == 0:
        out_class[...] = result
        return
    used = [b for b in (haze_band, nir_band, shadow_band) if b >= 0]
    candidate = (obs_class == FLG_LAND) & (refl[:, used] != nodata).all(axis=1)
    n = candidate.sum(axis=0)
    active = n >= min_clear

    def rank_value(values, member, rank):
        """Value of the given rank (per pixel) among the members, in ascending order."""
        ordered = np.sort(np.where(member, values, np.inf), axis=0)
        return np.take_along_axis(ordered, np.maximum(rank, 0)[None], axis=0)[0]

    nir = refl[:, nir_band].astype(np.float64)
    nir_ref = rank_value(nir, candidate, n // 2)
    shadow = np.zeros(candidate.shape, dtype=bool)
    if do_shadow:
        second = refl[:, shadow_band].astype(np.float64)
        second_ref = rank_value(second, candidate, n // 2)
        keep = 1.0 - float(shadow_darkening)
        shadow = candidate & active & (nir < keep * nir_ref) & (second < keep * second_ref)
    haze_rejected = np.zeros(candidate.shape, dtype=bool)
    if do_haze:
        remaining = candidate & ~shadow
        m = remaining.sum(axis=0)
        haze = refl[:, haze_band].astype(np.float64)
        rank = np.floor(float(haze_quantile) * (m - 1).astype(np.float64)).astype(np.int64)
        haze_ref = rank_value(haze, remaining, rank)
        limit = haze_ref + float(haze_rise) + float(haze_rise_relative) * np.maximum(haze_ref, 0.0)
        nir_keep = 1.0 - float(haze_nir_drop)
        haze_rejected = remaining & (active & (m >= min_clear)) & (haze > limit) & (nir >= nir_keep * nir_ref)
        if shadow_band >= 0 and float(haze_flatness) > 0.0:  # spectral guard: the second band, same rank
            second = refl[:, shadow_band].astype(np.float64)
            guard_ref = rank_value(second, remaining, rank)
            with np.errstate(invalid="ignore"):  # inf - inf where a pixel has no candidate: never rejected
                flat = (haze - haze_ref) >= float(haze_flatness) * (second - guard_ref)
            haze_rejected &= flat
    result[shadow | haze_rejected] = FLG_CLOUD
    out_class[...] = result
