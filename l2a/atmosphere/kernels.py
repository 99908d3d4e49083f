"""numba kernels of the atmospheric correction: interpolation of the 6S table and the Lambertian coupling.

Model (6S's, for a Lambertian ground of reflectance ``rho``; all terms from :func:`atmosphere_terms`)::

    rho_toa = path + gas * t_down * t_up * rho / (1 - S * rho)
    rho     = y / (1 + S * y),   y = (rho_toa - path) / (gas * t_down * t_up)          (exact inverse)

``path`` is the path reflectance as the satellite sees it (gases included, dimmed by water vapour as 6S computes
it), ``gas`` the two-way transmittance of all gases along the sun-ground-sensor path, ``t_down``/``t_up`` the total
scattering transmittances, ``S`` the spherical albedo. The direct part of a transmittance is ``exp(-tau / mu)``;
the diffuse part is the rest.

Interpolation is multilinear on the table's nodes (transmittances as logarithms), clamped at the edges of every axis
except pressure (linear extrapolation from 701 down to 500 hPa and up to 1100 hPa). Angles in degrees, relative azimuth 0 = backscatter,
aerosol optical thickness at 550 nm, water vapour in g/cm2, pressure in hPa. Every kernel has a numpy twin in
:mod:`l2a.atmosphere.reference`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["TERM_PATH", "TERM_GAS", "TERM_T_DOWN", "TERM_T_UP", "TERM_SPHERICAL_ALBEDO", "TERM_T_DIR_DOWN",
           "TERM_T_DIR_UP", "N_TERMS", "SEA_LEVEL_HPA", "MIN_PRESSURE_HPA", "MAX_PRESSURE_HPA",
           "atmosphere_terms", "surface_from_toa", "toa_from_surface", "water_transmittance",
           "surface_reflectance_flat", "toa_reflectance_flat", "atmosphere_terms_flat"]

#: Indices of the terms vector filled by :func:`atmosphere_terms`.
(TERM_PATH, TERM_GAS, TERM_T_DOWN, TERM_T_UP, TERM_SPHERICAL_ALBEDO, TERM_T_DIR_DOWN, TERM_T_DIR_UP) = range(7)
N_TERMS = 7
SEA_LEVEL_HPA = 1013.25
MIN_PRESSURE_HPA = 500.0
MAX_PRESSURE_HPA = 1100.0
# Quantity indices of the table (l2a.atmosphere.table.QUANTITIES).
_Q_PATH, _Q_T_DOWN, _Q_T_UP, _Q_S, _Q_TAU, _Q_GAS = range(6)
_N_Q = 6
_PLATFORM_S2B = 1


@njit(cache=True, nogil=True)
def _locate(nodes, x):
    """(i, t): ``x`` between ``nodes[i]`` and ``nodes[i + 1]`` at fraction ``t`` in [0, 1] (clamped)."""
    n = nodes.shape[0]
    if n == 1 or x <= nodes[0]:
        return 0, 0.0
    if x >= nodes[n - 1]:
        return n - 2, 1.0
    lo, hi = 0, n - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if nodes[mid] <= x:
            lo = mid
        else:
            hi = mid
    return lo, (x - nodes[lo]) / (nodes[lo + 1] - nodes[lo])


@njit(cache=True, nogil=True)
def _lerp4(a, i0, t0, i1, t1, i2, t2, i3, t3):
    """Multilinear value of the 4-D array ``a`` at cell (i0..i3) and fractions (t0..t3)."""
    acc = 0.0
    for c0 in range(2):
        w0 = t0 if c0 else 1.0 - t0
        if w0 == 0.0:
            continue
        for c1 in range(2):
            w1 = t1 if c1 else 1.0 - t1
            if w1 == 0.0:
                continue
            for c2 in range(2):
                w2 = t2 if c2 else 1.0 - t2
                if w2 == 0.0:
                    continue
                for c3 in range(2):
                    w3 = t3 if c3 else 1.0 - t3
                    if w3 == 0.0:
                        continue
                    acc += w0 * w1 * w2 * w3 * a[i0 + c0, i1 + c1, i2 + c2, i3 + c3]
    return acc


@njit(cache=True, nogil=True)
def water_transmittance(arrays, gas_band, slant_water):
    """Water-vapour transmittance of a band of the gas table for a slant column ``U (1/mu_s + 1/mu_v)`` (g/cm2)."""
    i, t = _locate(arrays.slant_water, slant_water)
    w = arrays.water_transmittance
    return (1.0 - t) * w[gas_band, i] + t * w[gas_band, i + 1]


@njit(cache=True, nogil=True)
def atmosphere_terms(arrays, band, platform, sun_zenith, view_zenith, rel_azimuth, aot, water_vapour, pressure,
                     out):
    """Fill ``out`` (float64, :data:`N_TERMS`) with the atmospheric terms of one band at one set of conditions.

    Parameters
    ----------
    arrays : l2a.atmosphere.table.TableArrays
        The loaded table.
    band : int
        Index of the band in the table (:meth:`AtmosphereTable.band_index`).
    platform : int
        0 for Sentinel-2A (and 2C), 1 for Sentinel-2B.
    sun_zenith, view_zenith, rel_azimuth : float
        Degrees; relative azimuth 0 = backscatter.
    aot : float
        Aerosol optical thickness at 550 nm (continental model).
    water_vapour : float
        Vertical water-vapour column (g/cm2).
    pressure : float
        Surface pressure (hPa).
    """
    rel_azimuth = abs((rel_azimuth + 180.0) % 360.0 - 180.0)  # symmetric: fold into [0, 180]
    ia, ta = _locate(arrays.aot, aot)
    i_s, t_s = _locate(arrays.sun_zenith, sun_zenith)
    iv, tv = _locate(arrays.view_zenith, view_zenith)
    iz, tz = _locate(arrays.rel_azimuth, rel_azimuth)
    vals = np.empty(_N_Q)
    for q in range(_N_Q):
        vals[q] = _lerp4(arrays.sea[band, q], ia, ta, i_s, t_s, iv, tv, iz, tz)
    if pressure != SEA_LEVEL_HPA:
        p = min(max(pressure, MIN_PRESSURE_HPA), MAX_PRESSURE_HPA)
        nodes = arrays.pressure
        n_p = nodes.shape[0]
        ip = 0 if p < nodes[1] else n_p - 2
        for k in range(1, n_p - 1):
            if nodes[k] <= p < nodes[k + 1]:
                ip = k
        tp = (p - nodes[ip]) / (nodes[ip + 1] - nodes[ip])  # outside [0, 1] when extrapolating
        ja, ua = _locate(arrays.p_aot, aot)
        js, us = _locate(arrays.p_sun_zenith, sun_zenith)
        jv, uv = _locate(arrays.p_view_zenith, view_zenith)
        jz, uz = _locate(arrays.p_rel_azimuth, rel_azimuth)
        for q in range(_N_Q):
            d0 = _lerp4(arrays.pressure_delta[band, q, ip], ja, ua, js, us, jv, uv, jz, uz)
            d1 = _lerp4(arrays.pressure_delta[band, q, ip + 1], ja, ua, js, us, jv, uv, jz, uz)
            vals[q] += (1.0 - tp) * d0 + tp * d1
    vals[_Q_T_DOWN] = math.exp(vals[_Q_T_DOWN])  # transmittances are interpolated as logarithms
    vals[_Q_T_UP] = math.exp(vals[_Q_T_UP])
    if platform == _PLATFORM_S2B:
        ka, ra = _locate(arrays.r_aot, aot)
        ks, rs = _locate(arrays.r_sun_zenith, sun_zenith)
        kv, rv = _locate(arrays.r_view_zenith, view_zenith)
        kz, rz = _locate(arrays.r_rel_azimuth, rel_azimuth)
        for q in range(_N_Q):
            vals[q] *= _lerp4(arrays.s2b_ratio[band, q], ka, ra, ks, rs, kv, rv, kz, rz)
    mu_s = math.cos(math.radians(sun_zenith))
    mu_v = math.cos(math.radians(view_zenith))
    slant = max(water_vapour, 0.0) * (1.0 / mu_s + 1.0 / mu_v)
    iw, tw = _locate(arrays.slant_water, slant)
    ig, tg = _locate(arrays.g_aot, aot)
    wp = arrays.water_path_ratio
    path_dimming = ((1.0 - tg) * ((1.0 - tw) * wp[band, ig, iw] + tw * wp[band, ig, iw + 1])
                    + tg * ((1.0 - tw) * wp[band, ig + 1, iw] + tw * wp[band, ig + 1, iw + 1]))
    out[TERM_PATH] = vals[_Q_PATH] * path_dimming
    out[TERM_GAS] = vals[_Q_GAS] * water_transmittance(arrays, band, slant)
    out[TERM_T_DOWN] = vals[_Q_T_DOWN]
    out[TERM_T_UP] = vals[_Q_T_UP]
    out[TERM_SPHERICAL_ALBEDO] = vals[_Q_S]
    out[TERM_T_DIR_DOWN] = math.exp(-vals[_Q_TAU] / mu_s)
    out[TERM_T_DIR_UP] = math.exp(-vals[_Q_TAU] / mu_v)


@njit(cache=True, nogil=True)
def surface_from_toa(toa, terms):
    """Surface reflectance of a Lambertian ground from TOA reflectance (see the module's model)."""
    y = (toa - terms[TERM_PATH]) / (terms[TERM_GAS] * terms[TERM_T_DOWN] * terms[TERM_T_UP])
    return y / (1.0 + terms[TERM_SPHERICAL_ALBEDO] * y)


@njit(cache=True, nogil=True)
def toa_from_surface(rho, terms):
    """TOA reflectance of a Lambertian ground of reflectance ``rho`` (see the module's model)."""
    return terms[TERM_PATH] + (terms[TERM_GAS] * terms[TERM_T_DOWN] * terms[TERM_T_UP] * rho
                               / (1.0 - terms[TERM_SPHERICAL_ALBEDO] * rho))


@njit(cache=True, nogil=True)
def _convert_flat(arrays, band, platform, value, sun_zenith, view_zenith, rel_azimuth, aot, water_vapour,
                  pressure, out, inverse):
    terms = np.empty(N_TERMS)
    for k in range(value.shape[0]):
        atmosphere_terms(arrays, band, platform, sun_zenith[k], view_zenith[k], rel_azimuth[k], aot[k],
                         water_vapour[k], pressure[k], terms)
        out[k] = surface_from_toa(value[k], terms) if inverse else toa_from_surface(value[k], terms)


@njit(cache=True, nogil=True)
def surface_reflectance_flat(arrays, band, platform, toa, sun_zenith, view_zenith, rel_azimuth, aot,
                             water_vapour, pressure, out):
    """:func:`surface_from_toa` over 1-D float64 arrays of equal length (one set of conditions per element)."""
    _convert_flat(arrays, band, platform, toa, sun_zenith, view_zenith, rel_azimuth, aot, water_vapour, pressure,
                  out, True)


@njit(cache=True, nogil=True)
def toa_reflectance_flat(arrays, band, platform, rho, sun_zenith, view_zenith, rel_azimuth, aot, water_vapour,
                         pressure, out):
    """:func:`toa_from_surface` over 1-D float64 arrays of equal length (one set of conditions per element)."""
    _convert_flat(arrays, band, platform, rho, sun_zenith, view_zenith, rel_azimuth, aot, water_vapour, pressure,
                  out, False)


@njit(cache=True, nogil=True)
def atmosphere_terms_flat(arrays, band, platform, sun_zenith, view_zenith, rel_azimuth, aot, water_vapour,
                          pressure, out):
    """:func:`atmosphere_terms` over 1-D float64 arrays of conditions of equal length ``n``; ``out`` is float64
    (N_TERMS, n)."""
    terms = np.empty(N_TERMS)
    for k in range(sun_zenith.shape[0]):
        atmosphere_terms(arrays, band, platform, sun_zenith[k], view_zenith[k], rel_azimuth[k], aot[k],
                         water_vapour[k], pressure[k], terms)
        for t in range(N_TERMS):
            out[t, k] = terms[t]
