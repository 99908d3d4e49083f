"""numpy twins of :mod:`l2a.atmosphere.kernels`, written independently (scipy's regular-grid interpolation), for
the tests: slow, vectorised over points, same conventions and clamping."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from .kernels import (MAX_PRESSURE_HPA, MIN_PRESSURE_HPA, N_TERMS, SEA_LEVEL_HPA, TERM_GAS, TERM_PATH,
                      TERM_SPHERICAL_ALBEDO, TERM_T_DIR_DOWN, TERM_T_DIR_UP, TERM_T_DOWN, TERM_T_UP)
from .table import LOG_QUANTITIES, QUANTITIES, TableArrays

__all__ = ["atmosphere_terms_ref", "surface_from_toa_ref", "toa_from_surface_ref"]


def _interp(axes, values, *coords):
    """Multilinear interpolation with every coordinate clamped to its axis (degenerate axes allowed)."""
    keep = [i for i, a in enumerate(axes) if a.size > 1]
    vals = values.reshape([a.size for a in axes if a.size > 1] or [1])
    pts = np.stack([np.clip(np.asarray(coords[i], float), axes[i][0], axes[i][-1]) for i in keep], axis=-1)
    return RegularGridInterpolator([axes[i] for i in keep], vals)(pts)


def atmosphere_terms_ref(arrays: TableArrays, band: int, platform: int, sun_zenith, view_zenith, rel_azimuth, aot,
                         water_vapour, pressure) -> np.ndarray:
    """Terms of :func:`l2a.atmosphere.kernels.atmosphere_terms` for 1-D arrays of conditions: (n, N_TERMS)."""
    sz, vz, az, aot, wv, p = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, float)) for x in (
        sun_zenith, view_zenith, rel_azimuth, aot, water_vapour, pressure)))
    az = np.abs(np.mod(az + 180.0, 360.0) - 180.0)
    vals = {}
    for q, name in enumerate(QUANTITIES):
        v = _interp([arrays.aot, arrays.sun_zenith, arrays.view_zenith, arrays.rel_azimuth],
                    arrays.sea[band, q], aot, sz, vz, az)
        # pressure: per node delta, then linear in pressure with extrapolation beyond the nodes
        deltas = np.stack([_interp([arrays.p_aot, arrays.p_sun_zenith, arrays.p_view_zenith, arrays.p_rel_azimuth],
                                   arrays.pressure_delta[band, q, k], aot, sz, vz, az)
                           for k in range(arrays.pressure.size)])
        pc = np.clip(p, MIN_PRESSURE_HPA, MAX_PRESSURE_HPA)
        nodes = arrays.pressure
        k = np.clip(np.searchsorted(nodes, pc, side="right") - 1, 0, nodes.size - 2)
        t = (pc - nodes[k]) / (nodes[k + 1] - nodes[k])
        idx = np.arange(pc.size)
        d = (1 - t) * deltas[k, idx] + t * deltas[k + 1, idx]
        v = v + np.where(p == SEA_LEVEL_HPA, 0.0, d)
        if name in LOG_QUANTITIES:
            v = np.exp(v)
        if platform == 1:
            v = v * _interp([arrays.r_aot, arrays.r_sun_zenith, arrays.r_view_zenith, arrays.r_rel_azimuth],
                            arrays.s2b_ratio[band, q], aot, sz, vz, az)
        vals[name] = v
    mu_s, mu_v = np.cos(np.radians(sz)), np.cos(np.radians(vz))
    slant = np.maximum(wv, 0.0) * (1 / mu_s + 1 / mu_v)
    water_t = np.interp(slant, arrays.slant_water, arrays.water_transmittance[band])
    dimming = _interp([arrays.g_aot, arrays.slant_water], arrays.water_path_ratio[band], aot, slant)
    out = np.empty((sz.size, N_TERMS))
    out[:, TERM_PATH] = vals["path"] * dimming
    out[:, TERM_GAS] = vals["gas_other"] * water_t
    out[:, TERM_T_DOWN] = vals["t_down"]
    out[:, TERM_T_UP] = vals["t_up"]
    out[:, TERM_SPHERICAL_ALBEDO] = vals["spherical_albedo"]
    out[:, TERM_T_DIR_DOWN] = np.exp(-vals["optical_depth"] / mu_s)
    out[:, TERM_T_DIR_UP] = np.exp(-vals["optical_depth"] / mu_v)
    return out


def surface_from_toa_ref(toa, terms):
    """Surface reflectance from TOA reflectance, ``terms`` (..., N_TERMS)."""
    t = terms[..., TERM_GAS] * terms[..., TERM_T_DOWN] * terms[..., TERM_T_UP]
    y = (np.asarray(toa, float) - terms[..., TERM_PATH]) / t
    return y / (1 + terms[..., TERM_SPHERICAL_ALBEDO] * y)


def toa_from_surface_ref(rho, terms):
    """TOA reflectance of a Lambertian ground, ``terms`` (..., N_TERMS)."""
    rho = np.asarray(rho, float)
    t = terms[..., TERM_GAS] * terms[..., TERM_T_DOWN] * terms[..., TERM_T_UP]
    return terms[..., TERM_PATH] + t * rho / (1 - terms[..., TERM_SPHERICAL_ALBEDO] * rho)
