"""Atmospheric correction of Sentinel-2 reflectance with a look-up table built once with 6S (continental aerosol).

>>> from l2a.atmosphere import surface_reflectance, toa_reflectance
>>> rho = surface_reflectance(0.12, "B4", "S2A", sun_zenith=40.0, view_zenith=5.0, relative_azimuth=120.0,
...                           aot=0.15, water_vapour=2.0)                                     # doctest: +SKIP
>>> toa_reflectance(rho, "B4", "S2A", 40.0, 5.0, 120.0, 0.15, 2.0)                          # doctest: +SKIP
0.12

Both take numpy arrays that broadcast together (angles in degrees, relative azimuth 0 = backscatter, i.e. sun and
sensor on the same side; AOT at 550 nm; water vapour in g/cm2; pressure in hPa) and return float64 reflectance, of a
Lambertian ground, no adjacency effect. The model and the numba-callable terms (gas transmittance, path reflectance,
total and direct transmittances, spherical albedo) are in :mod:`l2a.atmosphere.kernels`, their numpy twins in
:mod:`l2a.atmosphere.reference`, the table and its provenance in :mod:`l2a.atmosphere.table`. The table covers sun
zenith 0-80, view zenith 0-12, AOT 0-0.8 (values beyond are clamped to its edges), pressure 701-1013 hPa
(extrapolated linearly to 500-1100) and water vapour up to 36 g/cm2 of slant column.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidParameterError
from .kernels import surface_reflectance_flat, toa_reflectance_flat
from .table import AtmosphereTable, load_table

__all__ = ["surface_reflectance", "toa_reflectance", "load_table", "AtmosphereTable"]


def _check_ranges(sun_zenith, view_zenith, relative_azimuth, aot, water_vapour, pressure):
    """Refuse conditions that are not physical (NaN passes through as NaN)."""
    for name, values, lo, hi in (("sun zenith", sun_zenith, 0.0, 89.9), ("view zenith", view_zenith, 0.0, 60.0),
                                 ("relative azimuth", relative_azimuth, -360.0, 360.0), ("aot", aot, 0.0, 5.0),
                                 ("water vapour", water_vapour, 0.0, 15.0), ("pressure", pressure, 300.0, 1100.0)):
        bad = (values < lo) | (values > hi)
        if bad.any():
            raise InvalidParameterError(f"{name} {float(values[bad].flat[0])!r} outside [{lo}, {hi}]")


def _convert(kernel, value, band, platform, sun_zenith, view_zenith, relative_azimuth, aot, water_vapour,
             pressure):
    table = load_table()
    b = table.band_index(band)
    code, _ = table.platform_code(platform)
    arrays = np.broadcast_arrays(*(np.asarray(x, np.float64) for x in (
        value, sun_zenith, view_zenith, relative_azimuth, aot, water_vapour, pressure)))
    _check_ranges(*arrays[1:])
    shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    out = np.empty(flat[0].size, np.float64)
    kernel(table.arrays, b, code, *flat, out)
    out = out.reshape(shape)
    return out if shape else float(out)


def surface_reflectance(toa, band: str, platform: str, sun_zenith, view_zenith, relative_azimuth, aot,
                        water_vapour, pressure=1013.25):
    """Surface reflectance of a Lambertian ground from TOA reflectance (float64, the broadcast shape; a float for
    scalar inputs).

    Parameters
    ----------
    toa : array_like
        TOA reflectance (dimensionless, not scaled).
    band : str
        A band of a Theia L2A product (B2-B8A, B11, B12), any spelling (``B04``, ``b4``).
    platform : str
        ``S2A``, ``S2B`` or ``S2C`` (any spelling of :func:`l2a.sensors.normalize_platform`); 2C uses 2A's
        responses.
    sun_zenith, view_zenith, relative_azimuth : array_like
        Degrees; relative azimuth 0 = backscatter.
    aot : array_like
        Aerosol optical thickness at 550 nm.
    water_vapour : array_like
        Vertical column (g/cm2).
    pressure : array_like
        Surface pressure (hPa), 1013.25 by default (flat terrain at sea level).

    Raises
    ------
    InvalidParameterError
        For a band or platform the table does not hold.
    """
    return _convert(surface_reflectance_flat, toa, band, platform, sun_zenith, view_zenith, relative_azimuth, aot,
                    water_vapour, pressure)


def toa_reflectance(surface, band: str, platform: str, sun_zenith, view_zenith, relative_azimuth, aot,
                    water_vapour, pressure=1013.25):
    """TOA reflectance of a Lambertian ground of reflectance ``surface``: the inverse of
    :func:`surface_reflectance`, same arguments."""
    return _convert(toa_reflectance_flat, surface, band, platform, sun_zenith, view_zenith, relative_azimuth, aot,
                    water_vapour, pressure)
