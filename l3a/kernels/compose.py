"""The fused per-pixel synthesis kernel (numba) and its pure-numpy twin.

:func:`compose_block` takes a block of rows of every date of the window at once (already weighted and classified by
:func:`l3a.kernels.prepare.prepare_date_block`) and writes the composite reflectance, WGT, the weighted-mean day, FLG
and NOB of the block (SPEC sections 3 and 4). :func:`compose_block_ref` computes the same outputs with plain numpy,
bit for bit.

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

The reflectance comes in float32 (BRDF-normalised values are not rounded per date) or int16. Means are accumulated
in float64 and rounded once, half away from zero; an observation taken as it is (rules 2 ``latest`` and 3) is
rounded the same way. Weights that are negative, NaN or infinite count as 0.
Dates are visited in acquisition order (``latest_rank``), whatever their order in the arrays, so float sums, ties and
therefore every output are independent of input order.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from l2a.constants import REFLECTANCE_NODATA

from ..flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER, WGT_NODATA

__all__ = ["WGT_MAX", "NOB_MAX", "SNOW_WATER_RULE_CODES", "compose_block", "compose_block_ref"]

WGT_MAX = 32767  # WGT clip (int16)
NOB_MAX = 255  # NOB clip (uint8)

#: ``CompositeParams.snow_water_rule`` -> the ``snow_water_rule`` code of the kernels.
SNOW_WATER_RULE_CODES = {"weighted": 0, "latest": 1}

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
                        out_row[j] = np.int16(_round_half_away(np.float64(refl[order[single[j]], b, r, c0 + j])))
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
    need(refl, "refl", np.float32 if refl.dtype == np.float32 else np.int16, refl.shape)
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
        float32 or int16 (dates, bands, rows, cols), reflectance x 10000, nodata -10000 (BRDF-normalised if
        wanted, float32 and not rounded: the one rounding is that of the outputs).
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
    def round_half_away(x):
        return np.sign(x) * np.floor(np.abs(x) + 0.5)

    averaged_refl = np.where(count > 0, round_half_away(mean), nodata)
    single_refl = round_half_away(
        np.take_along_axis(refl, np.maximum(single, 0)[None, None], axis=0)[0].astype(np.float64))
    single_day = day[np.maximum(single, 0)]

    out_refl[...] = np.where(averaged[None], averaged_refl, np.where(single[None] >= 0, single_refl, nodata))
    wgt = np.floor(np.minimum(1000.0 * total_w, float(WGT_MAX)) + 0.5)
    out_wgt[...] = np.select([averaged, single >= 0], [wgt, 0], default=WGT_NODATA)
    out_day[...] = np.select([averaged, single >= 0], [mean_day, single_day], default=np.nan)
    out_flg[...] = flg
    out_nob[...] = np.select([averaged, (single >= 0) & (flg != FLG_CLOUD)], [np.minimum(n_obs, NOB_MAX), 1],
                             default=0)
