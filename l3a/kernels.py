"""The fused per-pixel synthesis kernel (numba) and its pure-numpy twin.

:func:`compose_block` takes a block of rows of every date of the window at once (already weighted and classified by
the driver) and writes the composite reflectance, WGT, the weighted-mean day, FLG and NOB of the block
(SPEC sections 3 and 4). :func:`compose_block_ref` computes the same outputs with plain numpy, bit for bit.

Rules per pixel, over the observations of the window (an observation counts only if its class is not 0 and at least
one of its bands is valid):

1. **Land** if there is any land observation (FLG 4): weighted mean of the land observations only; snow, water and
   clouds never enter it. A band that is nodata in some observations is averaged over the observations valid in that
   band (nodata -10000 if none is). If the weights of the observations valid in a band sum to 0 (for instance all of
   them inside the zero-weight core of a large cloud field), the plain mean of those observations is used (no 0/0).
   WGT = round(1000 * sum of weights), clipped at 32767; NOB = number of land observations (clipped at 255); the
   day is the weighted mean of the land observations' days (plain mean if the weights sum to 0).
2. Otherwise **snow or water** (FLG 2 or 3). Rule ``weighted`` (0): the class with the larger summed weight (ties:
   the larger count, then the class of the latest acquisition), averaged like land; WGT and NOB as for land.
   Rule ``latest`` (1, WASP): the latest acquisition (highest ``latest_rank``) among the snow and water
   observations, taken as it is; WGT 0 (as WASP), NOB 1, its day.
3. Otherwise **always cloudy** (FLG 1) if there is any cloudy observation: the one with the lowest blue reflectance
   (``blue_band``; nodata blue ranks last; with ``blue_band = -1``, the mean of its valid bands), ties to the earliest
   acquisition; taken as it is, WGT 0, NOB 0, its day.
4. Otherwise **nodata**: reflectance -10000, WGT -10000, day NaN, FLG 0, NOB 0.

Means are accumulated in float64 and rounded once, half away from zero. Weights that are negative, NaN or infinite
count as 0.
Dates are visited in acquisition order (``latest_rank``), whatever their order in the arrays, so float sums, ties and
therefore every output are independent of input order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "FLG_NODATA",
    "FLG_CLOUD",
    "FLG_SNOW",
    "FLG_WATER",
    "FLG_LAND",
    "REFLECTANCE_NODATA",
    "WGT_NODATA",
    "DTS_NODATA",
    "WGT_MAX",
    "SNOW_WATER_RULE_CODES",
    "SNOW_AND_WATER_CODES",
    "compose_block",
    "compose_block_ref",
    "prepare_date_block",
    "prepare_date_block_ref",
    "day_of_year_from_day_number",
    "day_of_year_from_day_number_ref",
]

# Observation classes (obs_class) and FLG values: the same codes.
FLG_NODATA = 0  # not observed: nodata, outside the swath
FLG_CLOUD = 1  # cloud or cloud shadow
FLG_SNOW = 2
FLG_WATER = 3
FLG_LAND = 4

REFLECTANCE_NODATA = -10000  # int16 reflectance x 10000
WGT_NODATA = -10000  # WGT where FLG is 0
DTS_NODATA = -10000  # DTS where FLG is 0
WGT_MAX = 32767  # WGT clip (int16)
NOB_MAX = 255  # NOB clip (uint8)

#: ``CompositeParams.snow_water_rule`` -> the ``snow_water_rule`` code of the kernels.
SNOW_WATER_RULE_CODES = {"weighted": 0, "latest": 1}

_EPOCH = np.datetime64("1970-01-01", "D")
_CHUNK_COLS = 1024  # columns per inner chunk of the kernel: long contiguous runs, ~0.4 MB scratch per thread (L2)


@njit(cache=True, nogil=True)
def _round_half_away(x):
    if x >= 0.0:
        return math.floor(x + 0.5)
    return -math.floor(-x + 0.5)


@njit(parallel=True, cache=True, nogil=True)
def _compose_block_kernel(refl, weight, obs_class, day_number, order, blue_band, snow_water_rule, chunk,
                          out_refl, out_wgt, out_day, out_flg, out_nob):
    # Rows are independent (prange). Within a row, pixels go by chunks of `chunk` columns and, inside a chunk, loops
    # run date -> band -> column over contiguous runs with selects instead of branches (SIMD-friendly, no branch
    # mispredictions on mixed classes). Per pixel, every sum still runs over the dates in visiting order and a
    # non-member only ever adds an exact 0.0 (x + 0.0 == x), so results equal the pixel-by-pixel definition of
    # compose_block_ref bit for bit.
    n_dates, n_bands, n_rows, n_cols = refl.shape
    nodata = REFLECTANCE_NODATA
    for r in prange(n_rows):
        # per-row scratch (per thread), sized for one chunk
        eff = np.zeros((n_dates, chunk), dtype=np.uint8)  # effective class of (visit i, pixel j); 0 = not used
        wgt = np.zeros((n_dates, chunk), dtype=np.float64)  # sanitised weight of (visit i, pixel j)
        observed = np.zeros(chunk, dtype=np.uint8)  # any band valid, for the current visit
        band_sum = np.zeros(chunk, dtype=np.float64)  # sum and count of valid bands (darkest cloud without blue)
        band_count = np.zeros(chunk, dtype=np.int64)
        n_land = np.zeros(chunk, dtype=np.int64)
        n_snow = np.zeros(chunk, dtype=np.int64)
        n_water = np.zeros(chunk, dtype=np.int64)
        w_snow = np.zeros(chunk, dtype=np.float64)
        w_water = np.zeros(chunk, dtype=np.float64)
        latest_i = np.zeros(chunk, dtype=np.int64)
        cloud_i = np.zeros(chunk, dtype=np.int64)
        cloud_key = np.zeros(chunk, dtype=np.float64)
        chosen = np.zeros(chunk, dtype=np.uint8)
        single = np.zeros(chunk, dtype=np.int64)
        sel = np.zeros(chunk, dtype=np.float64)  # 1.0 where visit i is a member of the pixel's averaged class
        sel_w = np.zeros(chunk, dtype=np.float64)  # its weight where a member, else 0.0
        total_w = np.zeros(chunk, dtype=np.float64)
        total_wd = np.zeros(chunk, dtype=np.float64)
        total_d = np.zeros(chunk, dtype=np.float64)
        n_obs = np.zeros(chunk, dtype=np.int64)
        sum_wv = np.zeros((n_bands, chunk), dtype=np.float64)
        sum_w = np.zeros((n_bands, chunk), dtype=np.float64)
        for c0 in range(0, n_cols, chunk):
            m = min(chunk, n_cols - c0)
            for j in range(m):
                n_land[j] = 0
                n_snow[j] = 0
                n_water[j] = 0
                w_snow[j] = 0.0
                w_water[j] = 0.0
                latest_i[j] = -1
                cloud_i[j] = -1
                cloud_key[j] = math.inf

            # pass 1: effective classes, class weights, latest snow/water, darkest cloud
            for i in range(n_dates):
                d = order[i]
                for j in range(m):
                    observed[j] = 0
                for b in range(n_bands):
                    row = refl[d, b, r, c0:c0 + m]
                    for j in range(m):
                        observed[j] |= row[j] != nodata
                if blue_band < 0:
                    for j in range(m):
                        band_sum[j] = 0.0
                        band_count[j] = 0
                    for b in range(n_bands):
                        row = refl[d, b, r, c0:c0 + m]
                        for j in range(m):
                            valid = row[j] != nodata
                            band_sum[j] += np.float64(row[j]) if valid else 0.0
                            band_count[j] += 1 if valid else 0
                class_row = obs_class[d, r, c0:c0 + m]
                weight_row = weight[d, r, c0:c0 + m]
                blue_row = refl[d, max(blue_band, 0), r, c0:c0 + m]
                eff_row = eff[i]
                wgt_row = wgt[i]
                for j in range(m):
                    k = class_row[j]
                    k = k if ((k <= FLG_LAND) & (observed[j] != 0)) else 0
                    eff_row[j] = k
                    w = np.float64(weight_row[j])
                    w = w if ((w > 0.0) & (w < math.inf)) else 0.0  # negative, NaN or infinite -> 0
                    wgt_row[j] = w
                    is_snow = k == FLG_SNOW
                    is_water = k == FLG_WATER
                    n_land[j] += 1 if k == FLG_LAND else 0
                    n_snow[j] += 1 if is_snow else 0
                    n_water[j] += 1 if is_water else 0
                    w_snow[j] += w if is_snow else 0.0
                    w_water[j] += w if is_water else 0.0
                    # visited in acquisition order: the last snow/water one seen is the latest
                    latest_i[j] = i if (is_snow | is_water) else latest_i[j]
                    if blue_band >= 0:
                        v = blue_row[j]
                        key = math.inf if v == nodata else np.float64(v)
                    else:
                        key = band_sum[j] / max(band_count[j], 1)
                    better = (k == FLG_CLOUD) & ((cloud_i[j] < 0) | (key < cloud_key[j]))
                    cloud_i[j] = i if better else cloud_i[j]
                    cloud_key[j] = key if better else cloud_key[j]

            # class of each pixel, and whether it is averaged (single < 0) or taken from one observation
            for j in range(m):
                single[j] = -1
                if n_land[j] > 0:
                    chosen[j] = FLG_LAND
                elif n_snow[j] + n_water[j] > 0:
                    latest_class = eff[latest_i[j], j]
                    if snow_water_rule == 1:
                        chosen[j] = latest_class
                        single[j] = latest_i[j]
                    elif w_snow[j] > w_water[j]:
                        chosen[j] = FLG_SNOW
                    elif w_water[j] > w_snow[j]:
                        chosen[j] = FLG_WATER
                    elif n_snow[j] > n_water[j]:
                        chosen[j] = FLG_SNOW
                    elif n_water[j] > n_snow[j]:
                        chosen[j] = FLG_WATER
                    else:
                        chosen[j] = latest_class
                elif cloud_i[j] >= 0:
                    chosen[j] = FLG_CLOUD
                    single[j] = cloud_i[j]
                else:
                    chosen[j] = FLG_NODATA
                total_w[j] = 0.0
                total_wd[j] = 0.0
                total_d[j] = 0.0
                n_obs[j] = 0
            for b in range(n_bands):
                for j in range(m):
                    sum_wv[b, j] = 0.0
                    sum_w[b, j] = 0.0

            # pass 2: weighted sums over the observations of the averaged class, dates in visiting order
            for i in range(n_dates):
                d = order[i]
                day = day_number[d]
                eff_row = eff[i]
                wgt_row = wgt[i]
                for j in range(m):
                    member = (single[j] < 0) & (chosen[j] != FLG_NODATA) & (eff_row[j] == chosen[j])
                    sel[j] = 1.0 if member else 0.0
                    sel_w[j] = wgt_row[j] if member else 0.0
                    total_w[j] += sel_w[j]
                    total_wd[j] += sel_w[j] * day
                    total_d[j] += sel[j] * day
                    n_obs[j] += 1 if member else 0
                for b in range(n_bands):
                    row = refl[d, b, r, c0:c0 + m]
                    band_wv = sum_wv[b]
                    band_w = sum_w[b]
                    for j in range(m):
                        v = row[j]
                        # a valid member adds w; a valid zero-weight member adds 0.0 to sum_w, so sum_w[b] > 0
                        # tells a weighted mean; sum_w[b] == 0 is resolved below by a rare re-scan
                        fw = sel_w[j] if v != nodata else 0.0
                        band_wv[j] += fw * np.float64(v)
                        band_w[j] += fw

            # outputs: per pixel, then band by band (contiguous writes)
            for j in range(m):
                c = c0 + j
                k = chosen[j]
                out_flg[r, c] = k
                if k == FLG_NODATA:
                    out_wgt[r, c] = WGT_NODATA
                    out_day[r, c] = np.nan
                    out_nob[r, c] = 0
                elif single[j] >= 0:
                    out_wgt[r, c] = 0
                    out_day[r, c] = day_number[order[single[j]]]
                    out_nob[r, c] = 0 if k == FLG_CLOUD else 1
                else:
                    out_wgt[r, c] = np.int16(math.floor(min(1000.0 * total_w[j], float(WGT_MAX)) + 0.5))
                    if total_w[j] > 0.0:
                        out_day[r, c] = total_wd[j] / total_w[j]
                    else:
                        out_day[r, c] = total_d[j] / n_obs[j]
                    out_nob[r, c] = min(n_obs[j], NOB_MAX)
            for b in range(n_bands):
                band_wv = sum_wv[b]
                band_w = sum_w[b]
                out_row = out_refl[b, r, c0:c0 + m]
                for j in range(m):
                    k = chosen[j]
                    if k == FLG_NODATA:
                        out_row[j] = nodata
                    elif single[j] >= 0:
                        out_row[j] = refl[order[single[j]], b, r, c0 + j]
                    elif band_w[j] > 0.0:
                        out_row[j] = np.int16(_round_half_away(band_wv[j] / band_w[j]))
                    else:
                        # no weight in this band: plain mean of the members valid in it (nodata if none)
                        s = 0.0
                        n = 0
                        for i in range(n_dates):
                            if eff[i, j] == k:
                                v = refl[order[i], b, r, c0 + j]
                                if v != nodata:
                                    s += np.float64(v)
                                    n += 1
                        out_row[j] = nodata if n == 0 else np.int16(_round_half_away(s / n))


def _check_inputs(refl, weight, obs_class, day_number, latest_rank, blue_band, snow_water_rule,
                  out_refl, out_wgt, out_day, out_flg, out_nob):
    """Validate shapes and dtypes; return the visiting order (argsort of latest_rank)."""
    def need(array, name, dtype, shape):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
        if array.dtype != dtype:
            raise TypeError(f"{name} must be {np.dtype(dtype).name}, got {array.dtype.name}")
        if array.shape != shape:
            raise ValueError(f"{name} must have shape {shape}, got {array.shape}")

    if not isinstance(refl, np.ndarray) or refl.ndim != 4:
        raise ValueError("refl must be a 4-D array (dates, bands, rows, cols)")
    n_dates, n_bands, n_rows, n_cols = refl.shape
    if n_bands < 1:
        raise ValueError("refl must have at least one band")
    need(refl, "refl", np.int16, refl.shape)
    need(weight, "weight", np.float32, (n_dates, n_rows, n_cols))
    need(obs_class, "obs_class", np.uint8, (n_dates, n_rows, n_cols))
    need(day_number, "day_number", np.float64, (n_dates,))
    need(latest_rank, "latest_rank", np.int32, (n_dates,))
    need(out_refl, "out_refl", np.int16, (n_bands, n_rows, n_cols))
    need(out_wgt, "out_wgt", np.int16, (n_rows, n_cols))
    need(out_day, "out_day", np.float64, (n_rows, n_cols))
    need(out_flg, "out_flg", np.uint8, (n_rows, n_cols))
    need(out_nob, "out_nob", np.uint8, (n_rows, n_cols))
    if not -1 <= int(blue_band) < n_bands:
        raise ValueError(f"blue_band {blue_band} is not -1 or a band index below {n_bands}")
    if int(snow_water_rule) not in SNOW_WATER_RULE_CODES.values():
        raise ValueError(f"snow_water_rule {snow_water_rule} is not one of {sorted(SNOW_WATER_RULE_CODES.values())}")
    if not np.all(np.isfinite(day_number)):
        raise ValueError("day_number must be finite")
    if np.unique(latest_rank).size != n_dates:
        raise ValueError("latest_rank must be distinct for every date (acquisition order)")
    if obs_class.size and obs_class.max() > FLG_LAND:
        raise ValueError(f"obs_class holds a value above {FLG_LAND}")
    return np.argsort(latest_rank, kind="stable").astype(np.int64)


def compose_block(refl: np.ndarray, weight: np.ndarray, obs_class: np.ndarray, day_number: np.ndarray,
                  latest_rank: np.ndarray, blue_band: int, snow_water_rule: int, out_refl: np.ndarray,
                  out_wgt: np.ndarray, out_day: np.ndarray, out_flg: np.ndarray, out_nob: np.ndarray) -> None:
    """Composite a block of rows over all dates (numba, parallel over rows).

    Parameters
    ----------
    refl : numpy.ndarray
        int16 (dates, bands, rows, cols), reflectance x 10000, nodata -10000 (BRDF-normalised if wanted).
    weight : numpy.ndarray
        float32 (dates, rows, cols), ``W_cloud * W_aot * W_date * W_edge`` (>= 0; negative, NaN or infinite count as 0).
    obs_class : numpy.ndarray
        uint8 (dates, rows, cols), class of each observation decided by the driver in SPEC order: 0 not observed
        (nodata/edge), 1 cloudy (cloud or shadow), 2 snow, 3 water, 4 land.
    day_number : numpy.ndarray
        float64 (dates,), absolute day of each date (days since 1970-01-01, :func:`l3a.weights.day_number`).
    latest_rank : numpy.ndarray
        int32 (dates,), acquisition order of each date (distinct; higher = later). Dates are visited in this order.
    blue_band : int
        Index of B2 in the band axis, or -1 if absent (then the darkest cloudy observation is the one with the
        lowest mean of its valid bands).
    snow_water_rule : int
        0 ``weighted``, 1 ``latest`` (:data:`SNOW_WATER_RULE_CODES`).
    out_refl : numpy.ndarray
        int16 (bands, rows, cols), written: composite reflectance x 10000, nodata -10000.
    out_wgt : numpy.ndarray
        int16 (rows, cols), written: WGT, round(1000 x sum of weights) clipped at 32767; 0 for FLG 1 and for the
        ``latest`` rule; -10000 for FLG 0.
    out_day : numpy.ndarray
        float64 (rows, cols), written: weighted-mean absolute day (days since 1970-01-01), NaN for FLG 0.
    out_flg : numpy.ndarray
        uint8 (rows, cols), written: FLG 0 nodata, 1 cloud, 2 snow, 3 water, 4 land.
    out_nob : numpy.ndarray
        uint8 (rows, cols), written: number of observations averaged (clipped at 255).

    Raises
    ------
    TypeError, ValueError
        If a dtype or shape does not match, ranks repeat, or a class code is unknown.
    """
    order = _check_inputs(refl, weight, obs_class, day_number, latest_rank, blue_band, snow_water_rule,
                          out_refl, out_wgt, out_day, out_flg, out_nob)
    chunk = max(1, min(_CHUNK_COLS, refl.shape[3]))
    _compose_block_kernel(refl, weight, obs_class, day_number, order, int(blue_band), int(snow_water_rule),
                          chunk, out_refl, out_wgt, out_day, out_flg, out_nob)


def compose_block_ref(refl: np.ndarray, weight: np.ndarray, obs_class: np.ndarray, day_number: np.ndarray,
                      latest_rank: np.ndarray, blue_band: int, snow_water_rule: int, out_refl: np.ndarray,
                      out_wgt: np.ndarray, out_day: np.ndarray, out_flg: np.ndarray, out_nob: np.ndarray) -> None:
    """Pure-numpy twin of :func:`compose_block`: same arguments, same outputs bit for bit, much slower.

    Written for reading: whole-block arrays, one date at a time in acquisition order, the same float64 operations in
    the same order as the kernel.
    """
    order = _check_inputs(refl, weight, obs_class, day_number, latest_rank, blue_band, snow_water_rule,
                          out_refl, out_wgt, out_day, out_flg, out_nob)
    n_dates, n_bands, n_rows, n_cols = refl.shape
    nodata = REFLECTANCE_NODATA
    if n_dates == 0:
        out_refl[...], out_wgt[...], out_day[...], out_flg[...], out_nob[...] = nodata, WGT_NODATA, np.nan, 0, 0
        return
    refl = refl[order]
    weight = weight[order]
    day = day_number[order]
    # effective class: 0 where no band is valid (not an observation)
    observed = (refl != nodata).any(axis=1)
    cls = np.where(observed, obs_class[order], 0)
    w = weight.astype(np.float64)
    w = np.where((w > 0.0) & (w < np.inf), w, 0.0)  # negative, NaN or infinite -> 0

    count_of = {k: (cls == k).sum(axis=0) for k in (FLG_SNOW, FLG_WATER, FLG_LAND)}
    w_snow = np.zeros((n_rows, n_cols))
    w_water = np.zeros((n_rows, n_cols))
    for i in range(n_dates):  # in acquisition order, as the kernel
        w_snow = w_snow + np.where(cls[i] == FLG_SNOW, w[i], 0.0)
        w_water = w_water + np.where(cls[i] == FLG_WATER, w[i], 0.0)

    # latest snow/water observation: the highest visiting index among them
    is_snow_water = (cls == FLG_SNOW) | (cls == FLG_WATER)
    index = np.arange(n_dates)[:, None, None]
    latest_i = np.where(is_snow_water, index, -1).max(axis=0)
    latest_class = np.take_along_axis(cls, np.maximum(latest_i, 0)[None], axis=0)[0].astype(np.int64)

    # darkest cloudy observation: lowest blue (nodata blue last), first in acquisition order on ties
    if blue_band >= 0:
        blue = refl[:, blue_band].astype(np.float64)
        key = np.where(refl[:, blue_band] == nodata, np.inf, blue)
    else:
        total = np.zeros((n_dates, n_rows, n_cols))
        for b in range(n_bands):
            total = total + np.where(refl[:, b] != nodata, refl[:, b].astype(np.float64), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            key = total / (refl != nodata).sum(axis=1)
    is_cloud = cls == FLG_CLOUD
    # a cloudy observation with nodata blue ranks after every valid one; non-cloudy ones after all cloudy ones;
    # argmin takes the first minimum, i.e. the earliest acquisition on ties
    key = np.where(is_cloud, np.where(np.isinf(key), np.finfo(np.float64).max, key), np.inf)
    best = np.argmin(key, axis=0)
    any_cloud = is_cloud.any(axis=0)

    # class of each pixel
    n_land, n_snow, n_water = count_of[FLG_LAND], count_of[FLG_SNOW], count_of[FLG_WATER]
    if snow_water_rule == 1:
        snow_water_class = latest_class
    else:
        snow_water_class = np.select(
            [w_snow > w_water, w_water > w_snow, n_snow > n_water, n_water > n_snow],
            [FLG_SNOW, FLG_WATER, FLG_SNOW, FLG_WATER], default=latest_class)
    flg = np.select([n_land > 0, n_snow + n_water > 0, any_cloud],
                    [FLG_LAND, snow_water_class, FLG_CLOUD], default=FLG_NODATA).astype(np.uint8)
    single = np.select([(flg == FLG_CLOUD), (flg == FLG_SNOW) | (flg == FLG_WATER)],
                       [best, latest_i], default=-1)
    if snow_water_rule == 0:
        single = np.where(flg == FLG_CLOUD, single, -1)

    # weighted means of the chosen class (land, or snow/water with the weighted rule)
    averaged = (flg != FLG_NODATA) & (single < 0)
    member = (cls == flg[None]) & averaged[None]
    total_w = np.zeros((n_rows, n_cols))
    total_wd = np.zeros((n_rows, n_cols))
    total_d = np.zeros((n_rows, n_cols))
    sum_wv = np.zeros((n_bands, n_rows, n_cols))
    sum_w = np.zeros((n_bands, n_rows, n_cols))
    sum_v = np.zeros((n_bands, n_rows, n_cols))
    count = np.zeros((n_bands, n_rows, n_cols), dtype=np.int64)
    for i in range(n_dates):
        m = member[i]
        total_w = total_w + np.where(m, w[i], 0.0)
        total_wd = total_wd + np.where(m, w[i] * day[i], 0.0)
        total_d = total_d + np.where(m, day[i], 0.0)
        for b in range(n_bands):
            v = refl[i, b].astype(np.float64)
            mb = m & (refl[i, b] != nodata)
            sum_wv[b] = sum_wv[b] + np.where(mb, w[i] * v, 0.0)
            sum_w[b] = sum_w[b] + np.where(mb, w[i], 0.0)
            sum_v[b] = sum_v[b] + np.where(mb, v, 0.0)
            count[b] = count[b] + mb
    n_obs = member.sum(axis=0)

    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(sum_w > 0.0, sum_wv / sum_w, sum_v / count)
        mean_day = np.where(total_w > 0.0, total_wd / total_w, total_d / n_obs)
    rounded = np.sign(mean) * np.floor(np.abs(mean) + 0.5)
    averaged_refl = np.where(count > 0, rounded, nodata)
    single_refl = np.take_along_axis(refl, np.maximum(single, 0)[None, None], axis=0)[0]
    single_day = day[np.maximum(single, 0)]

    out_refl[...] = np.where(averaged[None], averaged_refl, np.where(single[None] >= 0, single_refl, nodata))
    wgt = np.floor(np.minimum(1000.0 * total_w, float(WGT_MAX)) + 0.5)
    out_wgt[...] = np.select([averaged, single >= 0], [wgt, 0], default=WGT_NODATA)
    out_day[...] = np.select([averaged, single >= 0], [mean_day, single_day], default=np.nan)
    out_flg[...] = flg
    out_nob[...] = np.select([averaged, (single >= 0) & (flg != FLG_CLOUD)], [np.minimum(n_obs, NOB_MAX), 1],
                             default=0)


# --------------------------------------------------------------------------------------------------- per-date inputs

#: ``CompositeParams.snow_and_water_is`` -> the ``snow_and_water`` code of :func:`prepare_date_block`.
SNOW_AND_WATER_CODES = {"snow": 0, "water": 1}

# grids interpolated by prepare_date_block, in the order of its interpolation tables
_GRID_CLOUD, _GRID_EDGE, _GRID_C_FACTOR = 0, 1, 2
# aot argument of the kernel: absent, uint8 DN (weights from a 256-entry table), float32 AOT
_AOT_NONE, _AOT_DN, _AOT_FLOAT = 0, 1, 2


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
                               out_weight, out_class):
    # One pass over the rows of one date: nodata, class, weight and BRDF normalisation. Serial: the driver runs one
    # call per date in its reader threads. Within a row, simple loops over contiguous columns (selects, no
    # branches) let LLVM vectorise. Every float operation is the one (and in the order) of the numpy twin, in the
    # same precision, so results are bit for bit those of prepare_date_block_ref.
    n_bands, n_rows, n_cols = refl.shape
    nodata = REFLECTANCE_NODATA
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
            water = (m & 1) != 0
            snow = (m & 4) != 0
            k = both if (water & snow) else (FLG_WATER if water else (FLG_SNOW if snow else FLG_LAND))
            cloudy = clm_row[c] != 0  # any CLM bit: cloud or shadow
            k = FLG_CLOUD if cloudy else k
            unobserved = (edg_row[c] != 0) | (not valid_any[c]) | ((sat_row[c] != 0) & (not cloudy))
            class_row[c] = FLG_NODATA if unobserved else k

        # BRDF normalisation: rint(reflectance * c) in float32 (half to even), within [-9999, 32767]
        for b in range(n_bands):
            if not has_c_factor[b]:
                continue
            _interpolate_row(c_factors[b], row_index[_GRID_C_FACTOR, 0, r], row_index[_GRID_C_FACTOR, 1, r],
                             row_frac[_GRID_C_FACTOR, r], c_lo, c_hi, coarse_row)
            _interpolate_cols(coarse_row, c_runs, c_i0, c_i1, c_t, weight_row, False)  # reused: the c-factor
            band_row = refl[b, r]
            for c in range(n_cols):
                v = band_row[c]
                x = np.rint(np.float32(v) * weight_row[c])  # an integer, exact in float64 too
                x = -9999.0 if x < -9999.0 else (32767.0 if x > 32767.0 else x)
                band_row[c] = v if v == nodata else np.int16(x)


def _prepare_arguments(refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor,
                       row_index, row_frac, col_index, col_frac, refl_nodata, apply_edge, aot_scale, aot_nodata,
                       date_weight, aot_weight_min, aot_weight_max, aot_max, snow_and_water, out_weight, out_class):
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
    need(refl, "refl", [np.int16])
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
    check_nodata = refl_nodata is not None
    # weights are float32 products: the scalars enter as float32, as numpy casts Python floats against float32
    f32 = np.float32
    return (refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
            col_index, col_frac.astype(np.float32), int(refl_nodata) if check_nodata else 0, check_nodata,
            bool(apply_edge), aot_mode, float(aot_scale) if has_aot else 1.0, float(aot_nodata) if has_aot else 0.0,
            f32(date_weight), f32(aot_weight_min), f32(aot_weight_max - aot_weight_min), f32(aot_weight_max),
            f32(aot_max), has_edge, int(snow_and_water), out_weight, out_class)


def prepare_date_block(refl: np.ndarray, clm: np.ndarray, mg2: np.ndarray, edg: np.ndarray, sat: np.ndarray,
                       aot: np.ndarray | None, cloud_weight: np.ndarray, edge_weight: np.ndarray | None,
                       c_factors: np.ndarray | None, has_c_factor: np.ndarray | None, row_index: np.ndarray,
                       row_frac: np.ndarray, col_index: np.ndarray, col_frac: np.ndarray, *,
                       refl_nodata: int | None, apply_edge: bool, aot_scale: float, aot_nodata: float,
                       date_weight: float, aot_weight_min: float, aot_weight_max: float, aot_max: float,
                       snow_and_water: int, out_weight: np.ndarray, out_class: np.ndarray) -> None:
    """Inputs of :func:`compose_block` for one date of a block, from its raw rasters, in one pass (numba, serial).

    Per pixel: reflectance nodata, observation class, weight ``W_cloud * W_edge * W_aot * W_date`` and BRDF
    normalisation, with the coarse grids (cloud weight, edge weight, c-factors) bilinearly interpolated from
    per-row and per-column tables (:func:`l3a.weights.bilinear_axis`), exactly as
    :func:`l3a.weights.upsample_coarse`, :func:`l3a.weights.aot_weight` and the driver's classes would give them.

    Parameters
    ----------
    refl : numpy.ndarray
        int16 (bands, rows, cols), reflectance x 10000 as stored; modified in place: ``refl_nodata`` and (with
        ``apply_edge``) EDG pixels become -10000, bands with a c-factor are BRDF-normalised
        (``rint(refl * c)`` in float32, clipped to [-9999, 32767]; nodata kept).
    clm, mg2, edg, sat : numpy.ndarray
        uint8 (rows, cols), Theia mask codes: any CLM bit = cloud or shadow; MG2 bit 0 water, bit 2 snow; EDG != 0
        not observed; SAT != 0 saturated (a saturated pixel not cloudy is not observed). Zeros for an absent mask.
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
    out_weight : numpy.ndarray
        float32 (rows, cols), written: the weight.
    out_class : numpy.ndarray
        uint8 (rows, cols), written: class 0 not observed, 1 cloudy, 2 snow, 3 water, 4 land.
    """
    _prepare_date_block_kernel(*_prepare_arguments(
        refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
        col_index, col_frac, refl_nodata, apply_edge, aot_scale, aot_nodata, date_weight, aot_weight_min,
        aot_weight_max, aot_max, snow_and_water, out_weight, out_class))


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
                           out_weight, out_class) -> None:
    """Pure-numpy twin of :func:`prepare_date_block`: same arguments, same results bit for bit."""
    (refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
     col_index, col_frac32, refl_nodata, check_nodata, apply_edge, aot_mode, aot_scale, aot_nodata, date_weight32,
     lo, span, hi, top, has_edge, snow_and_water, out_weight, out_class) = _prepare_arguments(
        refl, clm, mg2, edg, sat, aot, cloud_weight, edge_weight, c_factors, has_c_factor, row_index, row_frac,
        col_index, col_frac, refl_nodata, apply_edge, aot_scale, aot_nodata, date_weight, aot_weight_min,
        aot_weight_max, aot_max, snow_and_water, out_weight, out_class)
    nodata = REFLECTANCE_NODATA
    edge_pixel = (edg != 0) if apply_edge else np.zeros(edg.shape, bool)
    invalid = edge_pixel | ((refl == refl_nodata) if check_nodata else False)
    refl[...] = np.where(invalid, np.int16(nodata), refl)
    valid_any = (refl != nodata).any(axis=0)

    water = (mg2 & 1) != 0
    snow = (mg2 & 4) != 0
    cls = np.full(clm.shape, FLG_LAND, np.uint8)
    cls[water & ~snow] = FLG_WATER
    cls[snow & ~water] = FLG_SNOW
    cls[water & snow] = FLG_SNOW if snow_and_water == SNOW_AND_WATER_CODES["snow"] else FLG_WATER
    cls[clm != 0] = FLG_CLOUD
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

    for b in np.flatnonzero(has_c_factor):
        factor = _interpolate_ref(c_factors[b], *table(_GRID_C_FACTOR))
        plane = refl[b]
        valid = plane != nodata
        corrected = np.clip(np.rint(plane * factor), -9999, 32767).astype(np.int16)
        plane[valid] = corrected[valid]


#: Mean days beyond +-this many days from 1970 (about 2.7 million years) are not dates: DTS nodata.
_DAY_NUMBER_LIMIT = 1e9


@njit(cache=True, nogil=True)
def _first_of_january(year):
    # days since 1970-01-01 of 1 January of `year`, proleptic Gregorian (H. Hinnant's days_from_civil)
    y = year - 1  # January counts in the previous March-based year
    era = y // 400
    yoe = y - era * 400
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + 306 - 719468


@njit(cache=True, nogil=True)
def _year_of(days):
    # year of a day number (H. Hinnant's civil_from_days: 400-year eras, years starting on 1 March)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    day_of_march_year = doe - (365 * yoe + yoe // 4 - yoe // 100)
    month_from_march = (5 * day_of_march_year + 2) // 153
    return yoe + era * 400 + (1 if month_from_march >= 10 else 0)  # January and February: the next year


@njit(cache=True, nogil=True)
def _day_of_year_kernel(values, out):
    # serial: the driver calls it from its writer thread while the main thread runs the parallel kernel
    start, stop = np.int64(0), np.int64(0)  # [1 January, next 1 January) of the last year seen
    for i in range(values.size):
        x = values[i]
        if not (abs(x) <= _DAY_NUMBER_LIMIT):  # NaN, infinite or out of range
            out[i] = DTS_NODATA
            continue
        days = np.int64(math.floor(x + 0.5))
        if days < start or days >= stop:
            year = _year_of(days)
            start, stop = _first_of_january(year), _first_of_january(year + 1)
        out[i] = days - start


def day_of_year_from_day_number(day_number: np.ndarray) -> np.ndarray:
    """DTS: 0-based day of year (1 January = 0) of a mean day, in that day's own year (numba, serial).

    Parameters
    ----------
    day_number : numpy.ndarray
        float64 (...), days since 1970-01-01 (``out_day`` of :func:`compose_block`); NaN where there is no date.

    Returns
    -------
    numpy.ndarray
        int16 (...), day of year 0-365 of ``floor(day_number + 0.5)`` (rounded to the nearest day, halves up);
        -10000 (:data:`DTS_NODATA`) where ``day_number`` is NaN (FLG 0), infinite or beyond +-1e9 days. A mean of
        31 December and 2 January is 1 January (0) of the later year.
    """
    values = np.ascontiguousarray(day_number, dtype=np.float64)
    out = np.empty(values.shape, np.int16)
    _day_of_year_kernel(values.reshape(-1), out.reshape(-1))
    return out


def day_of_year_from_day_number_ref(day_number: np.ndarray) -> np.ndarray:
    """Pure-numpy twin of :func:`day_of_year_from_day_number` (numpy calendar types)."""
    values = np.asarray(day_number, dtype=np.float64)
    finite = np.abs(values) <= _DAY_NUMBER_LIMIT
    days = np.floor(np.where(finite, values, 0.0) + 0.5).astype(np.int64)
    dates = _EPOCH + days.astype("timedelta64[D]")
    year_start = dates.astype("datetime64[Y]").astype("datetime64[D]")
    doy = (dates - year_start).astype(np.int64)
    return np.where(finite, doy, DTS_NODATA).astype(np.int16)
