"""Driver of ``mosaic build``: L3A tiles of one month, any UTM zones -> one seamless national grid.

For every output block (512 x 512 pixels, the COG's internal tile) and every tile whose footprint meets it, the
tile's pixels are read on its working grid (:mod:`mosaic.sources`: FLG 0/1 masked before any resampling), given a
blending weight (:mod:`mosaic.blend`: ``max(WGT, 1) / 1000 x ramp``, the ramp rising over ``feather_m`` from the edges
of the tile's valid data where another tile has data; one ramp per tile, computed once on cells of 1/64 of its
length, so that blocks never show), and reprojected onto the block with :func:`rasterio.warp.reproject` as a
normalised convolution (``warp(w * v) / warp(w)``, reflectance resampling; FLG with nearest neighbour). The tiles
are then merged (:data:`mosaic.blend.MERGE_METHODS`; ``blend``: ``sum w_i v_i / sum w_i``). Blocks run in a thread
pool (GDAL, numpy and the reads release the GIL); at most ``2 x workers`` blocks are in flight.

Memory: each block in flight holds its inputs' windows (about ``(bands + 3) x 4 bytes x (block + margin)^2`` per
covering tile, ~30 MB for 10 bands and 4 tiles), and each input tile keeps its ramp (float16 cells, ~1 MB); the
country's size only adds blocks to the queue, and coarse previews read the sources in row chunks. The COG is
finished by :class:`l2a.io.cog.CogWriter` (a temporary GeoTIFF of the whole grid on disk, then GDAL's COG driver).

Outputs in ``--out`` (written in a temporary folder, then moved in place):

* ``mosaic.tif``: COG, int16 reflectance x10000, nodata -10000, one band per output band (described ``B4`` ...),
  internal mask 0 on every pixel that is not valid (nodata and always cloudy); always-cloudy pixels that no tile sees
  clear keep the mean of the tiles' cloudy values, masked;
* ``flags.tif``: COG, uint8, band ``FLG`` (0 nodata, 1 always cloudy, 2 snow, 3 water, 4 land: the class of the
  largest valid one among the contributing tiles; 255 outside the tiles and the cutline, the raster's nodata) and
  band ``NTILES`` (number of tiles contributing a valid value);
* ``mosaic.vrt``: the true-colour view (B4, B3, B2) of ``mosaic.tif``, when those bands are present;
* ``mosaic_STAC.json``: a STAC item (footprint, central date, inputs, assets, projection).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import reproject, transform, transform_bounds
from rasterio.windows import Window

from l2a._version import __version__
from l2a.io.cog import CogWriter
from l2a.errors import MissingFileError
from l2a.sensors import band_resolution
from l3a.product import FLG, L3AProduct

from .blend import MERGE_METHODS, distance_ramp, tile_weight, upsample_ramp
from .errors import InvalidParameterError, OutputExistsError
from .grid import MosaicGrid, cutline_mask, footprint, load_cutline, parse_crs, target_grid
from .params import MosaicParams
from .sources import (OUTSIDE, DatasetPool, check_dates, coarse_usable, find_inputs, open_inputs, read_working,
                      select_bands, working_grid)

__all__ = ["build_mosaic", "MosaicResult", "OUTPUT_FILES", "NODATA"]

logger = logging.getLogger(__name__)

#: Reflectance nodata (SPEC section 3).
NODATA = -10000
#: Names of the outputs in ``--out``.
OUTPUT_FILES = {"mosaic": "mosaic.tif", "flags": "flags.tif", "vrt": "mosaic.vrt", "stac": "mosaic_STAC.json"}
_RESAMPLING = {"nearest": Resampling.nearest, "bilinear": Resampling.bilinear, "cubic": Resampling.cubic,
               "average": Resampling.average}
#: Ramp cells per feathering length: the ramp is computed on cells of feather/64 and interpolated.
_RAMP_CELLS = 64


@dataclass(frozen=True)
class _GroupPlan:
    """How one resolution group of one product is read: working grid and feathering geometry."""

    res: str
    factor: int               # source pixels per working pixel, per side
    transform: Affine         # working-grid transform
    rows: int
    cols: int
    pixel_m: float            # working pixel size, source CRS units (m)
    cell: int                 # ramp cell, working pixels
    resampling: Resampling


@dataclass(frozen=True)
class _Source:
    product: L3AProduct
    footprint: object         # shapely polygon in the target CRS
    groups: dict              # res -> _GroupPlan
    ramp: list = field(default_factory=list)  # [float16 ramp on cells (one cell of border all around), transform]


@dataclass
class _Warped:
    values: np.ndarray        # float32 (bands, rows, cols), NaN where nothing
    weight: np.ndarray        # float32 (rows, cols), NaN/0 where nothing
    flg: np.ndarray           # uint8 (rows, cols), OUTSIDE beyond the tile
    cloud: np.ndarray | None  # float32 (bands, rows, cols) of FLG 1 pixels


@dataclass
class MosaicResult:
    """What ``mosaic build`` wrote.

    Attributes
    ----------
    out_dir : Path
    files : dict name -> Path
        ``mosaic``, ``flags``, ``stac`` and (when B4/B3/B2 are present) ``vrt``.
    grid : MosaicGrid
    bands : tuple of str
    inputs : list of str
        Product names, in blending order.
    seconds : float
        Wall time, s.
    """

    out_dir: Path
    files: dict
    grid: MosaicGrid
    bands: tuple
    inputs: list
    central_date: dt.date
    seconds: float = 0.0
    blocks: int = 0
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"out": str(self.out_dir), "files": {k: str(v) for k, v in self.files.items()},
                "crs": self.grid.crs.to_string(), "resolution": self.grid.resolution,
                "shape": list(self.grid.shape), "bounds": list(self.grid.bounds), "bands": list(self.bands),
                "central_date": self.central_date.isoformat(), "inputs": self.inputs, "blocks": self.blocks,
                "seconds": round(self.seconds, 3)}


def _pixel_ratio(src_crs, src_center, dst_crs, resolution: float, src_res: float) -> float:
    """Output pixel size over source pixel size, measured at the source tile's centre."""
    (dx,), (dy,) = transform(src_crs, dst_crs, [src_center[0]], [src_center[1]])
    xs, ys = transform(dst_crs, src_crs, [dx, dx + resolution, dx], [dy, dy, dy + resolution])
    area = abs((xs[1] - xs[0]) * (ys[2] - ys[0]) - (xs[2] - xs[0]) * (ys[1] - ys[0]))
    return math.sqrt(area) / src_res


