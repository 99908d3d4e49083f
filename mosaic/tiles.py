"""Driver of ``mosaic tiles``: an XYZ WebMercatorQuad pyramid of a mosaic, plus its flags overlay pyramid.

Layout of ``DIR``::

    {z}/{x}/{y}.png          true colour (B4, B3, B2 by default), 256 px RGBA, transparent outside the data
    flags/{z}/{x}/{y}.png    flags overlay: always cloudy, nodata
    metadata.json            bounds, zooms, band mapping, stretch, flagged style, source mosaic, tile counts

Every tile that intersects the mosaic's bounds is written at every zoom (tiles without data are transparent), so a
viewer limited to these bounds and zooms never asks for a missing tile. The deepest zoom is rendered from the mosaic
in blocks of ``meta_tiles`` x ``meta_tiles`` tiles (one read and one reprojection per block: bilinear, after an
average read from the COG's overviews when the tile pixel is at least twice the mosaic pixel); every other zoom is
built from the level below by :func:`mosaic.render.downsample_rgba` (in memory inside a block, then from the tile
files). The writing is :class:`mosaic.pyramid.PyramidWriter`'s (the same as the change layer's): tiles are written
atomically and existing ones are skipped, so an interrupted run resumed gives the same files; ``metadata.json``
records the parameters, and a resume with other parameters is refused. With a scheduler the jobs run as
dask.distributed tasks on its workers (:mod:`mosaic.cluster`), which must share the output folder; the tiles are the
same, byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import transform

from l2a._version import __version__
from l2a.constants import REFLECTANCE_NODATA
from l2a.grid import Grid
from l2a.io.raster import open_raster

from .documents import read_json, write_json
from .errors import MosaicFormatError, OutputExistsError, ZoomRangeError
from .flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_OUTSIDE, FLG_SNOW
from .kernels import bilinear, interpolate_grid, nearest
from .outputs import check_output_dir, output_errors
from .params import PyramidParams
from .pyramid import (METADATA, TILE_SIZE, TMS_NAME, TileStore, WriterRecipe, block_transform, lonlat_bounds,
                      native_zoom, plan_block_read, tile_counts, tile_ranges)
from .render import FLAG_COLOURS, STRETCH_FORMULA, render_flags, render_rgba
from .sources import DatasetPool, gdal_cache

__all__ = ["build_pyramid", "PyramidResult", "tile_ranges", "source_coords", "TILE_SIZE", "FLAGS_DIR", "METADATA",
           "MAX_OVERZOOM"]

logger = logging.getLogger(__name__)

#: Sub-folder of the flags overlay pyramid.
FLAGS_DIR = "flags"
#: Deepest zoom accepted beyond the mosaic's native zoom (x16 magnification).
MAX_OVERZOOM = 4
#: Output pixels between exactly transformed control points of :func:`source_coords`.
CONTROL_STEP = 16
#: Layers of the pyramid and their sub-folders.
_LAYERS = {"rgb": "", "flags": FLAGS_DIR}


@dataclass
class PyramidResult:
    """What ``mosaic tiles`` did.

    Attributes
    ----------
    out_dir : Path
    counts : dict zoom -> int
        Tiles per zoom (in each of the two pyramids).
    written, skipped : int
        Tile files written, and found already present (resume).
    seconds : float
    """

    out_dir: Path
    counts: dict
    written: int = 0
    skipped: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def summary(self) -> dict:
        return {"out": str(self.out_dir), "tiles": {str(z): n for z, n in self.counts.items()},
                "total": sum(self.counts.values()), "written": self.written, "skipped": self.skipped,
                "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class _MosaicInfo:
    path: Path
    grid: Grid                # the mosaic's grid, with its CRS
    band_index: tuple[int, int, int]
    nodata: float
    flags_path: Path | None
    bounds: tuple[float, float, float, float]  # lon/lat
    native_zoom: int


def _inspect(path: Path, params: PyramidParams) -> _MosaicInfo:
    with open_raster(path, "mosaic") as ds:
        if ds.crs is None:
            raise MosaicFormatError("mosaic has no CRS", path)
        grid = Grid(ds.transform, ds.height, ds.width, ds.crs)
        names = list(ds.descriptions)
        index = []
        for b in params.bands:
            if b not in names:
                raise MosaicFormatError(f"mosaic has no band {b} (bands: {', '.join(str(n) for n in names)})", path)
            index.append(names.index(b) + 1)
        flags_name = ds.tags().get("FLAGS")
        flags = path.parent / flags_name if flags_name else None
        if flags is not None and not flags.exists():
            logger.warning("%s: flags raster %s not found; flags derived from the mosaic's mask", path, flags)
            flags = None
        if flags is not None:
            with open_raster(flags, "flags raster") as fds:
                if (fds.height, fds.width) != (ds.height, ds.width) or not fds.transform.almost_equals(ds.transform):
                    raise MosaicFormatError("flags raster is not on the mosaic's grid", flags)
        bounds = lonlat_bounds(grid)
        if bounds is None:
            raise MosaicFormatError("mosaic bounds are empty in WebMercatorQuad", path)
        nodata = ds.nodata if ds.nodata is not None else REFLECTANCE_NODATA
        return _MosaicInfo(path, grid, tuple(index), nodata, flags, bounds, native_zoom(grid))


def source_coords(dst_transform: Affine, shape: tuple[int, int], dst_crs, src_crs,
                  src_transform: Affine) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates (GDAL convention, see :mod:`mosaic.kernels`) of every output pixel centre.

    Points every :data:`CONTROL_STEP` output pixels are transformed exactly, the others interpolated bilinearly (as
    GDAL's approximate transformer; the projections are smooth over a tile block, errors stay far below a pixel).

    Returns
    -------
    col, row : float64 (rows, cols)
    """
    rows, cols = shape
    if rows < 2 or cols < 2:
        raise ValueError(f"output block {shape} is too small")
    at_r = np.unique(np.r_[np.arange(0, rows, CONTROL_STEP), rows - 1]).astype(np.float64)
    at_c = np.unique(np.r_[np.arange(0, cols, CONTROL_STEP), cols - 1]).astype(np.float64)
    gc, gr = np.meshgrid(at_c + 0.5, at_r + 0.5)
    xs, ys = dst_transform @ (gc.ravel(), gr.ravel())
    tx, ty = transform(dst_crs, src_crs, xs, ys)
    sc, sr = ~src_transform @ (np.asarray(tx), np.asarray(ty))
    out = []
    for control in (np.asarray(sc, np.float64).reshape(gc.shape), np.asarray(sr, np.float64).reshape(gc.shape)):
        values = np.empty(shape, np.float64)
        interpolate_grid(np.ascontiguousarray(control), at_r, at_c, values)
        out.append(values)
    return out[0], out[1]


