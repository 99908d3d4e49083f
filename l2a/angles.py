"""Sun and viewing angles: the grids of the metadata (23 x 23 nodes at 5 km for Sentinel-2) and their
interpolation to a pixel grid.

Conventions: zenith and azimuth in degrees, azimuth clockwise from north. Node ``(i, j)`` of a grid lies at
``x = ulx + j * col_step``, ``y = uly - i * row_step`` (the first node on the tile's upper-left corner, as in
MTD_TL.xml and MTD_ALL.xml).

Viewing grids are NaN outside each detector's footprint and outside the swath. Interpolating them naively spreads
the NaNs ~10 km into the swath, leaving a band with no directional correction (one cause of WASP's swath-edge lines).
Here a direction is handled as the vector ``(tan(zenith) sin(azimuth), tan(zenith) cos(azimuth))``, which varies
smoothly across the swath and across detectors; missing nodes are filled from a least-squares quadratic surface fitted
to the known nodes, then nodes are interpolated bilinearly to pixel centres.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np
from affine import Affine

from .errors import MetadataError

__all__ = ["AngleGrid", "Angles", "merge_detectors", "parse_values_list", "angles_on_grid"]


@dataclass(frozen=True)
class AngleGrid:
    """Zenith and azimuth angles on a regular grid of nodes.

    Attributes
    ----------
    zenith, azimuth : numpy.ndarray
        float64 (rows, cols), degrees; NaN where unknown.
    ulx, uly : float
        Position of node (0, 0), CRS units (m).
    col_step, row_step : float
        Node spacing, m (positive; rows go south).
    """

    zenith: np.ndarray
    azimuth: np.ndarray
    ulx: float
    uly: float
    col_step: float = 5000.0
    row_step: float = 5000.0

    def __post_init__(self):
        if self.zenith.shape != self.azimuth.shape or self.zenith.ndim != 2:
            raise MetadataError(f"angle grids of shapes {self.zenith.shape} and {self.azimuth.shape} do not match")

    @property
    def shape(self) -> tuple[int, int]:
        return self.zenith.shape

    @property
    def is_complete(self) -> bool:
        """True when no node is NaN."""
        return bool(np.isfinite(self.zenith).all() and np.isfinite(self.azimuth).all())

    def mean(self) -> tuple[float, float] | None:
        """Mean (zenith, azimuth) in degrees over known nodes (azimuth averaged as a direction), or None."""
        ok = np.isfinite(self.zenith) & np.isfinite(self.azimuth)
        if not ok.any():
            return None
        z = float(np.mean(self.zenith[ok]))
        az = np.deg2rad(self.azimuth[ok])
        a = float(np.rad2deg(np.arctan2(np.sin(az).mean(), np.cos(az).mean())) % 360.0)
        return z, a


@dataclass(frozen=True)
class Angles:
    """All angle information of a product.

    Attributes
    ----------
    sun : AngleGrid or None
        Sun angle grid.
    view : mapping of band name -> AngleGrid
        Viewing incidence grids per band, detectors merged.
    mean_sun : (zenith, azimuth) or None
        Scene-mean sun angles, degrees.
    mean_view : mapping of band name -> (zenith, azimuth)
        Scene-mean viewing angles per band, degrees.
    """

    sun: AngleGrid | None = None
    view: Mapping[str, AngleGrid] = field(default_factory=dict)
    mean_sun: tuple[float, float] | None = None
    mean_view: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "view", MappingProxyType(dict(self.view)))
        object.__setattr__(self, "mean_view", MappingProxyType(dict(self.mean_view)))
        if self.mean_sun is None and self.sun is not None:
            object.__setattr__(self, "mean_sun", self.sun.mean())

    def __reduce__(self):  # mappingproxy fields cannot be pickled: rebuild from plain dicts
        return type(self), tuple(dict(v) if isinstance(v, MappingProxyType) else v
                                 for v in (getattr(self, f.name) for f in fields(self)))

    @property
    def has_grids(self) -> bool:
        """True when per-pixel angles can be computed (a sun grid and at least one viewing grid)."""
        return self.sun is not None and len(self.view) > 0

    @property
    def is_empty(self) -> bool:
        return self.sun is None and not self.view and self.mean_sun is None and not self.mean_view

    def mean_view_of(self, band: str) -> tuple[float, float] | None:
        """Mean viewing (zenith, azimuth) of a band: the metadata's value, else the mean of its grid, else None."""
        if band in self.mean_view:
            return self.mean_view[band]
        if band in self.view:
            return self.view[band].mean()
        return None

    def sun_on(self, transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Sun (zenith, azimuth), float32 (rows, cols) degrees, at the centres of a pixel grid; constant mean
        angles when there is no grid; None when there is nothing."""
        if self.sun is not None:
            return angles_on_grid(self.sun, transform, shape)
        if self.mean_sun is not None:
            return _constant(self.mean_sun, shape)
        return None

    def view_on(self, band: str, transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray] | None:
        """Viewing (zenith, azimuth) of one band at pixel centres, like :meth:`sun_on`."""
        if band in self.view:
            return angles_on_grid(self.view[band], transform, shape)
        mean = self.mean_view_of(band)
        return None if mean is None else _constant(mean, shape)


def _constant(angles: tuple[float, float], shape) -> tuple[np.ndarray, np.ndarray]:
    return np.full(shape, angles[0], np.float32), np.full(shape, angles[1], np.float32)


def parse_values_list(values: Iterable[str], source=None) -> np.ndarray:
    """Parse the ``VALUES`` rows of a metadata angle grid (space-separated numbers, ``NaN`` allowed).

    Returns float64 (rows, cols). Raises :class:`MetadataError` for ragged or non-numeric rows.
    """
    try:
        rows = [[float(v) for v in (text or "").split()] for text in values]
    except ValueError as exc:
        raise MetadataError(f"angle grid has a non-numeric value ({exc})", source) from None
    if not rows or any(len(r) != len(rows[0]) for r in rows) or not rows[0]:
        raise MetadataError("angle grid rows are empty or of unequal length", source)
    return np.asarray(rows, dtype=np.float64)


def merge_detectors(grids: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Merge per-detector (zenith, azimuth) grids into one, averaging directions where detectors overlap.

    Each input is NaN outside its detector. Averaging is done on direction vectors so that azimuths near 0/360 or
    on either side of nadir do not cancel.
    """
    sx = sy = n = None
    for zen, az in grids:
        vx, vy = _to_vector(zen, az)
        ok = np.isfinite(vx) & np.isfinite(vy)
        if sx is None:
            sx, sy, n = np.zeros_like(vx), np.zeros_like(vy), np.zeros(vx.shape)
        sx[ok] += vx[ok]
        sy[ok] += vy[ok]
        n[ok] += 1
    if sx is None:
        raise MetadataError("no detector grid to merge")
    with np.errstate(invalid="ignore", divide="ignore"):
        return _from_vector(np.where(n > 0, sx / n, np.nan), np.where(n > 0, sy / n, np.nan))


def _to_vector(zen, az):
    t = np.tan(np.deg2rad(zen))
    a = np.deg2rad(az)
    return t * np.sin(a), t * np.cos(a)


def _from_vector(vx, vy):
    zen = np.rad2deg(np.arctan(np.hypot(vx, vy)))
    az = np.rad2deg(np.arctan2(vx, vy)) % 360.0
    return zen, az


def _fill_surface(values: np.ndarray) -> np.ndarray:
    """Fill NaN nodes from a least-squares quadratic surface fitted to the known ones (plane if few are known,
    constant if fewer still)."""
    ok = np.isfinite(values)
    if ok.all() or not ok.any():
        return values
    rows, cols = np.indices(values.shape, dtype=np.float64)
    r, c, v = rows[ok], cols[ok], values[ok]
    terms = [np.ones_like(r), r, c, r * r, r * c, c * c]
    n_terms = 6 if ok.sum() >= 12 else (3 if ok.sum() >= 3 else 1)
    a = np.stack(terms[:n_terms], axis=1)
    coef, *_ = np.linalg.lstsq(a, v, rcond=None)
    full = [np.ones_like(rows), rows, cols, rows * rows, rows * cols, cols * cols][:n_terms]
    fitted = sum(k * t for k, t in zip(coef, full))
    out = values.copy()
    out[~ok] = fitted[~ok]
    return out


def angles_on_grid(grid: AngleGrid, transform: Affine, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate an angle grid to the centres of a pixel grid.

    Parameters
    ----------
    grid : AngleGrid
        Node grid (may hold NaNs, which are filled smoothly first).
    transform : Affine
        Pixel grid's affine transform (north-up).
    shape : (rows, cols)
        Pixel grid shape.

    Returns
    -------
    zenith, azimuth : numpy.ndarray
        float32 (rows, cols), degrees, never NaN when the grid has at least one known node.
    """
    from scipy import (
        ndimage,  # imported here: keeps `import l2a` (and every CLI start) light
    )

    vx, vy = _to_vector(grid.zenith, grid.azimuth)
    vx, vy = _fill_surface(vx), _fill_surface(vy)
    rows, cols = shape
    xs = transform.c + transform.a * (np.arange(cols) + 0.5)
    ys = transform.f + transform.e * (np.arange(rows) + 0.5)
    node_c = (xs - grid.ulx) / grid.col_step
    node_r = (grid.uly - ys) / grid.row_step
    rr, cc = np.meshgrid(node_r, node_c, indexing="ij")
    coords = np.stack([rr.ravel(), cc.ravel()])
    ix = ndimage.map_coordinates(vx, coords, order=1, mode="nearest").reshape(shape)
    iy = ndimage.map_coordinates(vy, coords, order=1, mode="nearest").reshape(shape)
    zen, az = _from_vector(ix, iy)
    return zen.astype(np.float32), az.astype(np.float32)
