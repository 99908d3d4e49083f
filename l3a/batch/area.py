"""Tiles of an area of interest: the tiles whose footprint intersects the polygons of a GeoJSON file.

A tile's footprint is its MGRS square (:func:`l2a.simulate.mgrs.tile_footprint`: 109.8 km, in its UTM zone) or,
for a tile code that is no MGRS code, the grid of one of its products; its outline is densified every
:data:`DENSIFY_M` metres and reprojected to longitude/latitude, where the area is (RFC 7946), so that the curved
edges of a UTM square far from its central meridian are followed within metres. Areas crossing the antimeridian are
not handled (split them into two polygons).
"""

from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

from l2a.errors import InvalidParameterError
from l2a.io.jsondoc import read_json

from ..errors import AreaOfInterestError

__all__ = ["read_area", "tile_outline", "tiles_in_area", "DENSIFY_M"]

#: Spacing of the points added along a tile's edges before reprojection, m.
DENSIFY_M = 1000.0

#: Largest GeoJSON accepted, bytes (a country's detailed border is a few MB).
_AREA_MAX_BYTES = 64 * 2**20

_POLYGONAL = ("Polygon", "MultiPolygon")


def _polygons(obj, path: str) -> Iterable:
    """Shapely polygons of a GeoJSON object (FeatureCollection, Feature, GeometryCollection or (Multi)Polygon)."""
    from shapely.geometry import shape

    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind == "FeatureCollection":
        for feature in obj.get("features") or []:
            yield from _polygons(feature, path)
    elif kind == "Feature":
        yield from _polygons(obj.get("geometry"), path)
    elif kind == "GeometryCollection":
        for geometry in obj.get("geometries") or []:
            yield from _polygons(geometry, path)
    elif kind in _POLYGONAL:
        try:
            yield shape(obj)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise AreaOfInterestError(f"malformed {kind} ({exc})", path) from None
    elif kind is None:
        raise AreaOfInterestError("not a GeoJSON object (no type)", path)
    # points and lines enclose no area: ignored (an area of only those is refused by read_area)


def read_area(path: str | os.PathLike):
    """The polygons of a GeoJSON file, as one shapely (Multi)Polygon in longitude/latitude (EPSG:4326).

    Coordinates are longitude/latitude (RFC 7946), unless a legacy ``crs`` member names another CRS.

    Raises
    ------
    AreaOfInterestError
        Unreadable, larger than 64 MB, not GeoJSON, no polygon area, or an unknown CRS.
    MissingFileError
        If the file does not exist.
    """
    from rasterio.crs import CRS
    from rasterio.errors import CRSError
    from rasterio.warp import transform_geom
    from shapely import make_valid
    from shapely.geometry import mapping, shape
    from shapely.ops import unary_union

    p = os.fspath(path)
    doc = read_json(p, "area of interest", error=AreaOfInterestError, max_bytes=_AREA_MAX_BYTES)
    polygons = list(_polygons(doc, p))
    area = make_valid(unary_union(polygons)) if polygons else None
    if area is not None and area.geom_type == "GeometryCollection":
        area = unary_union([g for g in area.geoms if g.geom_type in _POLYGONAL])
    if area is None or area.is_empty or area.geom_type not in _POLYGONAL:
        raise AreaOfInterestError("holds no polygon with an area", p)
    name = ((doc.get("crs") or {}).get("properties") or {}).get("name") if isinstance(doc, dict) else None
    if name:
        try:
            area = shape(transform_geom(CRS.from_user_input(name), "EPSG:4326", mapping(area)))
        except (CRSError, ValueError) as exc:
            raise AreaOfInterestError(f"cannot read its crs member {name!r} ({exc})", p) from None
    return area


def tile_outline(crs: str, bounds: Sequence[float]):
    """A rectangle (left, bottom, right, top) of ``crs`` as a longitude/latitude polygon, edges densified."""
    import numpy as np
    from pyproj import Transformer
    from shapely import segmentize, transform
    from shapely.geometry import box

    to_lonlat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return transform(segmentize(box(*bounds), DENSIFY_M),
                     lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))


def _footprint(tile: str, grids: Mapping[str, tuple[str, Sequence[float]]]):
    from l2a.simulate.mgrs import tile_footprint

    try:
        square = tile_footprint(tile)
        return tile_outline(f"EPSG:{square.epsg}", square.bounds)
    except InvalidParameterError:  # not an MGRS code (a VENuS site): the grid of one of its products
        if tile not in grids:
            return None
        return tile_outline(*grids[tile])


def tiles_in_area(area, tiles: Sequence[str], grids: Mapping[str, tuple[str, Sequence[float]]] | None = None,
                  source: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The tiles whose footprint intersects an area.

    Parameters
    ----------
    area : shapely geometry
        Longitude/latitude polygons (:func:`read_area`).
    tiles : sequence of str
        Candidate tiles (those of the discovered products).
    grids : mapping, optional
        ``tile -> (crs, (left, bottom, right, top))`` of a product, for tiles that are not MGRS codes.
    source : path-like, optional
        The area's file, named in the error.

    Returns
    -------
    tuple of str
        The intersecting tiles, sorted.

    Raises
    ------
    AreaOfInterestError
        If no tile intersects the area.
    """
    grids = grids or {}
    kept = []
    for tile in sorted(set(tiles)):
        outline = _footprint(tile, grids)
        if outline is not None and outline.intersects(area):
            kept.append(tile)
    if not kept:
        found = sorted(set(tiles))
        raise AreaOfInterestError(f"the area of interest intersects none of the {len(found)} tiles found "
                                  f"({', '.join(found) or 'none'})", source)
    return tuple(kept)
