"""Block kernels of the simulator: numba loops over the pixels of a row block, on plain arrays.

* :func:`interpolate_nodes` -- bilinear interpolation of a tile's coordinate nodes at pixel centres;
* :func:`geometry_block` -- sun and per-band view angles at points (metadata angle grids);
* :func:`scene_block` -- everything a pixel shows: ground, directional effects, clouds and their shadows, haze,
  TOA reflectance (L1C), the MAJA-like L2A retrieval and masks, and the ground truth.

Each has a numpy twin (``*_ref``). For :func:`scene_block` the twin is the very same code run by the Python
interpreter (:func:`scene_block_ref` runs it with numba's JIT disabled in a subprocess), which checks that
compilation changes nothing (integer wrapping of the hashes, float types); its ingredients have their own
vectorised numpy twins in :mod:`~l2a.simulate.noise`, :mod:`~l2a.simulate.orbits`,
:mod:`~l2a.simulate.atmosphere` and :mod:`~l2a.simulate.landscape`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from l2a.brdf import kernels, kernels_cs

from l2a.jitcache import drop_stale_numba_cache

from l2a.atmosphere.kernels import (
    N_TERMS,
    TERM_GAS,
    TERM_PATH,
    TERM_SPHERICAL_ALBEDO,
    TERM_T_DOWN,
    TERM_T_UP,
    atmosphere_terms,
    water_transmittance,
)

from .atmosphere import (
    BAND_CONSTANTS,
    C_A_W,
    C_F_DIF,
    C_N_W,
    _band_terms,
    _geometry,
    _observe,
    add_clouds,
    aerosol_water,
    pressure_ratio,
    scattering_cos,
)
from .clouds import (
    D_AOT_BASE,
    D_ATMO_SEED,
    D_HAZE_AMP,
    D_TIME_REF_S,
    D_WV_BASE,
    N_LAYERS,
    cloud_column,
)
from .landscape import CLASS_SNOW, N_BANDS, surface
from .masks import Q_CELL_M, Q_DH, Q_DILATE, Q_HEIGHT_ERROR_M, Q_SEED, detect
from .noise import hash3, value_noise
from .orbits import (
    GROUND_SPEED_M_S,
    LOCAL_SOLAR_TIME_H,
    SWATH_HALF_WIDTH_M,
    T_DOY,
    T_LON_REF,
    TAN_ALONG_TRACK,
    T_TIME_REF_S,
    cross_track_vector,
    detector_of,
    sun_angles,
    track_position,
    view_angles,
    view_vector,
)
from .surface_brdf import brdf_row, cover_brdf_factor

__all__ = ["interpolate_nodes", "interpolate_nodes_ref", "geometry_block", "geometry_block_ref", "scene_block",
           "scene_block_ref", "U8_PLANES", "F32_PLANES", "MODE_MONTHLY", "MODE_ACQUISITION"]

# every module whose numba functions end up compiled into these kernels
drop_stale_numba_cache(Path(__file__).parent, [f"{m}.py" for m in ("noise", "landscape", "atmosphere", "clouds",
                                                                  "orbits", "masks", "surface_brdf", "kernels")]
                       + ["../brdf.py", "../atmosphere/kernels.py"], "simulate-sources.sha1")

MODE_MONTHLY, MODE_ACQUISITION = 0, 1
#: uint8 output planes of :func:`scene_block`.
U8_PLANES = ("class", "landcover", "cloud", "shadow", "edge", "cloud_detected", "shadow_detected",
             "cirrus_detected", "water_detected", "snow_detected")
(U_CLASS, U_LANDCOVER, U_CLOUD, U_SHADOW, U_EDGE, U_CLOUD_DET, U_SHADOW_DET, U_CIRRUS_DET, U_WATER_DET,
 U_SNOW_DET) = range(10)
#: float32 output planes of :func:`scene_block`.
F32_PLANES = ("aot", "wv", "aot_estimated", "wv_estimated")
F_AOT, F_WV, F_AOT_EST, F_WV_EST = range(4)
# Thresholds of the truth (optical thickness, transmittance); the detection's are in masks.py.
_THICK_LIQ, _THICK_ICE, _THIN = 1.0, 0.3, 0.05
_SHADOW_TRUE = 0.5
_NOISE_ABS, _NOISE_REL = 0.0006, 0.003


@njit(cache=True, nogil=True)
def _interp(nodes, step, px, py, out):
    """Bilinear interpolation of every node field at tile offset (px east, py south of the corner), metres."""
    n = nodes.shape[1]
    fc = min(max(px / step, 0.0), n - 1.000001)
    fr = min(max(py / step, 0.0), n - 1.000001)
    c0 = int(fc)
    r0 = int(fr)
    wc = fc - c0
    wr = fr - r0
    for k in range(nodes.shape[0]):
        top = nodes[k, r0, c0] * (1.0 - wc) + nodes[k, r0, c0 + 1] * wc
        bottom = nodes[k, r0 + 1, c0] * (1.0 - wc) + nodes[k, r0 + 1, c0 + 1] * wc
        out[k] = top * (1.0 - wr) + bottom * wr


@njit(cache=True, nogil=True)
def interpolate_nodes(nodes, step, pixel_m, row0, out):
    """Node fields at the pixel centres of a row block.

    Parameters
    ----------
    nodes : numpy.ndarray
        float64 (fields, n, n) tile nodes (:class:`l2a.simulate.frame.TileFrame`).
    step : float
        Node spacing, m.
    pixel_m : float
        Pixel size, m.
    row0 : int
        First row of the block in the tile grid.
    out : numpy.ndarray
        float64 (fields, rows, cols), filled.
    """
    tmp = np.empty(nodes.shape[0])
    for i in range(out.shape[1]):
        py = (row0 + i + 0.5) * pixel_m
        for j in range(out.shape[2]):
            _interp(nodes, step, (j + 0.5) * pixel_m, py, tmp)
            for k in range(nodes.shape[0]):
                out[k, i, j] = tmp[k]


def interpolate_nodes_ref(nodes, step, pixel_m, row0, rows, cols):
    """numpy twin of :func:`interpolate_nodes`; returns float64 (fields, rows, cols)."""
    n = nodes.shape[1]
    fr = np.clip((row0 + np.arange(rows) + 0.5) * pixel_m / step, 0.0, n - 1.000001)[:, None] * np.ones((1, cols))
    fc = np.clip((np.arange(cols) + 0.5) * pixel_m / step, 0.0, n - 1.000001)[None, :] * np.ones((rows, 1))
    r0, c0 = fr.astype(np.int64), fc.astype(np.int64)
    wr, wc = fr - r0, fc - c0
    top = nodes[:, r0, c0] * (1 - wc) + nodes[:, r0, c0 + 1] * wc
    bottom = nodes[:, r0 + 1, c0] * (1 - wc) + nodes[:, r0 + 1, c0 + 1] * wc
    return top * (1 - wr) + bottom * wr


@njit(cache=True, nogil=True)
def geometry_block(lon, lat, track, along_deg, sun_out, view_out, detector_out):
    """Sun angles, per-band view angles and detector at points.

    Parameters
    ----------
    lon, lat : numpy.ndarray
        float64 (points,), degrees.
    track : numpy.ndarray
        float64 track parameters (:func:`l2a.simulate.orbits.track_params`).
    along_deg : numpy.ndarray
        float64 (bands,) along-track look angle of each band, degrees.
    sun_out : numpy.ndarray
        float64 (2, points): zenith, azimuth (degrees).
    view_out : numpy.ndarray
        float64 (bands, 2, points): zenith, azimuth, NaN outside the swath.
    detector_out : numpy.ndarray
        int64 (points,): detector 1..12, 0 outside the swath.
    """
    for p in range(lon.shape[0]):
        cross, along = track_position(lon[p], lat[p], track[T_LON_REF])
        t = track[T_TIME_REF_S] + along / GROUND_SPEED_M_S
        sun_out[0, p], sun_out[1, p] = sun_angles(track[T_DOY], t, lon[p], lat[p])
        det = 0
        if abs(cross) <= SWATH_HALF_WIDTH_M:
            det = int(math.floor((cross + SWATH_HALF_WIDTH_M) / (2.0 * SWATH_HALF_WIDTH_M / 12.0))) + 1
            det = min(max(det, 1), 12)
        detector_out[p] = det
        sign = 1.0 if det % 2 == 0 else -1.0
        for b in range(along_deg.shape[0]):
            if det == 0:
                view_out[b, 0, p] = np.nan
                view_out[b, 1, p] = np.nan
            else:
                view_out[b, 0, p], view_out[b, 1, p] = view_angles(cross, sign * along_deg[b])


def geometry_block_ref(lon, lat, track, along_deg):
    """numpy twin of :func:`geometry_block`; returns (sun (2, n), view (bands, 2, n), detector (n,))."""
    from .orbits import sun_angles_ref, track_position_ref, view_angles_ref

    cross, along = track_position_ref(lon, lat, track[T_LON_REF])
    t = track[T_TIME_REF_S] + along / GROUND_SPEED_M_S
    sun = np.stack(sun_angles_ref(track[T_DOY], t, lon, lat))
    inside = np.abs(cross) <= SWATH_HALF_WIDTH_M
    det = np.clip(np.floor((cross + SWATH_HALF_WIDTH_M) / (2.0 * SWATH_HALF_WIDTH_M / 12.0)).astype(np.int64) + 1,
                  1, 12)
    det = np.where(inside, det, 0)
    sign = np.where(det % 2 == 0, 1.0, -1.0)
    view = np.stack([np.stack(view_angles_ref(cross, sign * a)) for a in along_deg])
    view[:, :, ~inside] = np.nan
    return sun, view, det


@njit(cache=True, nogil=True)
def _gauss(a, b, seed):
    """Approximately standard normal number from one hash: the sum of its four 16-bit quarters as uniforms,
    centred and scaled to unit variance."""
    h = hash3(a, b, seed)
    s = 0.0
    for k in range(4):
        s += float((h >> np.uint64(16 * k)) & np.uint64(0xFFFF)) / 65536.0
    return (s - 2.0) * 1.7320508075688772


@njit(cache=True, nogil=True)
def scene_block(nodes, step, pixel_m, row0, col0, bands, world, day, track, mode, noise_seed, cover_brdf, quality,
                atmo, atmo_bands, atmo_platform, atmo_water_b9, refl_true, refl_nadir, toa, fre, u8, f32):
    """Simulate a row block of one tile at one resolution.

    Parameters
    ----------
    nodes : numpy.ndarray
        float64 (8, n, n) tile coordinate nodes; ``step`` their spacing, m.
    pixel_m : float
        Pixel size, m; ``row0``, ``col0`` the block's first row and column in the whole tile's grid at that pixel
        size (a window of the tile starts at ``col0 > 0``).
    bands : numpy.ndarray
        int64 (nb,) indices into the 13 bands (ESA order) to produce.
    world, day, track : numpy.ndarray
        float64 parameter vectors (:func:`~l2a.simulate.frame.world_params`,
        :func:`~l2a.simulate.clouds.day_params`, :func:`~l2a.simulate.orbits.track_params`).
    mode : int
        MODE_ACQUISITION (one pass of a satellite) or MODE_MONTHLY (true nadir reflectance of the ground on day
        ``track[T_DOY]`` at the sun of the nominal overpass time, no atmosphere, no clouds, no swath).
    noise_seed : int
        Seed of the radiometric noise of this product.
    cover_brdf : numpy.ndarray
        float64 (N_ROWS, 13, 3) directional model of the ground per land cover
        (:func:`~l2a.simulate.surface_brdf.cover_brdf_table`).
    quality : numpy.ndarray
        float64 (Q_PARAMS,) error model of the masks (:func:`~l2a.simulate.masks.quality_params`).
    atmo : l2a.atmosphere.table.TableArrays
        The 6S look-up table (:func:`l2a.atmosphere.load_table`).
    atmo_bands : numpy.ndarray
        int64 (13,): per ESA band, its index in ``atmo`` when the clear sky of that band follows the 6S table
        (``--atmosphere 6s``), -1 for the analytic model of :mod:`~l2a.simulate.atmosphere` (always for B1, B9
        and B10, which the table does not hold). The simulated L2A retrieval uses the same model as the forward.
    atmo_platform : int
        Platform code of the table (0 Sentinel-2A, 1 Sentinel-2B).
    atmo_water_b9 : int
        Index of B9 in the table's water-vapour table when B9's water absorption follows 6S (``--atmosphere 6s``),
        -1 for the analytic model's.
    refl_true : numpy.ndarray
        float32 (nb, rows, cols): true surface reflectance (directional as seen by this pass, each band with its
        detector's viewing angles; nadir view in monthly mode), NaN outside the swath.
    refl_nadir : numpy.ndarray
        float32 (nb, rows, cols): true nadir-view surface reflectance at this pass's sun angles (monthly mode: the
        same as ``refl_true``), NaN outside the swath.
    toa : numpy.ndarray
        float32 (nb, rows, cols): TOA reflectance with noise, NaN outside the swath (acquisition mode).
    fre : numpy.ndarray
        float32 (nb, rows, cols): surface reflectance retrieved with the estimated AOT and water vapour, NaN
        outside the swath (acquisition mode); (0, rows, cols) when no L2A product is made (not computed).
    u8 : numpy.ndarray
        uint8 (10, rows, cols): planes :data:`U8_PLANES` (class 1 land / 2 water / 3 snow, 0 outside the swath;
        land cover code; true cloud 0 none / 1 thin / 2 opaque; true shadow; edge; detected cloud, shadow, cirrus,
        water, snow).
    f32 : numpy.ndarray
        float32 (4, rows, cols): planes :data:`F32_PLANES` (true and estimated AOT at 550 nm and water vapour,
        g/cm2), NaN outside the swath.
    """
    rows = refl_true.shape[1]
    cols = refl_true.shape[2]
    nb = bands.shape[0]
    coords = np.empty(nodes.shape[0])
    rho = np.empty(N_BANDS)
    column = np.empty(9)
    dh = np.empty(N_LAYERS)
    terms = np.empty(N_TERMS)
    doy0 = track[T_DOY]
    dilate = quality[Q_DILATE] != 0.0
    for i in range(rows):
        py = (row0 + i + 0.5) * pixel_m
        for j in range(cols):
            _interp(nodes, step, (col0 + j + 0.5) * pixel_m, py, coords)
            x, y, lon, lat = coords[0], coords[1], coords[2], coords[3]
            if mode == MODE_MONTHLY:
                code, cls, z = surface(x, y, doy0 + 0.45, world, pixel_m, rho)
                row = brdf_row(code, cls, CLASS_SNOW)
                # nominal overpass: the local mean solar time at which the tracks cross the reference latitude
                t_nominal = ((LOCAL_SOLAR_TIME_H - lon / 15.0) % 24.0) * 3600.0      # UTC seconds
                sun_zen, _ = sun_angles(doy0, t_nominal, lon, lat)
                kv0, kg0 = kernels(math.radians(sun_zen), 0.0, 0.0)
                for b in range(nb):
                    value = rho[bands[b]] * cover_brdf_factor(cover_brdf, row, bands[b], kv0, kg0)
                    refl_true[b, i, j] = value
                    refl_nadir[b, i, j] = value
                u8[U_CLASS, i, j] = cls
                u8[U_LANDCOVER, i, j] = code
                continue
            cross, along = track_position(lon, lat, track[T_LON_REF])
            if abs(cross) > SWATH_HALF_WIDTH_M:
                for b in range(nb):
                    refl_true[b, i, j] = np.nan
                    refl_nadir[b, i, j] = np.nan
                    toa[b, i, j] = np.nan
                    if fre.shape[0] > 0:
                        fre[b, i, j] = np.nan
                for k in range(u8.shape[0]):
                    u8[k, i, j] = 0
                u8[U_EDGE, i, j] = 1
                for k in range(f32.shape[0]):
                    f32[k, i, j] = np.nan
                continue
            t_utc = track[T_TIME_REF_S] + along / GROUND_SPEED_M_S
            sun_zen, sun_az = sun_angles(doy0, t_utc, lon, lat)
            # clouds are seen along the mean line of sight of the detectors (no band-to-band cloud parallax)
            view_zen, view_az = view_angles(cross, 0.0)
            # each band's radiometry uses its own detector's line of sight: odd detectors look backward, even ones
            # forward, by the band's along-track angle (the staggering of the metadata grids)
            sign = 1.0 if detector_of(cross) % 2 == 0 else -1.0
            code, cls, z = surface(x, y, doy0 + t_utc / 86400.0, world, pixel_m, rho)
            row = brdf_row(code, cls, CLASS_SNOW)
            mu_s = math.cos(math.radians(sun_zen))
            # displacement per metre of height towards the satellite and the sun, ground east/north -> world
            tv = math.tan(math.radians(view_zen))
            ts = math.tan(math.radians(sun_zen))
            ve, vn = tv * math.sin(math.radians(view_az)), tv * math.cos(math.radians(view_az))
            se, sn = ts * math.sin(math.radians(sun_az)), ts * math.cos(math.radians(sun_az))
            los_x = coords[4] * ve + coords[6] * vn
            los_y = coords[5] * ve + coords[7] * vn
            sun_x = coords[4] * se + coords[6] * sn
            sun_y = coords[5] * se + coords[7] * sn
            if quality[Q_HEIGHT_ERROR_M] > 0.0:
                # per layer, the acquisition's error plus a regional part (a processor's height varies by cloud)
                for layer in range(N_LAYERS):
                    dh[layer] = quality[Q_DH + layer] + 0.5 * quality[Q_HEIGHT_ERROR_M] * value_noise(
                        x / 20000.0, y / 20000.0, np.int64(quality[Q_SEED]) + 30 + layer)
            else:
                for layer in range(N_LAYERS):
                    dh[layer] = 0.0
            cloud_column(x, y, t_utc - day[D_TIME_REF_S], los_x, los_y, sun_x, sun_y, day, pixel_m, dh,
                         quality[Q_CELL_M], column)
            tau_liq, tau_ice, liq_det, ice_det = column[0], column[1], column[2], column[3]
            t_dir = math.exp(-(0.8 * column[4] + 0.5 * column[5]) / mu_s)
            # detected shadows: the (dilated) water clouds at their estimated height and the cirrus on the sun path
            # (a thick cirrus darkens the ground as much as a cumulus; a detector that missed it would let dark
            # pixels into syntheses)
            t_dir_det = math.exp(-(0.8 * (column[6] if dilate else column[8]) + 0.5 * column[5]) / mu_s)
            aot, wv, aot_est, wv_est = aerosol_water(x, y, z, day[D_AOT_BASE], day[D_HAZE_AMP], day[D_WV_BASE],
                                                     np.int64(day[D_ATMO_SEED]))
            p = pressure_ratio(z)
            wv_above = wv * math.exp(-max(column[7] - z, 0.0) / 2200.0)
            sin_s = math.sqrt(max(1.0 - mu_s * mu_s, 0.0))
            kv0, kg0 = kernels_cs(mu_s, sin_s, 1.0, 0.0, 1.0, 0.0)
            sun_az_e, sun_az_n = math.sin(math.radians(sun_az)), math.cos(math.radians(sun_az))
            cross_e, cross_n = cross_track_vector(cross)
            for b in range(nb):
                band = bands[b]
                k = BAND_CONSTANTS[band]
                # this band's line of sight as a vector (view_angles without its atan/atan2): cosines and sines of
                # the view zenith and of the relative azimuth follow without trigonometry
                ve, vn = view_vector(cross_e, cross_n, sign * TAN_ALONG_TRACK[band])
                tan_v = math.sqrt(ve * ve + vn * vn)
                mu_v = 1.0 / math.sqrt(1.0 + tan_v * tan_v)
                cos_raa, sin_raa = 1.0, 0.0
                if tan_v > 0.0:
                    cos_raa = (sun_az_n * vn + sun_az_e * ve) / tan_v
                    sin_raa = (sun_az_e * vn - sun_az_n * ve) / tan_v
                kv, kg = kernels_cs(mu_s, sin_s, mu_v, tan_v * mu_v, cos_raa, sin_raa)
                refl_nadir[b, i, j] = rho[band] * cover_brdf_factor(cover_brdf, row, band, kv0, kg0)
                rho_dir = rho[band] * cover_brdf_factor(cover_brdf, row, band, kv, kg)
                refl_true[b, i, j] = rho_dir
                m, p_r, p_a = _geometry(mu_s, mu_v, scattering_cos(mu_s, mu_v, cos_raa))
                table_band = atmo_bands[band]
                if table_band >= 0:
                    # the 6S table's clear sky (Lambertian coupling of the lit ground), then the clouds
                    view_zen_b = math.degrees(math.atan(tan_v))
                    rel_az_b = math.degrees(math.atan2(abs(sin_raa), cos_raa))
                    atmosphere_terms(atmo, table_band, atmo_platform, sun_zen, view_zen_b, rel_az_b, aot, wv,
                                     1013.25 * p, terms)
                    lit = rho_dir * (k[C_F_DIF] + (1.0 - k[C_F_DIF]) * t_dir)
                    gain = terms[TERM_GAS] * terms[TERM_T_DOWN] * terms[TERM_T_UP]
                    clear = terms[TERM_PATH] + gain * lit / (1.0 - terms[TERM_SPHERICAL_ALBEDO] * lit)
                    value = add_clouds(k, clear, rho_dir, m, tau_liq, tau_ice, wv_above)
                else:
                    value = _observe(k, rho_dir, mu_s, mu_v, m, p_r, p_a, aot, wv, p, t_dir, tau_liq, tau_ice,
                                     wv_above)
                    if band == 9 and atmo_water_b9 >= 0 and wv > 0.0:
                        # B9 absorbs as 6S says (the processor reads water vapour from B9/B8A through 6S)
                        t_analytic = math.exp(-k[C_A_W] * math.exp(k[C_N_W] * math.log(wv * m)))
                        value *= water_transmittance(atmo, atmo_water_b9, wv * m) / t_analytic
                value += (_NOISE_ABS + _NOISE_REL * value) * _gauss(np.int64(row0 + i) * 65536 + col0 + j, band,
                                                                   noise_seed)
                toa[b, i, j] = value
                if fre.shape[0] == 0:
                    continue  # no L2A wanted (L1C products): the retrieval is not computed
                if table_band >= 0:
                    atmosphere_terms(atmo, table_band, atmo_platform, sun_zen, view_zen_b, rel_az_b, aot_est,
                                     wv_est, 1013.25 * p, terms)
                    y_atm = (value - terms[TERM_PATH]) / (terms[TERM_GAS] * terms[TERM_T_DOWN] * terms[TERM_T_UP])
                    fre[b, i, j] = y_atm / (1.0 + terms[TERM_SPHERICAL_ALBEDO] * y_atm)
                else:
                    tg, rho_atm, tt, s = _band_terms(k, mu_s, mu_v, m, p_r, p_a, aot_est, wv_est, p)
                    y_atm = value / tg - rho_atm
                    fre[b, i, j] = y_atm / (tt + s * y_atm)
            thick = tau_liq >= _THICK_LIQ or tau_ice >= _THICK_ICE
            u8[U_CLASS, i, j] = cls
            u8[U_LANDCOVER, i, j] = code
            u8[U_CLOUD, i, j] = 2 if thick else (1 if tau_liq + tau_ice >= _THIN else 0)
            u8[U_SHADOW, i, j] = 1 if t_dir < _SHADOW_TRUE else 0
            u8[U_EDGE, i, j] = 0
            cloud_d, shadow_d, cirrus_d, water_d, snow_d = detect(
                x, y, cls, code, rho, liq_det if dilate else tau_liq, ice_det if dilate else tau_ice, tau_liq, tau_ice,
                t_dir, t_dir_det, quality)
            u8[U_CLOUD_DET, i, j] = 1 if cloud_d else 0
            u8[U_SHADOW_DET, i, j] = 1 if shadow_d else 0
            u8[U_CIRRUS_DET, i, j] = 1 if cirrus_d else 0
            u8[U_WATER_DET, i, j] = 1 if water_d else 0
            u8[U_SNOW_DET, i, j] = 1 if snow_d else 0
            f32[F_AOT, i, j] = aot
            f32[F_WV, i, j] = wv
            f32[F_AOT_EST, i, j] = aot_est
            f32[F_WV_EST, i, j] = wv_est


def scene_block_ref(nodes, step, pixel_m, row0, col0, bands, world, day, track, mode, noise_seed, cover_brdf, quality,
                    atmo, atmo_bands, atmo_platform, atmo_water_b9, rows, cols):
    """Pure-Python twin of :func:`scene_block`: the same source run by the interpreter (numba's JIT disabled in a
    subprocess). Returns the six output arrays (refl_true, refl_nadir, toa, fre, u8, f32). Slow: keep blocks
    tiny."""
    import os
    import pickle
    import subprocess
    import sys

    args = (nodes, step, pixel_m, row0, col0, bands, world, day, track, mode, noise_seed, cover_brdf, quality, atmo,
            atmo_bands, atmo_platform, atmo_water_b9, rows, cols)
    code = ("import pickle, sys, numpy as np\n"
            "from l2a.simulate.kernels import scene_block, allocate_outputs\n"
            "a = pickle.loads(sys.stdin.buffer.read())\n"
            "out = allocate_outputs(len(a[5]), a[17], a[18])\n"
            "scene_block(*a[:17], *out)\n"
            "sys.stdout.buffer.write(pickle.dumps(out))\n")
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(args), capture_output=True, env=env,
                          check=True)
    return pickle.loads(done.stdout)


def allocate_outputs(nb: int, rows: int, cols: int, retrieval: bool = True):
    """Output arrays of :func:`scene_block` for ``nb`` bands and a ``rows x cols`` block (``retrieval=False``: an
    empty ``fre``, the simulated L2A retrieval is skipped)."""
    return (np.empty((nb, rows, cols), np.float32), np.empty((nb, rows, cols), np.float32),
            np.empty((nb, rows, cols), np.float32), np.empty((nb if retrieval else 0, rows, cols), np.float32),
            np.zeros((len(U8_PLANES), rows, cols), np.uint8),
            np.empty((len(F32_PLANES), rows, cols), np.float32))
