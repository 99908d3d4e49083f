"""Bit fields of the Theia/MUSCATE L2A masks (CLM, MG2, SAT), encoded and decoded with plain numpy.

Bit numbers are 0-based (bit ``k`` has value ``2**k``); MTD_ALL.xml counts them from 1. Source:
reference-l2a-formats.md sections 3.4-3.6 (MAJA ``SENTINEL2_MUSCATE`` plugin and the MTD_ALL.xml template).

CLM (``Detailed_Cloud``), uint8, MUSCATE order:

====  =====  ==========================================================
bit   value  meaning
====  =====  ==========================================================
0     1      all clouds (except the thinnest) and all shadows
1     2      all clouds (MAJA also sets it for "extension" pixels)
2     4      clouds from mono-temporal reflectance thresholds ("refl")
3     8      clouds from multi-temporal thresholds ("refl_var")
4     16     thinnest clouds ("extension")
5     32     shadows cast by a detected cloud
6     64     shadows cast by a cloud outside the image ("shadvar")
7     128    high clouds, 1.38 um cirrus test
====  =====  ==========================================================

MG2 (geophysical), uint8: bit 0 water, 1 cloud (all clouds incl. thinnest), 2 snow, 3 cloud shadow,
4 topographic shadow, 5 hidden surface, 6 sun too low, 7 tangent sun.

SAT (saturation), uint8: one bit per band of the resolution group, in group order
(R1: B2 bit 0, B3 bit 1, B4 bit 2, B8 bit 3; R2: B5 bit 0, B6 1, B7 2, B8A 3, B11 4, B12 5).

EDG is not a bit field: 1 = outside the image / nodata, 0 = observed.

Besides the bit numbers, the values that readers test (``CLM_CLOUD_OR_SHADOW_BITS``, ``MG2_WATER_BIT``,
``MG2_SNOW_BIT``) are the one table from which the synthesis kernels and the raw Theia reading of :mod:`l3a` take the
layout (numba kernels receive them as arguments).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "CLM_ALL", "CLM_ALL_CLOUDS", "CLM_REFL", "CLM_REFL_VAR", "CLM_EXTENSION", "CLM_SHADOWS", "CLM_SHADVAR",
    "CLM_CIRRUS", "MG2_WATER", "MG2_CLOUD", "MG2_SNOW", "MG2_SHADOW", "MG2_TOPOGRAPHY_SHADOW", "MG2_HIDDEN_SURFACE",
    "MG2_SUN_TOO_LOW", "MG2_TANGENT_SUN", "CLM_CLOUD_OR_SHADOW_BITS", "MG2_WATER_BIT", "MG2_SNOW_BIT", "encode_clm",
    "decode_clm", "encode_mg2", "decode_mg2", "encode_sat", "decode_sat", "to_uint8",
]

# CLM bit numbers (0-based)
CLM_ALL, CLM_ALL_CLOUDS, CLM_REFL, CLM_REFL_VAR, CLM_EXTENSION, CLM_SHADOWS, CLM_SHADVAR, CLM_CIRRUS = range(8)
# MG2 bit numbers (0-based)
(MG2_WATER, MG2_CLOUD, MG2_SNOW, MG2_SHADOW, MG2_TOPOGRAPHY_SHADOW, MG2_HIDDEN_SURFACE, MG2_SUN_TOO_LOW,
 MG2_TANGENT_SUN) = range(8)

_CLM_CLOUD_BITS = sum(1 << b for b in (CLM_ALL_CLOUDS, CLM_REFL, CLM_REFL_VAR, CLM_EXTENSION, CLM_CIRRUS))
_CLM_SHADOW_BITS = (1 << CLM_SHADOWS) | (1 << CLM_SHADVAR)

#: CLM bits of which any one makes a pixel cloudy or shadowed (every bit: ``cloud | shadow`` of :func:`decode_clm`
#: is ``clm & CLM_CLOUD_OR_SHADOW_BITS != 0``), as a value to AND with the raster.
CLM_CLOUD_OR_SHADOW_BITS = _CLM_CLOUD_BITS | _CLM_SHADOW_BITS | (1 << CLM_ALL)
#: Value of the MG2 water bit (bit 0), to AND with the raster.
MG2_WATER_BIT = 1 << MG2_WATER
#: Value of the MG2 snow bit (bit 2), to AND with the raster.
MG2_SNOW_BIT = 1 << MG2_SNOW


def _bool(a) -> np.ndarray:
    return np.asarray(a, dtype=bool)


def _bits(mask, shape=None) -> np.ndarray:
    return np.asarray(mask).astype(np.uint8) if shape is None else np.broadcast_to(_bool(mask), shape).astype(np.uint8)


def to_uint8(raw: np.ndarray) -> np.ndarray:
    """Convert a mask read from disk to uint8 bit fields.

    Real products store uint8; some third-party crops (iota2 test data) store float32. Floats are rounded, NaN
    becomes 0 and values are clipped to 0..255.

    Parameters
    ----------
    raw : numpy.ndarray
        Any numeric dtype, any shape.

    Returns
    -------
    numpy.ndarray
        uint8, same shape.
    """
    a = np.asarray(raw)
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        a = np.rint(np.nan_to_num(a, nan=0.0, posinf=255.0, neginf=0.0))
    return np.clip(a, 0, 255).astype(np.uint8)


def encode_clm(cloud: np.ndarray, shadow: np.ndarray, *, cirrus: np.ndarray | None = None) -> np.ndarray:
    """Build a CLM (``Detailed_Cloud``) raster from boolean planes.

    Parameters
    ----------
    cloud : numpy.ndarray
        bool (rows, cols); sets bit 1 (all clouds) and bit 2 ("refl", mono-temporal threshold).
    shadow : numpy.ndarray
        bool (rows, cols); sets bit 5 (shadows of detected clouds).
    cirrus : numpy.ndarray, optional
        bool (rows, cols); sets bit 1 (all clouds) and bit 7 (high clouds).

    Returns
    -------
    numpy.ndarray
        uint8 (rows, cols); bit 0 is set wherever any other bit is.
    """
    cloud = _bool(cloud)
    shape = cloud.shape
    cl = _bits(cloud)
    sh = _bits(shadow, shape)
    ci = np.zeros(shape, np.uint8) if cirrus is None else _bits(cirrus, shape)
    out = (cl << CLM_REFL) | (sh << CLM_SHADOWS) | (ci << CLM_CIRRUS) | ((cl | ci) << CLM_ALL_CLOUDS)
    out |= (cl | sh | ci) << CLM_ALL
    return out.astype(np.uint8)


def decode_clm(clm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cloud and shadow planes of a CLM raster.

    Parameters
    ----------
    clm : numpy.ndarray
        uint8 (rows, cols) CLM bit field (any integer dtype accepted).

    Returns
    -------
    cloud : numpy.ndarray
        bool (rows, cols): any of bits 1, 2, 3, 4, 7; or bit 0 set with neither shadow bit (a producer that fills
        only the summary bit still has its clouds seen).
    shadow : numpy.ndarray
        bool (rows, cols): bit 5 or bit 6.
    """
    c = np.asarray(clm).astype(np.uint16, copy=False)
    shadow = (c & _CLM_SHADOW_BITS) != 0
    cloud = ((c & _CLM_CLOUD_BITS) != 0) | (((c & (1 << CLM_ALL)) != 0) & ~shadow)
    return cloud, shadow


