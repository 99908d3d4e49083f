"""Parameters of the weighted monthly synthesis (SPEC section 4).

One frozen dataclass, :class:`CompositeParams`, holds every choice of the synthesis; two named profiles are module
constants: :data:`DEFAULT` (the toolkit's corrected method) and :data:`WASP` (the choices of CNES WASP 1.x, for
comparison with Theia L3A archives). Variants come from :func:`dataclasses.replace`, which validates again::

    params = dataclasses.replace(DEFAULT, half_window_days=25)   # Sen2Agri's window

``to_dict()`` gives the plain, JSON-able mapping recorded in the products (``DATA/*_IPP_ALL.xml``, STAC item), and
:meth:`CompositeParams.from_dict` reads it back.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from .errors import InvalidParameterError

__all__ = [
    "CompositeParams",
    "DEFAULT",
    "WASP",
    "PROFILES",
    "DATE_WEIGHTS",
    "SNOW_WATER_RULES",
    "SNOW_AND_WATER_CLASSES",
    "SUN_GEOMETRIES",
    "CLM_BIT_COUNT",
    "cloud_bits_from_text",
    "cloud_bit_numbers",
]

#: Shapes of the date weight: ``ramp`` (linear, as WASP intended) or ``step`` (WASP's integer division: 1 for
#: ``|dt| < H``, ``min_date_weight`` at ``|dt| == H``).
DATE_WEIGHTS = ("ramp", "step")
#: Rules for pixels seen only as snow or water: ``weighted`` (the class with the larger summed weight, averaged with
#: its weights) or ``latest`` (WASP: the latest acquisition of either class, taken as it is).
SNOW_WATER_RULES = ("weighted", "latest")
#: What an observation flagged both snow and water counts as.
SNOW_AND_WATER_CLASSES = ("snow", "water")
#: Sun zenith of the directional normalisation: ``observed`` (each date's own sun, nadir view; WASP) or ``central``
#: (nadir view at the sun zenith the pixel has on the central date, at the same local time: :mod:`l3a.solar`).
SUN_GEOMETRIES = ("observed", "central")
#: Bits of the Theia CLM raster (uint8): 0 all clouds except the thinnest and all shadows, 1 all clouds except the
#: thinnest, 2 mono-temporal, 3 multi-temporal, 4 thinnest clouds, 5 shadows of detected clouds, 6 shadows of clouds
#: outside the image, 7 high clouds (1.38 um) (reference-l2a-formats.md section 3.4).
CLM_BIT_COUNT = 8


@dataclass(frozen=True)
class CompositeParams:
    """Every parameter of the weighted monthly synthesis.

    The weight of a date at a pixel is ``W = W_cloud * W_aot * W_date * W_edge`` (SPEC section 4); the fields are
    grouped by factor. Instances are immutable and validated on creation (:class:`InvalidParameterError` naming the
    field).
    """

    # -- profile
    profile: str = "default"  # name recorded in products; "default" or "wasp" for the named profiles, free otherwise

    # -- W_date: linear ramp from 1 at the central date to min_date_weight at |dt| = H; inputs beyond H are left out
    half_window_days: int = 23  # days either side of the central date (H); 23 = WASP/Theia S2 (46-day window)
    min_date_weight: float = 0.5  # W_date at |dt| == H (unitless, 0-1); 0.5 = WASP --weightdatemin
    date_weight: str = "ramp"  # "ramp" (intended) or "step" (WASP's integer division), see DATE_WEIGHTS

    # -- W_cloud: two Gaussian blurs of a coarse binary cloud+shadow mask, W = (1 - A) * (1 - B)
    coarse_resolution_m: float = 240.0  # m, grid of the cloud mask C; 240 = WASP --coarseres
    sigma_small_m: float = 480.0  # m, sigma of blur A; 480 = WASP --sigmasmallcld 2 cells of 240 m
    sigma_large_m: float = 2400.0  # m, sigma of blur B; 2400 = WASP --sigmalargecld 10 cells of 240 m
    cloud_fraction_threshold: float = 0.5  # fraction (0-1) above which a coarse cell is cloudy; 0.5 = WASP
    cloud_bits: int = 1  # Theia CLM bits meaning cloud or shadow, as a mask to AND with the raster (bit k = 2**k);
    #                      1 = bit 0 only, "all clouds except the thinnest, and all shadows", as WASP (CLM_R1 bit 0)
    #                      and SPEC section 4; 255 = any bit. Decides the class and the coarse mask of W_cloud.
    #                      Products read through their reader (Sen2Cor SCL, Theia masks to resample) give their
    #                      cloud and shadow planes, coded as a MAJA CLM would be (l2a.formats.theia.bits.encode_clm)

    # -- W_aot: W_aot_min + (W_aot_max - W_aot_min) * (1 - aot / aot_max) below aot_max, else W_aot_min
    aot_weight_min: float = 0.33  # W_aot at aot >= aot_max (unitless); 0.33 = WASP --weightaotmin
    aot_weight_max: float = 1.0  # W_aot at aot == 0 and where AOT is missing (unitless); 1 = WASP --weightaotmax
    aot_max: float = 0.8  # AOT at 550 nm (unitless) from which W_aot is minimal; 0.8 = WASP --aotmax

    # -- W_edge (new): feathering ramp from the border of the product's valid data inside the tile
    edge_weight: bool = True  # apply W_edge; WASP has none (its swath edges leave faint lines)
    edge_feather_m: float = 3000.0  # m, distance from the data border at which W_edge reaches 1; 3 km hides lines
    edge_weight_min: float = 0.01  # W_edge at the data border (unitless, 0-1); > 0 keeps a value where the orbit
    #                                is the only clear view
    edge_resolution_m: float = 60.0  # m, grid on which the distance to the border is computed (then resampled
    #                                  bilinearly); 60 m = 1/50 of the ramp, error < 0.02 in W_edge, and 36x fewer
    #                                  cells than 10 m for the distance transform

    # -- classes
    snow_water_rule: str = "weighted"  # see SNOW_WATER_RULES; "weighted" avoids WASP's order-dependent artefacts
    snow_and_water_is: str = "snow"  # see SNOW_AND_WATER_CLASSES; a snow-covered lake looks like snow (WASP: water)

    # -- directional normalisation
    brdf: bool = True  # c-factor normalisation to nadir view (Roy et al. 2016) of clear land observations (not
    #                    snow, water or cloud: the land coefficients do not hold there; WASP skips them too)
    sun: str = "central"  # see SUN_GEOMETRIES: the sun zenith normalised to; "central" = the sun zenith of the
    #                       central date at the pixel (same local time), so the dates of a window agree in
    #                       illumination too; "observed" = each date's own sun, as WASP ("nadir view, keeping the
    #                       actual solar zenith angle"). "central" is the default because it measured better against
    #                       the simulator's truth (nadir view at the central date's sun): slow-pixel median 0.0013-
    #                       0.0026 against 0.0013-0.0028 on 4 tiles x 2 months at 100 m, 0.0023 against 0.0027 on a
    #                       10 m window, p99 equal within 0.0005 (maja masks, July-August 2018)

    # -- multi-temporal outlier test (new; WASP has none): clouds and shadows the L2A masks missed, found by comparing
    #    each clear land observation with the pixel's other clear dates (l3a.kernels.outliers). A rejected observation
    #    counts as cloud (out of the mean, WGT and NOB); it does not feed W_cloud (computed from the masks alone)
    outlier_test: bool = True  # run the test; the masks of MAJA or Sen2Cor miss thin clouds and shift shadows
    outlier_min_clear: int = 3  # clear land observations (count) a pixel needs for the test to run: with two,
    #                             nothing tells which one is wrong
    haze_rise: float = 0.01  # reflectance (0-1): rise of the blue (B2; B5 at 20 m) above its reference always
    #                          allowed; about the blue error of the atmospheric correction (AOT error 0.05-0.1),
    #                          while a thin cloud of optical thickness 0.3 already adds about 0.02
    haze_rise_relative: float = 0.3  # unitless: allowed rise per unit of reference blue; a stable surface varies in
    #                                  proportion to its brightness (soil moisture, residual view-angle effects of
    #                                  10-15 %), so a bright soil (blue 0.10) may rise 0.04, a canopy (0.03) 0.019
    haze_nir_drop: float = 0.15  # fraction (0-1): an observation whose NIR (B8; B8A) is darker than the median NIR by
    #                              more than this is a surface change (harvest, mowing, senescence lower NIR by
    #                              20-60 %), never haze: a thin cloud's reflectance gives back about what its
    #                              transmittance takes from a bright NIR surface (within ~10 %)
    haze_quantile: float = 0.25  # quantile (0-1) of the pixel's clear blue values taken as the haze reference (lower
    #                              rank): low because haze only brightens, robust to up to 3 hazy dates in 4; not the
    #                              minimum, which is the darkest error of a single date
    haze_flatness: float = 0.8  # unitless (>= 0; 0 = no guard): spectral guard of the haze test, an observation is
    #                             haze only if the rise of its blue (B5 at 20 m) above its reference is at least
    #                             this times the rise of red (B4; SWIR B11 at 20 m) above red's reference (same
    #                             quantile, same dates): a thin cloud's offset is nearly flat, so it raises blue at
    #                             least as much as red, while drying soil and bright stubble or straw brighten red
    #                             (and SWIR) more than blue (soil red/blue ~1.3-1.7); 0.8 lets red rise 1.25 x blue
    shadow_darkening: float = 0.25  # fraction (0-1) by which NIR and SWIR (B11; red B4 at 10 m, where there is no
    #                                 SWIR) must both fall below their medians for a shadow: a cloud shadow keeps
    #                                 only the diffuse light, 10-30 % of the sunlit value (50-70 % under a thin
    #                                 cloud), in every band, while a harvest or a green-up moves NIR and SWIR/red in
    #                                 opposite directions and view-angle residuals stay within ~15 %

    def __post_init__(self):
        _check_str(self, "profile", None)
        _check_int(self, "half_window_days", 0)
        _check_float(self, "min_date_weight", 0.0, 1.0)
        _check_str(self, "date_weight", DATE_WEIGHTS)
        _check_float(self, "coarse_resolution_m", 0.0, None, low_open=True)
        _check_float(self, "sigma_small_m", 0.0, None, low_open=True)
        _check_float(self, "sigma_large_m", 0.0, None, low_open=True)
        _check_float(self, "cloud_fraction_threshold", 0.0, 1.0)
        _check_int(self, "cloud_bits", 1)
        if self.cloud_bits >= 1 << CLM_BIT_COUNT:
            raise InvalidParameterError(f"cloud_bits: {self.cloud_bits!r} has a bit above {CLM_BIT_COUNT - 1} "
                                        f"(CLM is 8 bits)")
        _check_float(self, "aot_weight_min", 0.0, None)
        _check_float(self, "aot_weight_max", 0.0, None, low_open=True)
        if self.aot_weight_min > self.aot_weight_max:
            raise InvalidParameterError(
                f"aot_weight_min: {self.aot_weight_min!r} is larger than aot_weight_max {self.aot_weight_max!r}")
        _check_float(self, "aot_max", 0.0, None, low_open=True)
        _check_bool(self, "edge_weight")
        _check_float(self, "edge_feather_m", 0.0, None, low_open=True)
        _check_float(self, "edge_weight_min", 0.0, 1.0)
        _check_float(self, "edge_resolution_m", 0.0, None, low_open=True)
        _check_str(self, "snow_water_rule", SNOW_WATER_RULES)
        _check_str(self, "snow_and_water_is", SNOW_AND_WATER_CLASSES)
        _check_bool(self, "brdf")
        _check_str(self, "sun", SUN_GEOMETRIES)
        _check_bool(self, "outlier_test")
        _check_int(self, "outlier_min_clear", 1)
        _check_float(self, "haze_rise", 0.0, None)
        _check_float(self, "haze_rise_relative", 0.0, None)
        _check_float(self, "haze_nir_drop", 0.0, 1.0)
        _check_float(self, "haze_quantile", 0.0, 1.0)
        _check_float(self, "shadow_darkening", 0.0, 1.0)
        _check_float(self, "haze_flatness", 0.0, None)

    @classmethod
    def default(cls) -> "CompositeParams":
        """The toolkit's profile (:data:`DEFAULT`)."""
        return DEFAULT

    @classmethod
    def wasp(cls) -> "CompositeParams":
        """The CNES WASP 1.x profile (:data:`WASP`): step date weight, snow/water from the latest acquisition, water
        wins over snow, no edge weight, no multi-temporal outlier test."""
        return WASP

    @property
    def sigma_small_cells(self) -> float:
        """Sigma of blur A in cells of ``coarse_resolution_m`` (2 by default)."""
        return self.sigma_small_m / self.coarse_resolution_m

    @property
    def sigma_large_cells(self) -> float:
        """Sigma of blur B in cells of ``coarse_resolution_m`` (10 by default)."""
        return self.sigma_large_m / self.coarse_resolution_m

    def to_dict(self) -> dict[str, Any]:
        """Every field as a plain ``{name: str | int | float | bool}`` mapping, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "CompositeParams":
        """Parameters from a mapping written by :meth:`to_dict`; missing fields take their defaults.

        Raises
        ------
        InvalidParameterError
            If a key is not a field, or a value is invalid.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidParameterError(f"{unknown[0]}: not a synthesis parameter")
        return cls(**dict(values))