def _plan_group(product: L3AProduct, res: str, dst_crs, params: MosaicParams) -> _GroupPlan:
    grid = product.grids[res]
    left, bottom, right, top = grid.bounds
    ratio = _pixel_ratio(product.crs, ((left + right) / 2, (bottom + top) / 2), dst_crs, params.resolution,
                         grid.resolution)
    factor = int(math.floor(ratio)) if ratio >= 2 else 1
    name = params.resampling
    if name == "auto":
        name = "bilinear" if ratio < 1.5 else "average"
    t, rows, cols = working_grid(grid, factor)
    pixel_m = grid.resolution * factor
    cell = max(1, int(params.feather_m / pixel_m // _RAMP_CELLS))
    return _GroupPlan(res, factor, t, rows, cols, pixel_m, cell, _RESAMPLING[name])


def _cell_transform(g: _GroupPlan) -> Affine:
    """Transform of a group's ramp cells, whose array starts one cell before the tile's first pixel."""
    return g.transform @ Affine.scale(g.cell) @ Affine.translation(-1, -1)


def _ramp(source: _Source, res: str, usable: dict, sources: list[_Source], feather_m: float) -> np.ndarray:
    """The feathering ramp of one product on cells of its ``res`` group (whole tile, so blocks never show).

    Distances run to the *edges* of the tile's valid data: cells it cannot use (outside its frame, FLG 0/1) where
    another tile has valid data. Where no tile has data (beyond the country, a cloud every tile shares) there is
    nothing to blend with and the ramp does not fall. Returns float16 (cells), 0 on unusable cells.
    """
    g: _GroupPlan = source.groups[res]
    own = usable[source.product.path]
    others = np.zeros(own.shape, bool)
    for other in sources:
        if other is source or not other.footprint.intersects(source.footprint):
            continue
        cover = np.zeros(own.shape, np.uint8)
        reproject(usable[other.product.path].astype(np.uint8), cover, src_transform=_cell_transform(other.groups[res]),
                  src_crs=other.product.crs, dst_transform=_cell_transform(g), dst_crs=source.product.crs,
                  src_nodata=None, dst_nodata=None, resampling=Resampling.nearest, num_threads=1)
        others |= cover > 0
    edges = ~own & others
    return (distance_ramp(~edges, g.cell * g.pixel_m, feather_m) * own).astype(np.float16)


def _warp_weighted(values: np.ndarray, weight: np.ndarray, shape: tuple[int, int], resampling: Resampling,
                   common: dict) -> tuple[np.ndarray, np.ndarray]:
    """Reproject values with weights as a normalised convolution: ``warp(w * v) / warp(w)`` and ``warp(w)``.

    Parameters
    ----------
    values : float32 (bands, rows, cols), NaN allowed where ``weight`` is 0
    weight : float32 (rows, cols), >= 0; 0 excludes a pixel
    shape : output (rows, cols)
    resampling : Resampling
    common : transforms and CRSs for :func:`rasterio.warp.reproject`

    Returns
    -------
    values : float32 (bands, out_rows, out_cols), NaN where the warped weight is 0
    weight : float32 (out_rows, out_cols)

    Every output pixel is the mean of its source neighbours weighted by resampling kernel x weight, so unusable
    pixels (weight 0) drop out and the others are renormalised, as GDAL does with nodata, without GDAL's slower
    per-pixel validity path.
    """
    n = values.shape[0]
    stack = np.empty((n + 1,) + weight.shape, np.float32)
    use = weight > 0
    stack[:n] = np.where(use, values * weight, np.float32(0))
    stack[n] = weight
    out = np.zeros((n + 1,) + shape, np.float32)
    reproject(stack, out, src_nodata=None, dst_nodata=None, resampling=resampling, **common)
    total = out[n]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, out[:n] / total, np.float32(np.nan)).astype(np.float32)
    return mean, total


class _Mosaicker:
    """Computes output blocks; shared read-only by the worker threads (datasets are per thread)."""

    def __init__(self, grid: MosaicGrid, sources: list[_Source], bands: tuple[str, ...], flags_res: str,
                 params: MosaicParams, cutline):
        self.grid, self.sources, self.bands, self.params, self.cutline = grid, sources, bands, params, cutline
        self.flags_res = flags_res
        groups = {band_resolution(b) for b in bands} | {flags_res}
        self.groups = [flags_res] + sorted(groups - {flags_res})
        self.pool = DatasetPool()

    def warp(self, source: _Source, res: str, window: Window) -> _Warped | None:
        """One product's contribution to a block, on the output grid (None when it has nothing there)."""
        g: _GroupPlan = source.groups[res]
        product = source.product
        src_crs, dst_crs = product.crs, self.grid.crs
        sl, sb, sr, st = transform_bounds(dst_crs, src_crs, *self.grid.window_bounds(window), densify_pts=21)
        inv = ~g.transform
        x0, y0 = inv @ (sl, st)
        x1, y1 = inv @ (sr, sb)
        pad = 3
        r0, r1 = max(0, math.floor(min(y0, y1)) - pad), min(g.rows, math.ceil(max(y0, y1)) + pad)
        c0, c1 = max(0, math.floor(min(x0, x1)) - pad), min(g.cols, math.ceil(max(x0, x1)) + pad)
        if r1 <= r0 or c1 <= c0:
            return None
        band_names = [b for b in self.bands if band_resolution(b) == res]
        data = read_working(self.pool, product, res, band_names, g.factor, (r0, r1), (c0, c1))
        flg = data.flg
        if not (flg > 0).any():
            return None
        valid = data.fraction > 0
        if self.params.method == "blend":
            # one ramp per tile (on the flags group's cells), placed on this group's working pixels
            cells, cell_t = source.ramp
            cell = cell_t.a / g.transform.a
            off_c, off_r = (g.transform.c - cell_t.c) / g.transform.a, (g.transform.f - cell_t.f) / g.transform.e
            ramp = upsample_ramp(cells, cell, r0 + off_r, c0 + off_c, r1 - r0, c1 - c0)
            weight = tile_weight(valid, data.wgt, ramp, self.params.min_wgt, self.params.min_ramp) * data.fraction
        else:
            weight = valid.astype(np.float32)
        src_transform = g.transform @ Affine.translation(c0, r0)
        dst_transform = self.grid.window_transform(window)
        shape = (int(window.height), int(window.width))
        common = dict(src_transform=src_transform, src_crs=src_crs, dst_transform=dst_transform, dst_crs=dst_crs,
                      num_threads=1)
        values, weight_out = _warp_weighted(data.reflectance, np.where(valid, weight, np.float32(0)), shape,
                                            g.resampling, common)
        flg_out = np.full(shape, OUTSIDE, np.uint8)
        reproject(np.ascontiguousarray(flg), flg_out, src_nodata=OUTSIDE, dst_nodata=OUTSIDE,
                  resampling=Resampling.nearest, **common)
        cloud = None
        if data.cloud is not None:
            has = np.isfinite(data.cloud).all(axis=0).astype(np.float32)
            cloud, _ = _warp_weighted(data.cloud, has, shape, g.resampling, common)
        return _Warped(values, weight_out, flg_out, cloud)

    def block(self, window: Window):
        """Compute one output block.

        Returns
        -------
        (window, reflectance int16 (bands, rows, cols) x10000 nodata -10000, mask uint8 (rows, cols) 255 valid,
        flags uint8 (2, rows, cols): FLG and NTILES)
        """
        from shapely.geometry import box

        shape = (int(window.height), int(window.width))
        refl = np.full((len(self.bands),) + shape, NODATA, np.int16)
        best = np.zeros(shape, np.uint8)
        ntiles = np.zeros(shape, np.uint8)
        covered = np.zeros(shape, bool)
        cloudy = np.zeros(shape, bool)
        cut = cutline_mask(self.cutline, self.grid, window) if self.cutline is not None else None
        sources = []
        if cut is None or cut.any():
            area = box(*self.grid.window_bounds(window))
            sources = [s for s in self.sources if s.footprint.intersects(area)]
        for res in self.groups if sources else ():
            index = [i for i, b in enumerate(self.bands) if band_resolution(b) == res]
            merge = MERGE_METHODS[self.params.method](len(index), shape)
            cloud_sum = np.zeros((len(index),) + shape, np.float64)
            cloud_n = np.zeros(shape, np.int32)
            for source in sources:
                w = self.warp(source, res, window)
                if w is None:
                    continue
                usable = (w.weight > 0) & (w.flg >= FLG["snow"]) & (w.flg != OUTSIDE) & np.isfinite(w.values).all(0)
                merge.feed(w.values, np.where(usable, w.weight, np.float32(0)))
                if res == self.flags_res:
                    covered |= w.flg != OUTSIDE
                    cloudy |= w.flg == FLG["cloud"]
                    best = np.maximum(best, np.where(usable, w.flg, 0).astype(np.uint8))
                    ntiles += usable.astype(np.uint8)
                if w.cloud is not None:
                    has = np.isfinite(w.cloud).all(axis=0)
                    cloud_sum += np.where(has, w.cloud, 0.0)
                    cloud_n += has
            if not index:
                continue
            merged = merge.result()
            with np.errstate(invalid="ignore", divide="ignore"):
                fallback = (cloud_sum / cloud_n).astype(np.float32)
            merged = np.where(np.isfinite(merged), merged, fallback)
            values = np.rint(np.clip(np.nan_to_num(merged, nan=NODATA), NODATA + 1, 32767))
            refl[index] = np.where(np.isfinite(merged), values, NODATA).astype(np.int16)
        flg = np.where(best >= FLG["snow"], best,
                       np.where(cloudy, FLG["cloud"], np.where(covered, FLG["nodata"], OUTSIDE))).astype(np.uint8)
        if cut is not None:
            refl[:, ~cut] = NODATA
            flg[~cut] = OUTSIDE
            ntiles[~cut] = 0
        mask = np.where((flg >= FLG["snow"]) & (flg != OUTSIDE), 255, 0).astype(np.uint8)
        return window, refl, mask, np.stack([flg, ntiles])


def _prepare(inputs: Sequence[str | os.PathLike], params: MosaicParams):
    """Everything checked before any output is created: products, dates, bands, CRS, cutline, grid."""
    crs = parse_crs(params.crs)
    products = open_inputs(find_inputs(inputs), params.month)
    check_dates(products, params.allow_mixed_dates)
    bands = select_bands(products, params.bands)
    flags_res = "R1" if all(p.has_mask("FLG", "R1") and p.has_mask("WGT", "R1") for p in products) else "R2"
    for p in products:
        for kind in ("FLG", "WGT"):
            if not p.has_mask(kind, flags_res):
                raise MissingFileError(f"{kind} mask at {flags_res} not found", p.mask_path(kind, flags_res))
    if params.method not in MERGE_METHODS:
        raise InvalidParameterError(f"method must be one of {', '.join(MERGE_METHODS)}, not {params.method!r}")
    groups = {band_resolution(b) for b in bands} | {flags_res}
    sources = []
    for p in products:
        frame = p.grids["R1"] if "R1" in p.grids else next(iter(p.grids.values()))
        sources.append(_Source(p, footprint(p.crs, frame.bounds, crs),
                               {res: _plan_group(p, res, crs, params) for res in groups}))
    cutline = load_cutline(params.cutline, crs, params.buffer_m) if params.cutline else None
    grid = target_grid([s.footprint for s in sources], crs, params.resolution, cutline, params.cutline)
    return grid, sources, bands, flags_res, cutline


def build_mosaic(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, params: MosaicParams, *,
                 workers: int = 1, overwrite: bool = False, show_progress: bool = False) -> MosaicResult:
    """Mosaic L3A products of one month into ``out_dir`` (see the module docstring for the outputs).

    Parameters
    ----------
    inputs : sequence of path-like
        L3A product folders, or folders holding them.
    out_dir : path-like
        Output folder (created; other files in it are left alone).
    params : MosaicParams
    workers : int
        Threads computing blocks.
    overwrite : bool
        Replace an existing mosaic in ``out_dir``.
    show_progress : bool
        tqdm bar on stderr.

    Raises
    ------
    SyntheoError subclasses for every bad input (nothing is written then).
    """
    start = time.perf_counter()
    grid, sources, bands, flags_res, cutline = _prepare(inputs, params)
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise OutputExistsError("is a file, not a folder", out)
    if not overwrite and any((out / name).exists() for name in OUTPUT_FILES.values()):
        raise OutputExistsError("holds a mosaic already (use --overwrite to replace it)", out)
    if workers < 1:
        raise InvalidParameterError(f"workers must be >= 1, not {workers}")
    products = [s.product for s in sources]
    central_date = min(p.central_date for p in products)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{out.name}-", dir=out.parent))
    worker = _Mosaicker(grid, sources, bands, flags_res, params, cutline)
    blocks = grid.blocks(params.block_size)
    tags = {"CENTRAL_DATE": central_date.isoformat(), "INPUTS": ",".join(p.name for p in products),
            "METHOD": params.method, "FEATHER_M": params.feather_m, "SOFTWARE": f"syntheo {__version__}",
            "FLAGS": OUTPUT_FILES["flags"]}
    writers = []
    try:
        mosaic_w = CogWriter(tmp / OUTPUT_FILES["mosaic"], crs=grid.crs, transform=grid.transform,
                             height=grid.height, width=grid.width, dtype="int16", count=len(bands), nodata=NODATA,
                             descriptions=list(bands), scale=1e-4, resampling="average", tags=tags, threads=workers)
        writers.append(mosaic_w)
        flags_w = CogWriter(tmp / OUTPUT_FILES["flags"], crs=grid.crs, transform=grid.transform, height=grid.height,
                            width=grid.width, dtype="uint8", count=2, nodata=OUTSIDE, descriptions=["FLG", "NTILES"],
                            resampling="nearest", tags={**tags, "FLG_VALUES": "0 nodata, 1 always cloudy, 2 snow, "
                                                        "3 water, 4 land, 255 outside the mosaic"}, threads=workers)
        writers.append(flags_w)
        with warnings.catch_warnings():
            # rasterio silences this warning around the in-memory datasets of reproject() with catch_warnings,
            # which is not thread-safe: with several workers it leaks out. Our arrays are always georeferenced.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            if params.method == "blend":
                _compute_ramps(worker, workers, show_progress)
            _run_blocks(worker, blocks, workers, show_progress,
                        lambda res: (mosaic_w.write(res[1], res[0]), mosaic_w.write_mask(res[2], res[0]),
                                     flags_w.write(res[3], res[0])))
        for w in writers:
            w.close()
        files = {"mosaic": out / OUTPUT_FILES["mosaic"], "flags": out / OUTPUT_FILES["flags"]}
        if all(b in bands for b in ("B4", "B3", "B2")):
            _write_vrt(tmp / OUTPUT_FILES["vrt"], grid, bands)
            files["vrt"] = out / OUTPUT_FILES["vrt"]
        files["stac"] = out / OUTPUT_FILES["stac"]
        footprints = [s.footprint for s in sources]
        _write_stac(tmp / OUTPUT_FILES["stac"], grid, bands, products, central_date, footprints, cutline, params,
                    sorted(files))
        out.mkdir(parents=True, exist_ok=True)
        for name in OUTPUT_FILES.values():
            if (tmp / name).exists():
                os.replace(tmp / name, out / name)
            elif (out / name).exists():
                (out / name).unlink()  # an older mosaic's VRT that no longer applies
    except BaseException:
        for w in writers:
            w.abort()
        raise
    finally:
        worker.pool.close()
        shutil.rmtree(tmp, ignore_errors=True)
    result = MosaicResult(out, files, grid, bands, [p.name for p in products], central_date,
                          time.perf_counter() - start, len(blocks))
    logger.info("mosaic of %d tiles, %d x %d pixels, written to %s in %.1f s", len(products), grid.height,
                grid.width, out, result.seconds)
    return result


def _compute_ramps(worker: _Mosaicker, workers: int, show_progress: bool) -> None:
    """Feathering ramp of every product (one pass over its FLG of the flags group, then the distances), in the
    thread pool; ~1 MB per product (float16 cells of 1/64 of the ramp)."""
    from tqdm import tqdm

    res = worker.flags_res
    usable = {}
    with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ramp") as pool, \
            tqdm(total=2 * len(worker.sources), desc="feathering ramps", unit="tile", disable=not show_progress,
                 leave=False) as bar:
        futures = {pool.submit(coarse_usable, worker.pool, s.product, res,
                               s.groups[res].cell * s.groups[res].factor): s for s in worker.sources}
        for fut in cf.as_completed(futures):
            usable[futures[fut].product.path] = fut.result()
            bar.update()
        futures = {pool.submit(_ramp, s, res, usable, worker.sources, worker.params.feather_m): s
                   for s in worker.sources}
        for fut in cf.as_completed(futures):
            s = futures[fut]
            s.ramp[:] = [fut.result(), _cell_transform(s.groups[res])]
            bar.update()


