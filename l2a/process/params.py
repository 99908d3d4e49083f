"""Parameters of the single-date L1C -> L2A processor (one frozen dataclass, recorded in every product).

Thresholds follow MAJA's mono-temporal ("init mode") tests and their published defaults
(reference-l2a-formats.md sections 1.2-1.11, MAJA-PARAMS 2021 values where given, else the V1.0 GIPP); the tests run
on reflectance corrected for gases and Rayleigh scattering at a default AOT of 0.05 (MAJA's ``RayleighIPTOCR``), on
the coarse (240 m) grid.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InvalidParameterError

__all__ = ["ProcessParams"]


@dataclass(frozen=True)
class ProcessParams:
    """Parameters of ``l2a process``.

    Attributes
    ----------
    cell_m : float
        Coarse grid of the masks, AOT and water vapour (m); twice the pixel size when that is coarser.
    aot : float or None
        AOT at 550 nm forced everywhere (``--aot VALUE``); None estimates it from dark pixels.
    default_aot : float
        AOT where no dark pixel exists in the scene (MAJA's ``Default_AOT``).
    default_water_vapour : float
        Water vapour (g/cm2) where B9 is missing or too dark (mid-latitude column).
    rayleigh_aot : float
        AOT of the Rayleigh/gas correction the cloud, snow and water tests run on (MAJA: 0.05).
    max_cloud_pct : float
        No product when more of the observed pixels than this are cloud or shadow (MAJA's ``Max_Cloud_Percentage``).
    max_sun_zenith : float
        No product beyond this mean sun zenith (degrees).
    cloud_blue_min, cloud_red_min : float
        Mono-temporal cloud test: Rayleigh-corrected blue (B1, else B2) and red (B4) above these.
    nir_red_ratio_min, nir_red_ratio_max : float
        ... and B8A / B4 between these ("white" clouds, not vegetation).
    nir_swir_ratio_min : float
        ... and B8A / B11 above this (not bright soil or rock).
    cirrus_offset, cirrus_gain : float
        Cirrus: B10 TOA > offset + gain * altitude^2 / 2000 m (altitude in m from ``--dem``; 0 without a DEM).
    ndsi_min, snow_red_min, snow_swir_max : float
        Snow: NDSI(B3, B11) above, red above, B11 below these (MAJA) ...
    snow_nir_min : float
        ... and B8A above this (Fmask's snow test): at a cloud's edge, the band-to-band parallax can put the cloud
        in the 10 m green and red and its shadow in the 20 m SWIR, a snow-like NDSI that NIR, beside the SWIR on
        the focal plane, refutes.
    snow_cell_fraction : float
        A coarse cell is snow when at least this share of its 20 m pixels pass the snow test (patchy snow on rock
        fails the test as a whole cell, SWIR too high, and passes the cloud test).
    water_ndvi_max, water_nir_max : float
        Water: NDVI(B4, B8A) below and B8A below these (Fmask's first water test, Zhu & Woodcock 2012). MAJA's
        red < 0.05 relies on its SRTM water mask and temporal vote, neither of which a single date without DEM has:
        alone it drops turbid water (red 0.05-0.10, NIR still below 0.03).
    water_ndwi_min : float
        ... and, where a detected cloud may cast its shadow, NDWI(B3, B8A) above this (McFeeters' green/NIR index):
        a shadow dims the land's diffuse-lit spectrum, which keeps NIR near green, while water stays far brighter in
        green than in NIR.
    cloud_height_min_m, cloud_height_max_m, cloud_height_step_m : float
        Cloud heights swept to project the shadows (MAJA's Delta_H: 0-8000 by 250 m).
    shadow_darkening_max : float
        A pixel in the projection zone is shadow when its B8A is below this fraction of the clear-sky reference.
    shadow_reference_cells : int
        Half width (cells) of the window whose clear land gives the reference NIR (mono-temporal: no composite).
    dilation_cells : int
        Dilation of cloud and shadow masks (cells, MAJA's SE_Cloud_Radius 1).
    upsample_threshold : float
        Coarse masks go to 10/20 m by bilinear interpolation then this threshold (MAJA: 0.25).
    ddv_swir_min, ddv_swir_max : float
        Dark pixels for AOT: surface B12 reflectance between these.
    ddv_ndvi_min : float
        ... and surface NDVI (at the default AOT) above this: dense vegetation, the class on which the relations
        below were measured (NDVI > 0.75).
    ddv_red_swir, ddv_blue_red : float
        Surface relations of dark vegetation: red = ``ddv_red_swir`` x B12, blue = ``ddv_blue_red`` x red. Measured
        on real Theia L2A products (``scripts/derive_sim_spectra.py``: median red/B12 0.41, 10-90 % 0.30-0.50;
        blue/red 0.77, 0.68-0.93), where MODIS and Sen2Cor use 0.5 and 0.5 for their 2.1-2.2 um band.
    ddv_min_pixels : int
        Dark pixels a cell needs for an AOT estimate.
    aot_smoothing_cells : float
        Gaussian sigma (cells) of the AOT smoothing and gap filling.
    """

    cell_m: float = 240.0
    aot: float | None = None
    default_aot: float = 0.1
    default_water_vapour: float = 2.0
    rayleigh_aot: float = 0.05
    max_cloud_pct: float = 90.0
    max_sun_zenith: float = 80.0
    cloud_blue_min: float = 0.24
    cloud_red_min: float = 0.15
    nir_red_ratio_min: float = 0.8
    nir_red_ratio_max: float = 2.0
    nir_swir_ratio_min: float = 1.0
    cirrus_offset: float = 0.007
    cirrus_gain: float = 0.000012
    ndsi_min: float = 0.4
    snow_red_min: float = 0.12
    snow_swir_max: float = 0.16
    snow_nir_min: float = 0.11
    snow_cell_fraction: float = 0.5
    water_ndvi_max: float = 0.01
    water_nir_max: float = 0.11
    water_ndwi_min: float = 0.3
    cloud_height_min_m: float = 250.0
    cloud_height_max_m: float = 8000.0
    cloud_height_step_m: float = 250.0
    shadow_darkening_max: float = 0.7
    shadow_reference_cells: int = 5
    dilation_cells: int = 1
    upsample_threshold: float = 0.25
    ddv_swir_min: float = 0.01
    ddv_swir_max: float = 0.15
    ddv_ndvi_min: float = 0.75
    ddv_red_swir: float = 0.41
    ddv_blue_red: float = 0.77
    ddv_min_pixels: int = 8
    aot_smoothing_cells: float = 2.0

    def __post_init__(self):
        if self.aot is not None and not 0.0 <= self.aot <= 2.0:
            raise InvalidParameterError(f"aot must be within 0-2, not {self.aot}")
        if not 0.0 <= self.max_cloud_pct <= 100.0:
            raise InvalidParameterError(f"max cloud percentage must be within 0-100, not {self.max_cloud_pct}")
        if self.cell_m <= 0 or self.cloud_height_step_m <= 0:
            raise InvalidParameterError("cell size and cloud height step must be positive")

    def record(self) -> dict[str, str]:
        """The parameters as MTD_ALL.xml items (``PROCESS_<name>``)."""
        return {f"PROCESS_{k.upper()}": ("auto" if v is None else str(v))
                for k, v in dataclasses.asdict(self).items()}