def cloud_bits_from_text(text: str) -> int:
    """The ``cloud_bits`` mask of a list of CLM bit numbers such as ``"0"`` or ``"0,1,5,6,7"`` (``"all"``: 255).

    Raises
    ------
    InvalidParameterError
        If an item is not a whole number 0-7, or the list is empty.
    """
    value = str(text).strip().lower()
    if value == "all":
        return (1 << CLM_BIT_COUNT) - 1
    mask = 0
    for item in (v.strip() for v in value.split(",")):
        if not item.isdigit() or int(item) >= CLM_BIT_COUNT:
            raise InvalidParameterError(f"cloud_bits: {item!r} is not a CLM bit number 0-{CLM_BIT_COUNT - 1} "
                                        f"(in {text!r})")
        mask |= 1 << int(item)
    return mask


def cloud_bit_numbers(mask: int) -> tuple[int, ...]:
    """The CLM bit numbers of a ``cloud_bits`` mask, ascending: ``cloud_bit_numbers(0b11100011)`` is
    ``(0, 1, 5, 6, 7)``."""
    return tuple(b for b in range(CLM_BIT_COUNT) if mask >> b & 1)


def _check_str(params, name, choices):
    value = getattr(params, name)
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(f"{name}: expected a non-empty string, got {value!r}")
    if choices is not None and value not in choices:
        raise InvalidParameterError(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _check_bool(params, name):
    value = getattr(params, name)
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{name}: expected true or false, got {value!r}")


def _check_int(params, name, low):
    value = getattr(params, name)
    if isinstance(value, bool) or not isinstance(value, int):
        # accept integral floats such as 23.0 (from a JSON or XML record)
        if isinstance(value, float) and value.is_integer():
            object.__setattr__(params, name, int(value))
            value = int(value)
        else:
            raise InvalidParameterError(f"{name}: expected a whole number, got {value!r}")
    if value < low:
        raise InvalidParameterError(f"{name}: {value!r} is below {low}")


def _check_float(params, name, low, high, low_open=False):
    value = getattr(params, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameterError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    object.__setattr__(params, name, value)
    if not math.isfinite(value):
        raise InvalidParameterError(f"{name}: {value!r} is not finite")
    if low is not None and (value <= low if low_open else value < low):
        raise InvalidParameterError(f"{name}: {value!r} must be {'>' if low_open else '>='} {low:g}")
    if high is not None and value > high:
        raise InvalidParameterError(f"{name}: {value!r} must be <= {high:g}")


#: The toolkit's method (SPEC section 4).
DEFAULT = CompositeParams()

#: CNES WASP 1.x choices (reference-wasp.md): step date weight (integer division), snow/water from the latest
#: acquisition with WGT 0, water wins over snow, no edge weight, no multi-temporal outlier test (WASP trusts the
#: masks: a cloud or shadow they miss enters the mean). The cloud and AOT weights are WASP's already, and
#: so is the cloud mask (CLM_R1 bit 0, reference-wasp.md sections 2.1 and 3.1: ``cloud_bits`` 1). Directional
#: normalisation stays on, with the corrected Roy et al. kernels (WASP's swapped kernels are a defect, not a choice
#: worth reproducing), to nadir view at each date's own sun as WASP ("keeping the actual solar zenith angle",
#: section 2.6: ``sun`` "observed"), on clear land observations only as WASP (not cloud, water or snow). Results
#: stay independent of input order (acquisition order decides "latest").
WASP = CompositeParams(
    profile="wasp",
    date_weight="step",
    snow_water_rule="latest",
    snow_and_water_is="water",
    edge_weight=False,
    cloud_bits=1,
    sun="observed",
    outlier_test=False,
)

#: Named profiles, for CLI choices.
PROFILES: Mapping[str, CompositeParams] = MappingProxyType({"default": DEFAULT, "wasp": WASP})
