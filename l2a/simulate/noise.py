"""Hashed procedural noise evaluated pointwise: integer hash, value noise, fractional Brownian motion (fBm), ridged
fBm and Worley (Voronoi) cells.

Every value is a pure function of its coordinates and integer seeds, so any pixel of any tile can be computed alone,
in any order, by any worker, and two tiles that see the same ground point get the same value. Coordinates are in
lattice units (world metres divided by a feature scale). Each numba function has a vectorised numpy twin
(``*_ref``) computing the same numbers on arrays; the tests compare them.

Hash: a SplitMix64-style finaliser of three 64-bit integers (wrapping unsigned arithmetic, identical in numba and
numpy).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["hash3", "hash_unit", "value_noise", "fbm", "fbm_lod", "fbm_bounded", "octaves_for", "ridged", "worley",
           "smoothstep", "hash3_ref", "hash_unit_ref", "value_noise_ref", "fbm_ref", "ridged_ref", "worley_ref",
           "smoothstep_ref"]

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_K3 = np.uint64(0x165667B19E3779F9)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0     # 2**-53
#: Each octave is the previous one rotated by atan(3/4) and scaled by 2, so lattice lines never align.
_ROT_C, _ROT_S = 1.6, 1.2
#: Worley feature points stay in the inner part of their cell so that a 3 x 3 search finds the nearest exactly.
_JITTER_LO, _JITTER_SPAN = 0.2, 0.6


@njit(cache=True, nogil=True)
def _finalize(x):
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


@njit(cache=True, nogil=True)
def hash3(a, b, c):
    """64-bit hash of three integers (int64, any sign); returns uint64."""
    return _finalize((np.uint64(a) * _K1) ^ (np.uint64(b) * _K2) ^ (np.uint64(c) * _K3))


@njit(cache=True, nogil=True)
def _unit(x):
    return float(_finalize(x) >> _S11) * _TO_UNIT


@njit(cache=True, nogil=True)
def hash_unit(a, b, c):
    """Uniform float64 in [0, 1) from three integers."""
    return float(hash3(a, b, c) >> _S11) * _TO_UNIT


@njit(cache=True, nogil=True)
def smoothstep(edge0, edge1, x):
    """Cubic Hermite step: 0 below ``edge0``, 1 above ``edge1``."""
    t = (x - edge0) / (edge1 - edge0)
    t = min(max(t, 0.0), 1.0)
    return t * t * (3.0 - 2.0 * t)


@njit(cache=True, nogil=True)
def _fade(t):
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


@njit(cache=True, nogil=True)
def value_noise(x, y, seed):
    """Value noise in [-1, 1] at (x, y) lattice units, quintic interpolation between hashed lattice values."""
    fx = math.floor(x)
    fy = math.floor(y)
    ix = np.int64(fx)
    iy = np.int64(fy)
    u = _fade(x - fx)
    v = _fade(y - fy)
    # hash3 of the four corners, sharing the products ((i + 1) K = i K + K, modulo 2**64)
    x0 = np.uint64(ix) * _K1
    x1 = x0 + _K1
    y0 = np.uint64(iy) * _K2
    y1 = y0 + _K2
    s = np.uint64(seed) * _K3
    a = _unit(x0 ^ y0 ^ s)
    b = _unit(x1 ^ y0 ^ s)
    c = _unit(x0 ^ y1 ^ s)
    d = _unit(x1 ^ y1 ^ s)
    top = a + (b - a) * u
    bottom = c + (d - c) * u
    return 2.0 * (top + (bottom - top) * v) - 1.0


@njit(cache=True, nogil=True)
def fbm(x, y, seed, octaves):
    """Fractional Brownian motion of value noise (lacunarity 2, gain 0.5), normalised to about [-1, 1].

    Each octave gets its own seed and offset, and is rotated by atan(3/4) from the previous one, so that the lattice
    lines of successive octaves never align.
    """
    return fbm_lod(x, y, seed, octaves, octaves)


@njit(cache=True, nogil=True)
def fbm_lod(x, y, seed, octaves, keep):
    """:func:`fbm` of ``octaves`` octaves with only the first ``keep`` summed (level of detail): the same
    normalisation, so a coarse pixel sees the low-pass version of the field a fine pixel sees."""
    total = 0.0
    amp = 1.0
    norm = 0.0
    for o in range(octaves):
        if o < keep:
            total += amp * value_noise(x + 17.31 * o, y - 9.73 * o, seed + 1013 * o)
        norm += amp
        amp *= 0.5
        x, y = _ROT_C * x - _ROT_S * y, _ROT_S * x + _ROT_C * y
    return total / norm


@njit(cache=True, nogil=True)
def fbm_bounded(x, y, seed, octaves, keep, offset, lo, hi):
    """``offset + fbm_lod(x, y, seed, octaves, keep)`` when that lies in [lo, hi]; otherwise any value on the same
    side of the interval (octaves stop as soon as the rest cannot bring the sum back in: value noise is bounded
    by 1). For callers that only use the value through steps whose edges lie in [lo, hi]: same results, less work.
    """
    norm = 0.0
    amp = 1.0
    for o in range(octaves):
        norm += amp
        amp *= 0.5
    total = 0.0
    amp = 1.0
    rest = 0.0
    for o in range(keep):
        rest += amp
        amp *= 0.5
    amp = 1.0
    margin = 1e-9
    for o in range(keep):
        total += amp * value_noise(x + 17.31 * o, y - 9.73 * o, seed + 1013 * o)
        rest -= amp
        amp *= 0.5
        x, y = _ROT_C * x - _ROT_S * y, _ROT_S * x + _ROT_C * y
        if offset + (total + rest) / norm < lo - margin:
            return lo - 1.0
        if offset + (total - rest) / norm > hi + margin:
            return hi + 1.0
    return offset + total / norm


@njit(cache=True, nogil=True)
def octaves_for(scale, pixel, octaves):
    """Octaves of a field of lattice spacing ``scale`` (m) worth computing for pixels of ``pixel`` m: those whose
    lattice spacing is at least two pixels (at least 2, at most ``octaves``)."""
    keep = int(math.floor(math.log2(max(scale / (2.0 * pixel), 1.0)))) + 1
    return min(max(keep, 2), octaves)


@njit(cache=True, nogil=True)
def ridged(x, y, seed, octaves):
    """Ridged fBm in [0, 1]: sharp crests (1 - |noise|, squared), for mountain ranges."""
    total = 0.0
    amp = 1.0
    norm = 0.0
    for o in range(octaves):
        r = 1.0 - abs(value_noise(x + 5.17 * o, y + 3.11 * o, seed + 7919 * o))
        total += amp * r * r
        norm += amp
        amp *= 0.5
        x, y = _ROT_C * x - _ROT_S * y, _ROT_S * x + _ROT_C * y
    return total / norm


@njit(cache=True, nogil=True)
def worley(x, y, seed):
    """Nearest and second-nearest feature points of jittered-grid Worley noise.

    Returns
    -------
    f1, f2 : float
        Distances (lattice units) to the nearest and second-nearest feature point.
    cx, cy : int
        Lattice cell of the nearest feature point (the cell's identity, for hashing attributes).
    """
    fx = math.floor(x)
    fy = math.floor(y)
    ix = np.int64(fx)
    iy = np.int64(fy)
    f1 = 1e18
    f2 = 1e18
    cx = ix
    cy = iy
    s0 = np.uint64(seed) * _K3
    s1 = np.uint64(seed + 1) * _K3
    for dy in range(-1, 2):
        gy = iy + dy
        hy = np.uint64(gy) * _K2
        for dx in range(-1, 2):
            gx = ix + dx
            hx = np.uint64(gx) * _K1
            px = gx + _JITTER_LO + _JITTER_SPAN * _unit(hx ^ hy ^ s0)
            py = gy + _JITTER_LO + _JITTER_SPAN * _unit(hx ^ hy ^ s1)
            d2 = (px - x) ** 2 + (py - y) ** 2
            if d2 < f1:
                f2 = f1
                f1 = d2
                cx = gx
                cy = gy
            elif d2 < f2:
                f2 = d2
    return math.sqrt(f1), math.sqrt(f2), cx, cy


# --- numpy twins ---------------------------------------------------------------------------------------------

def hash3_ref(a, b, c) -> np.ndarray:
    """numpy twin of :func:`hash3` (arrays of int64 in, uint64 out)."""
    with np.errstate(over="ignore"):
        a = np.asarray(a, np.int64).astype(np.uint64)
        b = np.asarray(b, np.int64).astype(np.uint64)
        c = np.asarray(c, np.int64).astype(np.uint64)
        x = (a * _K1) ^ (b * _K2) ^ (c * _K3)
        x ^= x >> _S30
        x *= _M1
        x ^= x >> _S27
        x *= _M2
        x ^= x >> _S31
    return x


def hash_unit_ref(a, b, c) -> np.ndarray:
    """numpy twin of :func:`hash_unit`."""
    return (hash3_ref(a, b, c) >> _S11).astype(np.float64) * _TO_UNIT


def smoothstep_ref(edge0, edge1, x) -> np.ndarray:
    """numpy twin of :func:`smoothstep`."""
    t = np.clip((np.asarray(x, np.float64) - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _fade_ref(t):
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def value_noise_ref(x, y, seed) -> np.ndarray:
    """numpy twin of :func:`value_noise`."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    fx, fy = np.floor(x), np.floor(y)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    u, v = _fade_ref(x - fx), _fade_ref(y - fy)
    a = hash_unit_ref(ix, iy, seed)
    b = hash_unit_ref(ix + 1, iy, seed)
    c = hash_unit_ref(ix, iy + 1, seed)
    d = hash_unit_ref(ix + 1, iy + 1, seed)
    top = a + (b - a) * u
    bottom = c + (d - c) * u
    return 2.0 * (top + (bottom - top) * v) - 1.0


def fbm_ref(x, y, seed, octaves, keep=None) -> np.ndarray:
    """numpy twin of :func:`fbm` (and of :func:`fbm_lod` with ``keep``)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    keep = octaves if keep is None else keep
    total = np.zeros(np.broadcast(x, y).shape)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        if o < keep:
            total = total + amp * value_noise_ref(x + 17.31 * o, y - 9.73 * o, seed + 1013 * o)
        norm += amp
        amp *= 0.5
        x, y = _ROT_C * x - _ROT_S * y, _ROT_S * x + _ROT_C * y
    return total / norm


def ridged_ref(x, y, seed, octaves) -> np.ndarray:
    """numpy twin of :func:`ridged`."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    total = np.zeros(np.broadcast(x, y).shape)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        r = 1.0 - np.abs(value_noise_ref(x + 5.17 * o, y + 3.11 * o, seed + 7919 * o))
        total = total + amp * r * r
        norm += amp
        amp *= 0.5
        x, y = _ROT_C * x - _ROT_S * y, _ROT_S * x + _ROT_C * y
    return total / norm


def worley_ref(x, y, seed):
    """numpy twin of :func:`worley`: (f1, f2, cx, cy) arrays."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    fx, fy = np.floor(x), np.floor(y)
    ix, iy = fx.astype(np.int64), fy.astype(np.int64)
    f1 = np.full(x.shape, 1e9)
    f2 = np.full(x.shape, 1e9)
    cx, cy = ix.copy(), iy.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            gx, gy = ix + dx, iy + dy
            px = gx + _JITTER_LO + _JITTER_SPAN * hash_unit_ref(gx, gy, seed)
            py = gy + _JITTER_LO + _JITTER_SPAN * hash_unit_ref(gx, gy, seed + 1)
            d = np.sqrt((px - x) ** 2 + (py - y) ** 2)
            nearer = d < f1
            second = ~nearer & (d < f2)
            f2 = np.where(nearer, f1, np.where(second, d, f2))
            f1 = np.where(nearer, d, f1)
            cx = np.where(nearer, gx, cx)
            cy = np.where(nearer, gy, cy)
    return f1, f2, cx, cy
