"""The change layer of ``mosaic compare``: NDVI(right) - NDVI(left) as a diverging colour tile pyramid.

NDVI is ``(B8 - B4) / (B8 + B4)`` on reflectance (the stored x10000 scale cancels), computed on each source mosaic's
pixels that are valid in both bands (not nodata, not masked: ``mosaic build`` masks always-cloudy pixels) and whose
sum is positive. At every zoom each block of up to :data:`BLOCK_TILES` x :data:`BLOCK_TILES` tiles is read from the
two mosaics (an average read from the COGs' overviews when a tile pixel spans two or more mosaic pixels), turned into
NDVI, reprojected to WebMercatorQuad (GDAL, bilinear, NaN as nodata) and subtracted; the difference is coloured with
:data:`PALETTE` (ColorBrewer BrBG: brown where NDVI fell, teal-green where it rose, white for no change), clipped at
``+-limit``. Pixels valid in only one month are transparent. Every zoom is rendered from the mosaics (an NDVI
difference is not the mean of the differences' colours), by one more renderer of :mod:`mosaic.pyramid` fed to the
same tile store and pyramid writer as ``mosaic tiles``: in local threads, or as dask.distributed tasks, one block a
task (:mod:`mosaic.cluster`).

Layout of the output folder (the same as ``mosaic tiles``)::

    {z}/{x}/{y}.png     RGBA, 256 px; every tile meeting the bounds (the intersection of the two months) at every zoom
    metadata.json       bounds, zooms, formula, limit, palette, sources
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rasterio.enums import Resampling
from rasterio.warp import reproject

from l2a._version import __version__
from l2a.constants import REFLECTANCE_NODATA
from l2a.grid import Grid
from l2a.io.raster import open_raster

from .documents import write_json
from .params import DEFAULT_LIMIT
from .pyramid import (METADATA, TILE_SIZE, TMS_NAME, WriterRecipe, block_transform, plan_block_read, tile_counts,
                      tile_ranges)
from .sources import DatasetPool, gdal_cache

__all__ = ["NDVI_BANDS", "PALETTE", "DEFAULT_LIMIT", "ndvi", "colourize", "missing_ndvi_bands",
           "build_change_pyramid", "legend"]

logger = logging.getLogger(__name__)

#: Bands of the NDVI (red, near infrared), by the mosaic's band descriptions.
NDVI_BANDS = ("B4", "B8")
#: Diverging palette, ColorBrewer BrBG (11 classes), as (position in [-1, 1] of the +-limit range, RGB).
PALETTE = (
    (-1.0, (84, 48, 5)), (-0.8, (140, 81, 10)), (-0.6, (191, 129, 45)), (-0.4, (223, 194, 125)),
    (-0.2, (246, 232, 195)), (0.0, (245, 245, 245)), (0.2, (199, 234, 229)), (0.4, (128, 205, 193)),
    (0.6, (53, 151, 143)), (0.8, (1, 102, 94)), (1.0, (0, 60, 48)),
)
#: Blocks rendered in one read and one reprojection: BLOCK_TILES x BLOCK_TILES tiles (2048 px, ~100 MB a worker).
BLOCK_TILES = 8


def ndvi(red: np.ndarray, nir: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """NDVI of reflectances.

    Parameters
    ----------
    red, nir : float32 or int16 (rows, cols)
        B4 and B8 reflectance (any common scale, e.g. x10000).
    valid : bool (rows, cols)
        Pixels with a reflectance in both bands.

    Returns
    -------
    float32 (rows, cols)
        ``(nir - red) / (nir + red)`` in [-1, 1]; NaN where not valid or ``nir + red <= 0``.
    """
    red = red.astype(np.float32)
    nir = nir.astype(np.float32)
    total = nir + red
    ok = valid & (total > 0)
    out = np.full(red.shape, np.nan, np.float32)
    np.divide(nir - red, total, out=out, where=ok)
    return np.clip(out, -1.0, 1.0)


def colourize(difference: np.ndarray, limit: float = DEFAULT_LIMIT) -> np.ndarray:
    """RGBA of an NDVI difference with :data:`PALETTE`.

    Parameters
    ----------
    difference : float32 (rows, cols)
        NDVI difference (dimensionless, -2 to 2), NaN where unknown.
    limit : float
        Difference shown with the palette's ends (> 0); beyond it the colour saturates.

    Returns
    -------
    uint8 (4, rows, cols)
        Opaque where the difference is known, transparent (all zero) elsewhere.
    """
    if not limit > 0:
        raise ValueError(f"limit must be positive, not {limit}")
    known = np.isfinite(difference)
    x = np.clip(np.where(known, difference, 0.0) / limit, -1.0, 1.0)
    positions = np.array([p for p, _ in PALETTE])
    out = np.zeros((4,) + difference.shape, np.uint8)
    for i in range(3):
        channel = np.interp(x, positions, np.array([c[i] for _, c in PALETTE], np.float64))
        out[i] = np.where(known, np.floor(channel + 0.5), 0).astype(np.uint8)
    out[3] = np.where(known, 255, 0).astype(np.uint8)
    return out


def legend(limit: float = DEFAULT_LIMIT) -> dict:
    """What the viewer needs to draw the legend: ``min``, ``max`` and colour ``stops`` ([value, "#rrggbb"])."""
    return {"min": -limit, "max": limit,
            "stops": [[round(p * limit, 6), "#%02x%02x%02x" % c] for p, c in PALETTE]}


def missing_ndvi_bands(mosaic: str | os.PathLike) -> list[str]:
    """Bands of :data:`NDVI_BANDS` that the mosaic lacks (by band description); empty when NDVI can be computed.

    Raises
    ------
    MissingFileError, CorruptRasterError
        The mosaic cannot be opened.
    """
    with open_raster(mosaic, "mosaic") as ds:
        names = list(ds.descriptions)
    return [b for b in NDVI_BANDS if b not in names]


@dataclass(frozen=True)
class _Source:
    path: Path
    grid: Grid                # with its CRS
    indexes: tuple[int, int]
    nodata: float


def _open_source(path: Path) -> _Source:
    with open_raster(path, "mosaic") as ds:
        names = list(ds.descriptions)
        indexes = tuple(names.index(b) + 1 for b in NDVI_BANDS)
        nodata = ds.nodata if ds.nodata is not None else REFLECTANCE_NODATA
        return _Source(path, Grid(ds.transform, ds.height, ds.width, ds.crs), indexes, nodata)


class _NdviChange:
    """Renderer of the change pyramid (see :mod:`mosaic.pyramid`): NDVI(right) - NDVI(left) of a WebMercator block,
    coloured (layer ``change``). Thread-safe (one open dataset per thread)."""

    layers = ("change",)

    def __init__(self, left: _Source, right: _Source, limit: float):
        self.sources, self.limit = (left, right), limit
        self.pool = DatasetPool()

    def close(self) -> None:
        self.pool.close()

    def ndvi(self, src: _Source, bounds: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
        """float32 (rows, cols) NDVI of an EPSG:3857 rectangle ``bounds`` sampled at ``shape``; NaN where unknown."""
        out = np.full(shape, np.nan, np.float32)
        plan = plan_block_read(src.grid, bounds, shape)
        if plan is None:
            return out
        read = dict(window=plan.window, out_shape=(2,) + plan.out_shape)
        resampling = Resampling.average if plan.factor > 1 else Resampling.nearest
        refl = self.pool.read(src.path, list(src.indexes), resampling=resampling, **read)
        masks = self.pool.read(src.path, list(src.indexes), resampling=Resampling.nearest, masks=True, **read)
        valid = (masks > 0).all(axis=0) & (refl != src.nodata).all(axis=0)
        values = ndvi(refl[0], refl[1], valid)
        if not np.isfinite(values).any():
            return out
        reproject(values, out, src_transform=plan.grid.transform, src_crs=src.grid.crs, src_nodata=np.nan,
                  dst_transform=block_transform(bounds, shape), dst_crs="EPSG:3857", dst_nodata=np.nan,
                  resampling=Resampling.bilinear, num_threads=1)
        return out

    def render(self, bounds: tuple[float, float, float, float], shape: tuple[int, int],
               origin: tuple[int, int]) -> dict[str, np.ndarray]:
        left, right = (self.ndvi(src, bounds, shape) for src in self.sources)
        return {"change": colourize(right - left, self.limit)}


def build_change_pyramid(left_mosaic: str | os.PathLike, right_mosaic: str | os.PathLike,
                         out_dir: str | os.PathLike, bounds: tuple[float, float, float, float],
                         zooms: tuple[int, int], *, limit: float = DEFAULT_LIMIT, workers: int = 1,
                         show_progress: bool = False, scheduler: str | None = None) -> dict:
    """Write the NDVI difference pyramid (right - left) into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    left_mosaic, right_mosaic : path
        Mosaics (``mosaic build`` outputs or any raster with bands described B4 and B8, reflectance x10000).
    out_dir : path
        Output folder (created).
    bounds : (west, south, east, north)
        Lon/lat area of the pyramid (degrees), usually the intersection of the two months.
    zooms : (min_zoom, max_zoom)
    limit : float
        Difference at the ends of the palette.
    workers : int
        Threads rendering blocks (without ``scheduler``).
    show_progress : bool
        One tqdm bar over the blocks.
    scheduler : str, optional
        Address of a running dask scheduler: the blocks are rendered by its workers, one a task
        (:mod:`mosaic.cluster`); they must offer the ``tile-month`` resource and share the file system of the
        mosaics and ``out_dir`` under the same absolute paths.

    Returns
    -------
    dict
        The pyramid's metadata (also written to ``out_dir/metadata.json``).
    """
    out = Path(out_dir).absolute()
    sources = [_open_source(Path(left_mosaic).absolute()), _open_source(Path(right_mosaic).absolute())]
    ranges = tile_ranges(bounds, range(zooms[0], zooms[1] + 1))
    recipe = WriterRecipe(_NdviChange, (sources[0], sources[1], limit), out, {"change": ""}, ranges, "png")
    store = recipe.store()
    # every zoom rendered from the mosaics, in blocks of BLOCK_TILES x BLOCK_TILES tiles from the range's corner
    jobs = [("write_block", (z, bx, by, BLOCK_TILES)) for z, (x0, x1, y0, y1) in ranges.items()
            for by in range(y0, y1 + 1, BLOCK_TILES) for bx in range(x0, x1 + 1, BLOCK_TILES)]
    if scheduler is None:
        with gdal_cache():
            recipe.writer(store).run([jobs], workers, desc="change", show_progress=show_progress)
    else:
        from .cluster import run_stages, scheduler_client

        with scheduler_client(scheduler) as client:
            run_stages(client, recipe, [jobs], store, desc="change", show_progress=show_progress)
    counts = {str(z): n for z, n in tile_counts(ranges).items()}
    west, south, east, north = bounds
    meta = {
        "format": "png", "tile_size": TILE_SIZE, "tile_matrix_set": TMS_NAME, "scheme": "xyz",
        "tiles": store.template("change"), "minzoom": zooms[0], "maxzoom": zooms[1],
        "bounds": [west, south, east, north],
        "quantity": "NDVI(right) - NDVI(left)", "ndvi": "(B8 - B4) / (B8 + B4)", "limit": limit,
        "legend": legend(limit), "palette": "ColorBrewer BrBG",
        "resampling": "bilinear (GDAL), after an average read when decimating",
        "left_source": str(sources[0].path), "right_source": str(sources[1].path), "tile_counts": counts,
        "software": f"syntheo {__version__}",
    }
    write_json(out / METADATA, meta)
    logger.info("change pyramid: %d tiles (zooms %d-%d) in %s", store.written, zooms[0], zooms[1], out)
    return meta
