"""The 6S look-up table of the atmospheric correction: loading, checking and laying it out for the kernels.

The table is package data (``data/s2_continental_6sv11.npz``, written by ``scripts/build_atmo_lut.py`` from about
12,000 runs of 6SV1.1; its provenance, grid and build date are inside). It holds, per Sentinel-2 band of a Theia L2A
product, six quantities of a Lambertian ground under a continental aerosol:

``path``
    apparent (TOA) reflectance of a black ground: the path reflectance as the satellite sees it, gases other than
    water vapour included;
``t_down``, ``t_up``
    total (direct + diffuse) scattering transmittances, sun -> ground and ground -> sensor;
``spherical_albedo``
    of the atmosphere, seen from the ground;
``optical_depth``
    total (Rayleigh + aerosol) optical depth, for the direct/diffuse split;
``gas_other``
    two-way transmittance of the gases other than water vapour (ozone 0.30 cm-atm, O2, CO2, ...);

on a sea-level grid (AOT at 550 nm x sun zenith x view zenith x relative azimuth), pressure differences at 845 and
701 hPa (6S targets at 1.5 and 3 km) on a coarser grid, and Sentinel-2B/2A ratios on a coarser one still. Water vapour is a separate table of the
water transmittance and of the dimming of the path reflectance against the slant column ``U (1/mu_s + 1/mu_v)``.

Angles in degrees; relative azimuth 0 = sun and sensor on the same side (backscatter), 180 = forward scattering.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InvalidParameterError, ProductFormatError
from ..sensors import normalize_band, normalize_platform

__all__ = ["AtmosphereTable", "TableArrays", "load_table", "TABLE_FILE", "QUANTITIES", "LOG_QUANTITIES", "PLATFORM_S2A",
           "PLATFORM_S2B"]

TABLE_FILE = "s2_continental_6sv11.npz"
QUANTITIES = ("path", "t_down", "t_up", "spherical_albedo", "optical_depth", "gas_other")
#: Quantities held as natural logarithms in :class:`TableArrays` (and their pressure deltas as log differences).
LOG_QUANTITIES = ("t_down", "t_up")
#: Platform codes of the kernels: which ratio table applies (S2C is corrected with S2A's responses).
PLATFORM_S2A, PLATFORM_S2B = 0, 1


class TableArrays(NamedTuple):
    """The table as plain float64 arrays on regular grids (what the numba kernels take).

    The view axis of the files (nadir, then view zenith x azimuth) is spread here on a regular (view zenith,
    relative azimuth) grid, the nadir value repeated along azimuth. ``q`` indexes :data:`QUANTITIES`; the
    quantities of :data:`LOG_QUANTITIES` are natural logarithms (their pressure deltas differences of logarithms).
    """

    sea: np.ndarray            # (band, q, aot, sun_zenith, view_zenith, rel_azimuth)
    pressure_delta: np.ndarray  # (band, q, pressure node, p_aot, p_sun_zenith, p_view_zenith, p_rel_azimuth)
    s2b_ratio: np.ndarray      # (band, q, r_aot, r_sun_zenith, r_view_zenith, r_rel_azimuth)
    water_transmittance: np.ndarray  # (gas band, slant water)
    water_path_ratio: np.ndarray     # (gas band, g_aot, slant water)
    aot: np.ndarray
    sun_zenith: np.ndarray
    view_zenith: np.ndarray
    rel_azimuth: np.ndarray
    pressure: np.ndarray       # ascending hPa, the last one sea level (where the delta is 0)
    p_aot: np.ndarray
    p_sun_zenith: np.ndarray
    p_view_zenith: np.ndarray
    p_rel_azimuth: np.ndarray
    r_aot: np.ndarray
    r_sun_zenith: np.ndarray
    r_view_zenith: np.ndarray
    r_rel_azimuth: np.ndarray
    slant_water: np.ndarray
    g_aot: np.ndarray


@dataclass(frozen=True)
class AtmosphereTable:
    """A loaded look-up table.

    Attributes
    ----------
    arrays : TableArrays
        The grids and values for the kernels.
    surface_bands : tuple of str
        Bands with scattering terms (index = the kernels' ``band``), in Theia spelling.
    gas_bands : tuple of str
        Bands of the water-vapour table: the surface bands, same indices, then B9.
    provenance : dict
        6S version, aerosol model, build date, runs, script (recorded in every product made with the table).
    version : str
        Short name of the table, e.g. ``6sv11-continental-1`` (``MTD_ALL.xml``).
    """

    arrays: TableArrays
    surface_bands: tuple[str, ...]
    gas_bands: tuple[str, ...]
    provenance: dict
    version: str

    def band_index(self, band: str, *, gas: bool = False) -> int:
        """Index of a band in the scattering table (or, ``gas=True``, in the water-vapour table).

        Raises
        ------
        InvalidParameterError
            For a band the table does not hold (B1 and B10 are never corrected; B9 has only gas terms).
        """
        name = normalize_band(band)
        bands = self.gas_bands if gas else self.surface_bands
        if name not in bands:
            kind = "water-vapour" if gas else "atmospheric-correction"
            raise InvalidParameterError(f"band {name} is not in the {kind} table (bands: {', '.join(bands)})")
        return bands.index(name)

    @staticmethod
    def platform_code(platform: str) -> tuple[int, str | None]:
        """Kernel platform code of a platform, and a warning when its own spectral responses are not in the table.

        Sentinel-2C has no response functions in Py6S: its bands are corrected with Sentinel-2A's (their centres
        are within a few nm), and the products record the warning returned here.
        """
        p = normalize_platform(platform)
        if p == "S2A":
            return PLATFORM_S2A, None
        if p == "S2B":
            return PLATFORM_S2B, None
        if p == "S2C":
            return PLATFORM_S2A, "Sentinel-2C corrected with Sentinel-2A spectral responses (none in 6S for 2C)"
        raise InvalidParameterError(f"no atmospheric-correction table for platform {platform!r} (Sentinel-2 only)")


def _spread_views(values: np.ndarray, n_zenith: int, n_azimuth: int) -> np.ndarray:
    """(..., 1 + (n_zenith - 1) * n_azimuth) view axis -> (..., n_zenith, n_azimuth), nadir repeated."""
    lead = values.shape[:-1]
    out = np.empty(lead + (n_zenith, n_azimuth), np.float64)
    out[..., 0, :] = values[..., :1]
    out[..., 1:, :] = values[..., 1:].reshape(lead + (n_zenith - 1, n_azimuth))
    return out


def _stack(npz, prefix: str) -> np.ndarray:
    return np.stack([np.asarray(npz[prefix + q], np.float64) for q in QUANTITIES], axis=1)


def read_table(path: str | Path) -> AtmosphereTable:
    """Read and check a table file written by ``scripts/build_atmo_lut.py``.

    Raises
    ------
    ProductFormatError
        When the file is not such a table (missing arrays, shapes that do not match its grid).
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            grid = json.loads(str(npz["grid"]))
            provenance = json.loads(str(npz["provenance"]))
            sea, dp, s2b = _stack(npz, ""), _stack(npz, "dp_"), _stack(npz, "s2b_")
            water_t = np.asarray(npz["water_transmittance"], np.float64)
            water_path = np.asarray(npz["water_path_ratio"], np.float64)
            npz_pressure = np.asarray(npz["pressure_nodes"], np.float64)
    except (OSError, KeyError, ValueError) as exc:
        raise ProductFormatError(f"not a syntheo atmosphere table: {exc}", path) from None
    ax = {k: np.asarray(v, np.float64) for k, v in grid.items() if k not in ("surface_bands", "gas_bands")}
    if npz_pressure.shape != ax["target_altitude_km"].shape:
        raise ProductFormatError("atmosphere table: pressure nodes do not match its altitudes", path)
    nb = len(grid["surface_bands"])
    expected = (nb, len(QUANTITIES), ax["aot"].size, ax["sun_zenith"].size,
                1 + (ax["view_zenith"].size - 1) * ax["rel_azimuth"].size)
    if sea.shape != expected:
        raise ProductFormatError(f"atmosphere table of shape {sea.shape}, its grid says {expected}", path)
    sea = _spread_views(sea, ax["view_zenith"].size, ax["rel_azimuth"].size)
    dp = _spread_views(dp, ax["pressure_view_zenith"].size, ax["pressure_rel_azimuth"].size)
    # Transmittances are close to exponential in AOT and air mass: they are interpolated as logarithms (measured on
    # the fixture: the largest error at high sun zenith and AOT fell from 0.0024 to 0.001)
    nodes = [np.searchsorted(ax[a], ax[pa]) for a, pa in (("aot", "pressure_aot"), ("sun_zenith", "pressure_sun_zenith"),
                                                          ("view_zenith", "pressure_view_zenith"),
                                                          ("rel_azimuth", "pressure_rel_azimuth"))]
    for q in LOG_QUANTITIES:
        k = QUANTITIES.index(q)
        at_nodes = sea[:, k][np.ix_(np.arange(nb), *nodes)]
        dp[:, k] = np.log(at_nodes[:, None] + dp[:, k]) - np.log(at_nodes[:, None])
        sea[:, k] = np.log(sea[:, k])
    s2b = _spread_views(s2b, ax["ratio_view_zenith"].size, ax["ratio_rel_azimuth"].size)
    # Pressure axis ascending (701, 845, 1013.25 hPa: 6S's ground pressures at 3, 1.5 and 0 km) with a zero delta at
    # sea level.
    p_nodes = np.asarray(npz_pressure, np.float64)
    order = np.argsort(p_nodes[1:])
    delta = np.concatenate([dp[:, :, order], np.zeros_like(dp[:, :, :1])], axis=2)
    pressure = np.concatenate([p_nodes[1:][order], p_nodes[:1]])
    arrays = TableArrays(
        sea=sea, pressure_delta=delta, s2b_ratio=s2b, water_transmittance=water_t, water_path_ratio=water_path,
        aot=ax["aot"], sun_zenith=ax["sun_zenith"], view_zenith=ax["view_zenith"], rel_azimuth=ax["rel_azimuth"],
        pressure=pressure, p_aot=ax["pressure_aot"], p_sun_zenith=ax["pressure_sun_zenith"],
        p_view_zenith=ax["pressure_view_zenith"], p_rel_azimuth=ax["pressure_rel_azimuth"],
        r_aot=ax["ratio_aot"], r_sun_zenith=ax["ratio_sun_zenith"], r_view_zenith=ax["ratio_view_zenith"],
        r_rel_azimuth=ax["ratio_rel_azimuth"], slant_water=ax["slant_water"], g_aot=ax["gas_aot"])
    for a in arrays:
        a.setflags(write=False)
    return AtmosphereTable(arrays=arrays, surface_bands=tuple(grid["surface_bands"]),
                           gas_bands=tuple(grid["gas_bands"]), provenance=provenance,
                           version=str(provenance.get("table_version", "unknown")))


@functools.lru_cache(maxsize=1)
def load_table() -> AtmosphereTable:
    """The package's table (read once per process)."""
    with resources.as_file(resources.files(__package__) / "data" / TABLE_FILE) as path:
        return read_table(path)
