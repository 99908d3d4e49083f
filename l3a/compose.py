"""Block driver of the monthly synthesis: selects the inputs, computes the per-date coarse grids, then streams
blocks of every date through the fused kernels and writes the L3A product.

Pipeline, per block (a window of whole COG tiles of one resolution group):

1. *read and prepare*, one task per date in a pool of ``threads`` threads (GDAL decodes without the GIL): the
   date's rasters are read raw through datasets kept open for the whole run, and
   :func:`~l3a.kernels.prepare_date_block` turns them, in one pass, into the class, the weight and the
   BRDF-normalised reflectance of every pixel (coarse grids interpolated from per-row and per-column tables);
2. *compose*: :func:`~l3a.kernels.compose_block` (numba, parallel over rows) in the main thread, while the next
   block is read;
3. *write*: the outputs go to the writer in one background thread, while the next block is composed; once the
   last block of a resolution group is written, its rasters are finished as COGs (overviews, DEFLATE) in another
   background thread, so that encoding the R1 outputs overlaps the composition of the R2 blocks.

Memory is bounded by the block size: two blocks of ``dates x (bands x int16 + float32 weight + uint8 class)`` (the
one composed and the one being read) plus two blocks of outputs. Blocks are ``block_rows`` R1 rows (R2 blocks cover
the same ground), and the columns are split into runs of whole tiles when the block would exceed
:data:`BLOCK_BYTES`, so that memory does not grow with the number of dates. GDAL's block cache is capped at
:data:`GDAL_CACHE_MB` (every tile is decoded once, into the block buffers; a large cache would only hold copies).

The small per-date grids (240 m cloud weight, swath-edge weight, BRDF c-factors) are computed once per date over the
whole tile, before the first block (the cloud weight of a pixel depends on clouds kilometres away), from the cloud
and edge masks only.

Products whose raw layout (:meth:`~l2a.product.L2AProduct.band_source`, ``mask_source``, ``aot_source``) has
Theia-coded masks are read raw when every raster of a group is native to it (int16 bands stored x 10000, uint8
masks and ATB, EDG present); other products, and Theia products needing resampled masks or converted values, go
through their reader's ``read_band`` / ``read_masks`` / ``read_aot``, with the same results.

Results never depend on input order: inputs are sorted by acquisition time, platform and path before anything else,
and the kernel visits dates in that order. They do not depend on the block size or the thread count either.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from l2a.io.cog import COG_BLOCKSIZE, check_deflate_level
from l2a.detect import open_l2a
from l2a.errors import BandNotFoundError, CorruptRasterError
from l2a.constants import REFLECTANCE_QUANTIFICATION
from l2a.product import L2AProduct
from l2a.io.raster import open_raster
from l2a.sensors import L2A_BANDS, band_resolution, normalize_band

from . import brdf, weights
from .errors import EmptyWindowError, TileGridError
from .kernels import (SNOW_AND_WATER_CODES, SNOW_WATER_RULE_CODES, compose_block, day_of_year_from_day_number,
                      prepare_date_block)
from .params import CompositeParams
from .product import L3AMetadata, L3AWriter

__all__ = ["compose", "select_inputs", "SelectedInput", "DEFAULT_BLOCK_ROWS", "BLOCK_BYTES", "GDAL_CACHE_MB"]

logger = logging.getLogger(__name__)

#: Cell size of the grid on which BRDF c-factors are computed, m. Angles are given every 5 km and vary smoothly, so
#: c-factors on a 1.2 km grid, bilinearly resampled to the pixels, differ from per-pixel ones by far less than one
#: quantisation step (1e-4 reflectance), at a small fraction of the cost.
BRDF_CELL_M = 1200.0

#: Rows per block at R1 (R2 blocks cover the same ground, half as many rows): two COG tile rows at R1 and one at
#: R2, so that no tile is decoded twice.
DEFAULT_BLOCK_ROWS = 1024

#: Bound on the inputs of one block (reflectance, weights and classes of every date), bytes; wider blocks are split
#: into runs of whole tiles. About 1.3 GB peak for a full tile of 10 dates (two blocks of inputs, two of outputs,
#: GDAL cache, libraries).
BLOCK_BYTES = 256 * 2**20

#: GDAL block cache during a synthesis, MB (GDAL's default, 5 % of RAM, would fill with decoded tiles never read
#: again, since datasets stay open).
GDAL_CACHE_MB = 256

# Rows of mask per read in the pass over whole tiles (a multiple of the coarse factor and of the tile size).
_PREP_ROWS = 1024

_MASK_KINDS = ("CLM", "MG2", "EDG", "SAT")


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
    if tile is None:
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


def _resolve_bands(kept: Sequence[SelectedInput], bands: Sequence[str] | None) -> tuple[str, ...]:
    common = [b for b in L2A_BANDS if all(b in s.product.bands for s in kept)]
    if bands is None:
        if not common:
            raise BandNotFoundError("the inputs have no L2A band in common")
        return tuple(common)
    out = []
    for name in bands:
        b = normalize_band(name)
        band_resolution(b)
        for s in kept:
            if b not in s.product.bands:
                raise BandNotFoundError(f"requested band {b} is not in this product", s.product.path)
        out.append(b)
    return tuple(b for b in L2A_BANDS if b in out)


def _mask_res(product: L2AProduct) -> str:
    return "R2" if "R2" in product.grids else "R1"


# --------------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _RawLayout:
    """Where the raw rasters of one product and resolution group are (every one native to the group)."""

    bands: tuple  # (gdal_path, 1-based index) per band
    masks: dict  # kind -> (gdal_path, 1-based index), or None when the product has no such mask at all
    atb: tuple | None  # (gdal_path, 1-based index) of the stored AOT, or None without AOT
    refl_nodata: int | None  # stored nodata of the bands, when it can occur in int16
    aot_scale: float
    aot_nodata: float


def _raw_layout(p: L2AProduct, res: str, bands: Sequence[str]) -> _RawLayout | None:
    """Layout of the rasters of ``p`` for group ``res`` when they can be read raw, else None (reader's methods).

    Raw reading, from the product's :meth:`~l2a.product.L2AProduct.band_source`, ``mask_source`` and
    ``aot_source``, gives what the reader gives when nothing is resampled or converted: Theia-coded masks
    (CLM, MG2, EDG, SAT), bands stored as reflectance x 10000 on the group's grid, each mask native or absent at
    both resolutions (then clear), EDG present (without it, nodata comes from the first band), AOT native or absent.
    Dtypes are checked when the files are opened.
    """
    if set(p.mask_kinds) != set(_MASK_KINDS):
        return None
    band_files, nodata = [], set()
    for b in bands:
        src = p.band_source(b)
        if src is None or src.res != res or src.quantification != REFLECTANCE_QUANTIFICATION or src.add_offset:
            return None
        band_files.append((src.path, src.index))
        nodata.add(src.nodata)
    masks = {}
    for kind in _MASK_KINDS:
        src = p.mask_source(kind, res)
        if src is not None and (src.res != res or src.quantification != 1.0 or src.add_offset):
            return None
        masks[kind] = None if src is None else (src.path, src.index)
    if masks["EDG"] is None:
        return None
    atb = p.aot_source(res)
    if atb is not None and (atb.res != res or atb.add_offset):
        return None
    if len(nodata) > 1:
        return None
    value = nodata.pop() if nodata else None
    refl_nodata = None
    if value is not None and math.isfinite(value) and value == int(value) and -32768 <= value <= 32767:
        refl_nodata = int(value)
    if atb is None:  # the kernel ignores the AOT scalars without AOT
        return _RawLayout(tuple(band_files), masks, None, refl_nodata, 1.0, math.nan)
    return _RawLayout(tuple(band_files), masks, (atb.path, atb.index), refl_nodata, float(atb.quantification),
                      math.nan if atb.nodata is None else float(atb.nodata))


@dataclass
class _DateBlock:
    """Raw inputs of one date and block for :func:`~l3a.kernels.prepare_date_block`."""

    clm: np.ndarray
    mg2: np.ndarray
    edg: np.ndarray
    sat: np.ndarray
    aot: np.ndarray | None
    refl_nodata: int | None
    apply_edge: bool
    aot_scale: float
    aot_nodata: float


class _DateReader:
    """Reads one input's rasters of one resolution group, block after block, keeping its datasets open.

    Used by one thread at a time (the driver runs one task per date and block); the lock makes sure of it, since
    a GDAL dataset must never be used by two threads at once.
    """

    def __init__(self, product: L2AProduct, res: str, bands: Sequence[str]):
        self.product = product
        self.res = res
        self.bands = tuple(bands)
        self._lock = threading.Lock()
        self._datasets: dict[str, rasterio.DatasetReader] = {}
        self._layout: _RawLayout | None | bool = False  # False: not decided yet

    def _open(self, path: str) -> rasterio.DatasetReader:
        ds = self._datasets.get(path)
        if ds is None:
            ds = self._datasets[path] = open_raster(path)
        return ds

    def _decide(self) -> None:
        layout = _raw_layout(self.product, self.res, self.bands)
        if layout is not None:
            dtypes = [self._open(path).dtypes[index - 1] for path, index in layout.bands]
            ok = all(d == "int16" for d in dtypes)
            masks = [source for source in layout.masks.values() if source is not None]
            ok &= all(self._open(path).dtypes[index - 1] == "uint8" for path, index in masks)
            if layout.atb is not None:
                path, index = layout.atb
                ds = self._open(path)
                ok &= ds.count >= index and ds.dtypes[index - 1] == "uint8"
            if not ok:
                layout = None
        self._layout = layout

    def _read(self, path: str, index: int, window: Window, out: np.ndarray | None = None) -> np.ndarray:
        try:
            return self._open(path).read(index, window=window, out=out)
        except RasterioIOError as exc:
            raise CorruptRasterError(f"cannot decode raster: {str(exc).splitlines()[0][:200]}", path) from exc

    def _mask(self, kind: str, window: Window) -> np.ndarray:
        source = self._layout.masks[kind]
        if source is None:
            return np.zeros((int(window.height), int(window.width)), np.uint8)
        return self._read(*source, window)

    def read(self, window: Window, refl: np.ndarray) -> _DateBlock:
        """Fill ``refl`` (bands, rows, cols) with the bands (raw, or as the reader gives them) and return the rest."""
        with self._lock:
            if self._layout is False:
                self._decide()
            layout = self._layout
            if layout is not None:
                for k, (path, index) in enumerate(layout.bands):
                    self._read(path, index, window, refl[k])
                masks = [self._mask(kind, window) for kind in _MASK_KINDS]
                aot = None if layout.atb is None else self._read(*layout.atb, window)
                return _DateBlock(*masks, aot, layout.refl_nodata, True, layout.aot_scale, layout.aot_nodata)
            p = self.product
            for k, b in enumerate(self.bands):
                refl[k] = p.read_band(b, window)
            m = p.read_masks(self.res, window)
            mg2 = m["water"].astype(np.uint8) | (m["snow"].astype(np.uint8) << 2)
            aot = p.read_aot(window, self.res) if p.has_aot else None
            # EDG is applied by the reader already; classes see the reader's nodata plane
            return _DateBlock((m["cloud"] | m["shadow"]).astype(np.uint8), mg2, m["nodata"].astype(np.uint8),
                              m["saturated"].astype(np.uint8), aot, None, False, 1.0, math.nan)

    def read_cloud_and_nodata(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """bool (rows, cols) planes: cloud or shadow, and nodata (only CLM and EDG are read raw)."""
        with self._lock:
            if self._layout is False:
                self._decide()
            if self._layout is not None:
                return self._mask("CLM", window) != 0, self._mask("EDG", window) != 0
            m = self.product.read_masks(self.res, window)
            return m["cloud"] | m["shadow"], m["nodata"]

    def close(self) -> None:
        with self._lock:
            for ds in self._datasets.values():
                ds.close()
            self._datasets.clear()


# --------------------------------------------------------------------------------------------------- coarse grids


def _prepare_date(s: SelectedInput, bands: Sequence[str], params: CompositeParams) -> bool:
    """Compute the per-date coarse grids of one input; False when it has no valid pixel."""
    p = s.product
    res = _mask_res(p)
    grid = p.grid(res)
    pixel = grid.resolution
    factor = weights.coarse_factor(pixel, params.coarse_resolution_m)
    lcm = factor * COG_BLOCKSIZE // math.gcd(factor, COG_BLOCKSIZE)
    step = lcm * max(1, _PREP_ROWS // lcm)  # whole coarse cells and whole tiles per read
    cloud_parts, nodata_parts = [], []
    n_valid = 0
    reader = _DateReader(p, res, ())
    try:
        for row in range(0, grid.height, step):
            win = Window(0, row, grid.width, min(step, grid.height - row))
            cloudy, nodata = reader.read_cloud_and_nodata(win)
            n_valid += nodata.size - int(np.count_nonzero(nodata))
            cloud_parts.append(weights.coarse_cloud_fraction(cloudy & ~nodata, pixel, params.coarse_resolution_m))
            nodata_parts.append(nodata)
    finally:
        reader.close()
    if n_valid == 0:
        return False
    cell = factor * pixel
    s.cloud_weight = weights.cloud_weight_coarse(np.concatenate(cloud_parts), params, cell)
    if params.edge_weight:
        s.edge_weight, s.edge_cell = weights.edge_weight_coarse(np.concatenate(nodata_parts), pixel, params)
    if params.brdf:
        s.c_cell = max(BRDF_CELL_M, pixel)
        s.c_factors = _coarse_c_factors(p, bands, s.c_cell)
    return True


def _coarse_c_factors(p: L2AProduct, bands: Sequence[str], cell: float) -> dict | None:
    """BRDF c-factors per band on a grid of ``cell`` metres (cell centres), or None (logged) without angles."""
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
    out = {}
    for b in bands:
        view = p.angles.view_on(b, transform, shape)
        if view is None:
            logger.info("%s: no viewing angles for %s, band left without BRDF normalisation", p.path.name, b)
            continue
        raa = brdf.relative_azimuth(sun[1], view[1])
        out[b] = brdf.c_factor(b, sun[0], view[0], raa).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------------- blocks


def _block_windows(width: int, height: int, rows: int, n_dates: int, n_bands: int) -> list[Window]:
    """Windows of ``rows`` rows (all columns, or runs of whole tiles when the block's inputs would exceed
    :data:`BLOCK_BYTES`), row by row."""
    tile = COG_BLOCKSIZE
    per_pixel = n_dates * (2 * n_bands + 4 + 1)  # int16 bands, float32 weight, uint8 class
    rows = max(1, min(rows, height))
    if rows > tile and rows * tile * per_pixel > BLOCK_BYTES:  # many dates: fewer rows before fewer columns
        rows = max(tile, BLOCK_BYTES // (tile * per_pixel) // tile * tile)
    max_cols = BLOCK_BYTES // (rows * per_pixel)
    if max_cols >= width:
        cols = width
    else:
        n_tiles = math.ceil(width / tile)
        n_runs = math.ceil(n_tiles / max(1, max_cols // tile))
        cols = math.ceil(n_tiles / n_runs) * tile
    return [Window(col, row, min(cols, width - col), min(rows, height - row))
            for row in range(0, height, rows) for col in range(0, width, cols)]


def _axis_tables(start: int, stop: int, pixel: float, grids: Sequence[tuple[float, int] | None]):
    """(intp (3, 2, n), float64 (3, n)) :func:`~l3a.weights.bilinear_axis` tables of pixels [start, stop) for the
    cloud, edge and c-factor grids, each given as (cell size m, cells along the axis), or None (zeros)."""
    index = np.zeros((3, 2, stop - start), np.intp)
    frac = np.zeros((3, stop - start), np.float64)
    for g, grid in enumerate(grids):
        if grid is not None:
            index[g, 0], index[g, 1], frac[g] = weights.bilinear_axis(start, stop, pixel, grid[0], grid[1])
    return index, frac


@dataclass
class _DateGrids:
    """Coarse grids of one date for one resolution group, in the kernel's form."""

    cloud_cell: float
    c_factors: np.ndarray | None  # float32 (bands, rows, cols)
    has_c_factor: np.ndarray | None  # bool (bands,)


def _date_grids(s: SelectedInput, bands: Sequence[str], cloud_cell: float) -> _DateGrids:
    if not s.c_factors:
        return _DateGrids(cloud_cell, None, None)
    shape = next(iter(s.c_factors.values())).shape
    stack = np.stack([s.c_factors.get(b, np.ones(shape, np.float32)) for b in bands])
    return _DateGrids(cloud_cell, stack, np.array([b in s.c_factors for b in bands]))


def _load_date(reader: _DateReader, s: SelectedInput, grids: _DateGrids, window: Window, pixel: float,
               params: CompositeParams, refl: np.ndarray, weight: np.ndarray, obs_class: np.ndarray) -> None:
    """Read one date of a block and turn it into the kernel's inputs (runs in a reader thread)."""
    raw = reader.read(window, refl)
    r0, c0 = int(window.row_off), int(window.col_off)
    r1, c1 = r0 + int(window.height), c0 + int(window.width)
    axes = []
    for axis, (start, stop) in enumerate(((r0, r1), (c0, c1))):
        axes.append(_axis_tables(start, stop, pixel, [
            (grids.cloud_cell, s.cloud_weight.shape[axis]),
            None if s.edge_weight is None else (s.edge_cell, s.edge_weight.shape[axis]),
            None if grids.c_factors is None else (s.c_cell, grids.c_factors.shape[axis + 1])]))
    (row_index, row_frac), (col_index, col_frac) = axes
    prepare_date_block(refl, raw.clm, raw.mg2, raw.edg, raw.sat, raw.aot, s.cloud_weight, s.edge_weight,
                       grids.c_factors, grids.has_c_factor, row_index, row_frac, col_index, col_frac,
                       refl_nodata=raw.refl_nodata, apply_edge=raw.apply_edge, aot_scale=raw.aot_scale,
                       aot_nodata=raw.aot_nodata, date_weight=s.date_weight, aot_weight_min=params.aot_weight_min,
                       aot_weight_max=params.aot_weight_max, aot_max=params.aot_max,
                       snow_and_water=SNOW_AND_WATER_CODES[params.snow_and_water_is], out_weight=weight,
                       out_class=obs_class)


def _write_block(writer: L3AWriter, bands: Sequence[str], res: str, window: Window, out_refl: np.ndarray,
                 out_wgt: np.ndarray, out_day: np.ndarray, out_flg: np.ndarray, out_nob: np.ndarray,
                 last_of_group: bool) -> None:
    """Write the outputs of one block (runs in the writer thread); after the last block of a resolution group,
    its rasters start being finished in the background."""
    for k, b in enumerate(bands):
        writer.write_frc(b, out_refl[k], window)
    writer.write_mask("WGT", res, out_wgt, window)
    writer.write_mask("DTS", res, day_of_year_from_day_number(out_day), window)
    writer.write_mask("FLG", res, out_flg, window)
    writer.write_mask("NOB", res, out_nob, window)
    if last_of_group:
        writer.finish(res)


def compose(products: Iterable[L2AProduct | str | os.PathLike], central_date: dt.date,
            params: CompositeParams | None = None, out_dir: str | os.PathLike = ".", *, tile: str | None = None,
            bands: Sequence[str] | None = None, threads: int | None = None, block_rows: int = DEFAULT_BLOCK_ROWS,
            overwrite: bool = False, show_progress: bool = False, deflate_level: int | None = None) -> Path:
    """Compose a monthly (or any central date) weighted synthesis of one tile.

    Parameters
    ----------
    products : iterable of L2AProduct or path
        Candidate L2A products (any format :func:`l2a.open_l2a` reads); other tiles and dates are skipped.
    central_date : datetime.date
        Synthesis date (the 15th for a monthly run).
    params : CompositeParams, optional
        Synthesis parameters (default profile if None).
    out_dir : path-like
        Folder receiving the product folder.
    tile : str, optional
        Tile to compose (required when inputs hold several tiles).
    bands : sequence of str, optional
        Bands to compose; default: every L2A band all inputs have.
    threads : int, optional
        Threads for decoding and for the numba kernel (default: all cores).
    block_rows : int
        Rows of R1 per block (R2 blocks cover the same ground); a multiple of 1024 decodes every tile once. Columns
        are split so that a block's inputs stay within :data:`BLOCK_BYTES`. Outputs do not depend on it.
    overwrite : bool
        Replace an existing product; otherwise an existing complete product is returned as is (logged).
    show_progress : bool
        tqdm progress over blocks.
    deflate_level : int, optional
        DEFLATE level of every output COG, 1 fastest .. 12 smallest; None =
        :data:`l3a.product.DEFAULT_DEFLATE_LEVELS` (1 for FRC and WGT, 6 for DTS, FLG and NOB).

    Returns
    -------
    pathlib.Path
        The L3A product folder.

    Raises
    ------
    InvalidParameterError
        If ``deflate_level`` is not None nor in 1..12 (checked before any input is read).
    EmptyWindowError, TileGridError, BandNotFoundError
        See :func:`select_inputs`; no usable input, or a requested band missing.
    """
    import numba

    from l2a.cli_options import progress

    params = params or CompositeParams()
    deflate_level = check_deflate_level(deflate_level)
    if tile is not None and not tile.startswith("T"):
        tile = "T" + tile
    threads = max(1, int(threads or os.cpu_count() or 1))
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    kept, records = select_inputs(products, tile, central_date, params)
    tile = kept[0].product.tile
    bands = _resolve_bands(kept, bands)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), ThreadPoolExecutor(threads) as pool:
        valid = list(pool.map(lambda s: _prepare_date(s, bands, params), kept))
        usable = []
        for s, ok in zip(kept, valid):
            if ok:
                usable.append(s)
            else:
                logger.warning("%s has no valid pixel; ignored", s.product.path.name)
                records = [r if r["path"] != str(s.product.path) else {**r, "used": False} for r in records]
        if not usable:
            raise EmptyWindowError(f"every product of tile {tile} within the window is empty (all nodata)")
        kept = usable
        ref = kept[0].product
        groups = {res: tuple(b for b in bands if band_resolution(b) == res) for res in ("R1", "R2")}
        groups = {res: bs for res, bs in groups.items() if bs and res in ref.grids}
        records = [s.record for s in kept] + [r for r in records if not r.get("used")]
        meta = L3AMetadata(tile=tile, central_date=central_date, half_window_days=params.half_window_days,
                           crs=ref.crs, grids={res: ref.grid(res) for res in groups}, bands=bands,
                           platforms=tuple(sorted({s.product.platform for s in kept})), inputs=records,
                           params=params.to_dict())
        out_path = Path(out_dir).absolute() / meta.name
        if out_path.exists() and not overwrite:
            logger.warning("%s exists already; skipped (use overwrite to replace it)", out_path)
            return out_path
        day_numbers = np.array([s.day_number for s in kept], np.float64)
        ranks = np.arange(len(kept), dtype=np.int32)
        rule = SNOW_WATER_RULE_CODES[params.snow_water_rule]
        mask_grid = ref.grid(_mask_res(ref))
        cell = weights.coarse_factor(mask_grid.resolution, params.coarse_resolution_m) * mask_grid.resolution
        plan = []
        first_res = ref.grid(next(iter(groups))).resolution
        for res, bs in groups.items():
            g = ref.grid(res)
            rows_per_block = max(1, int(block_rows * first_res / g.resolution))
            plan += [(res, bs, win) for win in _block_windows(g.width, g.height, rows_per_block, len(kept), len(bs))]
        date_grids = {res: [_date_grids(s, bs, cell) for s in kept] for res, bs in groups.items()}
        readers: dict[str, list[_DateReader]] = {}

        def load(res, bs, win):
            """Start reading one block: returns its arrays (filled by the tasks) and the tasks."""
            if res not in readers:
                readers[res] = [_DateReader(s.product, res, bs) for s in kept]
            shape = (int(win.height), int(win.width))
            refl = np.empty((len(kept), len(bs)) + shape, np.int16)
            weight = np.empty((len(kept),) + shape, np.float32)
            obs_class = np.empty((len(kept),) + shape, np.uint8)
            pixel = ref.grid(res).resolution
            tasks = [pool.submit(_load_date, readers[res][d], s, date_grids[res][d], win, pixel, params, refl[d],
                                 weight[d], obs_class[d]) for d, s in enumerate(kept)]
            return refl, weight, obs_class, tasks

        with L3AWriter(out_dir, meta, threads=threads, overwrite=overwrite,
                       deflate_level=deflate_level) as writer, ThreadPoolExecutor(max_workers=1) as write_pool:
            pending = load(*plan[0])
            writing = None
            try:
                for i in progress(range(len(plan)), quiet=not show_progress, desc=f"compose {tile}", unit="block"):
                    res, bs, win = plan[i]
                    refl, weight, obs_class, tasks = pending
                    for t in tasks:
                        t.result()
                    pending = load(*plan[i + 1]) if i + 1 < len(plan) else None
                    last_of_group = pending is None or plan[i + 1][0] != res
                    if last_of_group:  # its input files are done
                        for reader in readers.pop(res):
                            reader.close()
                    shape = (int(win.height), int(win.width))
                    out_refl = np.empty((len(bs),) + shape, np.int16)
                    out_wgt = np.empty(shape, np.int16)
                    out_day = np.empty(shape, np.float64)
                    out_flg = np.empty(shape, np.uint8)
                    out_nob = np.empty(shape, np.uint8)
                    blue = bs.index("B2") if "B2" in bs else -1
                    compose_block(refl, weight, obs_class, day_numbers, ranks, blue, rule, out_refl, out_wgt,
                                  out_day, out_flg, out_nob)
                    del refl, weight, obs_class
                    if writing is not None:
                        writing.result()  # at most one block of outputs waits for the writer
                    writing = write_pool.submit(_write_block, writer, bs, res, win, out_refl, out_wgt, out_day,
                                                out_flg, out_nob, last_of_group)
                if writing is not None:
                    writing.result()
            finally:
                if pending is not None:
                    wait(pending[3])
                for group in readers.values():
                    for reader in group:
                        reader.close()
    logger.info("wrote %s from %d products", writer.path, len(kept))
    return writer.path
