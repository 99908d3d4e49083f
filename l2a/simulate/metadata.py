"""Per-product metadata of the simulation: acquisition time of a tile, and the 23 x 23 sun / viewing angle grids.

Grid nodes sit every 5 km from the tile's upper-left corner (node (i, j) at x = ulx + j * 5000, y = uly - i * 5000),
as in MTD_TL.xml and MTD_ALL.xml. Viewing grids are per band and per detector (NaN outside each detector, as ESA
writes them) and merged per band (NaN outside the swath, as Theia products carry them).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from l2a.angles import AngleGrid, Angles

from .kernels import geometry_block
from .landscape import ALL_BANDS
from .mgrs import TileFootprint
from .orbits import ALONG_TRACK_DEG, Acquisition, track_params, track_position_ref

__all__ = ["ANGLE_STEP_M", "ANGLE_NODES", "ProductGeometry", "product_geometry", "tile_datetime"]

ANGLE_STEP_M = 5000.0
ANGLE_NODES = 23


@dataclass(frozen=True)
class ProductGeometry:
    """Angle grids of one tile seen by one acquisition.

    Attributes
    ----------
    sun : AngleGrid
        Sun zenith and azimuth, degrees.
    view : dict band -> AngleGrid
        Viewing angles per band (13 bands, ESA names as in :data:`~l2a.simulate.landscape.ALL_BANDS`), detectors
        merged, NaN outside the swath.
    detectors : dict band -> dict detector -> AngleGrid
        The same, per detector (NaN outside each detector).
    """

    sun: AngleGrid
    view: dict
    detectors: dict

    def angles(self, bands) -> Angles:
        """:class:`l2a.angles.Angles` for a set of bands."""
        return Angles(sun=self.sun, view={b: self.view[b] for b in bands})


@functools.lru_cache(maxsize=16)
def _node_lonlat(footprint: TileFootprint, origin: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    ulx, uly = origin if origin is not None else (footprint.ulx, footprint.uly)
    offsets = np.arange(ANGLE_NODES) * ANGLE_STEP_M
    xs, ys = np.meshgrid(ulx + offsets, uly - offsets)
    lon, lat = Transformer.from_crs(footprint.epsg, 4326, always_xy=True).transform(xs, ys)
    return np.ascontiguousarray(lon.ravel()), np.ascontiguousarray(lat.ravel())


def product_geometry(footprint: TileFootprint, acq: Acquisition,
                     origin: tuple[float, float] | None = None) -> ProductGeometry:
    """Sun and viewing angle grids of a tile for one acquisition.

    Parameters
    ----------
    footprint : TileFootprint
    acq : Acquisition
    origin : (float, float), optional
        Upper-left corner of node (0, 0), CRS m; default the tile's. A product that is a window of the tile puts
        its grids on its own corner (SAFE readers place node (0, 0) on the product's corner).

    Returns
    -------
    ProductGeometry
    """
    lon, lat = _node_lonlat(footprint, origin)
    ulx, uly = origin if origin is not None else (footprint.ulx, footprint.uly)
    n = lon.size
    sun = np.empty((2, n))
    view = np.empty((len(ALL_BANDS), 2, n))
    det = np.empty(n, np.int64)
    geometry_block(lon, lat, track_params(acq), ALONG_TRACK_DEG, sun, view, det)
    shape = (ANGLE_NODES, ANGLE_NODES)

    def grid(zen, az):
        return AngleGrid(zen.reshape(shape).copy(), az.reshape(shape).copy(), ulx, uly, ANGLE_STEP_M, ANGLE_STEP_M)

    views, detectors = {}, {}
    for b, band in enumerate(ALL_BANDS):
        views[band] = grid(view[b, 0], view[b, 1])
        per = {}
        for d in sorted(set(det[det > 0].tolist())):
            keep = det == d
            per[d] = grid(np.where(keep, view[b, 0], np.nan), np.where(keep, view[b, 1], np.nan))
        detectors[band] = per
    return ProductGeometry(grid(sun[0], sun[1]), views, detectors)


def tile_datetime(footprint: TileFootprint, acq: Acquisition) -> dt.datetime:
    """Acquisition time of the tile centre (UTC, whole milliseconds): the track's reference time plus the time the
    satellite takes to reach the tile centre."""
    lon, lat = _node_lonlat(footprint)
    centre = (ANGLE_NODES * ANGLE_NODES) // 2
    _, along = track_position_ref(lon[centre], lat[centre], acq.nadir_lon_ref)
    when = acq.time_at(float(along))
    return when.replace(microsecond=(when.microsecond // 1000) * 1000)
