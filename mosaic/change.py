"""The change layer of ``mosaic compare``: NDVI(right) - NDVI(left) as a diverging colour tile pyramid.

NDVI is ``(B8 - B4) / (B8 + B4)`` on reflectance (the stored x10000 scale cancels), computed on each source mosaic's
pixels that are valid in both bands (not nodata, not masked: ``mosaic build`` masks always-cloudy pixels) and whose
sum is positive. At every zoom each block of up to :data:`BLOCK_TILES` x :data:`BLOCK_TILES` tiles is read from the
two mosaics (an average read from the COGs' overviews when a tile pixel spans two or more mosaic pixels), turned into
NDVI, reprojected to WebMercatorQuad (GDAL, bilinear, NaN as nodata) and subtracted; the difference is coloured with
:data:`PALETTE` (ColorBrewer BrBG: brown where NDVI fell, teal-green where it rose, white for no change), clipped at
``+-limit``. Pixels valid in only one month are transparent.

Layout of the output folder (the same as ``mosaic tiles``)::

    {z}/{x}/{y}.png     RGBA, 256 px; every tile meeting the bounds (the intersection of the two months) at every zoom
    metadata.json       bounds, zooms, formula, limit, palette, sources
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import morecantile
import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from l2a._version import __version__
from l2a.io.raster import open_raster

from .encode import encode_tile
from .sources import DatasetPool
from .tiles import METADATA, TILE_SIZE, tile_ranges

__all__ = ["NDVI_BANDS", "PALETTE", "DEFAULT_LIMIT", "ndvi", "colourize", "missing_ndvi_bands",
           "build_change_pyramid", "legend"]

logger = logging.getLogger(__name__)

#: Bands of the NDVI (red, near infrared), by the mosaic's band descriptions.
NDVI_BANDS = ("B4", "B8")
#: NDVI difference shown at either end of the palette (dimensionless): 0.5 spans a change from bare soil
#: (NDVI ~0.2) to a dense crop (~0.7), the largest a month usually shows; larger changes saturate.
DEFAULT_LIMIT = 0.5
#: Diverging palette, ColorBrewer BrBG (11 classes), as (position in [-1, 1] of the +-limit range, RGB).
PALETTE = (
    (-1.0, (84, 48, 5)), (-0.8, (140, 81, 10)), (-0.6, (191, 129, 45)), (-0.4, (223, 194, 125)),
    (-0.2, (246, 232, 195)), (0.0, (245, 245, 245)), (0.2, (199, 234, 229)), (0.4, (128, 205, 193)),
    (0.6, (53, 151, 143)), (0.8, (1, 102, 94)), (1.0, (0, 60, 48)),
)
#: Blocks rendered in one read and one reprojection: BLOCK_TILES x BLOCK_TILES tiles (2048 px, ~100 MB a worker).
BLOCK_TILES = 8
_NODATA = -10000


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
    crs: object
    transform: Affine
    height: int
    width: int
    indexes: tuple[int, int]
    nodata: float


def _open_source(path: Path) -> _Source:
    with open_raster(path, "mosaic") as ds:
        names = list(ds.descriptions)
        indexes = tuple(names.index(b) + 1 for b in NDVI_BANDS)
        nodata = ds.nodata if ds.nodata is not None else _NODATA
        return _Source(path, ds.crs, ds.transform, ds.height, ds.width, indexes, nodata)


class _NdviBlocks:
    """NDVI of a mosaic on WebMercator blocks (thread-safe: one open dataset per thread)."""

    def __init__(self, source: _Source, pool: DatasetPool):
        self.source, self.pool = source, pool

    def render(self, bounds: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
        """float32 (rows, cols) NDVI of an EPSG:3857 rectangle ``bounds`` sampled at ``shape``; NaN where unknown."""
        src = self.source
        rows, cols = shape
        out = np.full(shape, np.nan, np.float32)
        src_bounds = transform_bounds("EPSG:3857", src.crs, *bounds, densify_pts=21)
        inverse = ~src.transform
        x0, y0 = inverse @ (src_bounds[0], src_bounds[3])
        x1, y1 = inverse @ (src_bounds[2], src_bounds[1])
        r0, r1 = max(math.floor(min(y0, y1)) - 2, 0), min(math.ceil(max(y0, y1)) + 2, src.height)
        c0, c1 = max(math.floor(min(x0, x1)) - 2, 0), min(math.ceil(max(x0, x1)) + 2, src.width)
        if r1 <= r0 or c1 <= c0:
            return out
        pixel = math.sqrt(abs((src_bounds[2] - src_bounds[0]) * (src_bounds[3] - src_bounds[1])) / (rows * cols))
        ratio = pixel / abs(src.transform.a)
        factor = int(math.floor(ratio)) if ratio >= 2 else 1
        window = Window(c0, r0, c1 - c0, r1 - r0)
        read_shape = (max(1, -(-(r1 - r0) // factor)), max(1, -(-(c1 - c0) // factor)))
        ds = self.pool.get(src.path)
        resampling = Resampling.average if factor > 1 else Resampling.nearest
        refl = ds.read(list(src.indexes), window=window, out_shape=(2,) + read_shape, resampling=resampling)
        masks = ds.read_masks(list(src.indexes), window=window, out_shape=(2,) + read_shape,
                              resampling=Resampling.nearest)
        valid = (masks > 0).all(axis=0) & (refl != src.nodata).all(axis=0)
        values = ndvi(refl[0], refl[1], valid)
        if not np.isfinite(values).any():
            return out
        src_transform = (src.transform @ Affine.translation(c0, r0)
                         @ Affine.scale((c1 - c0) / read_shape[1], (r1 - r0) / read_shape[0]))
        dst_transform = Affine((bounds[2] - bounds[0]) / cols, 0, bounds[0], 0, -(bounds[3] - bounds[1]) / rows,
                               bounds[3])
        reproject(values, out, src_transform=src_transform, src_crs=src.crs, src_nodata=np.nan,
                  dst_transform=dst_transform, dst_crs="EPSG:3857", dst_nodata=np.nan,
                  resampling=Resampling.bilinear, num_threads=1)
        return out


class _Writer:
    """Atomic tile writes (temporary name, then rename); transparent tiles share one encoding."""

    def __init__(self, out: Path):
        self.out = out
        self.transparent = encode_tile(np.zeros((4, TILE_SIZE, TILE_SIZE), np.uint8), "png")
        self.written = 0
        self._lock = threading.Lock()

    def write(self, z: int, x: int, y: int, rgba: np.ndarray) -> None:
        path = self.out / str(z) / str(x) / f"{y}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = encode_tile(rgba, "png") if rgba[3].any() else self.transparent
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        with self._lock:
            self.written += 1


def build_change_pyramid(left_mosaic: str | os.PathLike, right_mosaic: str | os.PathLike,
                         out_dir: str | os.PathLike, bounds: tuple[float, float, float, float],
                         zooms: tuple[int, int], *, limit: float = DEFAULT_LIMIT, workers: int = 1,
                         show_progress: bool = False) -> dict:
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
        Threads rendering blocks.

    Returns
    -------
    dict
        The pyramid's metadata (also written to ``out_dir/metadata.json``).
    """
    from tqdm import tqdm

    out = Path(out_dir)
    sources = [_open_source(Path(left_mosaic).absolute()), _open_source(Path(right_mosaic).absolute())]
    pool = DatasetPool()
    months = [_NdviBlocks(s, pool) for s in sources]
    ranges = tile_ranges(bounds, range(zooms[0], zooms[1] + 1))
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out)
    tms = morecantile.tms.get("WebMercatorQuad")

    def run(z: int, bx0: int, by0: int) -> None:
        x0, x1, y0, y1 = ranges[z]
        bx1, by1 = min(bx0 + BLOCK_TILES - 1, x1), min(by0 + BLOCK_TILES - 1, y1)
        ul, lr = tms.xy_bounds(bx0, by0, z), tms.xy_bounds(bx1, by1, z)
        shape = ((by1 - by0 + 1) * TILE_SIZE, (bx1 - bx0 + 1) * TILE_SIZE)
        block = (ul.left, lr.bottom, lr.right, ul.top)
        left, right = (m.render(block, shape) for m in months)
        rgba = colourize(right - left, limit)
        for y in range(by0, by1 + 1):
            for x in range(bx0, bx1 + 1):
                r, c = (y - by0) * TILE_SIZE, (x - bx0) * TILE_SIZE
                writer.write(z, x, y, rgba[:, r:r + TILE_SIZE, c:c + TILE_SIZE])

    jobs = [(z, bx, by) for z, (x0, x1, y0, y1) in ranges.items()
            for by in range(y0, y1 + 1, BLOCK_TILES) for bx in range(x0, x1 + 1, BLOCK_TILES)]
    try:
        with tqdm(total=len(jobs), desc="change", unit="block", disable=not show_progress, leave=False) as bar, \
                cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="change") as executor:
            for fut in cf.as_completed([executor.submit(run, *job) for job in jobs]):
                fut.result()
                bar.update()
    finally:
        pool.close()
    counts = {str(z): (x1 - x0 + 1) * (y1 - y0 + 1) for z, (x0, x1, y0, y1) in ranges.items()}
    west, south, east, north = bounds
    meta = {
        "format": "png", "tile_size": TILE_SIZE, "tile_matrix_set": "WebMercatorQuad", "scheme": "xyz",
        "tiles": "{z}/{x}/{y}.png", "minzoom": zooms[0], "maxzoom": zooms[1], "bounds": [west, south, east, north],
        "quantity": "NDVI(right) - NDVI(left)", "ndvi": "(B8 - B4) / (B8 + B4)", "limit": limit,
        "legend": legend(limit), "palette": "ColorBrewer BrBG",
        "resampling": "bilinear (GDAL), after an average read when decimating",
        "left_source": str(sources[0].path), "right_source": str(sources[1].path), "tile_counts": counts,
        "software": f"syntheo {__version__}",
    }
    (out / METADATA).write_text(json.dumps(meta, indent=1))
    logger.info("change pyramid: %d tiles (zooms %d-%d) in %s", writer.written, zooms[0], zooms[1], out)
    return meta