def _run_blocks(worker: _Mosaicker, blocks: list[Window], workers: int, show_progress: bool, write) -> None:
    """Compute blocks in a thread pool (at most 2 x workers in flight) and write each as it completes."""
    from tqdm import tqdm

    with tqdm(total=len(blocks), desc="mosaic blocks", unit="block", disable=not show_progress, leave=False) as bar:
        if workers == 1:
            for window in blocks:
                write(worker.block(window))
                bar.update()
            return
        with cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mosaic") as pool:
            pending = set()
            todo = iter(blocks)
            for window in todo:
                pending.add(pool.submit(worker.block, window))
                if len(pending) >= 2 * workers:
                    done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        write(fut.result())
                        bar.update()
            for fut in cf.as_completed(pending):
                write(fut.result())
                bar.update()


def _write_vrt(path: Path, grid: MosaicGrid, bands: tuple[str, ...]) -> None:
    """True-colour VRT (B4, B3, B2) over mosaic.tif, with its mask, for GIS viewers."""
    root = ET.Element("VRTDataset", rasterXSize=str(grid.width), rasterYSize=str(grid.height))
    ET.SubElement(root, "SRS", dataAxisToSRSAxisMapping="1,2").text = grid.crs.to_wkt()
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(v) for v in grid.transform.to_gdal())

    def source(parent, src_band: str, dtype: str):
        s = ET.SubElement(parent, "SimpleSource")
        ET.SubElement(s, "SourceFilename", relativeToVRT="1").text = OUTPUT_FILES["mosaic"]
        ET.SubElement(s, "SourceBand").text = src_band
        ET.SubElement(s, "SourceProperties", RasterXSize=str(grid.width), RasterYSize=str(grid.height),
                      DataType=dtype, BlockXSize="512", BlockYSize="512")

    for i, (band, colour) in enumerate(zip(("B4", "B3", "B2"), ("Red", "Green", "Blue")), start=1):
        b = ET.SubElement(root, "VRTRasterBand", dataType="Int16", band=str(i))
        ET.SubElement(b, "Description").text = band
        ET.SubElement(b, "NoDataValue").text = str(NODATA)
        ET.SubElement(b, "ColorInterp").text = colour
        ET.SubElement(b, "Scale").text = "0.0001"
        source(b, str(bands.index(band) + 1), "Int16")
    mask = ET.SubElement(ET.SubElement(root, "MaskBand"), "VRTRasterBand", dataType="Byte")
    source(mask, "mask,1", "Byte")
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="UTF-8")


