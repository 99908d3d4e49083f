"""One output block of ``mosaic build`` from the L3A tiles that cover it.

Each tile is planned once per resolution group (:func:`plan_group`): its *working grid* (the group's grid scaled by
:func:`mosaic.grid.read_factor` of the output pixel over the source pixel, measured at the tile's centre), the
resampling, and the cells of its feathering ramp. :func:`compute_ramps` then gives every tile its ramp (on cells of
1/64 of the feathering length, rising from the edges of its valid data where another tile has data; once per tile,
so that blocks never show). For a block, :class:`Mosaicker` reads each covering tile on its working grid
(:mod:`mosaic.sources`: FLG 0/1 masked before any resampling), weighs it (:mod:`mosaic.blend`:
``max(WGT, 1) / 1000 x ramp``), reprojects it onto the block with :func:`rasterio.warp.reproject` as a normalised
convolution (``warp(w * v) / warp(w)``, reflectance resampling; FLG with nearest neighbour), and merges the tiles
(:data:`mosaic.blend.MERGE_METHODS`; ``blend``: ``sum w_i v_i / sum w_i``) into int16 reflectance, the validity mask
and the FLG and NTILES bands. Thread-safe: the driver (:mod:`mosaic.build`) runs blocks in a thread pool.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform, transform_bounds
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA as NODATA
from l2a.grid import Grid
from l2a.io.threads import env_thread_pool
from l2a.sensors import band_resolution
from l3a.product import L3AProduct

from .blend import MERGE_METHODS, distance_ramp, tile_weight, upsample_ramp
from .flags import FLG_CLOUD, FLG_NODATA, FLG_OUTSIDE, FLG_SNOW
from .grid import cutline_mask, read_factor
from .params import MosaicParams
from .sources import DatasetPool, coarse_usable, read_working

__all__ = ["GroupPlan", "TileSource", "plan_group", "compute_ramps", "Mosaicker"]

#: Ramp cells per feathering length: the ramp is computed on cells of feather/64 and interpolated.
_RAMP_CELLS = 64


@dataclass(frozen=True)
class GroupPlan:
    """How one resolution group of one product is read: working grid and feathering geometry."""

    res: str
    factor: int               # source pixels per working pixel, per side
    grid: Grid                # working grid: the group's grid scaled by factor (partial cells at the far edges)
    pixel_m: float            # working pixel size, source CRS units (m)
    cell: int                 # ramp cell, working pixels
    resampling: Resampling


@dataclass(frozen=True)
class TileSource:
    """One input tile of the mosaic: its product, its frame in the target CRS, its plans and its ramp."""

    product: L3AProduct
    footprint: object         # shapely polygon in the target CRS
    groups: dict              # res -> GroupPlan
    ramp: list = field(default_factory=list)  # [float16 ramp on cells (one cell of border all around), transform]


@dataclass
class _Warped:
    values: np.ndarray        # float32 (bands, rows, cols), NaN where nothing
    weight: np.ndarray        # float32 (rows, cols), NaN/0 where nothing
    flg: np.ndarray           # uint8 (rows, cols), FLG_OUTSIDE beyond the tile
    cloud: np.ndarray | None  # float32 (bands, rows, cols) of FLG 1 pixels


def _pixel_ratio(src_crs, src_center, dst_crs, resolution: float, src_res: float) -> float:
    """Output pixel size over source pixel size, measured at the source tile's centre."""
    (dx,), (dy,) = transform(src_crs, dst_crs, [src_center[0]], [src_center[1]])
    xs, ys = transform(dst_crs, src_crs, [dx, dx + resolution, dx], [dy, dy, dy + resolution])
    area = abs((xs[1] - xs[0]) * (ys[2] - ys[0]) - (xs[2] - xs[0]) * (ys[1] - ys[0]))
    return math.sqrt(area) / src_res


