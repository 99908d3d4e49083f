"""Directional reflectance of Sentinel-2 bands: the kernel BRDF model of Roy et al. (2016), its coefficients, and the
c-factor that normalises an observation to nadir view.

The one home of the model: the simulator renders directional reflectance with it (:mod:`l2a.simulate`) and the
synthesis normalises with it (:mod:`l3a.compose`). The simulator takes only the kernel shapes from here
(:func:`kernels`, :func:`kernels_cs`): its ground has its own weights per land cover
(:mod:`l2a.simulate.surface_brdf`), so that the synthesis' normalisation is judged against a surface it does not
know exactly.

``rho(sza, vza, raa) = f_iso + f_vol * K_vol + f_geo * K_geo`` with fixed per-band coefficients (Roy et al. 2016;
red-edge bands from Roy et al. 2017), the Ross-Thick volume kernel and the Li-Sparse-Reciprocal geometric kernel
(Lucht et al. 2000, the MODIS BRDF/albedo product's kernels, h/b = 2, b/r = 1). The observed reflectance is
multiplied by ``c = rho(sza, 0, 0) / rho(sza, vza, raa)``: nadir view, the actual sun zenith.

Conventions: angles in degrees in the public functions (radians in :func:`kernels`); ``sza``, ``vza`` zeniths
(0-90); ``raa`` relative azimuth between view and sun: 0 puts the sensor on the sun's side (backscatter; the hot spot
when ``vza == sza``), 180 the forward-scattering direction. Only ``cos(raa)`` matters, so any sign or multiple of 360
gives the same kernels.

Kernels (``xi`` phase angle, ``cos xi = cos sza cos vza + sin sza sin vza cos raa``):

- Ross-Thick, in the ``- pi/4`` form of Roy et al. (no hot spot, no ``4 / (3 pi)`` factor)::

      K_vol = ((pi/2 - xi) cos xi + sin xi) / (cos sza + cos vza) - pi/4

- Li-Sparse-Reciprocal, with ``b/r = 1`` (so the parameterised angles equal the true ones) and ``h/b = 2``::

      D^2    = tan^2 sza + tan^2 vza - 2 tan sza tan vza cos raa
      cos t  = (h/b) sqrt(D^2 + (tan sza tan vza sin raa)^2) / (sec sza + sec vza),   clipped to [-1, 1]
      O      = (t - sin t cos t)(sec sza + sec vza) / pi
      K_geo  = O - sec sza - sec vza + (1 + cos xi) sec sza sec vza / 2

At sun and view both at nadir both kernels are exactly 0 (``xi = 0``: ``(pi/2)/2 - pi/4 = 0``; ``D = 0``, ``t = pi/2``,
``O = 1``, ``K_geo = 1 - 2 + 1 = 0``), so ``rho = f_iso`` there. WASP swaps the two kernels, uses ``h/b = 1`` and adds a
hot spot (reference-wasp.md section 6.3); this module follows Roy et al.

:func:`kernels` is the numba form (scalars, for the simulator's pixel loops) and :func:`kernels_ref` its numpy twin
(arrays, the same operations in the same order); the public functions on arrays are built on the twin, float64 inside.
The angle fields are smooth (Sentinel-2 gives them on 5 km nodes): evaluate :func:`c_factor` on a coarse grid and
resample it rather than per 10 m pixel.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping

import numpy as np
from numba import njit

from l2a.errors import BandNotFoundError
from l2a.sensors import normalize_band

__all__ = [
    "BRDF_COEFFICIENTS",
    "HEIGHT_TO_BASE",
    "BASE_TO_RADIUS",
    "brdf_coefficients",
    "kernels",
    "kernels_cs",
    "kernels_ref",
    "relative_azimuth",
    "ross_thick",
    "li_sparse_r",
    "model_reflectance",
    "c_factor",
]

#: (f_iso, f_geo, f_vol) per Sentinel-2 band, Roy et al. (2016) Table 1 (B2, B3, B4, B8/B8A, B11, B12) and Roy et al.
#: (2017) for the red-edge bands B5, B6, B7 (SPEC section 4). Reflectance units (0-1).
BRDF_COEFFICIENTS: Mapping[str, tuple[float, float, float]] = MappingProxyType({
    "B2": (0.0774, 0.0079, 0.0372),
    "B3": (0.1306, 0.0178, 0.0580),
    "B4": (0.1690, 0.0227, 0.0574),
    "B5": (0.2085, 0.0256, 0.0845),
    "B6": (0.2316, 0.0273, 0.1003),
    "B7": (0.2599, 0.0294, 0.1197),
    "B8": (0.3093, 0.0330, 0.1535),
    "B8A": (0.3093, 0.0330, 0.1535),
    "B11": (0.3430, 0.0453, 0.1154),
    "B12": (0.2658, 0.0387, 0.0639),
})

HEIGHT_TO_BASE = 2.0  # h/b of the Li-Sparse crowns (MODIS, Roy et al.)
BASE_TO_RADIUS = 1.0  # b/r: spherical crowns (MODIS, Roy et al.); the kernels are written for this value only


@njit(cache=True, nogil=True)
def kernels(sza, vza, raa):
    """Ross-Thick and Li-Sparse-Reciprocal kernels at one geometry (numba).

    Parameters
    ----------
    sza, vza : float
        Sun and view zenith angles, radians (0 - pi/2).
    raa : float
        Relative azimuth between view and sun, radians.

    Returns
    -------
    k_vol, k_geo : float
        K_vol and K_geo (unitless); both 0 at ``sza = vza = 0``.
    """
    cs, cv = math.cos(sza), math.cos(vza)
    ss, sv = math.sin(sza), math.sin(vza)
    cxi = min(max(cs * cv + ss * sv * math.cos(raa), -1.0), 1.0)
    xi = math.acos(cxi)
    k_vol = ((math.pi / 2.0 - xi) * cxi + math.sin(xi)) / (cs + cv) - math.pi / 4.0
    tan_s, tan_v = ss / cs, sv / cv
    d2 = tan_s * tan_s + tan_v * tan_v - 2.0 * tan_s * tan_v * math.cos(raa)
    sec = 1.0 / cs + 1.0 / cv
    cost = HEIGHT_TO_BASE * math.sqrt(max(d2 + (tan_s * tan_v * math.sin(raa)) ** 2, 0.0)) / sec
    cost = min(max(cost, -1.0), 1.0)
    t = math.acos(cost)
    overlap = (t - math.sin(t) * cost) * sec / math.pi
    k_geo = overlap - sec + 0.5 * (1.0 + cxi) / (cs * cv)
    return k_vol, k_geo


@njit(cache=True, nogil=True)
def kernels_cs(cos_sza, sin_sza, cos_vza, sin_vza, cos_raa, sin_raa):
    """:func:`kernels` from the cosines and sines of the angles (numba), for callers that have them already (the
    simulator's per-band viewing directions come as vectors): the same formulas, no trigonometric call but two
    ``acos``.

    Parameters
    ----------
    cos_sza, sin_sza, cos_vza, sin_vza : float
        Cosine and sine of the sun and view zenith angles (zeniths 0 - pi/2).
    cos_raa, sin_raa : float
        Cosine and sine of the relative azimuth (only its square matters for the sine).

    Returns
    -------
    k_vol, k_geo : float
        As :func:`kernels`.
    """
    cs, cv, ss, sv = cos_sza, cos_vza, sin_sza, sin_vza
    cxi = min(max(cs * cv + ss * sv * cos_raa, -1.0), 1.0)
    xi = math.acos(cxi)
    k_vol = ((math.pi / 2.0 - xi) * cxi + math.sqrt(max(1.0 - cxi * cxi, 0.0))) / (cs + cv) - math.pi / 4.0
    tan_s, tan_v = ss / cs, sv / cv
    d2 = tan_s * tan_s + tan_v * tan_v - 2.0 * tan_s * tan_v * cos_raa
    sec = 1.0 / cs + 1.0 / cv
    cost = HEIGHT_TO_BASE * math.sqrt(max(d2 + (tan_s * tan_v * sin_raa) ** 2, 0.0)) / sec
    cost = min(max(cost, -1.0), 1.0)
    t = math.acos(cost)
    overlap = (t - math.sqrt(max(1.0 - cost * cost, 0.0)) * cost) * sec / math.pi
    k_geo = overlap - sec + 0.5 * (1.0 + cxi) / (cs * cv)
    return k_vol, k_geo


def kernels_ref(sza, vza, raa):
    """numpy twin of :func:`kernels`: the same operations on arrays (radians, broadcastable), float64 out."""
    sza, vza, raa = (np.asarray(a, np.float64) for a in (sza, vza, raa))
    cs, cv, ss, sv = np.cos(sza), np.cos(vza), np.sin(sza), np.sin(vza)
    cxi = np.clip(cs * cv + ss * sv * np.cos(raa), -1.0, 1.0)
    xi = np.arccos(cxi)
    k_vol = ((np.pi / 2.0 - xi) * cxi + np.sin(xi)) / (cs + cv) - np.pi / 4.0
    tan_s, tan_v = ss / cs, sv / cv
    d2 = tan_s ** 2 + tan_v ** 2 - 2.0 * tan_s * tan_v * np.cos(raa)
    sec = 1.0 / cs + 1.0 / cv
    cost = np.clip(HEIGHT_TO_BASE * np.sqrt(np.maximum(d2 + (tan_s * tan_v * np.sin(raa)) ** 2, 0.0)) / sec, -1.0, 1.0)
    t = np.arccos(cost)
    overlap = (t - np.sin(t) * cost) * sec / np.pi
    return k_vol, overlap - sec + 0.5 * (1.0 + cxi) / (cs * cv)


def relative_azimuth(sun_azimuth_deg, view_azimuth_deg) -> np.ndarray:
    """Relative azimuth ``view - sun`` folded to [0, 180] degrees.

    Parameters
    ----------
    sun_azimuth_deg, view_azimuth_deg : float or numpy.ndarray
        Azimuths, degrees clockwise from north (any range), broadcastable. The view azimuth is the direction from
        the pixel to the sensor.

    Returns
    -------
    numpy.ndarray
        float32, degrees in [0, 180]; 0 = sensor on the sun's side (backscatter). NaN where an input is NaN.
    """
    diff = np.abs(np.asarray(view_azimuth_deg, dtype=np.float64) - np.asarray(sun_azimuth_deg, dtype=np.float64))
    diff = np.mod(diff, 360.0)
    return np.where(diff > 180.0, 360.0 - diff, diff).astype(np.float32)


def _radians(sza_deg, vza_deg, raa_deg):
    return tuple(np.radians(np.asarray(a, dtype=np.float64)) for a in (sza_deg, vza_deg, raa_deg))


def ross_thick(sza_deg, vza_deg, raa_deg) -> np.ndarray:
    """Ross-Thick volume-scattering kernel (``- pi/4`` form, no hot spot).

    Parameters
    ----------
    sza_deg, vza_deg : float or numpy.ndarray
        Sun and view zenith angles, degrees (0-90), broadcastable.
    raa_deg : float or numpy.ndarray
        Relative azimuth (view - sun), degrees.

    Returns
    -------
    numpy.ndarray
        float32, K_vol (unitless); 0 at sza = vza = 0; symmetric in sza and vza.
    """
    return kernels_ref(*_radians(sza_deg, vza_deg, raa_deg))[0].astype(np.float32)


def li_sparse_r(sza_deg, vza_deg, raa_deg) -> np.ndarray:
    """Li-Sparse-Reciprocal geometric-optical kernel (MODIS form, h/b = 2, b/r = 1).

    Parameters
    ----------
    sza_deg, vza_deg : float or numpy.ndarray
        Sun and view zenith angles, degrees (0-90), broadcastable.
    raa_deg : float or numpy.ndarray
        Relative azimuth (view - sun), degrees.

    Returns
    -------
    numpy.ndarray
        float32, K_geo (unitless, <= 0 in practice); 0 at sza = vza = 0; symmetric in sza and vza.
    """
    return kernels_ref(*_radians(sza_deg, vza_deg, raa_deg))[1].astype(np.float32)


def brdf_coefficients(band: str) -> tuple[float, float, float]:
    """(f_iso, f_geo, f_vol) of a band (``"B4"``, ``"B04"``, ``"B8A"``...).

    Raises
    ------
    BandNotFoundError
        If the band has no coefficients.
    """
    name = normalize_band(band)
    try:
        return BRDF_COEFFICIENTS[name]
    except KeyError:
        raise BandNotFoundError(f"{band}: no BRDF coefficients (known: {', '.join(BRDF_COEFFICIENTS)})") from None


def model_reflectance(band: str, sza_deg, vza_deg, raa_deg) -> np.ndarray:
    """Model reflectance ``rho(sza, vza, raa) = f_iso + f_vol K_vol + f_geo K_geo`` of a band, float64 (0-1)."""
    f_iso, f_geo, f_vol = brdf_coefficients(band)
    k_vol, k_geo = kernels_ref(*_radians(sza_deg, vza_deg, raa_deg))
    return f_iso + f_vol * k_vol + f_geo * k_geo


def c_factor(band: str, sza_deg, vza_deg, raa_deg) -> np.ndarray:
    """c-factor to nadir view: ``rho(sza, 0, 0) / rho(sza, vza, raa)`` (Roy et al. 2016).

    Parameters
    ----------
    band : str
        Sentinel-2 band (``"B4"``, ``"B04"``, ``"B8A"``...), one of :data:`BRDF_COEFFICIENTS`.
    sza_deg : float or numpy.ndarray
        Sun zenith, degrees (0-90), e.g. float32 (rows, cols).
    vza_deg : float or numpy.ndarray
        View zenith of that band, degrees (0-90), broadcastable with ``sza_deg``.
    raa_deg : float or numpy.ndarray
        Relative azimuth (view - sun), degrees (:func:`relative_azimuth`).

    Returns
    -------
    numpy.ndarray
        float32, same broadcast shape, the factor to multiply the observed reflectance by (about 0.9-1.1 for
        Sentinel-2 geometries); exactly 1 at ``vza = 0``; 1 (no correction) where an angle is NaN.

    Raises
    ------
    BandNotFoundError
        If the band has no coefficients.
    """
    f_iso, f_geo, f_vol = brdf_coefficients(band)
    sza, vza, raa = _radians(sza_deg, vza_deg, raa_deg)
    nadir_vol, nadir_geo = kernels_ref(sza, np.zeros_like(vza), raa)
    k_vol, k_geo = kernels_ref(sza, vza, raa)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = (f_iso + f_vol * nadir_vol + f_geo * nadir_geo) / (f_iso + f_vol * k_vol + f_geo * k_geo)
    return np.where(np.isfinite(factor), factor, 1.0).astype(np.float32)