class _TrueColour:
    """Renderer of the pyramid (see :mod:`mosaic.pyramid`): reads the mosaic for a WebMercator block and draws the
    true colour (``rgb``) and the flags overlay (``flags``). Thread-safe (one open dataset per thread)."""

    layers = tuple(_LAYERS)

    def __init__(self, info: _MosaicInfo, params: PyramidParams):
        self.info, self.params = info, params
        self.pool = DatasetPool()

    def close(self) -> None:
        self.pool.close()

    def _read(self, window, out_shape: tuple[int, int]):
        """Reflectance float32 (3, rows, cols) x10000 (NaN where not valid) and FLG uint8 (rows, cols)."""
        info = self.info
        refl = self.pool.read(info.path, list(info.band_index), window=window, out_shape=(3,) + out_shape,
                              resampling=Resampling.average).astype(np.float32)
        if info.flags_path is not None:
            flg = self.pool.read(info.flags_path, 1, window=window, out_shape=out_shape,
                                 resampling=Resampling.nearest)
        else:
            mask = self.pool.read(info.path, info.band_index[0], window=window, out_shape=out_shape, masks=True)
            flg = np.where(mask > 0, FLG_LAND,
                           np.where(refl[0] != info.nodata, FLG_CLOUD, FLG_NODATA)).astype(np.uint8)
        refl[:, (flg < FLG_SNOW) | (flg == FLG_OUTSIDE) | (refl == info.nodata).any(axis=0)] = np.nan
        return refl, flg

    def render(self, bounds: tuple[float, float, float, float], shape: tuple[int, int],
               origin: tuple[int, int]) -> dict[str, np.ndarray]:
        """RGBA true colour and flags overlay, uint8 (4, rows, cols) each, of a WebMercator rectangle."""
        rows, cols = shape
        plan = plan_block_read(self.info.grid, bounds, shape)
        if plan is None:
            empty = np.zeros((4, rows, cols), np.uint8)
            return {"rgb": empty, "flags": empty.copy()}
        refl, flg = self._read(plan.window, plan.out_shape)
        col, row = source_coords(block_transform(bounds, shape), shape, "EPSG:3857", self.info.grid.crs,
                                 plan.grid.transform)
        dst = bilinear(refl, col, row)
        dst_flg = nearest(flg, col, row, FLG_OUTSIDE)
        rgba = render_rgba(dst, dst_flg, self.params.stretch, self.params.flagged, origin)
        return {"rgb": rgba, "flags": render_flags(dst_flg)}


