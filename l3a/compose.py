"""Block driver of the monthly synthesis: streams blocks of every date through the fused kernels and writes the L3A
product.

Before the blocks, :mod:`l3a.inputs` selects and sorts the inputs and computes each date's coarse grids (cloud
weight, swath-edge weight, BRDF c-factors) over the whole tile. Then, per block (a window of whole COG tiles of one
resolution group):

1. *read and prepare*, one task per date in a pool of ``threads`` threads (GDAL decodes without the GIL): the
   date's rasters are read as Theia-coded planes by a :class:`~l2a.formats.theia.raw.RawReader` (raw when the
   product allows it, through datasets kept open for the whole run; through its reader otherwise, with the same
   results), and :func:`~l3a.kernels.prepare_date_block` turns them, in one pass, into the class, the weight and the
   reflectance of every pixel, BRDF-normalised for clear land observations and kept in float32 (coarse grids
   interpolated from per-row and per-column tables);
2. *compose*: with ``outlier_test``, :func:`~l3a.kernels.screen_outliers` first gives the cloud class to the clear
   land observations that brighten like haze or darken like a shadow against the pixel's other dates (each
   resolution group with its own bands, :data:`OUTLIER_BANDS`: blue/red/NIR at R1, 705 nm/NIR/SWIR at R2, so the two
   groups may decide a date differently); then :func:`~l3a.kernels.compose_block` (numba, parallel over rows) in
   the main thread, while the next block is read;
3. *write*: the outputs go to the writer in one background thread, while the next block is composed; once the
   last block of a resolution group is written, its rasters are finished as COGs (overviews, DEFLATE) in another
   background thread, so that encoding the R1 outputs overlaps the composition of the R2 blocks.

Memory is bounded by the block size: two blocks of ``dates x (bands x float32 reflectance + float32 weight + uint8
class)`` (the one composed and the one being read) plus two blocks of outputs. The reflectance is float32 so that
the BRDF-normalised value of a date enters the weighted mean unrounded (one rounding, at the end); GDAL converts the
stored int16 while reading, into the block itself. Blocks are ``block_rows`` R1 rows (R2 blocks cover
the same ground), and the columns are split into runs of whole tiles when the block would exceed
:data:`BLOCK_BYTES`, so that memory does not grow with the number of dates. GDAL's block cache is capped at
:data:`GDAL_CACHE_BYTES`: none to speak of (every tile is decoded once, into the block buffers; a cache would only
hold copies).

Results never depend on input order: inputs are sorted by acquisition time, platform and path before anything else,
and the kernel visits dates in that order. They do not depend on the block size or the thread count either.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from l2a.constants import RESOLUTIONS
from l2a.formats.theia.raw import RawReader
from l2a.io.cog import COG_BLOCKSIZE, check_deflate_level
from l2a.io.threads import env_thread_pool
from l2a.product import L2AProduct
from l2a.sensors import band_resolution

from . import weights
from .bands import select_bands
from .errors import EmptyWindowError
from .inputs import SelectedInput, mask_resolution, prepare_grids, select_inputs
from .kernels import (SNOW_AND_WATER_CODES, SNOW_WATER_RULE_CODES, compose_block, day_of_year_from_day_number,
                      prepare_date_block, screen_outliers)
from .params import CompositeParams
from .product import L3AMetadata
from .writer import L3AWriter

__all__ = ["compose", "select_inputs", "SelectedInput", "DEFAULT_BLOCK_ROWS", "BLOCK_BYTES", "GDAL_CACHE_BYTES"]

logger = logging.getLogger(__name__)

#: Rows per block at R1 (R2 blocks cover the same ground, half as many rows): two COG tile rows at R1 and one at
#: R2, so that no tile is decoded twice.
DEFAULT_BLOCK_ROWS = 1024

#: Bound on the inputs of one block (reflectance, weights and classes of every date), bytes; wider blocks are split
#: into runs of whole tiles. About 1.3 GB peak for a full tile of 10 dates (two blocks of inputs, two of outputs,
#: GDAL cache, libraries).
BLOCK_BYTES = 256 * 2**20

#: GDAL block cache during a synthesis, bytes (rasterio passes ``GDAL_CACHEMAX`` on in bytes). Blocks are whole COG
#: tiles, each decoded once into the block buffers, so a cache would only hold copies of tiles never read again:
#: ``scripts/bench_l3a.py --size 5490 --dates 10 --enlarge`` measured 24.8 s and 0.90 GB of peak RSS with this
#: 256-byte cache, 25.2 s and 1.25 GB with 256 MiB (GDAL's default, 5 % of RAM, would be larger still).
GDAL_CACHE_BYTES = 256


# --------------------------------------------------------------------------------------------------- blocks


def _block_windows(width: int, height: int, rows: int, n_dates: int, n_bands: int) -> list[Window]:
    """Windows of ``rows`` rows (all columns, or runs of whole tiles when the block's inputs would exceed
    :data:`BLOCK_BYTES`), row by row."""
    tile = COG_BLOCKSIZE
    per_pixel = n_dates * (4 * n_bands + 4 + 1)  # float32 bands, float32 weight, uint8 class
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


def date_grids_of(s: SelectedInput, bands: Sequence[str], cloud_cell: float) -> _DateGrids:
    """The coarse grids :func:`load_date` interpolates for one date: cloud-weight cell size (m), and the BRDF
    c-factors of ``bands`` stacked as float32 (bands, rows, cols) with which bands have one (None without BRDF)."""
    if not s.c_factors:
        return _DateGrids(cloud_cell, None, None)
    shape = next(iter(s.c_factors.values())).shape
    stack = np.stack([s.c_factors.get(b, np.ones(shape, np.float32)) for b in bands])
    return _DateGrids(cloud_cell, stack, np.array([b in s.c_factors for b in bands]))


def load_date(reader: RawReader, s: SelectedInput, grids: _DateGrids, window: Window, pixel: float,
               params: CompositeParams, refl: np.ndarray, weight: np.ndarray, obs_class: np.ndarray) -> None:
    """Read one date of a block and turn it into the compose kernel's inputs, in place: ``refl`` float32 (bands,
    rows, cols) BRDF-normalised reflectance x 10000, ``weight`` float32 (rows, cols), ``obs_class`` uint8 (rows,
    cols) FLG codes. Runs in a reader thread of :func:`compose`; :mod:`l3a.validation_leaks` calls it too, so the
    validation sees the very weights the synthesis used."""
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
                       snow_and_water=SNOW_AND_WATER_CODES[params.snow_and_water_is],
                       cloud_bits=params.cloud_bits, out_weight=weight, out_class=obs_class)


#: Bands of the multi-temporal outlier test (:mod:`l3a.kernels.outliers`), by role, in order of preference; each
#: resolution group takes the first of each list it holds. Haze: blue, the band a thin cloud brightens most next to
#: the surface (vegetation and soil are darkest there); at 20 m, where there is no blue, the 705 nm red edge, the
#: darkest 20 m band of vegetation. NIR: B8 at 10 m, B8A at 20 m. Second shadow band: SWIR, which a harvest or
#: senescence raises and a shadow lowers; red at 10 m, where there is no SWIR, which behaves the same way. The
#: second band is also the spectral guard of the haze test (``haze_flatness``): soil and dry matter brighten it
#: more than the haze band, a thin cloud no more.
OUTLIER_BANDS = {"haze": ("B2", "B5"), "nir": ("B8", "B8A"), "shadow": ("B11", "B12", "B4")}


def _outlier_bands(bands: Sequence[str]) -> dict[str, int]:
    """Index in ``bands`` of the haze, NIR and second shadow band of the outlier test (-1 when absent)."""
    return {role: next((bands.index(b) for b in names if b in bands), -1) for role, names in OUTLIER_BANDS.items()}


def screen_block(refl: np.ndarray, obs_class: np.ndarray, bands: Sequence[str], params: CompositeParams) -> None:
    """Multi-temporal outlier test of one block of every date, in place on ``obs_class`` (nothing when
    ``params.outlier_test`` is off): rejected clear land observations get the cloud class."""
    if not params.outlier_test:
        return
    roles = _outlier_bands(bands)
    screen_outliers(refl, obs_class, roles["haze"], roles["nir"], roles["shadow"], params.outlier_min_clear,
                    params.haze_rise * 10000.0, params.haze_rise_relative, params.haze_nir_drop,
                    params.haze_quantile, params.shadow_darkening, params.haze_flatness, obs_class)


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
        Tile to compose (required when inputs hold several tiles); any spelling :func:`l2a.tiles.normalize_tile`
        accepts (``31tcj`` is ``T31TCJ``).
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
    threads = max(1, int(threads or os.cpu_count() or 1))
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    kept, records = select_inputs(products, tile, central_date, params)
    tile = kept[0].product.tile
    bands = select_bands([s.product for s in kept], bands)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_BYTES), env_thread_pool(threads) as pool:
        valid = list(pool.map(lambda s: prepare_grids(s, bands, params), kept))
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
        groups = {res: tuple(b for b in bands if band_resolution(b) == res) for res in RESOLUTIONS}
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
        mask_grid = ref.grid(mask_resolution(ref))
        cell = weights.coarse_factor(mask_grid.resolution, params.coarse_resolution_m) * mask_grid.resolution
        plan = []
        first_res = ref.grid(next(iter(groups))).resolution
        for res, bs in groups.items():
            g = ref.grid(res)
            rows_per_block = max(1, int(block_rows * first_res / g.resolution))
            plan += [(res, bs, win) for win in _block_windows(g.width, g.height, rows_per_block, len(kept), len(bs))]
        date_grids = {res: [date_grids_of(s, bs, cell) for s in kept] for res, bs in groups.items()}
        if params.outlier_test:
            for res, bs in groups.items():
                roles = _outlier_bands(bs)
                if roles["nir"] < 0 or (roles["haze"] < 0 and roles["shadow"] < 0):
                    logger.warning("%s: no outlier test (needs %s and %s or %s among %s)", res,
                                   "/".join(OUTLIER_BANDS["nir"]), "/".join(OUTLIER_BANDS["haze"]),
                                   "/".join(OUTLIER_BANDS["shadow"]), ",".join(bs))
        readers: dict[str, list[RawReader]] = {}

        def load(res, bs, win):
            """Start reading one block: returns its arrays (filled by the tasks) and the tasks."""
            if res not in readers:
                readers[res] = [RawReader(s.product, res, bs) for s in kept]
            shape = (int(win.height), int(win.width))
            refl = np.empty((len(kept), len(bs)) + shape, np.float32)
            weight = np.empty((len(kept),) + shape, np.float32)
            obs_class = np.empty((len(kept),) + shape, np.uint8)
            pixel = ref.grid(res).resolution
            tasks = [pool.submit(load_date, readers[res][d], s, date_grids[res][d], win, pixel, params, refl[d],
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
                    screen_block(refl, obs_class, bs, params)
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