def _write_stac(path: Path, grid: MosaicGrid, bands, products, central_date: dt.date, footprints, cutline,
                params: MosaicParams, assets: list[str]) -> None:
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from rasterio.warp import transform_geom
    from shapely.geometry import box, mapping, shape
    from shapely.ops import unary_union

    area = unary_union(list(footprints)).intersection(box(*grid.bounds))
    if cutline is not None:
        area = area.intersection(cutline)
    geom = shape(transform_geom(grid.crs, "EPSG:4326", mapping(area.simplify(grid.resolution)), precision=6))
    item = pystac.Item(
        id=f"mosaic_{central_date:%Y%m%d}", geometry=mapping(geom), bbox=list(geom.bounds),
        datetime=dt.datetime.combine(central_date, dt.time(), dt.timezone.utc),
        properties={"processing:level": "L3A mosaic", "syntheo:version": __version__,
                    "syntheo:method": params.method, "syntheo:feather_m": params.feather_m,
                    "syntheo:inputs": [p.name for p in products], "syntheo:tiles": [p.tile for p in products]})
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.epsg = grid.crs.to_epsg()
    if proj.epsg is None:
        proj.wkt2 = grid.crs.to_wkt()
    proj.shape = list(grid.shape)
    proj.transform = list(grid.transform)[:6]
    item.add_asset("mosaic", pystac.Asset(f"./{OUTPUT_FILES['mosaic']}", media_type=pystac.MediaType.COG,
                                          roles=["data", "reflectance"], title="Reflectance x10000",
                                          extra_fields={"syntheo:bands": list(bands), "nodata": NODATA}))
    item.add_asset("flags", pystac.Asset(f"./{OUTPUT_FILES['flags']}", media_type=pystac.MediaType.COG,
                                         roles=["metadata"], title="FLG and NTILES"))
    if "vrt" in assets:
        item.add_asset("true_colour", pystac.Asset(f"./{OUTPUT_FILES['vrt']}", media_type="application/xml",
                                                   roles=["visual"], title="B4, B3, B2 VRT"))
    path.write_text(json.dumps(item.to_dict(include_self_link=False), indent=1))
