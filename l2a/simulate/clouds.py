"""Weather of each day and the cloud fields: three layers at their heights, seen with parallax, casting geometric
shadows.

Per day (from the seed and the date only, never from which tiles are simulated), :func:`day_params` draws:

* a weather type: clear (35 %), mixed (40 %) or overcast (25 %), setting the cover of each layer;
* three cloud layers: low cumulus (1.2-2.2 km, cells of ~2.5 km, optical thickness up to 40), mid-level cloud
  (3.5-5.5 km, ~14 km, up to 14) and high thin cirrus (8-11 km, streaks of ~22 km stretched 5x along the wind,
  optical thickness up to 1.6), each with its wind (westerly sector, speed growing with height);
* aerosols (AOT base, log-normal around 0.09, haze patches on a third of the days) and water vapour (seasonal,
  1.0 g/cm2 in winter to 2.4 in summer).

A layer's optical thickness at a world point is a thresholded fBm (plus a 120 km modulation so that parts of the
region are clearer), advected by the wind from the day's reference time (10:30 UTC): tracks flown on the same day
see the same clouds, each at its own time. Geometry, pointwise:

* **seen cloud** at ground point p: the layer at height h is evaluated at ``p + h tan(view zenith) u_sat``;
* **shadow** at p: the layer is evaluated at ``p + h tan(sun zenith) u_sun`` (u_sun towards the sun azimuth).

The "detected" fields (MAJA-like masks) use a lower threshold, i.e. the clouds dilated by a few hundred metres; the
detected shadow can be projected from a wrongly estimated cloud height (:mod:`l2a.simulate.masks`).

Cost: octaves finer than two pixels are not computed (level of detail: a coarse pixel sees the low-pass version of
the field a 10 m pixel sees), and the octaves stop as soon as the optical thickness is decided (exactly 0 or the
maximum), which is the case for most pixels.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
from numba import njit
from scipy.special import ndtri

from .noise import fbm, fbm_bounded, hash3_ref, hash_unit_ref, octaves_for, smoothstep

__all__ = ["day_params", "cloud_column", "DAY_PARAMS", "WEATHER_REFERENCE_S"]

#: UTC second of the day from which the clouds are advected.
WEATHER_REFERENCE_S = 37800.0
N_LAYERS = 3
# Day parameter vector layout: atmosphere, then one block per layer.
D_AOT_BASE, D_HAZE_AMP, D_WV_BASE, D_ATMO_SEED, D_TIME_REF_S = range(5)
_D_LAYERS = 5
(L_TAU_MAX, L_HEIGHT, L_SCALE, L_STRETCH, L_COS, L_SIN, L_WIND_X, L_WIND_Y, L_THRESHOLD, L_SOFT, L_DILATE, L_SEED,
 L_OCTAVES, L_ICE) = range(14)
_L_FIELDS = 14
DAY_PARAMS = _D_LAYERS + N_LAYERS * _L_FIELDS
_MODULATION = 0.6
#: Standard deviation of fbm by octave count (measured), to turn a cover fraction into a threshold.
_FBM_STD = {2: 0.3373, 6: 0.2654, 8: 0.2622}

# (tau_max, height range m, scale m, stretch, softness, dilation, wind speed range m/s, ice, octaves): the octaves
# reach ~10 m detail at full resolution; coarser pixels compute fewer (level of detail, noise.fbm_lod)
_LAYERS = (
    (40.0, (1200.0, 2200.0), 2500.0, 1.3, 0.06, 0.05, (4.0, 12.0), 0.0, 8),      # low cumulus
    (14.0, (3500.0, 5500.0), 14000.0, 2.0, 0.15, 0.05, (8.0, 20.0), 0.0, 6),    # mid-level
    (1.6, (8000.0, 11000.0), 22000.0, 5.0, 0.25, 0.06, (15.0, 40.0), 1.0, 6),  # cirrus
)


def _uniforms(seed: int, day: dt.date, n: int) -> np.ndarray:
    return hash_unit_ref(np.full(n, int(seed)), np.full(n, day.toordinal()), np.arange(n) + 900_000)


def _seed_of(seed: int, day: dt.date, what: int) -> float:
    """A 50-bit noise seed (exact in float64) for one field of one day."""
    return float(int(hash3_ref(int(seed), day.toordinal(), what)) >> 14)


def day_params(seed: int, day: dt.date) -> np.ndarray:
    """Weather of one UTC day, float64 (DAY_PARAMS,), as the kernels expect it.

    Parameters
    ----------
    seed : int
        Simulation seed.
    day : datetime.date
        UTC date.
    """
    u = _uniforms(seed, day, 40)
    out = np.zeros(DAY_PARAMS, np.float64)
    doy = day.timetuple().tm_yday
    out[D_AOT_BASE] = float(np.clip(0.09 * math.exp(0.5 * ndtri(min(max(u[0], 1e-6), 1 - 1e-6))), 0.03, 0.45))
    out[D_HAZE_AMP] = 0.15 + 0.3 * u[2] if u[1] < 0.35 else 0.0
    season = 0.5 - 0.5 * math.cos(2.0 * math.pi * (doy - 20.0) / 365.0)
    out[D_WV_BASE] = (1.0 + 1.4 * season) * (0.8 + 0.4 * u[3])
    out[D_ATMO_SEED] = _seed_of(seed, day, 500)
    out[D_TIME_REF_S] = WEATHER_REFERENCE_S
    kind = u[4]
    if kind < 0.35:                       # clear
        cover = (0.04 * u[5], 0.0, 0.12 * u[6])
    elif kind < 0.75:                     # mixed
        cover = (0.10 + 0.30 * u[5], 0.25 * u[6], 0.35 * u[7])
    else:                                 # overcast
        cover = (0.30 + 0.30 * u[5], 0.35 + 0.45 * u[6], 0.10 + 0.40 * u[7])
    direction = math.radians(-60.0 + 120.0 * u[8])        # around west -> east, world frame
    for i, (tau_max, (h0, h1), scale, stretch, soft, dilate, (w0, w1), ice, octaves) in enumerate(_LAYERS):
        base = _D_LAYERS + i * _L_FIELDS
        v = u[10 + 6 * i: 16 + 6 * i]
        angle = direction + math.radians(20.0 * (v[0] - 0.5))
        speed = w0 + (w1 - w0) * v[1]
        std = math.hypot(_FBM_STD[octaves], _MODULATION * _FBM_STD[2])
        c = cover[i]
        out[base + L_TAU_MAX] = tau_max if c > 0.0 else 0.0
        out[base + L_HEIGHT] = h0 + (h1 - h0) * v[2]
        out[base + L_SCALE] = scale
        out[base + L_STRETCH] = stretch
        out[base + L_COS] = math.cos(angle)
        out[base + L_SIN] = math.sin(angle)
        out[base + L_WIND_X] = speed * math.cos(angle)
        out[base + L_WIND_Y] = speed * math.sin(angle)
        out[base + L_THRESHOLD] = std * float(ndtri(1.0 - min(max(c, 1e-4), 0.999)))
        out[base + L_SOFT] = soft
        out[base + L_DILATE] = dilate
        out[base + L_SEED] = _seed_of(seed, day, 600 + 10 * i)
        out[base + L_OCTAVES] = float(octaves)
        out[base + L_ICE] = ice
    return out


@njit(cache=True, nogil=True)
def _layer(x, y, t_off, dp, base, keep):
    """(tau, tau_dilated) of one layer at world point (x, y), ``t_off`` seconds after the reference time, with the
    first ``keep`` octaves of its fbm."""
    qx = x - dp[base + L_WIND_X] * t_off
    qy = y - dp[base + L_WIND_Y] * t_off
    c = dp[base + L_COS]
    s = dp[base + L_SIN]
    scale = dp[base + L_SCALE]
    u = (c * qx + s * qy) / (scale * dp[base + L_STRETCH])
    v = (-s * qx + c * qy) / scale
    seed = np.int64(dp[base + L_SEED])
    thr = dp[base + L_THRESHOLD]
    soft = dp[base + L_SOFT]
    dil = dp[base + L_DILATE]
    # the field only matters between the lowest and highest step edges below: stop octaves once decided
    modulation = _MODULATION * fbm(qx / 120000.0, qy / 120000.0, seed + 1, 2)
    f = fbm_bounded(u, v, seed, np.int64(dp[base + L_OCTAVES]), keep, modulation, thr - dil, thr + soft)
    tau = dp[base + L_TAU_MAX] * smoothstep(thr, thr + soft, f) ** 1.5
    tau_dil = dp[base + L_TAU_MAX] * smoothstep(thr - dil, thr - dil + soft, f) ** 1.5
    return tau, tau_dil


@njit(cache=True, nogil=True)
def cloud_column(x, y, t_off, los_x, los_y, sun_x, sun_y, dp, pixel_m, dh, det_pixel_m, out):
    """Clouds seen at and shading a ground point.

    Parameters
    ----------
    x, y : float
        Ground point, world frame (EPSG:3035), m.
    t_off : float
        Seconds since the day's reference time.
    los_x, los_y : float
        World displacement per metre of height towards the satellite (``tan(view zenith) u_sat``).
    sun_x, sun_y : float
        World displacement per metre of height towards the sun (``tan(sun zenith) u_sun``).
    dp : numpy.ndarray
        float64 (DAY_PARAMS,) weather of the day.
    pixel_m : float
        Pixel size, m: detail finer than two pixels is not computed (level of detail).
    dh : numpy.ndarray
        float64 (N_LAYERS,) error of the cloud height a processor estimates for each layer, m. Where it is not 0
        the detected shadow is the layer seen along the sun direction from the wrong height (an extra evaluation,
        at the level of detail of ``det_pixel_m``: a processor projects its coarse cloud mask); 0 reuses the true
        shadow.
    det_pixel_m : float
        Pixel size of the processor's shadow projection, m.
    out : numpy.ndarray
        float64 (9,) receives: water-cloud and cirrus optical thickness on the line of sight, the same dilated,
        water-cloud and cirrus optical thickness on the path to the sun, the water-cloud one dilated at the
        estimated height, the optical-thickness-weighted height of the seen water clouds (m, 0 if none), and the
        water-cloud optical thickness on the path to the sun at the estimated height (not dilated).
    """
    for i in range(9):
        out[i] = 0.0
    weighted_h = 0.0
    for i in range(N_LAYERS):
        base = _D_LAYERS + i * _L_FIELDS
        if dp[base + L_TAU_MAX] <= 0.0:
            continue
        h = dp[base + L_HEIGHT]
        ice = dp[base + L_ICE] > 0.5
        keep = octaves_for(dp[base + L_SCALE], pixel_m, np.int64(dp[base + L_OCTAVES]))
        tau, tau_dil = _layer(x + h * los_x, y + h * los_y, t_off, dp, base, keep)
        sun_tau, sun_dil = _layer(x + h * sun_x, y + h * sun_y, t_off, dp, base, keep)
        if ice:
            out[1] += tau
            out[3] += tau_dil
            out[5] += sun_tau
        else:
            out[0] += tau
            out[2] += tau_dil
            out[4] += sun_tau
            weighted_h += tau * h
            if dh[i] != 0.0:
                # the processor's cloud is where it sees it; the shadow it predicts falls along the sun direction
                # from its estimate of the height, i.e. it looks up the sun path as if the layer were at h + dh
                h_est = max(h + dh[i], 100.0)
                keep_det = octaves_for(dp[base + L_SCALE], max(pixel_m, det_pixel_m), np.int64(dp[base + L_OCTAVES]))
                est_tau, est_dil = _layer(x + h_est * sun_x, y + h_est * sun_y, t_off, dp, base, keep_det)
                out[6] += est_dil
                out[8] += est_tau
            else:
                out[6] += sun_dil
                out[8] += sun_tau
    if out[0] > 0.0:
        out[7] = weighted_h / out[0]
