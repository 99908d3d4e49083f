"""Atmosphere of the simulated world: aerosol and water-vapour fields, and the simple forward model surface -> TOA.

Forward model (SMAC-like, documented; Rahman & Dedieu 1994 structure, simpler physics)::

    rho_toa = Tg * (rho_atm + Ts * Tv * rho_s / (1 - S * rho_s))
    rho_s   = y / (Ts * Tv + S * y),   y = rho_toa / Tg - rho_atm          (exact inverse)

with, per band (constants in :data:`BAND_CONSTANTS`), air mass ``m = 1/mu_s + 1/mu_v`` and pressure ratio
``p = P / 1013.25`` (P from altitude, ``1013.25 (1 - 0.0065 z / 288.15)^5.31`` hPa):

* Rayleigh optical depth ``tau_r = 0.008569 l^-4 (1 + 0.0113 l^-2 + 0.00013 l^-4) p`` (l in um, Hansen & Travis);
* aerosol optical depth ``tau_a = AOT550 (l / 0.55)^-1.3`` (continental Angstrom exponent), single-scattering albedo
  0.93, two-term Henyey-Greenstein phase function (0.9 g=0.72 + 0.1 g=-0.45);
* path reflectance, single scattering (thin-atmosphere limit, as SMAC's Rayleigh term):
  ``rho_atm = (tau_r P_r + w tau_a P_a) / (4 mu_s mu_v)`` with ``P_r = 0.75 (1 + cos^2 Theta)``,
  ``cos Theta = -(mu_s mu_v + sin t_s sin t_v cos(phi_s - phi_v))``; haze thus adds path reflectance, mostly in
  the blue, and an AOT underestimated by the retrieval leaves the surface slightly too bright there;
* total (direct + diffuse) transmissions ``T(mu) = exp(-(0.5 tau_r + 0.25 tau_a) / mu)``;
* spherical albedo ``S = 0.92 tau_r exp(-tau_r) + 0.09 tau_a``;
* gas transmission ``Tg = exp(-k_O3 U_O3 m) exp(-a_w (W m)^n_w) exp(-tau_g p m)``, ozone 0.30 cm-atm, water vapour
  ``W`` (g/cm2): strong absorption in B9 (945 nm) and B10 (1375 nm, where the surface is barely seen and cirrus is).

Clouds (a layer of reflectance ``R`` above the clear atmosphere, transmittance ``1 - R/f``), cloud shadows (surface
lit by diffuse light only: ``rho_s (f_dif + (1 - f_dif) T_dir)``) are applied by :func:`observe` to a directional
surface reflectance computed beforehand (the ground's per-land-cover BRDF, :mod:`l2a.simulate.surface_brdf`; the
``C_ISO``, ``C_VOL``, ``C_GEO`` columns and :func:`brdf_ratio` hold the global Roy et al. model of :mod:`l2a.brdf`,
the reference around which the per-cover weights vary). A replacement forward model (the L2A core's
6S look-up table) provides the same two numba functions :func:`toa_from_surface` and :func:`surface_from_toa` on a
row of band constants.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from l2a.brdf import BRDF_COEFFICIENTS, kernels, kernels_ref

from .noise import fbm, smoothstep, value_noise

__all__ = ["BAND_CONSTANTS", "toa_from_surface", "surface_from_toa", "toa_from_surface_ref", "add_clouds",
           "surface_from_toa_ref", "brdf_ratio", "brdf_kernels", "brdf_ratio_ref", "pressure_ratio",
           "aerosol_water", "observe", "scattering_cos"]

_OZONE_CM_ATM = 0.30
_ANGSTROM = 1.3
_OMEGA = 0.93
_G1, _G2, _F1 = 0.72, -0.45, 0.9

# Column indices of BAND_CONSTANTS.
(C_WAVELENGTH, C_TAU_R, C_K_O3, C_A_W, C_N_W, C_TAU_G, C_F_DIF, C_CLOUD_LIQ, C_CLOUD_ICE, C_ISO, C_VOL,
 C_GEO, C_AOT_FACTOR) = range(13)


def _rayleigh(l_um):
    return 0.008569 * l_um ** -4 * (1.0 + 0.0113 * l_um ** -2 + 0.00013 * l_um ** -4)


def _table() -> np.ndarray:
    wl = np.array([0.4427, 0.4927, 0.5598, 0.6646, 0.7041, 0.7405, 0.7828, 0.8328, 0.8647, 0.9451, 1.3735,
                   1.6137, 2.2024])
    k_o3 = [0.004, 0.02, 0.10, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0, 0.0, 0.0, 0.0]
    a_w = [0.0, 0.0, 0.0003, 0.001, 0.010, 0.004, 0.003, 0.012, 0.008, 0.28, 2.0, 0.005, 0.020]
    n_w = [0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.55, 0.5, 0.6, 0.6]
    tau_g = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.005, 0.002, 0.0, 0.0, 0.002, 0.012, 0.045]
    f_dif = [0.35, 0.28, 0.20, 0.15, 0.13, 0.11, 0.10, 0.09, 0.085, 0.08, 0.05, 0.05, 0.04]
    liquid = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.85, 0.70]
    ice = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.95, 0.65, 0.45]
    # BRDF coefficients of l2a.brdf (Roy et al.), the global reference of the per-cover weights of surface_brdf;
    # B1 as B2, B9 as B8A, B10 as B11
    order = ("B2", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B8A", "B11", "B11", "B12")
    iso, geo, vol = zip(*(BRDF_COEFFICIENTS[b] for b in order))
    table = np.column_stack([wl, _rayleigh(wl), k_o3, a_w, n_w, tau_g, f_dif, liquid, ice, iso, vol, geo,
                             (wl / 0.55) ** -_ANGSTROM])
    table.setflags(write=False)
    return table


#: float64 (13 bands, 13): per-band constants of the forward model, ESA band order (see module doc).
BAND_CONSTANTS = _table()


@njit(cache=True, nogil=True)
def pressure_ratio(z):
    """Surface pressure / 1013.25 hPa at altitude ``z`` (m), standard atmosphere."""
    return (1.0 - 0.0065 * max(z, 0.0) / 288.15) ** 5.31


@njit(cache=True, nogil=True)
def scattering_cos(mu_s, mu_v, cos_dphi):
    """Cosine of the scattering angle for sun/view cosines and cos(sun azimuth - view azimuth)."""
    ss = math.sqrt(max(1.0 - mu_s * mu_s, 0.0))
    sv = math.sqrt(max(1.0 - mu_v * mu_v, 0.0))
    return max(-(mu_s * mu_v + ss * sv * cos_dphi), -1.0)


@njit(cache=True, nogil=True)
def _hg(g, c):
    return (1.0 - g * g) / (1.0 + g * g - 2.0 * g * c) ** 1.5


@njit(cache=True, nogil=True)
def _geometry(mu_s, mu_v, cos_scat):
    """Band-independent terms: air mass, Rayleigh and aerosol phase functions."""
    m = 1.0 / mu_s + 1.0 / mu_v
    p_r = 0.75 * (1.0 + cos_scat * cos_scat)
    p_a = _F1 * _hg(_G1, cos_scat) + (1.0 - _F1) * _hg(_G2, cos_scat)
    return m, p_r, p_a


@njit(cache=True, nogil=True)
def _band_terms(k, mu_s, mu_v, m, p_r, p_a, aot, wv, p):
    """(Tg, rho_atm, Ts*Tv, S) of the forward model for a row ``k`` of band constants."""
    tau_r = k[C_TAU_R] * p
    tau_a = aot * k[C_AOT_FACTOR]
    tg = math.exp(-k[C_K_O3] * _OZONE_CM_ATM * m - k[C_TAU_G] * p * m)
    if k[C_A_W] > 0.0 and wv > 0.0:
        tg *= math.exp(-k[C_A_W] * math.exp(k[C_N_W] * math.log(wv * m)))
    rho_atm = (tau_r * p_r + _OMEGA * tau_a * p_a) / (4.0 * mu_s * mu_v)
    tt = math.exp(-(0.5 * tau_r + 0.25 * tau_a) * m)
    s = 0.92 * tau_r * math.exp(-tau_r) + 0.09 * tau_a
    return tg, rho_atm, tt, s


@njit(cache=True, nogil=True)
def _terms(k, mu_s, mu_v, cos_scat, aot, wv, p):
    m, p_r, p_a = _geometry(mu_s, mu_v, cos_scat)
    return _band_terms(k, mu_s, mu_v, m, p_r, p_a, aot, wv, p)


@njit(cache=True, nogil=True)
def toa_from_surface(k, rho_s, mu_s, mu_v, cos_scat, aot, wv, p):
    """TOA reflectance of a Lambertian surface of reflectance ``rho_s`` (one band, constants row ``k``).

    Parameters
    ----------
    k : numpy.ndarray
        float64 (12,) band constants (a row of :data:`BAND_CONSTANTS`).
    rho_s : float
        Surface reflectance.
    mu_s, mu_v : float
        Cosines of the sun and view zenith angles.
    cos_scat : float
        Cosine of the scattering angle (:func:`scattering_cos`).
    aot : float
        Aerosol optical thickness at 550 nm.
    wv : float
        Water vapour column, g/cm2.
    p : float
        Pressure ratio (:func:`pressure_ratio`).
    """
    tg, rho_atm, tt, s = _terms(k, mu_s, mu_v, cos_scat, aot, wv, p)
    return tg * (rho_atm + tt * rho_s / (1.0 - s * rho_s))


@njit(cache=True, nogil=True)
def surface_from_toa(k, rho_toa, mu_s, mu_v, cos_scat, aot, wv, p):
    """Inverse of :func:`toa_from_surface` (same arguments, TOA reflectance in, surface reflectance out)."""
    tg, rho_atm, tt, s = _terms(k, mu_s, mu_v, cos_scat, aot, wv, p)
    y = rho_toa / tg - rho_atm
    return y / (tt + s * y)


@njit(cache=True, nogil=True)
def brdf_kernels(sun_zen, view_zen, rel_az):
    """(K_vol, K_geo) at the given geometry and at nadir view with the same sun; angles in degrees."""
    ts, tv, dphi = math.radians(sun_zen), math.radians(view_zen), math.radians(rel_az)
    kv, kg = kernels(ts, tv, dphi)
    kv0, kg0 = kernels(ts, 0.0, 0.0)
    return kv, kg, kv0, kg0


@njit(cache=True, nogil=True)
def brdf_ratio(k, sun_zen, view_zen, rel_az):
    """Directional reflectance over nadir-view reflectance, same sun: B(sun, view, phi) / B(sun, 0, 0).

    Angles in degrees; ``rel_az`` = sun azimuth - view azimuth (0 = hot-spot side).
    """
    kv, kg, kv0, kg0 = brdf_kernels(sun_zen, view_zen, rel_az)
    return (k[C_ISO] + k[C_VOL] * kv + k[C_GEO] * kg) / (k[C_ISO] + k[C_VOL] * kv0 + k[C_GEO] * kg0)


@njit(cache=True, nogil=True)
def aerosol_water(x, y, z, aot_base, haze_amp, wv_base, seed):
    """Aerosol and water vapour at a world point on one day.

    Returns
    -------
    aot, wv : float
        True AOT at 550 nm and water vapour (g/cm2).
    aot_est, wv_est : float
        What a MAJA-like retrieval finds: the smooth part of the AOT, half of the haze patches, plus a
        spatially correlated error; water vapour within a few percent.
    """
    smooth = aot_base * (1.0 + 0.35 * fbm(x / 70000.0, y / 70000.0, seed + 1, 3))
    haze = 0.0
    if haze_amp > 0.0:
        haze = haze_amp * smoothstep(0.1, 0.45, fbm(x / 25000.0, y / 25000.0, seed + 2, 3))
    scale = math.exp(-z / 1800.0)
    aot = (smooth + haze) * scale
    error = 0.08 * value_noise(x / 40000.0, y / 40000.0, seed + 3) * smooth + 0.02 * value_noise(
        x / 15000.0, y / 15000.0, seed + 4)
    aot_est = max((smooth + 0.5 * haze) * scale + error, 0.01)
    wv = wv_base * (1.0 + 0.2 * fbm(x / 100000.0, y / 100000.0, seed + 5, 2)) * math.exp(-z / 2200.0)
    wv_est = wv * (1.0 + 0.05 * value_noise(x / 20000.0, y / 20000.0, seed + 6))
    return aot, wv, aot_est, wv_est


@njit(cache=True, nogil=True)
def observe(k, rho_s, mu_s, mu_v, cos_scat, aot, wv, p, t_dir, tau_liq, tau_ice, wv_above):
    """TOA reflectance of one band with cloud shadow and cloud layers.

    Parameters
    ----------
    k, rho_s, mu_s, mu_v, cos_scat, aot, wv, p
        As :func:`toa_from_surface`; ``rho_s`` is the directional surface reflectance.
    t_dir : float
        Transmittance of the direct sun beam through the clouds upwind (1 = no shadow).
    tau_liq, tau_ice : float
        Optical thickness of the water clouds and of the cirrus on the line of sight.
    wv_above : float
        Water vapour above the water clouds, g/cm2 (absorbs their signal in B9/B10 less than the ground's).
    """
    m, p_r, p_a = _geometry(mu_s, mu_v, cos_scat)
    return _observe(k, rho_s, mu_s, mu_v, m, p_r, p_a, aot, wv, p, t_dir, tau_liq, tau_ice, wv_above)


@njit(cache=True, nogil=True)
def _observe(k, rho_s, mu_s, mu_v, m, p_r, p_a, aot, wv, p, t_dir, tau_liq, tau_ice, wv_above):
    lit = rho_s * (k[C_F_DIF] + (1.0 - k[C_F_DIF]) * t_dir)
    tg, rho_atm, tt, s = _band_terms(k, mu_s, mu_v, m, p_r, p_a, aot, wv, p)
    toa = tg * (rho_atm + tt * lit / (1.0 - s * lit))
    return add_clouds(k, toa, rho_s, m, tau_liq, tau_ice, wv_above)


@njit(cache=True, nogil=True)
def add_clouds(k, toa, rho_s, m, tau_liq, tau_ice, wv_above):
    """TOA reflectance of one band seen through the water clouds and the cirrus on the line of sight, from the
    clear-sky TOA reflectance ``toa`` of a ground of reflectance ``rho_s`` (whatever model made it); arguments as
    :func:`observe`, ``m`` the air mass."""
    if tau_liq > 0.0:
        r = tau_liq / (tau_liq + 6.5)
        tg = math.exp(-k[C_K_O3] * _OZONE_CM_ATM * m)
        if k[C_A_W] > 0.0 and wv_above > 0.0:
            tg *= math.exp(-k[C_A_W] * math.exp(k[C_N_W] * math.log(wv_above * m)))
        toa = tg * k[C_CLOUD_LIQ] * r + (1.0 - r) ** 2 * toa / (1.0 - r * rho_s)
    if tau_ice > 0.0:
        r = tau_ice / (tau_ice + 9.0)
        tg = math.exp(-k[C_K_O3] * _OZONE_CM_ATM * m)
        toa = tg * k[C_CLOUD_ICE] * r + (1.0 - r) ** 2 * toa
    return toa


# --- numpy twins ---------------------------------------------------------------------------------------------

def _terms_ref(k, mu_s, mu_v, cos_scat, aot, wv, p):
    m = 1.0 / mu_s + 1.0 / mu_v
    tau_r = k[C_TAU_R] * p
    tau_a = aot * k[C_AOT_FACTOR]
    tg = np.exp(-k[C_K_O3] * _OZONE_CM_ATM * m - k[C_TAU_G] * p * m)
    if k[C_A_W] > 0.0:
        tg = tg * np.where(wv > 0.0, np.exp(-k[C_A_W] * (np.maximum(wv, 0.0) * m) ** k[C_N_W]), 1.0)
    hg = lambda g: (1.0 - g * g) / (1.0 + g * g - 2.0 * g * cos_scat) ** 1.5      # noqa: E731
    p_r = 0.75 * (1.0 + cos_scat * cos_scat)
    p_a = _F1 * hg(_G1) + (1.0 - _F1) * hg(_G2)
    rho_atm = (tau_r * p_r + _OMEGA * tau_a * p_a) / (4.0 * mu_s * mu_v)
    tt = np.exp(-(0.5 * tau_r + 0.25 * tau_a) * m)
    s = 0.92 * tau_r * np.exp(-tau_r) + 0.09 * tau_a
    return tg, rho_atm, tt, s


def toa_from_surface_ref(k, rho_s, mu_s, mu_v, cos_scat, aot, wv, p):
    """numpy twin of :func:`toa_from_surface` (arrays broadcast)."""
    tg, rho_atm, tt, s = _terms_ref(k, *(np.asarray(a, np.float64) for a in (mu_s, mu_v, cos_scat, aot, wv, p)))
    rho_s = np.asarray(rho_s, np.float64)
    return tg * (rho_atm + tt * rho_s / (1.0 - s * rho_s))


def surface_from_toa_ref(k, rho_toa, mu_s, mu_v, cos_scat, aot, wv, p):
    """numpy twin of :func:`surface_from_toa`."""
    tg, rho_atm, tt, s = _terms_ref(k, *(np.asarray(a, np.float64) for a in (mu_s, mu_v, cos_scat, aot, wv, p)))
    y = np.asarray(rho_toa, np.float64) / tg - rho_atm
    return y / (tt + s * y)


def brdf_ratio_ref(k, sun_zen, view_zen, rel_az):
    """numpy twin of :func:`brdf_ratio`."""
    ts, tv, dphi = (np.radians(np.asarray(a, np.float64)) for a in (sun_zen, view_zen, rel_az))
    kv, kg = kernels_ref(ts, tv, dphi)
    kv0, kg0 = kernels_ref(ts, np.zeros_like(ts), np.zeros_like(ts))
    return (k[C_ISO] + k[C_VOL] * kv + k[C_GEO] * kg) / (k[C_ISO] + k[C_VOL] * kv0 + k[C_GEO] * kg0)


#: Forward models of the simulated atmosphere (``l2a simulate --atmosphere``).
ATMOSPHERE_MODELS = ("6s", "analytic")
_ESA_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")


def forward_model_args(model: str, platform: str) -> tuple:
    """The ``atmo, atmo_bands, atmo_platform, atmo_water_b9`` arguments of :func:`l2a.simulate.kernels.scene_block`.

    ``6s``: the clear sky of the ten bands of an L2A product comes from the 6S look-up table of
    :mod:`l2a.atmosphere` (the processor's own physics), B1, B9 and B10 from the analytic model, except that B9's
    water-vapour absorption is the 6S table's (what the processor's water vapour retrieval reads); ``analytic``:
    every band from the analytic model of this module (a world whose physics differ from the processor's).
    """
    from l2a.atmosphere import load_table

    if model not in ATMOSPHERE_MODELS:
        from l2a.errors import InvalidParameterError
        raise InvalidParameterError(f"atmosphere must be one of {', '.join(ATMOSPHERE_MODELS)}, not {model!r}")
    table = load_table()
    bands = np.full(len(_ESA_BANDS), -1, np.int64)
    water_b9 = -1
    if model == "6s":
        for i, band in enumerate(_ESA_BANDS):
            if band in table.surface_bands:
                bands[i] = table.band_index(band)
        water_b9 = table.band_index("B9", gas=True)
    code, _ = table.platform_code(platform)
    return table.arrays, bands, code, water_b9
