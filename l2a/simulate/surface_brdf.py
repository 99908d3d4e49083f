"""Directional reflectance of the simulated ground: kernel weights per land cover that the compositor does not know.

The synthesis normalises observations to nadir view with *one* global model, the fixed coefficients of Roy et al.
(2016) (:mod:`l2a.brdf`). Real surfaces do not follow that model: a forest casts more crown shadows than a wheat
field, water and snow scatter forward. If the simulator rendered its reflectances with the very model the compositor
divides out, the normalisation would be exact by construction and a test could not see its residual error. So the
ground here has its own model per land cover, with the same kernel shapes (Ross-Thick and Li-Sparse-Reciprocal,
:func:`l2a.brdf.kernels`) but its own weights::

    R(sza, vza, raa) = rho_ref * (1 + a_vol K_vol + a_geo K_geo) / (1 + a_vol K_vol(sza_ref, 0) + a_geo K_geo(sza_ref, 0))

    a_vol = m_vol(cover) * f_vol / f_iso,   a_geo = m_geo(cover) * f_geo / f_iso    (f_* of Roy et al., per band)

``rho_ref`` is the landscape's spectrum (:func:`l2a.simulate.landscape.surface`), defined as the nadir-view
reflectance at the reference sun zenith :data:`REFERENCE_SUN_ZENITH_DEG` (35 degrees, a mid-latitude summer
morning); the nadir reflectance at another sun zenith is ``R(sza, 0, 0)``, so it depends on the sun (lower and
darker in winter for most covers, as real surfaces are).

Multipliers ``m_vol``, ``m_geo`` of each cover depart from 1 (Roy's global value) by 15 to 45 % (uniform, drawn
from the world seed, one pair per cover, the same for every band); the direction of the departure follows what the
cover is known for, and is drawn from the seed when nothing is known:

===========================================  =====  =====  =============================================
cover                                        m_vol  m_geo  why
===========================================  =====  =====  =============================================
crops, meadow, fallow (codes 1-8)            +/-    +/-    row structure and canopy vary: either way
deciduous forest (10)                        > 1    > 1    dense volume scattering, crown shadows
coniferous forest (11)                       < 1    > 1    clumped dark crowns: mostly shadow-driven
town, village (12, 15)                       < 1    > 1    building shadows, little volume scattering
alpine grassland (13)                        > 1    +/-    short dense grass
bare rock (14)                               < 1    > 1    rough surface, cast shadows
lake, river (20, 21)                         < 1    < 1    nearly Lambertian water body (no glint modelled)
snow (any cover under snow, row SNOW_ROW)    < 1    < 1    forward scattering, flatter than vegetation
===========================================  =====  =====  =============================================

:func:`cover_multipliers` gives the table for a seed, :func:`cover_brdf_table` the per band weights the kernels use
and :func:`cover_brdf_factor` (numba) / :func:`cover_brdf_factor_ref` (numpy twin) the factor ``R / rho_ref``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from l2a.brdf import BRDF_COEFFICIENTS, kernels_ref

from .landscape import (
    ALL_BANDS,
    ALPINE,
    BARLEY,
    CONIFER,
    DECIDUOUS,
    FALLOW,
    LAKE,
    MAIZE,
    MEADOW,
    RAPESEED,
    RIVER,
    ROCK,
    SOYBEAN,
    SUNFLOWER,
    URBAN,
    VILLAGE,
    WHEAT,
)
from .noise import hash_unit_ref

__all__ = ["REFERENCE_SUN_ZENITH_DEG", "SNOW_ROW", "N_ROWS", "MIN_DEPARTURE", "MAX_DEPARTURE", "TENDENCIES",
           "cover_multipliers", "cover_brdf_table", "cover_brdf_factor", "cover_brdf_factor_ref", "brdf_row"]

#: Sun zenith (degrees) at which the landscape's spectra are the nadir-view reflectance.
REFERENCE_SUN_ZENITH_DEG = 35.0
#: Row of the table used for any pixel of the snow class (whatever lies under the snow).
SNOW_ROW = 22
N_ROWS = 23
#: Range of the departure |m - 1| of every multiplier from Roy's global weights.
MIN_DEPARTURE, MAX_DEPARTURE = 0.15, 0.45
#: Sign of the departure of (m_vol, m_geo) per table row; 0: drawn from the seed.
TENDENCIES = {
    WHEAT: (0, 0), BARLEY: (0, 0), RAPESEED: (0, 0), MAIZE: (0, 0), SUNFLOWER: (0, 0), SOYBEAN: (0, 0),
    MEADOW: (0, 0), FALLOW: (0, 0), DECIDUOUS: (1, 1), CONIFER: (-1, 1), URBAN: (-1, 1), ALPINE: (1, 0),
    ROCK: (-1, 1), VILLAGE: (-1, 1), LAKE: (-1, -1), RIVER: (-1, -1), SNOW_ROW: (-1, -1),
}
# table columns
B_VOL, B_GEO, B_INV_REF = 0, 1, 2
# B1 as B2, B9 as B8A, B10 as B11 (as the forward model's band constants)
_ROY_OF = ("B2", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B8A", "B11", "B11", "B12")


def cover_multipliers(seed: int) -> np.ndarray:
    """(m_vol, m_geo) per table row for a world seed, float64 (N_ROWS, 2); rows of codes that do not exist are 1.

    Each multiplier is ``1 + s d``, ``d`` uniform in [MIN_DEPARTURE, MAX_DEPARTURE] and ``s`` the row's tendency
    (or a random sign), drawn from hashes of the seed and the row.
    """
    out = np.ones((N_ROWS, 2), np.float64)
    for row, signs in sorted(TENDENCIES.items()):
        u = hash_unit_ref(np.full(4, int(seed)), np.full(4, 7100 + row), np.arange(4))
        for k in range(2):
            sign = signs[k] if signs[k] else (1 if u[2 + k] < 0.5 else -1)
            out[row, k] = 1.0 + sign * (MIN_DEPARTURE + (MAX_DEPARTURE - MIN_DEPARTURE) * u[k])
    return out


def cover_brdf_table(seed: int) -> np.ndarray:
    """Per row and band: a_vol, a_geo and the inverse of the model at the reference geometry.

    Returns
    -------
    numpy.ndarray
        float64 (N_ROWS, 13, 3), bands in ESA order (:data:`~l2a.simulate.landscape.ALL_BANDS`), read-only.
    """
    mult = cover_multipliers(seed)
    roy = np.array([BRDF_COEFFICIENTS[b] for b in _ROY_OF])           # (13, 3): iso, geo, vol
    kv0, kg0 = kernels_ref(math.radians(REFERENCE_SUN_ZENITH_DEG), 0.0, 0.0)
    table = np.empty((N_ROWS, len(ALL_BANDS), 3), np.float64)
    table[:, :, B_VOL] = mult[:, 0:1] * (roy[:, 2] / roy[:, 0])[None, :]
    table[:, :, B_GEO] = mult[:, 1:2] * (roy[:, 1] / roy[:, 0])[None, :]
    table[:, :, B_INV_REF] = 1.0 / (1.0 + table[:, :, B_VOL] * kv0 + table[:, :, B_GEO] * kg0)
    table.setflags(write=False)
    return table


@njit(cache=True, nogil=True)
def brdf_row(code, surface_class, snow_class):
    """Table row of a pixel: :data:`SNOW_ROW` for the snow class, else its land cover code."""
    return SNOW_ROW if surface_class == snow_class else code


@njit(cache=True, nogil=True)
def cover_brdf_factor(table, row, band, k_vol, k_geo):
    """``R / rho_ref`` for one table row and band, given the kernel values of the geometry (numba)."""
    return (1.0 + table[row, band, B_VOL] * k_vol + table[row, band, B_GEO] * k_geo) * table[row, band, B_INV_REF]


def cover_brdf_factor_ref(table, row, band, sza_deg, vza_deg, raa_deg):
    """numpy twin of :func:`cover_brdf_factor` taking angles (degrees, broadcastable arrays) instead of kernels."""
    k_vol, k_geo = kernels_ref(*(np.radians(np.asarray(a, np.float64)) for a in (sza_deg, vza_deg, raa_deg)))
    row, band = np.asarray(row), np.asarray(band)
    return (1.0 + table[row, band, B_VOL] * k_vol + table[row, band, B_GEO] * k_geo) * table[row, band, B_INV_REF]
