"""Mono-temporal masks on the coarse grid (MAJA's init mode): cloud, cirrus, snow, water, cloud shadow, dilation,
and their up-sampling to 10/20 m.

All tests take reflectance corrected for gases and Rayleigh scattering at a default AOT (MAJA's ``RayleighIPTOCR``)
averaged over each coarse cell (:class:`CoarseScene`), with the thresholds of :class:`~l2a.process.params.
ProcessParams` (MAJA's published defaults, reference-l2a-formats.md 1.2-1.8):

* **cloud** ("refl"): saturated in blue, red, NIR or SWIR, or blue (B2) > 0.24 and red > 0.15 and 0.8 < NIR/red < 2
  and NIR/SWIR > 1, on the mean of the cell's pixels that fail the per-pixel snow test (patchy snow on rock or grass
  would make a white, SWIR-dark mean); snow cells are not tested (bright snow is not cloud);
* **cirrus**: B10 TOA > 0.007 + 0.000012 altitude^2 / 2000 m (altitude of the DEM, 0 without: then bright high
  ground whose B10 sees the surface through dry air passes for cirrus); no test when B10 is missing, nor over snow
  (even with a DEM, snow's B10 signal at altitude is of the order of the threshold);
* **snow**: NDSI(B3, B11) > 0.4, red > 0.12, B11 < 0.16 (MAJA) and B8A > 0.11 (Fmask), or half of the cell's
  20 m pixels passing that test (patchy snow on rock fails it as a whole cell, and passes the cloud test); a snow
  patch entirely surrounded by cloud becomes cloud;
* **water**: NDVI(B4, B8A) < 0.01 and B8A < 0.11 (Fmask's test: MAJA's red < 0.05 leans on an SRTM water mask
  and a temporal vote, and alone drops turbid water), not cloud; where a detected cloud may cast its shadow, also
  NDWI(B3, B8A) > 0.3 (a shadow dims land's spectrum, it does not make it brighter in green than in NIR);
* **shadow**: MAJA's union of projections with a darkening threshold -- every cloud cell is projected along the sun
  direction, with the view parallax, for cloud heights 250-8000 m by 250 m; in that zone, a cell is shadow when its
  NIR (B8A) and its SWIR (B11) are both below 0.7 x the mean of the clear land cells around it (mono-temporal: no
  composite yet to compare with; a shadow darkens both, a dark cover one of them);
* cloud and shadow are dilated by one cell, then go to 10/20 m by bilinear interpolation and a 0.25 threshold;
* refinement at 20 m (:func:`l2a.process.kernels.refine_pixels`): outside the clouds, every pixel is tested for
  snow and water with the thresholds above, and for shadow (NIR and SWIR below 0.7 x the clear-land references of
  its cell) inside the projection zone; inside cloud cells and their dilation the shadow and snow tests overrule the
  cloud (a cell holding a cloud's edge often holds part of its shadow, and a pixel that dark is not cloud; a cell of
  patchy snow on rock passes the cloud test as a whole, its snow pixels -- bright in green, dark at 1.6 um -- do
  not): coarse cells miss narrow rivers, snow patches and the shadow edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .kernels import project_shadows
from .params import ProcessParams

__all__ = ["CoarseScene", "CoarseMasks", "compute_masks", "shadow_shifts", "cell_factor"]


@dataclass
class CoarseScene:
    """What the mask tests see of a scene, per coarse cell (float arrays (ny, nx), NaN = not observed).

    ``tocr`` maps band names to reflectance corrected for gases and Rayleigh scattering; ``b10`` is the B10 TOA
    reflectance (None when the product has no B10); ``saturated`` marks cells with a saturated pixel in B2, B4, B8A
    or B11; ``valid`` cells have data in every band; angles in degrees; ``altitude`` in m (0: no DEM);
    ``snow_fraction`` the share of each cell's 20 m pixels that pass the snow test and ``tocr_without_snow`` the
    B2, B4, B8A and B11 of ``tocr`` over the cell's other pixels (NaN where there are none), for the cloud test
    (None: not known).
    """

    tocr: dict
    b10: np.ndarray | None
    saturated: np.ndarray
    valid: np.ndarray
    sun_zenith: np.ndarray
    sun_azimuth: np.ndarray
    view_zenith: np.ndarray
    view_azimuth: np.ndarray
    cell_m: float
    altitude: np.ndarray | float = 0.0
    snow_fraction: np.ndarray | None = None
    tocr_without_snow: dict | None = None


@dataclass
class CoarseMasks:
    """Boolean (ny, nx) masks of the coarse cells.

    ``cloud_core`` (refl | cirrus) before dilation; ``cloud_refl``, ``cirrus``, ``cloud_all`` (refl | cirrus) and
    ``shadow_dilated`` after; ``shadow`` before dilation; ``shadow_zone`` where a detected cloud may cast its shadow
    (dilated by a cell, cloud cells included: a cloud cell may hold the shadow of its neighbour);
    ``nir_reference`` and ``swir_reference`` the clear-land B8A and B11 reflectance around each cell (float64, inf
    where no clear land), for the per-pixel refinement (:func:`l2a.process.kernels.refine_pixels`).
    """

    cloud_refl: np.ndarray
    cirrus: np.ndarray
    cloud_all: np.ndarray
    shadow: np.ndarray
    shadow_dilated: np.ndarray
    snow: np.ndarray
    water: np.ndarray
    shadow_zone: np.ndarray
    nir_reference: np.ndarray
    swir_reference: np.ndarray
    cloud_core: np.ndarray

    @property
    def cloud_or_shadow(self) -> np.ndarray:
        return self.cloud_all | self.shadow_dilated


def _ratio(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / b


def _normalized_difference(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - b) / (a + b)


def shadow_shifts(scene: CoarseScene, step_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Displacement (cells) from a cloud as imaged to its shadow per height step, rows and columns.

    A cloud at height h whose ground nadir is X is seen at ``X - h tan(view zenith) u_sat`` and casts its shadow at
    ``X - h tan(sun zenith) u_sun`` (``u`` = unit vector towards the satellite or sun azimuth, clockwise from
    north): the shadow is ``h (tan(vz) u_sat - tan(sz) u_sun)`` from the cloud as imaged.
    """
    sz, sa = np.radians(scene.sun_zenith), np.radians(scene.sun_azimuth)
    vz, va = np.radians(scene.view_zenith), np.radians(scene.view_azimuth)
    east = step_m * (np.tan(vz) * np.sin(va) - np.tan(sz) * np.sin(sa))
    north = step_m * (np.tan(vz) * np.cos(va) - np.tan(sz) * np.cos(sa))
    return -north / scene.cell_m, east / scene.cell_m