def plan_group(product: L3AProduct, res: str, dst_crs, params: MosaicParams) -> GroupPlan:
    grid = product.grids[res]
    left, bottom, right, top = grid.bounds
    ratio = _pixel_ratio(product.crs, ((left + right) / 2, (bottom + top) / 2), dst_crs, params.resolution,
                         grid.resolution)
    factor = read_factor(ratio)
    name = params.resampling
    if name == "auto":
        name = "bilinear" if ratio < 1.5 else "average"
    pixel_m = grid.resolution * factor
    cell = max(1, int(params.feather_m / pixel_m // _RAMP_CELLS))
    return GroupPlan(res, factor, grid.scaled(factor), pixel_m, cell, Resampling[name])


def _cell_transform(g: GroupPlan) -> Affine:
    """Transform of a group's ramp cells, whose array starts one cell before the tile's first pixel."""
    return g.grid.transform @ Affine.scale(g.cell) @ Affine.translation(-1, -1)


def _ramp(source: TileSource, res: str, usable: dict, sources: list[TileSource], feather_m: float) -> np.ndarray:
    """The feathering ramp of one product on cells of its ``res`` group (whole tile, so blocks never show).

    Distances run to the *edges* of the tile's valid data: cells it cannot use (outside its frame, FLG 0/1) where
    another tile has valid data. Where no tile has data (beyond the country, a cloud every tile shares) there is
    nothing to blend with and the ramp does not fall. Returns float16 (cells), 0 on unusable cells.
    """
    g: GroupPlan = source.groups[res]
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


class Mosaicker:
    """Computes output blocks; shared read-only by the worker threads (datasets are per thread)."""

    def __init__(self, grid: Grid, sources: list[TileSource], bands: tuple[str, ...], flags_res: str,
                 params: MosaicParams, cutline):
        self.grid, self.sources, self.bands, self.params, self.cutline = grid, sources, bands, params, cutline
        self.flags_res = flags_res
        groups = {band_resolution(b) for b in bands} | {flags_res}
        self.groups = [flags_res] + sorted(groups - {flags_res})
        self.pool = DatasetPool()

    def warp(self, source: TileSource, res: str, window: Window) -> _Warped | None:
        """One product's contribution to a block, on the output grid (None when it has nothing there)."""
        g: GroupPlan = source.groups[res]
        product = source.product
        src_crs, dst_crs = product.crs, self.grid.crs
        area = g.grid.window_covering(transform_bounds(dst_crs, src_crs, *self.grid.window_bounds(window),
                                                       densify_pts=21), pad=3)
        if area is None:
            return None
        r0, c0 = area.row_off, area.col_off
        r1, c1 = r0 + area.height, c0 + area.width
        band_names = [b for b in self.bands if band_resolution(b) == res]
        data = read_working(self.pool, product, res, band_names, g.factor, (r0, r1), (c0, c1))
        flg = data.flg
        if not (flg > 0).any():
            return None
        valid = data.fraction > 0
        if self.params.method == "blend":
            # one ramp per tile (on the flags group's cells), placed on this group's working pixels
            cells, cell_t = source.ramp
            t = g.grid.transform
            cell = cell_t.a / t.a
            off_c, off_r = (t.c - cell_t.c) / t.a, (t.f - cell_t.f) / t.e
            ramp = upsample_ramp(cells, cell, r0 + off_r, c0 + off_c, r1 - r0, c1 - c0)
            weight = tile_weight(valid, data.wgt, ramp, self.params.min_wgt, self.params.min_ramp) * data.fraction
        else:
            weight = valid.astype(np.float32)
        src_transform = g.grid.window_transform(area)
        dst_transform = self.grid.window_transform(window)
        shape = (int(window.height), int(window.width))
        common = dict(src_transform=src_transform, src_crs=src_crs, dst_transform=dst_transform, dst_crs=dst_crs,
                      num_threads=1)
        values, weight_out = _warp_weighted(data.reflectance, np.where(valid, weight, np.float32(0)), shape,
                                            g.resampling, common)
        flg_out = np.full(shape, FLG_OUTSIDE, np.uint8)
        reproject(np.ascontiguousarray(flg), flg_out, src_nodata=FLG_OUTSIDE, dst_nodata=FLG_OUTSIDE,
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
                usable = ((w.weight > 0) & (w.flg >= FLG_SNOW) & (w.flg != FLG_OUTSIDE)
                          & np.isfinite(w.values).all(0))
                merge.feed(w.values, np.where(usable, w.weight, np.float32(0)))
                if res == self.flags_res:
                    covered |= w.flg != FLG_OUTSIDE
                    cloudy |= w.flg == FLG_CLOUD
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
        flg = np.where(best >= FLG_SNOW, best,
                       np.where(cloudy, FLG_CLOUD, np.where(covered, FLG_NODATA, FLG_OUTSIDE))).astype(np.uint8)
        if cut is not None:
            refl[:, ~cut] = NODATA
            flg[~cut] = FLG_OUTSIDE
            ntiles[~cut] = 0
        mask = np.where((flg >= FLG_SNOW) & (flg != FLG_OUTSIDE), 255, 0).astype(np.uint8)
        return window, refl, mask, np.stack([flg, ntiles])


def compute_ramps(worker: Mosaicker, workers: int, show_progress: bool) -> None:
    """Feathering ramp of every product (one pass over its FLG of the flags group, then the distances), in the
    thread pool; ~1 MB per product (float16 cells of 1/64 of the ramp)."""
    from tqdm import tqdm

    res = worker.flags_res
    usable = {}
    with env_thread_pool(workers, thread_name_prefix="ramp") as pool, \
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
