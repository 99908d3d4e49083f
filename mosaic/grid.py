"""The national output grid: target CRS, pixel size, extent from the inputs' footprints, optional cutline.

* :func:`parse_crs` turns user text into a CRS (or a one-line :class:`InvalidCRSError`);
* :func:`footprint` is a tile's frame as a polygon in the target CRS (edges densified, so a UTM square stays exact
  to well under a pixel in Lambert-93);
* :func:`load_cutline` reads a GeoJSON polygon, reprojects and buffers it;
* :func:`target_grid` snaps the extent to whole pixels (multiples of the resolution, as ``gdalwarp -tap``), so that
  mosaics of different months at one resolution share their grid pixel for pixel;
* :func:`cutline_mask` rasterises the cutline on one block of that grid (an :class:`l2a.grid.Grid`, the one grid
  type, with its CRS);
* :func:`read_factor` is the one "pixel ratio -> read factor" rule of the mosaic commands.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.windows import Window

from l2a.grid import Grid

from .documents import read_json
from .errors import CutlineError, InvalidCRSError, InvalidParameterError

__all__ = ["read_factor", "parse_crs", "footprint", "load_cutline", "target_grid", "cutline_mask",
           "MAX_GRID_SIDE"]

logger = logging.getLogger(__name__)

#: Largest output side accepted, pixels (France at 10 m is ~100,000; 1 m would be ~1,000,000).
MAX_GRID_SIDE = 4_000_000
#: Points per footprint edge when reprojecting it (a 110 km edge sampled every ~5 km).
_DENSIFY = 21
#: Largest cutline file accepted, bytes (a country's detailed outline is a few MB, Europe's some tens).
_CUTLINE_MAX_BYTES = 256 * 2**20


def read_factor(ratio: float) -> int:
    """Source pixels averaged per side when reading a source for an output whose pixel is ``ratio`` times larger.

    The one decimation rule of ``mosaic build`` (tile pixels onto the national grid), ``mosaic tiles`` and the change
    layer (mosaic pixels onto web tiles): ``floor(ratio)`` from 2 up, else 1. Below twice the source pixel every
    source pixel is read and the resampling kernel does the rest (averaging fewer than 2 x 2 pixels would only
    blur); from 2 up, ``factor`` x ``factor`` blocks are averaged first, so that no source pixel is skipped and the
    read does not grow with the output pixel size.

    Parameters
    ----------
    ratio : float
        Output pixel size over source pixel size (dimensionless, > 0), measured in the source CRS.

    Returns
    -------
    int >= 1
    """
    return int(math.floor(ratio)) if ratio >= 2 else 1


def parse_crs(text: str) -> CRS:
    """A CRS from user text (``EPSG:2154``, a WKT, a PROJ string).

    Raises
    ------
    InvalidCRSError
        If the text names no CRS.
    """
    try:
        crs = CRS.from_user_input(text)
    except (CRSError, ValueError, TypeError) as exc:
        raise InvalidCRSError(f"{text}: not a known CRS ({str(exc).splitlines()[0][:120]})") from None
    if not (crs.is_projected or crs.is_geographic):
        raise InvalidCRSError(f"{text}: not a projected or geographic CRS")
    return crs


def _densified_ring(bounds: Sequence[float], n: int = _DENSIFY) -> tuple[np.ndarray, np.ndarray]:
    left, bottom, right, top = bounds
    t = np.linspace(0.0, 1.0, n)[:-1]
    xs = np.concatenate([left + (right - left) * t, np.full(n - 1, right), right - (right - left) * t,
                         np.full(n - 1, left)])
    ys = np.concatenate([np.full(n - 1, top), top - (top - bottom) * t, np.full(n - 1, bottom),
                         bottom + (top - bottom) * t])
    return xs, ys


def footprint(src_crs: CRS, bounds: Sequence[float], dst_crs: CRS):
    """A rectangle of ``src_crs`` (left, bottom, right, top) as a shapely polygon in ``dst_crs``, edges densified.

    Raises
    ------
    InvalidCRSError
        If the rectangle cannot be expressed in ``dst_crs`` (outside its domain).
    """
    from rasterio.warp import transform
    from shapely.geometry import Polygon

    xs, ys = _densified_ring(bounds)
    tx, ty = transform(src_crs, dst_crs, xs, ys)
    tx, ty = np.asarray(tx), np.asarray(ty)
    if not (np.all(np.isfinite(tx)) and np.all(np.isfinite(ty))):
        raise InvalidCRSError(f"{dst_crs.to_string()}: cannot hold a tile in {src_crs.to_string()} "
                              "(outside the CRS's domain)")
    poly = Polygon(zip(tx, ty))
    return poly if poly.is_valid else poly.buffer(0)


def _geojson_polygons(doc: dict, path: str):
    from shapely.geometry import shape
    from shapely.geometry.base import BaseGeometry

    def geoms(obj):
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "FeatureCollection":
            for f in obj.get("features") or []:
                yield from geoms(f)
        elif kind == "Feature":
            if obj.get("geometry") is None:
                raise CutlineError("a feature has no geometry", path)
            yield from geoms(obj["geometry"])
        elif kind == "GeometryCollection":
            for g in obj.get("geometries") or []:
                yield from geoms(g)
        elif kind in ("Polygon", "MultiPolygon"):
            try:
                yield shape(obj)
            except (ValueError, TypeError, AttributeError, IndexError) as exc:
                raise CutlineError(f"malformed {kind} ({exc})", path) from None
        elif kind in ("Point", "MultiPoint", "LineString", "MultiLineString"):
            raise CutlineError(f"cutline is not a polygon (found a {kind})", path)
        else:
            raise CutlineError(f"not a GeoJSON object (type {kind!r})", path)

    polys: list[BaseGeometry] = list(geoms(doc))
    if not polys:
        raise CutlineError("cutline holds no polygon", path)
    return polys


def load_cutline(path: str | os.PathLike, dst_crs: CRS, buffer: float = 0.0):
    """Read a GeoJSON cutline and return it in ``dst_crs``, buffered.

    Parameters
    ----------
    path : path-like
        GeoJSON file: a (Multi)Polygon geometry, a Feature or a FeatureCollection of polygons. Coordinates are
        longitude/latitude (RFC 7946) unless a legacy ``crs`` member names another CRS.
    dst_crs : CRS
        Target CRS.
    buffer : float
        Buffer distance, ``dst_crs`` units (m for projected CRSs); negative shrinks.

    Returns
    -------
    shapely Polygon or MultiPolygon in ``dst_crs``.

    Raises
    ------
    CutlineError
        Missing or unreadable file, one beyond the limits of :func:`mosaic.documents.read_json` (larger than 256 MB,
        nested deeper than 64 levels), no polygon, or nothing left after buffering.
    """
    from rasterio.warp import transform_geom
    from shapely import make_valid
    from shapely.geometry import mapping, shape
    from shapely.ops import unary_union

    p = os.fspath(path)
    if not Path(p).is_file():
        raise CutlineError("cutline file not found", p)
    doc = read_json(p, "cutline", error=CutlineError, max_bytes=_CUTLINE_MAX_BYTES)
    src_crs = CRS.from_epsg(4326)
    name = ((doc.get("crs") or {}).get("properties") or {}).get("name") if isinstance(doc, dict) else None
    if name:
        try:
            src_crs = CRS.from_user_input(name)
        except CRSError:
            raise CutlineError(f"unknown CRS {name!r} in the crs member", p) from None
    geom = make_valid(unary_union(_geojson_polygons(doc, p)))
    if geom.geom_type == "GeometryCollection":
        geom = unary_union([g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise CutlineError("cutline has no polygon area", p)
    try:
        out = shape(transform_geom(src_crs, dst_crs, mapping(geom), precision=-1))
    except (CRSError, ValueError) as exc:
        raise CutlineError(f"cannot reproject the cutline to {dst_crs.to_string()} ({exc})", p) from None
    if not out.is_valid:
        out = make_valid(out)
    if buffer:
        out = out.buffer(buffer)
    if out.is_empty:
        raise CutlineError(f"nothing left of the cutline after a buffer of {buffer:g}", p)
    return out


def target_grid(footprints: Sequence, crs: CRS, resolution: float, cutline=None,
                cutline_path: str | None = None) -> Grid:
    """The output grid covering the union of the footprints (clipped to the cutline), snapped to whole pixels.

    Parameters
    ----------
    footprints : sequence of shapely polygons in ``crs``
    crs : CRS
    resolution : float
        Pixel size, ``crs`` units.
    cutline : shapely geometry in ``crs``, optional

    Returns
    -------
    Grid
        North-up, with ``crs``; its corner on multiples of ``resolution``.

    Raises
    ------
    CutlineError
        If the cutline does not intersect the footprints.
    InvalidParameterError
        If the grid would be absurdly large (side over :data:`MAX_GRID_SIDE`).
    """
    from shapely.ops import unary_union

    area = unary_union(list(footprints))
    if cutline is not None:
        area = area.intersection(cutline)
        if area.is_empty or area.area <= 0:
            raise CutlineError("cutline does not intersect the input tiles", cutline_path)
    left, bottom, right, top = area.bounds
    left = math.floor(left / resolution) * resolution
    top = math.ceil(top / resolution) * resolution
    width = max(1, math.ceil(round((right - left) / resolution, 6)))
    height = max(1, math.ceil(round((top - bottom) / resolution, 6)))
    if width > MAX_GRID_SIDE or height > MAX_GRID_SIDE:
        raise InvalidParameterError(f"resolution {resolution:g} makes a {height} x {width} pixel grid; "
                                    f"the largest side accepted is {MAX_GRID_SIDE}")
    grid = Grid(Affine(resolution, 0.0, left, 0.0, -resolution, top), height, width, crs)
    logger.info("output grid %s: %d x %d pixels of %g, bounds %s", crs.to_string(), height, width, resolution,
                tuple(round(b, 3) for b in grid.bounds))
    return grid


def cutline_mask(cutline, grid: Grid, window: Window) -> np.ndarray | None:
    """Pixels of a block whose centre lies inside the cutline.

    Returns
    -------
    numpy.ndarray of bool (rows, cols), or None when the whole block is inside (no mask needed).
    """
    from rasterio.features import geometry_mask
    from shapely.geometry import box

    block = box(*grid.window_bounds(window))
    if cutline.contains(block):
        return None
    rows, cols = int(window.height), int(window.width)
    if not cutline.intersects(block):
        return np.zeros((rows, cols), bool)
    part = cutline.intersection(block.buffer(grid.resolution))
    if part.is_empty:
        return np.zeros((rows, cols), bool)
    return geometry_mask([part], out_shape=(rows, cols), transform=grid.window_transform(window), invert=True)
