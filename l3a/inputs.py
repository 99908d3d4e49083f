"""Inputs of a synthesis: which products are used (:func:`select_inputs`), and each date's coarse grids.

Selection opens the candidates, skips other tiles, dates outside the window and duplicate acquisitions (each
recorded with the reason, for the product's metadata), checks that the kept products share one grid, and sorts them
by acquisition time, platform and path, so that nothing downstream depends on input order.

The small per-date grids (240 m cloud weight, swath-edge weight, BRDF c-factors) are computed once per date over the
whole tile, before the first block (the cloud weight of a pixel depends on clouds kilometres away), from the cloud
and edge masks only (:func:`prepare_grids`). The cloud mask is the CLM bits of ``CompositeParams.cloud_bits``.

BRDF c-factors normalise to nadir view, at each date's own sun zenith (``sun = "observed"``, Roy et al. 2016's
``c = rho(sza, 0) / rho(sza, vza, raa)``) or at the sun zenith the pixel has on the central date (``sun =
"central"``: ``c = rho(sza_central, 0) / rho(sza, vza, raa)``, ``sza_central`` from :func:`l3a.solar.central_sun_zenith`
with the latitude of each cell of the c-factor grid).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.windows import Window

from l2a.brdf import c_factor, model_reflectance, relative_azimuth
from l2a.detect import open_l2a
from l2a.formats.theia.raw import RawReader
from l2a.io.cog import COG_BLOCKSIZE
from l2a.product import L2AProduct
from l2a.tiles import normalize_tile

from . import solar, weights
from .errors import EmptyWindowError, TileGridError
from .params import CompositeParams

__all__ = ["SelectedInput", "select_inputs", "prepare_grids", "mask_resolution", "BRDF_CELL_M"]

logger = logging.getLogger(__name__)

#: Cell size of the grid on which BRDF c-factors are computed, m. Angles are given every 5 km and vary smoothly, so
#: c-factors on a 1.2 km grid, bilinearly resampled to the pixels, differ from per-pixel ones by far less than one
#: quantisation step (1e-4 reflectance), at a small fraction of the cost.
BRDF_CELL_M = 1200.0

# Rows of mask per read in the pass over whole tiles (a multiple of the coarse factor and of the tile size).
_PREP_ROWS = 1024


@dataclass
class SelectedInput:
    """One input kept for the synthesis, with its per-date scalars and coarse grids."""

    product: L2AProduct
    date_offset_days: int
    date_weight: float
    day_number: int
    cloud_weight: np.ndarray | None = None  # float32 (crows, ccols): W_cloud on the 240 m grid
    edge_weight: np.ndarray | None = None  # float32: W_edge on its own grid (edge_cell metres), or None
    edge_cell: float = 0.0  # m
    c_factors: dict | None = None  # band -> float32 BRDF c-factor on the BRDF_CELL_M grid, or None
    c_cell: float = 0.0  # m, cell size of the c-factor grids

    @property
    def record(self) -> dict:
        p = self.product
        return {"product_id": p.product_id, "path": str(p.path), "platform": p.platform,
                "datetime": p.datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "used": True,
                "date_offset_days": self.date_offset_days, "date_weight": round(self.date_weight, 6)}


def _skip_record(product: L2AProduct, reason: str) -> dict:
    return {"product_id": product.product_id, "path": str(product.path), "platform": product.platform,
            "datetime": product.datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "used": False, "reason": reason}


def select_inputs(products: Iterable[L2AProduct | str | os.PathLike], tile: str | None, central_date: dt.date,
                  params: CompositeParams) -> tuple[list[SelectedInput], list[dict]]:
    """Open, filter and sort the inputs of one synthesis.

    Products of another tile or outside ``central_date +- half_window_days`` are skipped (logged at INFO); of two
    products of the same platform and acquisition time, the first in sorted path order is kept (warning). Products
    of the tile on another grid are an error.

    Parameters
    ----------
    products : iterable of L2AProduct or path
        Candidates (any format :func:`l2a.open_l2a` reads).
    tile : str or None
        Tile to keep, in any spelling :func:`l2a.tiles.normalize_tile` accepts (``31tcj`` is ``T31TCJ``); None when
        every input is of one tile.
    central_date : datetime.date
        Synthesis date.
    params : CompositeParams
        Its ``half_window_days`` bounds the window.

    Returns
    -------
    kept : list of SelectedInput
        Sorted by acquisition time, platform and path.
    records : list of dict
        One record per input considered (kept or skipped, with the reason), for the product's metadata.

    Raises
    ------
    EmptyWindowError
        If no product remains.
    TileGridError
        If products of the tile are on different grids.
    """
    opened = [p if isinstance(p, L2AProduct) else open_l2a(p) for p in products]
    opened.sort(key=lambda p: str(p.path))
    if tile is not None:
        tile = normalize_tile(tile)
    else:
        tiles = sorted({p.tile for p in opened})
        if len(tiles) != 1:
            raise EmptyWindowError(f"inputs hold tiles {', '.join(tiles) or 'none'}; name the tile to compose")
        tile = tiles[0]
    records, kept, seen = [], [], {}
    for p in opened:
        if p.tile != tile:
            logger.info("skipped %s: tile %s, not %s", p.path.name, p.tile, tile)
            records.append(_skip_record(p, f"tile {p.tile}"))
            continue
        offset = weights.date_offset_days(p.datetime, central_date)
        if abs(offset) > params.half_window_days:
            logger.info("skipped %s: %+d days from %s, outside +-%d", p.path.name, offset, central_date,
                        params.half_window_days)
            records.append(_skip_record(p, f"{offset:+d} days from the central date"))
            continue
        key = (p.platform, p.datetime.replace(microsecond=0))
        if key in seen:
            logger.warning("duplicate acquisition %s %s: keeping %s, ignoring %s", p.platform,
                           p.datetime.isoformat(), seen[key].path.name, p.path.name)
            records.append(_skip_record(p, f"duplicate of {seen[key].product_id}"))
            continue
        seen[key] = p
        kept.append(SelectedInput(p, offset, weights.date_weight(offset, params), weights.day_number(p.datetime)))
    if not kept:
        raise EmptyWindowError(f"no product of tile {tile} within {params.half_window_days} days of {central_date}")
    ref = kept[0].product
    for s in kept[1:]:
        p = s.product
        if p.crs != ref.crs:
            raise TileGridError(f"tile {tile} is in {p.crs} here but in {ref.crs} in {ref.path.name}", p.path)
        for res in sorted(set(p.grids) & set(ref.grids)):
            if not p.grids[res].same_as(ref.grids[res]):
                raise TileGridError(f"tile {tile} is on another {res} grid than {ref.path.name}", p.path)
    kept.sort(key=lambda s: (s.product.datetime, s.product.platform, str(s.product.path)))
    return kept, records


def mask_resolution(product: L2AProduct) -> str:
    """Resolution group whose masks make the coarse grids: R2 when the product has it (fewer pixels), else R1."""
    return "R2" if "R2" in product.grids else "R1"


def prepare_grids(s: SelectedInput, bands: Sequence[str], params: CompositeParams) -> bool:
    """Compute the coarse grids of one input into ``s`` (cloud weight, edge weight, c-factors of ``bands``).

    Returns
    -------
    bool
        False when the input has no valid pixel (its grids are then left unset).
    """
    p = s.product
    res = mask_resolution(p)
    grid = p.grid(res)
    pixel = grid.resolution
    factor = weights.coarse_factor(pixel, params.coarse_resolution_m)
    lcm = factor * COG_BLOCKSIZE // math.gcd(factor, COG_BLOCKSIZE)
    step = lcm * max(1, _PREP_ROWS // lcm)  # whole coarse cells and whole tiles per read
    cloud_parts, nodata_parts = [], []
    n_valid = 0
    with RawReader(p, res, ()) as reader:
        for row in range(0, grid.height, step):
            win = Window(0, row, grid.width, min(step, grid.height - row))
            cloudy, nodata = reader.read_cloud_and_nodata(win, params.cloud_bits)
            n_valid += nodata.size - int(np.count_nonzero(nodata))
            cloud_parts.append(weights.coarse_cloud_fraction(cloudy & ~nodata, pixel, params.coarse_resolution_m))
            nodata_parts.append(nodata)
    if n_valid == 0:
        return False
    cell = factor * pixel
    s.cloud_weight = weights.cloud_weight_coarse(np.concatenate(cloud_parts), params, cell)
    if params.edge_weight:
        s.edge_weight, s.edge_cell = weights.edge_weight_coarse(np.concatenate(nodata_parts), pixel, params)
    if params.brdf:
        s.c_cell = max(BRDF_CELL_M, pixel)
        central = p.datetime - dt.timedelta(days=s.date_offset_days) if params.sun == "central" else None
        s.c_factors = _coarse_c_factors(p, bands, s.c_cell, central)
    return True


def _latitudes(p: L2AProduct, transform: Affine, shape: tuple[int, int]) -> np.ndarray | None:
    """Latitude (degrees) of the cell centres of a grid in the product's CRS, or None when the CRS has none."""
    rows, cols = np.meshgrid(np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5, indexing="ij")
    x = transform.c + transform.a * cols + transform.b * rows
    y = transform.f + transform.d * cols + transform.e * rows
    try:
        _, latitude = Transformer.from_crs(p.crs, "EPSG:4326", always_xy=True).transform(x, y)
    except Exception as exc:  # a CRS pyproj cannot place on the Earth
        logger.warning("%s: no latitude from CRS %s (%s)", p.path.name, p.crs, exc)
        return None
    latitude = np.asarray(latitude, np.float64)
    return latitude if np.isfinite(latitude).all() else None