def encode_mg2(water: np.ndarray, snow: np.ndarray, cloud: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """Build an MG2 (geophysical mask) raster from boolean planes.

    Parameters
    ----------
    water, snow, cloud, shadow : numpy.ndarray
        bool (rows, cols); set bits 0 (water), 2 (snow), 1 (cloud) and 3 (cloud shadow).

    Returns
    -------
    numpy.ndarray
        uint8 (rows, cols).
    """
    water = _bool(water)
    shape = water.shape
    out = (_bits(water) << MG2_WATER) | (_bits(cloud, shape) << MG2_CLOUD) | (_bits(snow, shape) << MG2_SNOW)
    out |= _bits(shadow, shape) << MG2_SHADOW
    return out.astype(np.uint8)


def decode_mg2(mg2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Water and snow planes of an MG2 raster.

    Parameters
    ----------
    mg2 : numpy.ndarray
        uint8 (rows, cols) MG2 bit field.

    Returns
    -------
    water, snow : numpy.ndarray
        bool (rows, cols): bit 0 and bit 2.
    """
    m = np.asarray(mg2).astype(np.uint16, copy=False)
    return (m & MG2_WATER_BIT) != 0, (m & MG2_SNOW_BIT) != 0


def encode_sat(saturated_per_band: Sequence[np.ndarray]) -> np.ndarray:
    """Build a SAT raster: bit ``i`` = band ``i`` of the resolution group saturated.

    Parameters
    ----------
    saturated_per_band : sequence of numpy.ndarray
        At most 8 bool (rows, cols) planes, in group band order (R1: B2, B3, B4, B8; R2: B5, B6, B7, B8A, B11, B12).

    Returns
    -------
    numpy.ndarray
        uint8 (rows, cols).
    """
    planes = [_bool(p) for p in saturated_per_band]
    if not planes or len(planes) > 8:
        raise ValueError(f"SAT holds 1 to 8 band planes, not {len(planes)}")
    out = np.zeros(planes[0].shape, np.uint8)
    for i, p in enumerate(planes):
        out |= _bits(p, out.shape) << i
    return out


def decode_sat(sat: np.ndarray) -> np.ndarray:
    """Pixels where any band of the group is saturated.

    Parameters
    ----------
    sat : numpy.ndarray
        uint8 (rows, cols) SAT bit field.

    Returns
    -------
    numpy.ndarray
        bool (rows, cols).
    """
    return np.asarray(sat) != 0
