"""Band tables of the supported sensors and the per-platform calibration adjustments.

Band names follow the Theia convention (``B2`` ... ``B12``, ``B8A``), which is also the name used by every reader
whatever the on-disk spelling (ESA writes ``B02``). Central wavelengths are the values of ESA's spectral response
function documents (Sentinel-2) and of the VENµS mission description (CNES/ISA); they are informative, no computation
depends on the last nanometre.

The calibration-adjustment table is versioned: every product made from it records
:data:`CALIBRATION_VERSION`, so that a changed table (the 2017 Sentinel-2B incident, where a test calibration reached
production unnoticed) can always be traced.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .errors import BandNotFoundError, InvalidParameterError

__all__ = [
    "Band",
    "SENSORS",
    "PLATFORMS",
    "R1_BANDS",
    "R2_BANDS",
    "L2A_BANDS",
    "RESOLUTION_M",
    "CALIBRATION_VERSION",
    "calibration_factor",
    "band_resolution",
    "bands_of",
    "normalize_band",
    "normalize_platform",
]


@dataclass(frozen=True)
class Band:
    """One spectral band of a sensor.

    Attributes
    ----------
    name : str
        Theia-style name (``"B8A"``).
    wavelength_nm : float
        Central wavelength, nm.
    resolution_m : float
        Ground sampling distance, m.
    s2_equivalent : str or None
        For non-Sentinel-2 sensors, the Sentinel-2 band with the closest spectral response (``None`` if none).
    """

    name: str
    wavelength_nm: float
    resolution_m: float
    s2_equivalent: str | None = None


def _table(rows) -> Mapping[str, Band]:
    return MappingProxyType({r[0]: Band(*r) for r in rows})


# (name, central wavelength nm, resolution m)
_S2A = _table([
    ("B1", 442.7, 60), ("B2", 492.7, 10), ("B3", 559.8, 10), ("B4", 664.6, 10), ("B5", 704.1, 20),
    ("B6", 740.5, 20), ("B7", 782.8, 20), ("B8", 832.8, 10), ("B8A", 864.7, 20), ("B9", 945.1, 60),
    ("B10", 1373.5, 60), ("B11", 1613.7, 20), ("B12", 2202.4, 20),
])
_S2B = _table([
    ("B1", 442.3, 60), ("B2", 492.3, 10), ("B3", 558.9, 10), ("B4", 664.9, 10), ("B5", 703.8, 20),
    ("B6", 739.1, 20), ("B7", 779.7, 20), ("B8", 832.9, 10), ("B8A", 864.0, 20), ("B9", 943.2, 60),
    ("B10", 1376.9, 60), ("B11", 1610.4, 20), ("B12", 2185.7, 20),
])
_S2C = _table([
    ("B1", 444.2, 60), ("B2", 489.0, 10), ("B3", 561.6, 10), ("B4", 666.5, 10), ("B5", 707.1, 20),
    ("B6", 741.1, 20), ("B7", 785.5, 20), ("B8", 833.0, 10), ("B8A", 866.4, 20), ("B9", 943.9, 60),
    ("B10", 1377.2, 60), ("B11", 1610.2, 20), ("B12", 2191.3, 20),
])
# VENµS: 12 narrow bands at 5 m (VM1 phase). Its band numbers are not Sentinel-2's: B3 (490 nm) is the blue,
# B7 (667 nm) the red, B11 (865 nm) the NIR.
_VENUS = _table([
    ("B1", 420.0, 5, None), ("B2", 443.0, 5, "B1"), ("B3", 490.0, 5, "B2"), ("B4", 555.0, 5, "B3"),
    ("B5", 620.0, 5, None), ("B6", 620.0, 5, None), ("B7", 667.0, 5, "B4"), ("B8", 702.0, 5, "B5"),
    ("B9", 742.0, 5, "B6"), ("B10", 782.0, 5, "B7"), ("B11", 865.0, 5, "B8A"), ("B12", 910.0, 5, "B9"),
])

SENSORS: Mapping[str, Mapping[str, Band]] = MappingProxyType(
    {"S2A": _S2A, "S2B": _S2B, "S2C": _S2C, "VENUS": _VENUS}
)
PLATFORMS = tuple(SENSORS)

#: Sentinel-2 L2A bands at 10 m (Theia group R1) and 20 m (group R2), in the order of the Theia products.
R1_BANDS = ("B2", "B3", "B4", "B8")
R2_BANDS = ("B5", "B6", "B7", "B8A", "B11", "B12")
L2A_BANDS = R1_BANDS + R2_BANDS
#: Pixel size of each resolution group, m.
RESOLUTION_M = MappingProxyType({"R1": 10.0, "R2": 20.0})

_PLATFORM_ALIASES = {
    "S2A": "S2A", "SENTINEL2A": "S2A", "SENTINEL-2A": "S2A",
    "S2B": "S2B", "SENTINEL2B": "S2B", "SENTINEL-2B": "S2B",
    "S2C": "S2C", "SENTINEL2C": "S2C", "SENTINEL-2C": "S2C",
    "VENUS": "VENUS", "VNS": "VENUS", "VE": "VENUS",
}

# Per-platform multiplicative adjustment of TOA reflectance, applied by the L2A core before any other step.
# Version 1: no adjustment (ESA Collection-1, processing baseline >= 04.00, needs none for Sentinel-2B;
# see reference-l2a-formats.md section 5). Any change to the numbers must bump the version.
CALIBRATION_VERSION = "syntheo-cal-1"
_CALIBRATION: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {p: MappingProxyType({b: 1.0 for b in SENSORS[p]}) for p in PLATFORMS}
)


def normalize_platform(name: str) -> str:
    """Return the canonical platform code (``S2A``, ``S2B``, ``S2C``, ``VENUS``) for a spelling found in metadata."""
    # "µ" (micro sign) upper-cases to Greek capital mu: fold it to "U" first (VENµS -> VENUS)
    key = name.strip().replace("µ", "U").replace("μ", "U").upper().replace(" ", "")
    try:
        return _PLATFORM_ALIASES[key]
    except KeyError:
        raise InvalidParameterError(f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}") from None


def normalize_band(name: str) -> str:
    """Return the Theia spelling of a band name: ``B02`` -> ``B2``, ``b8a`` -> ``B8A``."""
    text = name.strip().upper()
    if not text.startswith("B") or len(text) < 2:
        raise BandNotFoundError(f"not a band name: {name!r}")
    body = text[1:]
    if body.endswith("A"):
        return "B" + str(int(body[:-1])) + "A" if body[:-1].isdigit() else text
    if not body.isdigit():
        raise BandNotFoundError(f"not a band name: {name!r}")
    return "B" + str(int(body))


def bands_of(platform: str) -> Mapping[str, Band]:
    """Band table of a platform (any spelling accepted by :func:`normalize_platform`)."""
    return SENSORS[normalize_platform(platform)]


def band_resolution(name: str) -> str:
    """Resolution group (``"R1"`` or ``"R2"``) of a Sentinel-2 L2A band.

    Raises
    ------
    BandNotFoundError
        If the band is not one of the ten L2A bands.
    """
    band = normalize_band(name)
    if band in R1_BANDS:
        return "R1"
    if band in R2_BANDS:
        return "R2"
    raise BandNotFoundError(f"band {band} is not a Sentinel-2 L2A band (R1: {R1_BANDS}, R2: {R2_BANDS})")


def calibration_factor(platform: str, band: str) -> float:
    """Multiplicative TOA calibration adjustment of one band (dimensionless, 1.0 = none), table
    :data:`CALIBRATION_VERSION`."""
    table = _CALIBRATION[normalize_platform(platform)]
    b = normalize_band(band)
    if b not in table:
        raise BandNotFoundError(f"band {b} is not a band of {platform}")
    return table[b]
