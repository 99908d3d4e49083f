"""The common world frame and how each tile maps into it.

The simulated world is defined in one frame for every tile, ETRS89-LAEA Europe (EPSG:3035, metres), so that tiles of
different UTM zones see the same ground, clouds and haze. For each tile a coarse grid of nodes (every 915 m, 121 x 121
nodes, independent of the output pixel size) holds, computed once with pyproj:

* ``X``, ``Y``: world coordinates (EPSG:3035), m;
* ``lon``, ``lat``: geographic coordinates, degrees (sun position, orbit geometry);
* the Jacobian of the world coordinates with respect to local ground east / north metres (to turn a displacement
  given in true east/north, such as the direction of the sun, into the world frame).

Pixels interpolate these bilinearly (:func:`l2a.simulate.kernels.interpolate_nodes`): over 915 m the UTM -> LAEA
mapping is linear to better than a centimetre, so overlapping tiles agree at the same ground point.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .landscape import (
    W_MASSIF_EX,
    W_MASSIF_EY,
    W_MASSIF_X,
    W_MASSIF_Y,
    W_SEED,
    WORLD_PARAMS,
)
from .mgrs import TileFootprint
from .noise import hash3_ref

__all__ = ["WORLD_EPSG", "NODE_STEP_M", "TileFrame", "tile_frame", "world_params", "to_world", "N_NODE_FIELDS"]

#: CRS of the world frame.
WORLD_EPSG = 3035
#: Node spacing of the per-tile coordinate grid, m (109 800 / 120).
NODE_STEP_M = 915.0
#: Node fields: X, Y (world m), lon, lat (deg), dX/de, dY/de, dX/dn, dY/dn.
NODE_X, NODE_Y, NODE_LON, NODE_LAT, NODE_XE, NODE_YE, NODE_XN, NODE_YN = range(8)
N_NODE_FIELDS = 8
#: Anchor of the massif (lon, lat in degrees): a Pyrenees-like range across the default tiles' southern row.
MASSIF_ANCHOR = (0.55, 42.72)
_EARTH_RADIUS_M = 6371008.8
_STEP_M = 50.0


@dataclass(frozen=True)
class TileFrame:
    """A tile's coordinate nodes in the world frame.

    Attributes
    ----------
    footprint : TileFootprint
        The tile.
    nodes : numpy.ndarray
        float64 (8, n, n): node fields (see module doc); node (i, j) lies at UTM x = ulx + j * step,
        y = uly - i * step.
    step : float
        Node spacing, m.
    """

    footprint: TileFootprint
    nodes: np.ndarray
    step: float = NODE_STEP_M


@functools.lru_cache(maxsize=4)
def _transformers(epsg: int):
    from pyproj import Transformer

    return (Transformer.from_crs(epsg, WORLD_EPSG, always_xy=True),
            Transformer.from_crs(epsg, 4326, always_xy=True),
            Transformer.from_crs(4326, WORLD_EPSG, always_xy=True))


def to_world(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Geographic coordinates (degrees) to world coordinates (EPSG:3035, m)."""
    _, _, geo = _transformers(4326)
    return geo.transform(np.asarray(lon, np.float64), np.asarray(lat, np.float64))


@functools.lru_cache(maxsize=64)
def tile_frame(footprint: TileFootprint) -> TileFrame:
    """Compute (once per tile) the coordinate nodes of a tile.

    Parameters
    ----------
    footprint : TileFootprint

    Returns
    -------
    TileFrame
    """
    n = int(round(footprint.size_m / NODE_STEP_M)) + 1
    offsets = np.arange(n) * NODE_STEP_M
    xs, ys = np.meshgrid(footprint.ulx + offsets, footprint.uly - offsets)
    to_world_tf, to_geo, geo_to_world = _transformers(footprint.epsg)
    wx, wy = to_world_tf.transform(xs, ys)
    lon, lat = to_geo.transform(xs, ys)
    dlon = np.rad2deg(_STEP_M / (_EARTH_RADIUS_M * np.cos(np.deg2rad(lat))))
    dlat = np.rad2deg(_STEP_M / _EARTH_RADIUS_M)
    ex, ey = geo_to_world.transform(lon + dlon, lat)
    nx, ny = geo_to_world.transform(lon, lat + dlat)
    nodes = np.stack([wx, wy, lon, lat, (ex - wx) / _STEP_M, (ey - wy) / _STEP_M, (nx - wx) / _STEP_M,
                      (ny - wy) / _STEP_M]).astype(np.float64)
    nodes.setflags(write=False)
    return TileFrame(footprint, nodes)


@functools.lru_cache(maxsize=16)
def _massif() -> tuple[float, float, float, float]:
    lon, lat = MASSIF_ANCHOR
    x, y = to_world(np.array([lon, lon + 0.1]), np.array([lat, lat]))
    ex, ey = x[1] - x[0], y[1] - y[0]
    norm = math.hypot(ex, ey)
    return float(x[0]), float(y[0]), ex / norm, ey / norm


def world_params(seed: int) -> np.ndarray:
    """World parameter vector of a seed, float64 (WORLD_PARAMS,), as the kernels expect it.

    The seed is hashed to a 50-bit base (exact in float64); features add small offsets to it.
    """
    out = np.zeros(WORLD_PARAMS, np.float64)
    out[W_SEED] = float(int(hash3_ref(int(seed), 0, 7)) >> 14)
    out[W_MASSIF_X], out[W_MASSIF_Y], out[W_MASSIF_EX], out[W_MASSIF_EY] = _massif()
    return out