def _snow_surrounded_by_cloud(snow: np.ndarray, cloud: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Snow patches whose whole outer border is cloud or no data (MAJA's CloudSnowCorrection)."""
    labels, n = ndimage.label(snow)
    if n == 0:
        return np.zeros_like(snow)
    grown = ndimage.grey_dilation(labels, size=(3, 3))  # ring cells take the label of a patch they touch
    ring = (grown > 0) & ~snow
    open_ring = np.bincount(grown[ring & ~(cloud | ~valid)], minlength=n + 1)
    any_ring = np.bincount(grown[ring], minlength=n + 1)
    surrounded = (open_ring == 0) & (any_ring > 0)
    surrounded[0] = False
    return surrounded[labels]


def compute_masks(scene: CoarseScene, params: ProcessParams) -> CoarseMasks:
    """The coarse masks of a scene (see the module docstring)."""
    t = scene.tocr
    green, red, nir, swir1 = t["B3"], t["B4"], t["B8A"], t["B11"]
    # the cloud test runs on the cell's pixels that are not snow: patchy snow brightens a cell of rock or grass
    # into a white, SWIR-dark mean, the cloud test's picture of a cloud
    c = scene.tocr_without_snow or t
    c_blue, c_red, c_nir, c_swir = c["B2"], c["B4"], c["B8A"], c["B11"]
    valid = scene.valid
    with np.errstate(invalid="ignore"):
        ndsi = _normalized_difference(green, swir1)
        snow = valid & (ndsi > params.ndsi_min) & (red > params.snow_red_min) & (swir1 < params.snow_swir_max) \
            & (nir > params.snow_nir_min)
        if scene.snow_fraction is not None:
            # patchy snow on rock fails the snow test as a whole cell (SWIR too high) and passes the cloud test
            snow |= valid & (scene.snow_fraction >= params.snow_cell_fraction)
        nir_red = _ratio(c_nir, c_red)
        cloud = valid & ~snow & (
            scene.saturated
            | ((c_blue > params.cloud_blue_min) & (c_red > params.cloud_red_min)
               & (nir_red > params.nir_red_ratio_min) & (nir_red < params.nir_red_ratio_max)
               & (_ratio(c_nir, c_swir) > params.nir_swir_ratio_min)))
        cirrus = np.zeros_like(valid)
        if scene.b10 is not None:
            # snow is never tested: its B10 signal at altitude is of the order of the threshold even with the
            # altitude term, and without a DEM that term is 0
            threshold = params.cirrus_offset + params.cirrus_gain * scene.altitude ** 2 / 2000.0
            cirrus = valid & ~snow & (scene.b10 > threshold)
    enclosed = _snow_surrounded_by_cloud(snow, cloud, valid)
    cloud |= enclosed
    snow &= ~enclosed
    cloud_all = cloud | cirrus
    # shadows: the union of the projections of the clouds over the swept heights, then darkened cells in it
    shift_r, shift_c = shadow_shifts(scene, params.cloud_height_step_m)
    # sub-steps so that consecutive projections are at most a cell apart (no holes under a low sun)
    largest = float(np.nanmax(np.maximum(np.abs(shift_r), np.abs(shift_c)), initial=0.0))
    sub = max(1, math.ceil(largest))
    shift_r, shift_c = np.nan_to_num(shift_r / sub), np.nan_to_num(shift_c / sub)
    k_first = sub * max(int(round(params.cloud_height_min_m / params.cloud_height_step_m)), 1)
    k_last = sub * int(round(params.cloud_height_max_m / params.cloud_height_step_m))
    zone = np.zeros_like(valid)
    project_shadows(cloud_all, shift_r, shift_c, k_first, k_last, zone)
    with np.errstate(invalid="ignore"):
        water = valid & ~cloud & (_normalized_difference(nir, red) < params.water_ndvi_max) \
            & (nir < params.water_nir_max) & (~zone | (_normalized_difference(green, nir) > params.water_ndwi_min))
    clear_land = valid & ~cloud_all & ~zone & ~water & ~snow
    nir_reference = _clear_land_reference(nir, clear_land, params.shadow_reference_cells)
    swir_reference = _clear_land_reference(swir1, clear_land, params.shadow_reference_cells)
    with np.errstate(invalid="ignore"):
        # a cast shadow takes the direct sun away, most of the light in NIR and SWIR alike; dark covers are dark in
        # one of them only (soils and dry vegetation are bright in SWIR, conifers keep most of the SWIR)
        darkening = params.shadow_darkening_max
        shadow = valid & zone & ~cloud_all & ~water & (nir < darkening * nir_reference) \
            & (swir1 < darkening * swir_reference)

    structure = np.ones((3, 3), bool)
    if params.dilation_cells > 0:
        cloud_all_d = ndimage.binary_dilation(cloud_all, structure, iterations=params.dilation_cells) & valid
        cloud_d = ndimage.binary_dilation(cloud, structure, iterations=params.dilation_cells) & valid
        cirrus_d = ndimage.binary_dilation(cirrus, structure, iterations=params.dilation_cells) & valid
        shadow_d = ndimage.binary_dilation(shadow, structure, iterations=params.dilation_cells) & valid
    else:
        cloud_all_d, cloud_d, cirrus_d, shadow_d = cloud_all, cloud, cirrus, shadow
    zone_d = ndimage.binary_dilation(zone, structure) & valid
    return CoarseMasks(cloud_refl=cloud_d, cirrus=cirrus_d, cloud_all=cloud_all_d, shadow=shadow,
                       shadow_dilated=shadow_d & ~cloud_all_d, snow=snow & ~cloud_all_d,
                       water=water & ~cloud_all_d & ~shadow_d, shadow_zone=zone_d,
                       nir_reference=np.nan_to_num(nir_reference, nan=np.inf),
                       swir_reference=np.nan_to_num(swir_reference, nan=np.inf), cloud_core=cloud_all)


def _clear_land_reference(band: np.ndarray, clear_land: np.ndarray, half_width: int) -> np.ndarray:
    """Mean of ``band`` over the clear land cells of the (2 half_width + 1)^2 window around each cell; the scene's
    clear-land mean where the window has too little of it (NaN when the scene has none)."""
    k = 2 * half_width + 1
    sums = ndimage.uniform_filter(np.where(clear_land, np.nan_to_num(band), 0.0), size=k, mode="constant")
    counts = ndimage.uniform_filter(clear_land.astype(float), size=k, mode="constant")
    scene = float(np.nanmean(band[clear_land])) if clear_land.any() else np.nan
    return np.where(counts > 0.5 / (k * k), sums / np.maximum(counts, 1e-12), scene)


def cell_factor(pixel_m: float, cell_m: float) -> int:
    """Pixels per coarse cell side: ``cell_m / pixel_m`` rounded, at least 2 (cells twice the pixel when coarser)."""
    return max(2, int(math.floor(cell_m / pixel_m + 0.5)))