def _coarse_c_factors(p: L2AProduct, bands: Sequence[str], cell: float,
                      central: dt.datetime | None = None) -> dict | None:
    """BRDF c-factors per band on a grid of ``cell`` metres (cell centres), or None (logged) without angles.

    ``central``: the acquisition's clock time on the central date, to normalise to the central date's sun zenith
    (``sun = "central"``); None: to the date's own sun zenith."""
    g = p.grid("R1" if "R1" in p.grids else "R2")
    height, width = g.height * g.resolution, g.width * g.resolution
    shape = (max(1, int(np.ceil(height / cell))), max(1, int(np.ceil(width / cell))))
    transform = Affine(cell, 0.0, g.transform.c, 0.0, -cell, g.transform.f)
    sun = p.angles.sun_on(transform, shape)
    if sun is None:
        logger.info("%s: no sun angles, BRDF normalisation skipped", p.path.name)
        return None
    if not p.angles.has_grids:
        logger.info("%s: only mean angles in the metadata, BRDF normalisation uses them as constants", p.path.name)
    central_zenith = None
    if central is not None:
        latitude = _latitudes(p, transform, shape)
        if latitude is None:
            logger.warning("%s: BRDF normalised at the date's own sun zenith (no latitude for the central one)",
                           p.path.name)
        else:
            central_zenith = solar.central_sun_zenith(sun[0], sun[1], latitude, p.datetime, central)
    out = {}
    for b in bands:
        view = p.angles.view_on(b, transform, shape)
        if view is None:
            logger.info("%s: no viewing angles for %s, band left without BRDF normalisation", p.path.name, b)
            continue
        raa = relative_azimuth(sun[1], view[1])
        factor = c_factor(b, sun[0], view[0], raa)
        if central_zenith is not None:
            # rho(sza_central, 0) / rho(sza, vza, raa) = c * rho(sza_central, 0) / rho(sza, 0): exactly c when the
            # two zeniths are equal; the nadir reflectance does not depend on the azimuth
            nadir = np.zeros(shape, np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = model_reflectance(b, central_zenith, nadir, nadir) / model_reflectance(b, sun[0], nadir, nadir)
            factor = np.where(np.isfinite(ratio), factor * ratio, factor)
        out[b] = factor.astype(np.float32)
    return out