def _job_zoom(params: PyramidParams) -> int:
    """The zoom whose tiles are the jobs: each renders ``meta_tiles`` x ``meta_tiles`` tiles of the deepest zoom."""
    return max(params.min_zoom, params.max_zoom - int(math.log2(params.meta_tiles)))


def _metadata(info: _MosaicInfo, params: PyramidParams, store: TileStore, counts: dict, complete: bool) -> dict:
    west, south, east, north = info.bounds
    return {
        "format": params.extension, "tile_size": TILE_SIZE, "tile_matrix_set": TMS_NAME, "scheme": "xyz",
        "tiles": store.template("rgb"), "flags_tiles": store.template("flags"),
        "minzoom": params.min_zoom, "maxzoom": params.max_zoom, "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, params.min_zoom],
        "bands": {"red": params.bands[0], "green": params.bands[1], "blue": params.bands[2]},
        "stretch": {"low": params.stretch.low, "high": params.stretch.high, "gamma": params.stretch.gamma,
                    "unit": "reflectance (stored value x 1e-4)", "formula": STRETCH_FORMULA},
        "flagged": params.flagged, "overview_method": "2x2 mean of premultiplied RGBA of the level below",
        "flags_colours": {"always_cloudy": list(FLAG_COLOURS[FLG_CLOUD]), "nodata": list(FLAG_COLOURS[FLG_NODATA])},
        "source": str(info.path), "flags_source": str(info.flags_path) if info.flags_path else None,
        "native_zoom": info.native_zoom, "tile_counts": {str(z): n for z, n in counts.items()},
        "png_zlevel": params.png_zlevel if params.format == "png" else None, "meta_tiles": params.meta_tiles,
        "software": f"syntheo {__version__}", "complete": complete,
    }


_RESUME_KEYS = ("format", "minzoom", "maxzoom", "bands", "stretch", "flagged", "source", "png_zlevel", "meta_tiles")


def _check_resume(meta_path: Path, meta: dict, out: Path) -> None:
    """Refuse to resume a pyramid made with other parameters (an unreadable metadata.json counts as other)."""
    try:
        old = read_json(meta_path, "pyramid metadata")
    except MosaicFormatError:
        old = {}
    old = old if isinstance(old, dict) else {}
    diff = [k for k in _RESUME_KEYS if old.get(k) != json.loads(json.dumps(meta[k]))]
    if diff:
        raise OutputExistsError(f"holds a pyramid made with other parameters ({', '.join(diff)}); use another folder",
                                out)
    logger.info("%s: resuming (existing tiles are kept)", out)


def _client(scheduler: str | None):
    """Context of a client of the scheduler (:func:`mosaic.cluster.scheduler_client`), or of None without one."""
    if scheduler is None:
        return contextlib.nullcontext()
    from .cluster import scheduler_client  # dask.distributed only when asked for

    return scheduler_client(scheduler)


def _mosaic_file(path: Path) -> Path:
    """A ``mosaic build`` folder's raster: ``mosaic.tif`` (single layout) or ``mosaic.vrt`` (tiled layout, or the
    true-colour view of a single one); other paths are returned as they are."""
    if path.is_dir():
        for name in ("mosaic.tif", "mosaic.vrt"):
            if (path / name).is_file():
                return path / name
    return path


