"""The simulated ground: elevation, land cover, crop phenology, water, snow and surface reflectance spectra.

Everything is a function of world coordinates (EPSG:3035 metres), the day of year and the seed, evaluated one point
at a time (numba). The world, the same for every tile:

* **Relief**: rolling lowland hills (50-450 m) and one east-west massif, Pyrenees-like, centred near 42.7 N / 0.5 E
  (peaks to ~3500 m), plus procedural ranges more than 250 km away from it.
* **Land cover**: agricultural parcels (Voronoi cells of ~420 m, elongated) with winter wheat, barley, rapeseed,
  maize, sunflower, soybean, mown meadows and fallow, in a crop mix that drifts over tens of km; deciduous and
  coniferous forest (more on hills and slopes, conifers above 1300 m); towns (Worley cells of 22 km, 0.7-5 km
  radius) and villages; alpine grassland above the tree line (~2050 m) and rock above ~2550 m; lakes (Worley cells
  of 6 km, more in the mountains) and meandering rivers (level lines of a warped coordinate, every ~80 km).
* **Phenology**: per crop type, logistic green-up, senescence (dry matter), harvest and stubble, with per-parcel
  date jitter and vigour; mowing events on meadows; deciduous forest green-up in April and browning in October;
  alpine grass greening after the local snow melt.
* **Snow**: above a snow line that rises from 700 m (early March) to ~3300 m (early September), with local noise,
  so the snow cover of the massif shrinks through the summer.
* **Spectra**: linear mixtures of endmembers (green vegetation, dry vegetation, soil, water, snow, urban, red roofs,
  rock, conifer, yellow flowers) for the 13 Sentinel-2 bands, at nadir view with the sun at the reference zenith
  of 35 degrees (directional effects, and the change of the nadir reflectance with the sun, come from the ground's
  per-land-cover BRDF, :mod:`l2a.simulate.surface_brdf`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .noise import (
    fbm,
    fbm_lod,
    hash_unit,
    octaves_for,
    ridged,
    smoothstep,
    value_noise,
    worley,
)

__all__ = ["ALL_BANDS", "LANDCOVER_CODES", "CLASS_LAND", "CLASS_WATER", "CLASS_SNOW", "ENDMEMBERS",
           "surface", "elevation", "phenology", "phenology_ref", "snowline_m", "WORLD_PARAMS"]

#: The 13 Sentinel-2 bands in ESA order; spectra and band constants are indexed in this order.
ALL_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")
N_BANDS = 13

# Land cover codes (uint8 in the truth rasters).
WHEAT, BARLEY, RAPESEED, MAIZE, SUNFLOWER, SOYBEAN, MEADOW, FALLOW = 1, 2, 3, 4, 5, 6, 7, 8
DECIDUOUS, CONIFER, URBAN, ALPINE, ROCK, VILLAGE = 10, 11, 12, 13, 14, 15
LAKE, RIVER = 20, 21
LANDCOVER_CODES = {
    WHEAT: "winter wheat", BARLEY: "winter barley", RAPESEED: "rapeseed", MAIZE: "maize", SUNFLOWER: "sunflower",
    SOYBEAN: "soybean", MEADOW: "mown meadow", FALLOW: "fallow", DECIDUOUS: "deciduous forest",
    CONIFER: "coniferous forest", URBAN: "town", ALPINE: "alpine grassland", ROCK: "bare rock",
    VILLAGE: "village", LAKE: "lake", RIVER: "river",
}
#: Surface classes of the truth (as MAJA's MG2 distinguishes them).
CLASS_LAND, CLASS_WATER, CLASS_SNOW = 1, 2, 3

# Endmember reflectances (surface, nadir view), bands B1 B2 B3 B4 B5 B6 B7 B8 B8A B9 B10 B11 B12.
# Green vegetation, conifer, dry vegetation and loam soil come from real Sentinel-2 L2A samples
# (scripts/derive_sim_spectra.py: medians of clear pixels of real Theia products and openEO L2A cubes, classed by
# NDVI): dense vegetation B2 0.024, B4 0.030, B11 0.150, B12 0.073 (Theia), so blue/red 0.8 and red/B12 0.41 as
# measured, NIR 0.40 from the Belgian crop canopies; conifer keeps those ratios at 0.75 x the levels; dry vegetation
# is the Theia dry-season bare/dry median, loam soil the Belgian bare-soil median. B1, B9, B10 (and the red edge of
# the soil) are extrapolated: B1 = 0.9 B2, B9 = B8A, B10 about half of B11. The other rows are literature-like.
_GREEN, _DRY, _SOIL, _WATER, _SNOW, _URBAN, _ROOF, _ROCK, _CONIFER, _FLOWER, _TURBID = range(11)
ENDMEMBERS = np.array([
    [0.021, 0.024, 0.056, 0.030, 0.092, 0.330, 0.390, 0.400, 0.410, 0.400, 0.075, 0.150, 0.073],   # green veg.
    [0.054, 0.060, 0.086, 0.118, 0.136, 0.176, 0.195, 0.205, 0.224, 0.225, 0.150, 0.308, 0.224],   # dry veg.
    [0.063, 0.070, 0.082, 0.093, 0.110, 0.130, 0.140, 0.155, 0.165, 0.165, 0.120, 0.194, 0.160],   # loam soil
    [0.060, 0.050, 0.045, 0.025, 0.020, 0.012, 0.010, 0.008, 0.007, 0.004, 0.002, 0.003, 0.002],   # clear water
    [0.950, 0.950, 0.940, 0.920, 0.900, 0.870, 0.840, 0.810, 0.790, 0.680, 0.200, 0.080, 0.060],   # snow
    [0.090, 0.100, 0.120, 0.140, 0.160, 0.170, 0.180, 0.190, 0.195, 0.200, 0.170, 0.230, 0.210],   # urban mix
    [0.060, 0.070, 0.090, 0.200, 0.250, 0.280, 0.300, 0.310, 0.320, 0.330, 0.250, 0.380, 0.330],   # red roofs
    [0.150, 0.170, 0.210, 0.250, 0.270, 0.285, 0.295, 0.305, 0.310, 0.320, 0.280, 0.380, 0.340],   # limestone
    [0.016, 0.018, 0.040, 0.024, 0.065, 0.190, 0.225, 0.235, 0.245, 0.240, 0.070, 0.115, 0.058],   # conifer
    [0.040, 0.050, 0.200, 0.180, 0.260, 0.350, 0.400, 0.420, 0.430, 0.420, 0.150, 0.250, 0.130],   # yellow flowers
    [0.020, 0.030, 0.045, 0.040, 0.035, 0.018, 0.014, 0.012, 0.010, 0.005, 0.001, 0.002, 0.001],   # turbidity add
])

# World parameters (float64 vector passed to the kernels), filled by :func:`l2a.simulate.frame.world_params`.
W_SEED, W_MASSIF_X, W_MASSIF_Y, W_MASSIF_EX, W_MASSIF_EY = 0, 1, 2, 3, 4
WORLD_PARAMS = 5

_PARCEL_M = 420.0
_PARCEL_STRETCH = 1.5
_PARCEL_COS, _PARCEL_SIN = math.cos(0.44), math.sin(0.44)
_RIVER_SPACING_M = 80000.0
_RIVER_COS, _RIVER_SIN = math.cos(0.35), math.sin(0.35)


@njit(cache=True, nogil=True)
def _sig(t, mid, width):
    return 1.0 / (1.0 + math.exp(-(t - mid) / width))


@njit(cache=True, nogil=True)
def _bell(t, mid, width):
    d = (t - mid) / width
    return math.exp(-0.5 * d * d)


@njit(cache=True, nogil=True)
def snowline_m(doy):
    """Regional snow line altitude, m, for a day of year (1-366): 700 m in early March, ~1900 m in early June,
    ~2800 m in mid-July, ~3300 m in early September."""
    return 2000.0 - 1300.0 * math.cos(2.0 * math.pi * (doy - 67.0) / 365.0)


@njit(cache=True, nogil=True)
def _melt_doy(z):
    """Day of year when the rising snow line passes altitude ``z`` (67 below 700 m, 250 above 3300 m)."""
    c = (2000.0 - z) / 1300.0
    c = min(max(c, -1.0), 1.0)
    return 67.0 + 365.0 / (2.0 * math.pi) * math.acos(c)


@njit(cache=True, nogil=True)
def elevation(x, y, world):
    """Ground altitude, m, at world point (x, y) (EPSG:3035 m)."""
    seed = np.int64(world[W_SEED])
    z = 230.0 + 190.0 * fbm(x / 60000.0, y / 60000.0, seed + 11, 4)
    # the massif: an east-west belt around an anchor point, sinuous, with ridged peaks
    dx = x - world[W_MASSIF_X]
    dy = y - world[W_MASSIF_Y]
    along = dx * world[W_MASSIF_EX] + dy * world[W_MASSIF_EY]
    perp = -dx * world[W_MASSIF_EY] + dy * world[W_MASSIF_EX]
    envelope = 0.0
    if abs(perp) < 100000.0 and abs(along) < 430000.0:        # exp(-(91 km / 19 km)^2) < 1e-9
        perp += 9000.0 * fbm(along / 80000.0, 0.5, seed + 12, 3)
        envelope = math.exp(-(perp / 19000.0) ** 2)
        envelope *= smoothstep(-430000.0, -300000.0, along) * (1.0 - smoothstep(300000.0, 430000.0, along))
    if envelope > 1e-4:
        wx = x / 14000.0 + 0.6 * fbm(x / 30000.0, y / 30000.0, seed + 16, 2)
        wy = y / 14000.0 + 0.6 * fbm(x / 30000.0, y / 30000.0, seed + 17, 2)
        z += envelope * (900.0 + 2900.0 * ridged(wx, wy, seed + 13, 5) ** 1.6)
    # other ranges, procedural, away from the massif
    far = smoothstep(250000.0, 400000.0, math.sqrt(dx * dx + dy * dy))
    if far > 0.0:
        m = smoothstep(0.25, 0.5, fbm(x / 250000.0, y / 250000.0, seed + 14, 3)) * far
        if m > 0.0:
            z += m * (600.0 + 2200.0 * ridged(x / 14000.0, y / 14000.0, seed + 15, 5))
    return max(z, 5.0)


@njit(cache=True, nogil=True)
def elevation_grid(x, y, world, out):
    """Ground altitude (m) of :func:`elevation` at every point of float64 (rows, cols) world coordinates ``x``,
    ``y`` (EPSG:3035 m), into ``out`` (rows, cols)."""
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = elevation(x[i, j], y[i, j], world)


@njit(cache=True, nogil=True)
def phenology(crop, doy, jitter, jitter2, vigour, melt_doy):
    """Cover fractions of a land cover type on a day of year.

    Parameters
    ----------
    crop : int
        Land cover code (:data:`LANDCOVER_CODES`).
    doy : float
        Day of year, 1-366 (fractional).
    jitter, jitter2 : float
        Per-parcel date offsets, days (about -10..10).
    vigour : float
        Per-parcel maximum green cover, 0-1.
    melt_doy : float
        Day of year the snow melts at the point (alpine grassland greens after it).

    Returns
    -------
    green, dry, flower : float
        Fractions of green vegetation, dry vegetation (straw, senescent leaves, hay) and yellow flowers; the rest
        of the pixel is bare soil.
    """
    t = doy
    green = 0.0
    dry = 0.0
    flower = 0.0
    if crop == WHEAT or crop == BARLEY:
        shift = -12.0 if crop == BARLEY else 0.0
        harvest = 192.0 + shift + jitter
        sowing = 292.0 + jitter2
        if t < harvest:
            spring = 0.25 + (vigour - 0.25) * _sig(t, 78.0 + shift + jitter, 11.0)
            sen = _sig(t, 166.0 + shift + jitter, 6.0)
            green = spring * (1.0 - sen)
            dry = 0.9 * spring * sen
        elif t < sowing:
            dry = 0.35 * math.exp(-(t - harvest) / 25.0)
        else:
            green = 0.25 * _sig(t, sowing + 25.0, 7.0)
    elif crop == RAPESEED:
        harvest = 178.0 + jitter
        sowing = 240.0 + jitter2
        if t < harvest:
            spring = 0.35 + (vigour - 0.35) * _sig(t, 55.0 + jitter, 10.0)
            sen = _sig(t, 150.0 + jitter, 6.0)
            flower = 0.55 * _bell(t, 105.0 + jitter, 9.0) * (1.0 - sen)
            green = spring * (1.0 - sen) - flower
            dry = 0.85 * spring * sen
        elif t < sowing:
            dry = 0.3 * math.exp(-(t - harvest) / 20.0)
        else:
            green = 0.45 * _sig(t, sowing + 20.0, 6.0)
    elif crop == MAIZE or crop == SUNFLOWER or crop == SOYBEAN:
        if crop == MAIZE:
            up, sen_mid, harvest = 165.0, 255.0, 285.0
        elif crop == SUNFLOWER:
            up, sen_mid, harvest = 150.0, 222.0, 258.0
        else:
            up, sen_mid, harvest = 175.0, 262.0, 280.0
        up += jitter
        sen_mid += jitter2
        harvest += jitter2
        if t < harvest:
            grown = vigour * _sig(t, up, 9.0)
            sen = _sig(t, sen_mid, 8.0)
            green = grown * (1.0 - sen)
            dry = 0.9 * grown * sen
            if crop == SUNFLOWER:
                flower = 0.45 * _bell(t, 192.0 + jitter, 9.0) * (1.0 - sen)
                green -= flower * grown
        else:
            dry = 0.4 * math.exp(-(t - harvest) / 30.0)
    elif crop == MEADOW:
        base = 0.55 + 0.3 * _sig(t, 90.0, 12.0) - 0.15 * _sig(t, 300.0, 15.0)
        cut = 1.0
        for k in range(3):
            mow = 140.0 + 60.0 * k + (jitter if k != 1 else jitter2)
            if t >= mow:
                cut = min(cut, 1.0 - 0.6 * math.exp(-(t - mow) / 14.0))
                dry += 0.35 * math.exp(-(t - mow) / 5.0)
        green = vigour * base * cut
        dry += 0.15 * _bell(t, 225.0, 25.0)
    elif crop == FALLOW:
        green = 0.3 + 0.15 * _bell(t, 140.0 + jitter, 40.0)
        dry = 0.25 + 0.1 * _bell(t, 220.0, 30.0)
    elif crop == DECIDUOUS:
        leaf = _sig(t, 110.0 + jitter, 7.0) * (1.0 - _sig(t, 295.0 + jitter2, 9.0))
        green = 0.15 + (vigour - 0.15) * leaf
        dry = 0.45 * _sig(t, 285.0 + jitter2, 8.0) * (1.0 - _sig(t, 330.0, 8.0))
    elif crop == CONIFER:
        green = vigour
    elif crop == ALPINE:
        green = 0.65 * vigour * _sig(t, melt_doy + 20.0, 7.0) * (1.0 - 0.4 * _sig(t, 250.0, 12.0))
        dry = 0.2 * _sig(t, 230.0, 15.0)
    green = min(max(green, 0.0), 1.0)
    dry = min(max(dry, 0.0), 1.0 - green)
    flower = min(max(flower, 0.0), 1.0 - green - dry)
    return green, dry, flower


def phenology_ref(crop, doy, jitter, jitter2, vigour, melt_doy):
    """numpy twin of :func:`phenology` for arrays (element-wise, written with ``np.where``)."""
    crop, t, j, j2, v, melt = np.broadcast_arrays(*(np.asarray(a, np.float64) for a in
                                                    (crop, doy, jitter, jitter2, vigour, melt_doy)))
    sig = lambda x, m, w: 1.0 / (1.0 + np.exp(-(x - m) / w))           # noqa: E731
    bell = lambda x, m, w: np.exp(-0.5 * ((x - m) / w) ** 2)          # noqa: E731
    green, dry, flower = np.zeros(t.shape), np.zeros(t.shape), np.zeros(t.shape)
    for code in (WHEAT, BARLEY):
        sh = -12.0 if code == BARLEY else 0.0
        sel = crop == code
        harvest, sowing = 192.0 + sh + j, 292.0 + j2
        spring = 0.25 + (v - 0.25) * sig(t, 78.0 + sh + j, 11.0)
        sen = sig(t, 166.0 + sh + j, 6.0)
        before, after = t < harvest, t >= sowing
        g = np.where(before, spring * (1 - sen), np.where(after, 0.25 * sig(t, sowing + 25.0, 7.0), 0.0))
        d = np.where(before, 0.9 * spring * sen, np.where(after, 0.0, 0.35 * np.exp(-(t - harvest) / 25.0)))
        green, dry = np.where(sel, g, green), np.where(sel, d, dry)
    sel = crop == RAPESEED
    harvest, sowing = 178.0 + j, 240.0 + j2
    spring = 0.35 + (v - 0.35) * sig(t, 55.0 + j, 10.0)
    sen = sig(t, 150.0 + j, 6.0)
    fl = 0.55 * bell(t, 105.0 + j, 9.0) * (1 - sen)
    before, after = t < harvest, t >= sowing
    green = np.where(sel, np.where(before, spring * (1 - sen) - fl,
                                   np.where(after, 0.45 * sig(t, sowing + 20.0, 6.0), 0.0)), green)
    dry = np.where(sel, np.where(before, 0.85 * spring * sen,
                                 np.where(after, 0.0, 0.3 * np.exp(-(t - harvest) / 20.0))), dry)
    flower = np.where(sel & before, fl, flower)
    for code, (up, sen_mid, harvest) in ((MAIZE, (165.0, 255.0, 285.0)), (SUNFLOWER, (150.0, 222.0, 258.0)),
                                         (SOYBEAN, (175.0, 262.0, 280.0))):
        sel = crop == code
        grown = v * sig(t, up + j, 9.0)
        sen = sig(t, sen_mid + j2, 8.0)
        before = t < harvest + j2
        fl = 0.45 * bell(t, 192.0 + j, 9.0) * (1 - sen) if code == SUNFLOWER else np.zeros(t.shape)
        green = np.where(sel, np.where(before, grown * (1 - sen) - fl * grown, 0.0), green)
        dry = np.where(sel, np.where(before, 0.9 * grown * sen, 0.4 * np.exp(-(t - harvest - j2) / 30.0)), dry)
        flower = np.where(sel & before, fl, flower)
    sel = crop == MEADOW
    base = 0.55 + 0.3 * sig(t, 90.0, 12.0) - 0.15 * sig(t, 300.0, 15.0)
    cut, hay = np.ones(t.shape), np.zeros(t.shape)
    for k in range(3):
        mow = 140.0 + 60.0 * k + (j if k != 1 else j2)
        done = t >= mow
        cut = np.where(done, np.minimum(cut, 1 - 0.6 * np.exp(-(t - mow) / 14.0)), cut)
        hay = hay + np.where(done, 0.35 * np.exp(-(t - mow) / 5.0), 0.0)
    green = np.where(sel, v * base * cut, green)
    dry = np.where(sel, hay + 0.15 * bell(t, 225.0, 25.0), dry)
    sel = crop == FALLOW
    green = np.where(sel, 0.3 + 0.15 * bell(t, 140.0 + j, 40.0), green)
    dry = np.where(sel, 0.25 + 0.1 * bell(t, 220.0, 30.0), dry)
    sel = crop == DECIDUOUS
    leaf = sig(t, 110.0 + j, 7.0) * (1 - sig(t, 295.0 + j2, 9.0))
    green = np.where(sel, 0.15 + (v - 0.15) * leaf, green)
    dry = np.where(sel, 0.45 * sig(t, 285.0 + j2, 8.0) * (1 - sig(t, 330.0, 8.0)), dry)
    green = np.where(crop == CONIFER, v, green)
    sel = crop == ALPINE
    green = np.where(sel, 0.65 * v * sig(t, melt + 20.0, 7.0) * (1 - 0.4 * sig(t, 250.0, 12.0)), green)
    dry = np.where(sel, 0.2 * sig(t, 230.0, 15.0), dry)
    green = np.clip(green, 0.0, 1.0)
    dry = np.clip(dry, 0.0, 1.0 - green)
    flower = np.clip(flower, 0.0, 1.0 - green - dry)
    return green, dry, flower


@njit(cache=True, nogil=True)
def _crop_of(u):
    """Crop type of a parcel from a uniform number (regional crop mix of south-west France)."""
    if u < 0.22:
        return WHEAT
    if u < 0.30:
        return BARLEY
    if u < 0.38:
        return RAPESEED
    if u < 0.56:
        return MAIZE
    if u < 0.71:
        return SUNFLOWER
    if u < 0.77:
        return SOYBEAN
    if u < 0.90:
        return MEADOW
    if u < 0.95:
        return FALLOW
    return DECIDUOUS          # woodlots among the fields


@njit(cache=True, nogil=True)
def _water(x, y, z, seed, pixel_m):
    """Water at a point: (lake 0/1, lake turbidity 0-1, river cover fraction 0-1 of a pixel of size pixel_m)."""
    # lakes: at most one per 6 km Worley cell, more likely in the mountains
    f1, f2, cx, cy = worley(x / 6000.0, y / 6000.0, seed + 21)
    lake = 0
    turbidity = 0.0
    p_lake = 0.05 + 0.12 * smoothstep(800.0, 1500.0, z)
    if hash_unit(cx, cy, seed + 22) < p_lake:
        radius = 200.0 + 600.0 * hash_unit(cx, cy, seed + 23)
        d = f1 * 6000.0 * (1.0 + 0.28 * fbm(x / 1200.0, y / 1200.0, seed + 24, 4))
        if d < radius:
            lake = 1
            turbidity = hash_unit(cx, cy, seed + 25)
    # rivers: level lines of a warped coordinate across the main flow direction (WNW-ESE)
    u = x * _RIVER_COS + y * _RIVER_SIN
    v = -x * _RIVER_SIN + y * _RIVER_COS
    cover = 0.0
    # |warp| <= 14.5 km: farther than 17.5 km from every river line, no river can come within 3 km
    q0 = v / _RIVER_SPACING_M
    if abs(q0 - math.floor(q0 + 0.5)) * _RIVER_SPACING_M > 17500.0:
        return lake, turbidity, cover
    warp = 12000.0 * fbm(u / 50000.0, v / 50000.0, seed + 26, 3) + 2500.0 * fbm(u / 9000.0, v / 9000.0, seed + 27, 2)
    q = (v + warp) / _RIVER_SPACING_M
    k = math.floor(q + 0.5)
    dist = abs(q - k) * _RIVER_SPACING_M
    if dist < 3000.0 and hash_unit(np.int64(k), 0, seed + 28) < 0.8:
        # true distance: divide by the gradient of the warped coordinate (finite differences, 20 m)
        h = 20.0
        wx = 12000.0 * fbm((u + h) / 50000.0, v / 50000.0, seed + 26, 3) + \
            2500.0 * fbm((u + h) / 9000.0, v / 9000.0, seed + 27, 2)
        wy = 12000.0 * fbm(u / 50000.0, (v + h) / 50000.0, seed + 26, 3) + \
            2500.0 * fbm(u / 9000.0, (v + h) / 9000.0, seed + 27, 2)
        grad = math.sqrt(((wx - warp) / h) ** 2 + (1.0 + (wy - warp) / h) ** 2)
        dist /= max(grad, 0.2)
        half_width = (30.0 + 50.0 * hash_unit(np.int64(k), 1, seed + 28)) * (
            1.0 + 0.3 * value_noise(u / 20000.0, 0.5, seed + 29)) * (1.0 - 0.6 * smoothstep(800.0, 1800.0, z))
        cover = min(max(0.5 + (half_width - dist) / pixel_m, 0.0), 1.0)
    return lake, turbidity, cover


@njit(cache=True, nogil=True)
def _town(x, y, seed):
    """Impervious fraction of towns (positive) and villages (negative) at a point; 0 outside."""
    f1, f2, cx, cy = worley(x / 22000.0, y / 22000.0, seed + 31)
    imp = 0.0
    if hash_unit(cx, cy, seed + 32) < 0.45:
        radius = math.exp(math.log(700.0) + (math.log(5000.0) - math.log(700.0)) * hash_unit(cx, cy, seed + 33))
        d = f1 * 22000.0 * (1.0 + 0.55 * fbm(x / 4000.0, y / 4000.0, seed + 34, 4))
        if d < radius:
            imp = 0.92 - 0.45 * d / radius
    if imp > 0.0:
        return imp
    f1, f2, cx, cy = worley(x / 5000.0, y / 5000.0, seed + 35)
    if hash_unit(cx, cy, seed + 36) < 0.35:
        radius = 150.0 + 300.0 * hash_unit(cx, cy, seed + 37)
        d = f1 * 5000.0 * (1.0 + 0.3 * fbm(x / 500.0, y / 500.0, seed + 38, 2))
        if d < radius:
            imp = -(0.7 - 0.3 * d / radius)      # negative marks a village
    return imp


@njit(cache=True, nogil=True)
def surface(x, y, doy, world, pixel_m, out):
    """True surface reflectance of the ground at one point, nadir view, sun at the reference zenith (35 degrees).

    Parameters
    ----------
    x, y : float
        World coordinates, EPSG:3035, m.
    doy : float
        Day of year (fractional), 1-366.
    world : numpy.ndarray
        float64 (WORLD_PARAMS,) world parameters (seed, massif anchor).
    pixel_m : float
        Pixel size, m (sub-pixel rivers are mixed by cover fraction).
    out : numpy.ndarray
        float64 (13,), receives the reflectance of the 13 bands (ESA order), dimensionless.

    Returns
    -------
    landcover : int
        Land cover code.
    surface_class : int
        CLASS_LAND, CLASS_WATER or CLASS_SNOW.
    z : float
        Altitude, m.
    """
    seed = np.int64(world[W_SEED])
    z = elevation(x, y, world)
    lake, turbidity, river = _water(x, y, z, seed, pixel_m)
    em = ENDMEMBERS
    treeline = 1e9
    rockline = 1e9
    if z > 1700.0:      # the noise moves the lines by less than 150 and 200 m
        treeline = 2050.0 + 150.0 * fbm(x / 5000.0, y / 5000.0, seed + 41, 2)
        rockline = 2550.0 + 200.0 * fbm(x / 4000.0, y / 4000.0, seed + 42, 2)
    texture = 1.0 + 0.035 * value_noise(x / 35.0, y / 35.0, seed + 43)
    green = dry = flower = 0.0
    soil_brightness = 1.0
    base = _SOIL
    veg = _GREEN
    code = 0
    if lake == 1:
        code = LAKE
        for b in range(N_BANDS):
            out[b] = em[_WATER, b] + 1.5 * turbidity * em[_TURBID, b]
    else:
        imp = _town(x, y, seed)
        if imp != 0.0:
            village = imp < 0.0
            imp = abs(imp)
            code = VILLAGE if village else URBAN
            f1, f2, bx, by = worley(x / 120.0, y / 120.0, seed + 44)
            roof = hash_unit(bx, by, seed + 45)
            if roof < 0.2:
                imp *= 0.3                      # gardens and parks
            base_em = _ROOF if roof > 0.65 else _URBAN
            green = 0.65 * (1.0 - imp)
            for b in range(N_BANDS):
                out[b] = imp * em[base_em, b] * (0.85 + 0.3 * hash_unit(bx, by, seed + 46)) + \
                    green * em[_GREEN, b] + (1.0 - imp - green) * em[_SOIL, b]
        elif z > rockline:
            code = ROCK
            shade = 0.7 + 0.3 * fbm(x / 300.0, y / 300.0, seed + 47, 3)
            for b in range(N_BANDS):
                out[b] = shade * em[_ROCK, b]
        else:
            melt = _melt_doy(z)
            forest_field = fbm_lod(x / 9000.0, y / 9000.0, seed + 48, 7, octaves_for(9000.0, pixel_m, 7))
            threshold = 0.28 - 0.45 * smoothstep(300.0, 1200.0, z)
            f1, f2, sx, sy = worley(x / 700.0, y / 700.0, seed + 49)
            jitter = 8.0 * (2.0 * hash_unit(sx, sy, seed + 50) - 1.0)
            if z > treeline:
                code = ALPINE
                green, dry, flower = phenology(ALPINE, doy, 0.0, 0.0, 0.9, melt)
                base = _ROCK
                soil_brightness = 0.8
            elif forest_field > threshold:
                conifer = z > 1300.0 + 200.0 * forest_field or hash_unit(sx, sy, seed + 51) < 0.15
                code = CONIFER if conifer else DECIDUOUS
                vigour = 0.85 + 0.1 * hash_unit(sx, sy, seed + 52)
                green, dry, flower = phenology(code, doy, jitter, jitter, vigour, melt)
                if conifer:
                    veg = _CONIFER
                soil_brightness = 0.6
            else:
                # parcels: elongated Voronoi cells
                px = (x * _PARCEL_COS + y * _PARCEL_SIN) / (_PARCEL_M * _PARCEL_STRETCH)
                py = (-x * _PARCEL_SIN + y * _PARCEL_COS) / (_PARCEL_M / _PARCEL_STRETCH)
                f1, f2, cx, cy = worley(px, py, seed + 53)
                u = hash_unit(cx, cy, seed + 54)
                # the crop mix drifts from region to region (tens of km): maize plains, sunflower hills...
                region = fbm(x / 30000.0, y / 30000.0, seed + 61, 3)
                code = MEADOW if z > 700.0 and u < 0.85 else _crop_of((u + 0.45 * region) % 1.0)
                jitter = 10.0 * (2.0 * hash_unit(cx, cy, seed + 55) - 1.0)
                jitter2 = 10.0 * (2.0 * hash_unit(cx, cy, seed + 56) - 1.0)
                vigour = 0.8 + 0.15 * hash_unit(cx, cy, seed + 57)
                vigour *= 1.0 + 0.05 * fbm(x / 90.0, y / 90.0, seed + 58, 2)
                green, dry, flower = phenology(code, doy, jitter, jitter2, min(vigour, 0.98), melt)
                soil_brightness = 0.75 + 0.5 * hash_unit(cx, cy, seed + 59)
                if code == DECIDUOUS:
                    soil_brightness = 0.6
            bare = 1.0 - green - dry - flower
            for b in range(N_BANDS):
                out[b] = green * em[veg, b] + dry * em[_DRY, b] + flower * em[_FLOWER, b] + \
                    bare * soil_brightness * em[base, b]
        for b in range(N_BANDS):
            out[b] *= texture
        if river > 0.0:
            if river >= 0.5:
                code = RIVER
            for b in range(N_BANDS):
                out[b] = river * (em[_WATER, b] + 1.2 * em[_TURBID, b]) + (1.0 - river) * out[b]
    surface_class = CLASS_WATER if code == LAKE or code == RIVER else CLASS_LAND
    # snow above the (noisy) snow line, on everything
    snow = 0.0
    line = snowline_m(doy)
    if z > line - 500.0:    # the noise lifts the line by less than 250 m, the transition is +-120 m
        snow = smoothstep(-120.0, 120.0, z - line + 250.0 * fbm_lod(x / 3000.0, y / 3000.0, seed + 60, 6,
                                                                       octaves_for(3000.0, pixel_m, 6)))
    if snow > 0.0:
        for b in range(N_BANDS):
            out[b] = snow * em[_SNOW, b] + (1.0 - snow) * out[b]
        if snow >= 0.5:
            surface_class = CLASS_SNOW
    return code, surface_class, z
