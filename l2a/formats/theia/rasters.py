"""The rasters of a Theia/MUSCATE L2A product as checked when it is opened, and the product's grids.

Every raster present is opened and must be of the kind its role stores (:data:`RASTER_KINDS`: data type of every
band and band count), decode its last block (a truncated file fails here, not in the middle of a synthesis), be
georeferenced and north-up (:func:`inspect_raster`). The rasters of a resolution group must share one grid, which
must be the group's geoposition of MTD_ALL.xml or a pixel-aligned crop of it; a group without rasters takes its
geoposition, or the other group's grid scaled by 2 (:func:`product_grids`). Every failure names the file.

Tolerances for third-party files (the iota2 test crops): float32 reflectance, either DN (x 10000) or reflectance
0-1 (decided once per file from its values, :func:`float_factor`), uint16 or int16 multi-band stacks, float32 masks.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass

import numpy as np
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from l2a.constants import RESOLUTIONS
from l2a.errors import (
    BandNotFoundError,
    CorruptRasterError,
    GridMismatchError,
    IncompleteProductWarning,
    ProductFormatError,
)
from l2a.formats.theia.mtd import TheiaMetadata
from l2a.grid import Grid
from l2a.io.raster import check_raster_kind, open_raster
from l2a.sensors import L2A_BANDS, normalize_band

__all__ = ["TheiaRaster", "BandSource", "RASTER_KINDS", "STACK_BANDS", "FLOAT_REFLECTANCE_MAX", "OTHER_GROUP",
           "inspect_raster", "float_factor", "stack_bands", "product_grids"]

logger = logging.getLogger(__name__)

#: Band order of the iota2 ``*_FRE_STACK.tif`` multi-band files (all at 10 m).
STACK_BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
#: Float rasters whose valid values stay within +-this are reflectance 0-1 (else DN = reflectance x 10000).
FLOAT_REFLECTANCE_MAX = 2.0
#: The other resolution group of each group.
OTHER_GROUP = {"R1": "R2", "R2": "R1"}
#: Per file role: name for messages, data types accepted for every band, band count (exact, or inclusive range).
#: MAJA writes int16 reflectance, uint8 masks and a two-band uint8 ATB (water vapour, AOT); the rest are the
#: third-party tolerances of the module docstring.
RASTER_KINDS = {
    "band": ("reflectance band", ("int16", "uint16", "float32"), 1),
    "stack": ("reflectance stack", ("int16", "uint16", "float32"), (1, len(STACK_BANDS))),
    "mask": ("mask", ("uint8", "float32"), 1),
    "ATB": ("ATB raster (water vapour, AOT)", ("uint8",), 2),
}


@dataclass(frozen=True)
class TheiaRaster:
    """One raster of the product as checked at open time."""

    member: str          # path relative to the product root
    gdal_path: str       # path or /vsizip/ path
    res: str             # resolution group whose grid it lies on
    grid: Grid
    count: int
    nodata: float | None
    factor: float = 1.0  # multiply stored values by this to get reflectance x 10000 (bands only)
    descriptions: tuple = ()


@dataclass(frozen=True)
class BandSource:
    """Where a band's stored values are: a raster and a 1-based band index in it."""

    raster: TheiaRaster
    index: int


def float_factor(ds, index: int, nodata: float | None, quantification: float) -> float:
    """``quantification`` for a float band holding reflectance 0-1, 1.0 for DN (decided on a decimated read)."""
    shape = (min(ds.height, 256), min(ds.width, 256))
    try:
        sample = ds.read(index, out_shape=shape).astype(np.float64)
    except RasterioIOError as exc:
        raise CorruptRasterError(f"cannot decode raster: {str(exc).splitlines()[0][:200]}", ds.name) from exc
    valid = np.isfinite(sample)
    if nodata is not None and not math.isnan(nodata):
        valid &= sample != nodata
    if not valid.any():
        return 1.0
    return quantification if np.percentile(np.abs(sample[valid]), 99) <= FLOAT_REFLECTANCE_MAX else 1.0


def inspect_raster(gdal_path: str, member: str, res: str, role: str, *,
                   quantification: float) -> tuple[TheiaRaster, object]:
    """Open a raster, check its kind, decode its last block, and describe it.

    Parameters
    ----------
    gdal_path : str
        File or ``/vsizip/`` path.
    member : str
        Path relative to the product root.
    res : {"R1", "R2"}
        Resolution group whose grid the raster lies on.
    role : str
        Key of :data:`RASTER_KINDS` (``"band"``, ``"stack"``, ``"mask"``, ``"ATB"``).
    quantification : float
        Reflectance quantification (10000), for float bands holding reflectance 0-1.

    Returns
    -------
    (TheiaRaster, CRS)

    Raises
    ------
    RasterKindError, CorruptRasterError, GridMismatchError
        Naming the file.
    """
    what, dtypes, count = RASTER_KINDS[role]
    with warnings.catch_warnings():   # a raster without georeferencing gets our own error below
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        ds = open_raster(gdal_path, "raster")
    with ds:
        check_raster_kind(ds, dtypes, count, what)
        try:
            ds.read(window=Window(ds.width - 1, ds.height - 1, 1, 1))
        except RasterioIOError as exc:
            raise CorruptRasterError(f"raster is truncated or corrupt: {str(exc).splitlines()[0][:200]}",
                                     gdal_path) from exc
        t = ds.transform
        if ds.crs is None or t.is_identity:
            raise CorruptRasterError("raster has no georeferencing (CRS or geotransform lost)", gdal_path)
        if t.b != 0 or t.d != 0 or t.e >= 0 or t.a <= 0:
            raise GridMismatchError(f"raster is not north-up ({tuple(t)[:6]})", gdal_path)
        factor = 1.0
        if role in ("band", "stack") and np.dtype(ds.dtypes[0]).kind == "f":
            factor = float_factor(ds, 1, ds.nodata, quantification)
        raster = TheiaRaster(member, gdal_path, res, Grid(t, ds.height, ds.width), ds.count, ds.nodata, factor,
                             tuple(ds.descriptions))
        return raster, ds.crs