def build_pyramid(mosaic: str | os.PathLike, out_dir: str | os.PathLike, params: PyramidParams, *,
                  workers: int = 1, show_progress: bool = False, scheduler: str | None = None) -> PyramidResult:
    """Write the tile pyramids of a mosaic into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    mosaic : path
        The mosaic raster (``mosaic build``'s ``mosaic.tif`` or a tiled mosaic's ``mosaic.vrt``, or the folder holding
        them, or any raster with the bands and a CRS).
    out_dir : path
        Pyramid folder (created; a folder holding a pyramid of the same parameters is resumed).
    params : PyramidParams
    workers : int
        Threads rendering tiles (without ``scheduler``).
    show_progress : bool
        One tqdm bar over the jobs.
    scheduler : str, optional
        Address of a running dask scheduler (``tcp://host:8786``): the jobs run as tasks on its workers instead of
        the local threads, one meta-block, or up to 256 overview tiles of one zoom, a task
        (:mod:`mosaic.cluster`). The workers must offer the ``tile-month`` resource and **share the file system**
        of the mosaic and ``out_dir`` under the same absolute paths: the tiles of a zoom are built from those of the
        zoom below, which other workers wrote.

    Raises
    ------
    ZoomRangeError
        A deepest zoom more than :data:`MAX_OVERZOOM` levels beyond the mosaic's native zoom
        (:func:`mosaic.pyramid.native_zoom`).
    MosaicFormatError, MissingFileError, CorruptRasterError
        A mosaic that cannot be read or lacks the bands.
    OutputExistsError, OutputPathError
        ``out_dir`` holds a pyramid made with other parameters, or is a path the file system refuses.
    SchedulerError
        ``scheduler`` does not answer, or its workers lack the ``tile-month`` resource (nothing is written then).
    """
    start = time.perf_counter()
    info = _inspect(_mosaic_file(Path(mosaic).absolute()), params)
    if params.max_zoom > info.native_zoom + MAX_OVERZOOM:
        raise ZoomRangeError(f"zoom {params.max_zoom} is absurd for this mosaic (native zoom {info.native_zoom}); "
                             f"use at most {info.native_zoom + MAX_OVERZOOM}")
    out = check_output_dir(out_dir)
    ranges = tile_ranges(info.bounds, range(params.min_zoom, params.max_zoom + 1))
    recipe = WriterRecipe(_TrueColour, (info, params), out, _LAYERS, ranges, params.format, params.png_zlevel)
    store = recipe.store()
    meta_path = out / METADATA
    meta = _metadata(info, params, store, tile_counts(ranges), complete=False)
    if meta_path.exists():
        _check_resume(meta_path, meta, out)
    base, job_zoom = params.max_zoom, _job_zoom(params)
    n = 1 << (base - job_zoom)
    x0, x1, y0, y1 = ranges[job_zoom]
    stages = [[("write_block", (base, jx * n, jy * n, n, base - job_zoom))
               for jy in range(y0, y1 + 1) for jx in range(x0, x1 + 1)]]
    for z in range(job_zoom - 1, params.min_zoom - 1, -1):
        x0, x1, y0, y1 = ranges[z]
        stages.append([("write_overview", (z, x, y)) for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)])
    # the scheduler is reached before anything is written: one that does not answer leaves no folder
    with _client(scheduler) as client, output_errors(out), gdal_cache():
        write_json(meta_path, meta)
        if client is None:
            recipe.writer(store).run(stages, workers, desc="tiles", show_progress=show_progress)
        else:
            from .cluster import run_stages

            run_stages(client, recipe, stages, store, desc="tiles", show_progress=show_progress)
        write_json(meta_path, {**meta, "complete": True})
    result = PyramidResult(out, tile_counts(ranges), store.written, store.skipped, time.perf_counter() - start)
    logger.info("pyramid of %d tiles per layer (zooms %d-%d) in %s: %d written, %d present, %.1f s",
                sum(result.counts.values()), params.min_zoom, params.max_zoom, out, result.written, result.skipped,
                result.seconds)
    return result
