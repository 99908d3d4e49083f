"""Block driver of the monthly synthesis: selects the inputs, computes the per-date coarse grids, then streams row
blocks of every date through the fused kernel and writes the L3A product.

Memory is bounded by the block size: per resolution group, one block of ``dates x bands x block_rows x cols`` int16
reflectance plus its weights and classes is in memory, and the next block is read (GDAL decoding in threads) while
the current one is computed. The small per-date grids (240 m cloud weight, swath-edge weight, BRDF c-factors) are
computed once per date over the whole tile.

Results never depend on input order: inputs are sorted by acquisition time, platform and path before anything else,
and the kernel visits dates in that order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from affine import Affine
from rasterio.windows import Window

from l2a.detect import open_l2a
from l2a.errors import BandNotFoundError, SyntheoError
from l2a.product import L2AProduct
from l2a.sensors import L2A_BANDS, R1_BANDS, R2_BANDS, band_resolution, normalize_band

from . import brdf, weights
from .errors import EmptyWindowError, TileGridError
from .kernels import SNOW_WATER_RULE_CODES, compose_block, day_of_year_from_day_number
from .params import CompositeParams
from .product import L3AMetadata, L3AWriter

__all__ = ["compose", "select_inputs", "SelectedInput", "DEFAULT_BLOCK_ROWS"]

logger = logging.getLogger(__name__)

#: Cell size of the grid on which BRDF c-factors are computed, m. Angles are given every 5 km and vary smoothly, so
#: c-factors on a 1.2 km grid, bilinearly resampled to the pixels, differ from per-pixel ones by far less than one
#: quantisation step (1e-4 reflectance), at a small fraction of the cost.
BRDF_CELL_M = 1200.0

#: Rows per block at R1 (R2 blocks cover the same ground); a multiple of the COG tile size (512) and of the
#: 240 m coarse cell (24 R1 rows), so no tile is decoded twice and coarse cells are not split.
DEFAULT_BLOCK_ROWS = 1536

# Observation classes handed to the kernel (SPEC section 4 order).
_NOT_OBSERVED, _CLOUDY, _SNOW, _WATER, _LAND = 0, 1, 2, 3, 4


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


def _prepare_date(s: SelectedInput, bands: Sequence[str], params: CompositeParams, block_rows: int) -> bool:
    """Compute the per-date coarse grids of one input; False when it has no valid pixel."""
    p = s.product
    res = _mask_res(p)
    grid = p.grid(res)
    pixel = grid.resolution
    factor = weights.coarse_factor(pixel, params.coarse_resolution_m)
    step = max(factor, (block_rows // factor) * factor)  # whole coarse cells per read
    cloud_parts, nodata_parts = [], []
    n_valid = 0
    for row in range(0, grid.height, step):
        win = Window(0, row, grid.width, min(step, grid.height - row))
        m = p.read_masks(res, win)
        valid = ~m["nodata"]
        n_valid += int(valid.sum())
        cloud_parts.append(weights.coarse_cloud_fraction((m["cloud"] | m["shadow"]) & valid, pixel,
                                                         params.coarse_resolution_m))
        nodata_parts.append(m["nodata"])
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


def _observation_class(m: dict, valid_any: np.ndarray, params: CompositeParams) -> np.ndarray:
    """Class of each observation in SPEC order: not observed, cloudy, snow, water, land."""
    cls = np.full(valid_any.shape, _LAND, np.uint8)
    both = m["snow"] & m["water"]
    snow = m["snow"] & ~m["water"] | (both if params.snow_and_water_is == "snow" else False)
    water = m["water"] & ~m["snow"] | (both if params.snow_and_water_is == "water" else False)
    cls[water] = _WATER
    cls[snow] = _SNOW
    cls[m["cloud"] | m["shadow"]] = _CLOUDY
    # a saturated clear pixel carries no usable reflectance; saturation under cloud stays cloudy
    cls[m["nodata"] | ~valid_any | (m["saturated"] & (cls != _CLOUDY))] = _NOT_OBSERVED
    return cls


def _read_block(kept, bands, res, win, params):
    """Read one block of every date: reflectance, class and weight inputs."""
    n, rows, cols = len(kept), int(win.height), int(win.width)
    refl = np.empty((n, len(bands), rows, cols), np.int16)
    cls = np.empty((n, rows, cols), np.uint8)
    aot = np.full((n, rows, cols), np.nan, np.float32)
    for d, s in enumerate(kept):
        p = s.product
        for k, b in enumerate(bands):
            refl[d, k] = p.read_band(b, win)
        m = p.read_masks(res, win)
        valid_any = (refl[d] != -10000).any(axis=0)
        cls[d] = _observation_class(m, valid_any, params)
        if p.has_aot:
            aot[d] = p.read_aot(win, res)
    return refl, cls, aot


def _block_weights(kept, bands, refl, aot, res_pixel, cell, rows, cols, params):
    """Per-pixel weights (dates, rows, cols) and BRDF normalisation of ``refl`` in place."""
    n = len(kept)
    w = np.empty((n, rows[1] - rows[0], cols[1] - cols[0]), np.float32)
    for d, s in enumerate(kept):
        wd = weights.upsample_coarse(s.cloud_weight, cell, res_pixel, rows=rows, cols=cols)
        if s.edge_weight is not None:
            wd *= weights.upsample_coarse(s.edge_weight, s.edge_cell, res_pixel, rows=rows, cols=cols)
        wd *= weights.aot_weight(aot[d], params)
        w[d] = wd * np.float32(s.date_weight)
        if s.c_factors:
            for k, b in enumerate(bands):
                if b not in s.c_factors:
                    continue
                c = weights.upsample_coarse(s.c_factors[b], s.c_cell, res_pixel, rows=rows, cols=cols)
                plane = refl[d, k]
                valid = plane != -10000
                corrected = np.rint(plane * c)
                plane[valid] = np.clip(corrected[valid], -9999, 32767).astype(np.int16)
    return w


def compose(products: Iterable[L2AProduct | str | os.PathLike], central_date: dt.date,
            params: CompositeParams | None = None, out_dir: str | os.PathLike = ".", *, tile: str | None = None,
            bands: Sequence[str] | None = None, threads: int | None = None, block_rows: int = DEFAULT_BLOCK_ROWS,
            overwrite: bool = False, show_progress: bool = False) -> Path:
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
        Rows of R1 per block (R2 blocks cover the same ground); bounds memory.
    overwrite : bool
        Replace an existing product; otherwise an existing complete product is returned as is (logged).
    show_progress : bool
        tqdm progress over blocks.

    Returns
    -------
    pathlib.Path
        The L3A product folder.
    """
    import numba

    from l2a.cli_options import progress

    params = params or CompositeParams()
    if tile is not None and not tile.startswith("T"):
        tile = "T" + tile
    threads = max(1, int(threads or os.cpu_count() or 1))
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    kept, records = select_inputs(products, tile, central_date, params)
    tile = kept[0].product.tile
    bands = _resolve_bands(kept, bands)
    usable = []
    for s in kept:
        if _prepare_date(s, bands, params, block_rows):
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
    for res, bs in groups.items():
        g = ref.grid(res)
        rows_per_block = max(1, int(block_rows * ref.grid(next(iter(groups))).resolution / g.resolution))
        for row in range(0, g.height, rows_per_block):
            plan.append((res, bs, Window(0, row, g.width, min(rows_per_block, g.height - row))))
    with L3AWriter(out_dir, meta, threads=threads, overwrite=overwrite) as writer, \
            ThreadPoolExecutor(max_workers=1) as reader:
        pending = reader.submit(_read_block, kept, plan[0][1], plan[0][0], plan[0][2], params)
        for i, (res, bs, win) in enumerate(progress(plan, quiet=not show_progress, desc=f"compose {tile}",
                                                    unit="block")):
            refl, cls, aot = pending.result()
            if i + 1 < len(plan):
                nres, nbs, nwin = plan[i + 1]
                pending = reader.submit(_read_block, kept, nbs, nres, nwin, params)
            g = ref.grid(res)
            rows = (int(win.row_off), int(win.row_off + win.height))
            w = _block_weights(kept, bs, refl, aot, g.resolution, cell, rows, (0, g.width), params)
            shape = (int(win.height), int(win.width))
            out_refl = np.empty((len(bs),) + shape, np.int16)
            out_wgt = np.empty(shape, np.int16)
            out_day = np.empty(shape, np.float64)
            out_flg = np.empty(shape, np.uint8)
            out_nob = np.empty(shape, np.uint8)
            blue = bs.index("B2") if "B2" in bs else -1
            compose_block(refl, w, cls, day_numbers, ranks, blue, rule, out_refl, out_wgt, out_day, out_flg,
                          out_nob)
            for k, b in enumerate(bs):
                writer.write_frc(b, out_refl[k], win)
            writer.write_mask("WGT", res, out_wgt, win)
            writer.write_mask("DTS", res, day_of_year_from_day_number(out_day), win)
            writer.write_mask("FLG", res, out_flg, win)
            writer.write_mask("NOB", res, out_nob, win)
    logger.info("wrote %s from %d products", writer.path, len(kept))
    return writer.path