def stack_bands(raster: TheiaRaster) -> tuple[str, ...]:
    """Bands of a stack, in its band order: from the band descriptions when they all name L2A bands, else the iota2
    order (:data:`STACK_BANDS`, with a warning when the band count is not that of a full stack)."""
    names = []
    for d in raster.descriptions:
        try:
            names.append(normalize_band(d or ""))
        except BandNotFoundError:  # not a band name: fall back to the iota2 order
            names = []
            break
    if names and all(n in L2A_BANDS for n in names):
        return tuple(names)
    if raster.count != len(STACK_BANDS):
        n = min(raster.count, len(STACK_BANDS))
        warnings.warn(f"{raster.gdal_path}: stack has {raster.count} band(s) without names; taking them as "
                      f"{','.join(STACK_BANDS[:n])}", IncompleteProductWarning, stacklevel=4)
    return STACK_BANDS[:raster.count]


def product_grids(rasters: list[TheiaRaster], crs_of: dict, mtd: TheiaMetadata | None):
    """Grids per resolution group: from the rasters (all of a group must agree), completed from MTD_ALL.xml or
    derived from the other group (see module docstring).

    Parameters
    ----------
    rasters : list of TheiaRaster
        Every raster of the product.
    crs_of : dict
        Member -> CRS of each raster.
    mtd : TheiaMetadata or None
        Parsed MTD_ALL.xml.

    Returns
    -------
    grids : dict ``"R1"``/``"R2"`` -> Grid
    crs : CRS or None

    Raises
    ------
    GridMismatchError, ProductFormatError
    """
    grids, crs = {}, None
    first = {}
    for r in rasters:
        if crs is None:
            crs, first_crs = crs_of[r.member], r
        elif crs_of[r.member] != crs:
            raise GridMismatchError(f"CRS {crs_of[r.member]} differs from {crs} of {first_crs.member}", r.gdal_path)
        ref = grids.setdefault(r.res, r.grid)
        first.setdefault(r.res, r)
        if not r.grid.same_as(ref):
            raise GridMismatchError(
                f"not on the {r.res} grid of the product: {r.grid.height} x {r.grid.width} px at "
                f"{tuple(r.grid.transform)[:6]}, expected {ref.height} x {ref.width} px at {tuple(ref.transform)[:6]} "
                f"(from {first[r.res].member})", r.gdal_path)
    declared = {res: g.grid for res, g in (mtd.geopositions.items() if mtd else ()) if res in RESOLUTIONS}
    exact = {}
    for res, grid in grids.items():
        if res in declared:
            exact[res] = grid.same_as(declared[res])
            if not exact[res] and not grid.is_window_of(declared[res]):
                raise GridMismatchError(f"raster grid {tuple(grid.transform)[:6]} ({grid.height} x {grid.width}) "
                                        f"does not match the {res} geoposition of MTD_ALL.xml", first[res].gdal_path)
            if not exact[res]:
                logger.info("%s: rasters are a crop of the %s grid declared in MTD_ALL.xml", first[res].gdal_path,
                            res)
    if mtd is not None and mtd.crs is not None and crs is not None and mtd.crs != crs \
            and mtd.crs.to_epsg() != crs.to_epsg():
        raise GridMismatchError(f"rasters are in {crs}, MTD_ALL.xml declares {mtd.crs}", first_crs.gdal_path)
    if len(grids) == 2:
        g1, g2 = grids["R1"], grids["R2"]
        (l1, b1, r1, t1), (l2, b2, r2, t2) = g1.bounds, g2.bounds
        if not math.isclose(g2.resolution, 2 * g1.resolution, rel_tol=1e-6) or \
                min(r1, r2) <= max(l1, l2) or min(t1, t2) <= max(b1, b2):
            raise GridMismatchError(f"R2 grid ({g2.resolution} m) is not twice as coarse as the R1 grid "
                                    f"({g1.resolution} m) over the same area", first["R2"].gdal_path)
    if not grids:
        if not declared:
            raise ProductFormatError("product has no raster and no geoposition in its metadata")
        return dict(declared), (mtd.crs if mtd else None)
    for res in RESOLUTIONS:
        if res in grids:
            continue
        other = OTHER_GROUP[res]
        if res in declared and exact.get(other, False):
            grids[res] = declared[res]
        else:
            grids[res] = grids[other].scaled(2.0 if res == "R2" else 0.5)
    return grids, crs
