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
files). Tiles are written atomically and existing ones are skipped, so an interrupted run resumed gives the same
files; ``metadata.json`` records the parameters, and a resume with other parameters is refused.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import math
import os
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import transform, transform_bounds
from rasterio.windows import Window

from l2a._version import __version__
from l2a.io.raster import open_raster

from .encode import decode_tile, encode_tile
from .errors import MosaicError, MosaicFormatError, OutputExistsError, ZoomRangeError
from .kernels import bilinear, interpolate_grid, nearest
from .params import PyramidParams
from .render import downsample_rgba, render_flags, render_rgba
from .sources import DatasetPool

__all__ = ["build_pyramid", "PyramidResult", "tile_ranges", "TILE_SIZE", "FLAGS_DIR", "METADATA"]

logger = logging.getLogger(__name__)

#: Tile side, pixels.
TILE_SIZE = 256
#: Sub-folder of the flags overlay pyramid.
FLAGS_DIR = "flags"
METADATA = "metadata.json"
#: Deepest zoom accepted beyond the mosaic's native zoom (x16 magnification).
MAX_OVERZOOM = 4
#: Output pixels between exactly transformed control points of :func:`source_coords`.
CONTROL_STEP = 16
_TMS_NAME = "WebMercatorQuad"
_WEBMERCATOR_LAT = 85.0511287798066


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


def _tms():
    import morecantile

    return morecantile.tms.get(_TMS_NAME)


def tile_ranges(bounds: tuple[float, float, float, float], zooms: range) -> dict[int, tuple[int, int, int, int]]:
    """Tiles that intersect lon/lat bounds, per zoom: (x_min, x_max, y_min, y_max), inclusive."""
    tms = _tms()
    west, south, east, north = bounds
    eps = 1e-9
    out = {}
    for z in zooms:
        ul = tms.tile(west + eps, north - eps, z)
        lr = tms.tile(east - eps, south + eps, z)
        out[z] = (ul.x, lr.x, ul.y, lr.y)
    return out


@dataclass(frozen=True)
class _MosaicInfo:
    path: Path
    crs: object
    transform: Affine
    height: int
    width: int
    band_index: tuple[int, int, int]
    nodata: float
    flags_path: Path | None
    bounds: tuple[float, float, float, float]  # lon/lat
    native_zoom: int


def _inspect(path: Path, params: PyramidParams) -> _MosaicInfo:
    with open_raster(path, "mosaic") as ds:
        if ds.crs is None:
            raise MosaicFormatError("mosaic has no CRS", path)
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
        west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
        south, north = max(south, -_WEBMERCATOR_LAT), min(north, _WEBMERCATOR_LAT)
        if not (east > west and north > south):
            raise MosaicFormatError("mosaic bounds are empty in WebMercatorQuad", path)
        cx, cy = (ds.bounds.left + ds.bounds.right) / 2, (ds.bounds.bottom + ds.bounds.top) / 2
        merc = transform_bounds(ds.crs, "EPSG:3857", cx, cy, cx + ds.res[0], cy + ds.res[1])
        pixel_merc = math.sqrt(abs((merc[2] - merc[0]) * (merc[3] - merc[1])))
        native = _tms().zoom_for_res(pixel_merc, max_z=30, zoom_level_strategy="lower")
        return _MosaicInfo(path, ds.crs, ds.transform, ds.height, ds.width, tuple(index),
                           ds.nodata if ds.nodata is not None else -10000, flags, (west, south, east, north), native)


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


class _Renderer:
    """Reads the mosaic for a WebMercator block and renders true colour and flags overlay (thread-safe)."""

    def __init__(self, info: _MosaicInfo, params: PyramidParams):
        self.info, self.params = info, params
        self.pool = DatasetPool()

    def _read(self, window: Window, factor: int):
        info = self.info
        out_shape = (max(1, -(-int(window.height) // factor)), max(1, -(-int(window.width) // factor)))
        ds = self.pool.get(info.path)
        refl = ds.read(list(info.band_index), window=window, out_shape=(3,) + out_shape,
                       resampling=Resampling.average).astype(np.float32)
        if info.flags_path is not None:
            flg = self.pool.get(info.flags_path).read(1, window=window, out_shape=out_shape,
                                                      resampling=Resampling.nearest)
        else:
            mask = ds.read_masks(info.band_index[0], window=window, out_shape=out_shape)
            flg = np.where(mask > 0, 4, np.where(refl[0] != info.nodata, 1, 0)).astype(np.uint8)
        refl[:, (flg < 2) | (flg == 255) | (refl == info.nodata).any(axis=0)] = np.nan
        t = (ds.transform @ Affine.translation(window.col_off, window.row_off)
             @ Affine.scale(window.width / out_shape[1], window.height / out_shape[0]))
        return refl, flg, t

    def render(self, bounds: tuple[float, float, float, float], shape: tuple[int, int], origin: tuple[int, int]):
        """RGBA true colour and flags overlay, uint8 (4, rows, cols) each, of a WebMercator rectangle."""
        info = self.info
        rows, cols = shape
        src_bounds = transform_bounds("EPSG:3857", info.crs, *bounds, densify_pts=21)
        inverse = ~info.transform
        x0, y0 = inverse @ (src_bounds[0], src_bounds[3])
        x1, y1 = inverse @ (src_bounds[2], src_bounds[1])
        r0, c0 = math.floor(min(y0, y1)) - 2, math.floor(min(x0, x1)) - 2
        r1, c1 = math.ceil(max(y0, y1)) + 2, math.ceil(max(x0, x1)) + 2
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, info.height), min(c1, info.width)
        empty = np.zeros((4, rows, cols), np.uint8)
        if r1 <= r0 or c1 <= c0:
            return empty, empty.copy()
        pixel = math.sqrt(abs((src_bounds[2] - src_bounds[0]) * (src_bounds[3] - src_bounds[1])) / (rows * cols))
        ratio = pixel / abs(info.transform.a)
        factor = int(math.floor(ratio)) if ratio >= 2 else 1
        refl, flg, src_transform = self._read(Window(c0, r0, c1 - c0, r1 - r0), factor)
        dst_transform = Affine((bounds[2] - bounds[0]) / cols, 0, bounds[0], 0, -(bounds[3] - bounds[1]) / rows,
                               bounds[3])
        col, row = source_coords(dst_transform, shape, "EPSG:3857", info.crs, src_transform)
        dst = bilinear(refl, col, row)
        dst_flg = nearest(flg, col, row, 255)
        rgba = render_rgba(dst, dst_flg, self.params.stretch, self.params.flagged, origin)
        return rgba, render_flags(dst_flg)


class _TileStore:
    """Tile files of the two pyramids: paths, existence, atomic writes, encoding and decoding."""

    def __init__(self, out: Path, params: PyramidParams):
        self.out, self.params = out, params
        self.ext = params.extension
        self._dirs: set = set()
        self._lock = threading.Lock()
        self._transparent = self.encode(np.zeros((4, TILE_SIZE, TILE_SIZE), np.uint8))
        self.written = 0
        self.skipped = 0

    def path(self, layer: str, z: int, x: int, y: int) -> Path:
        base = self.out if layer == "rgb" else self.out / FLAGS_DIR
        return base / str(z) / str(x) / f"{y}.{self.ext}"

    def encode(self, rgba: np.ndarray) -> bytes:
        """Tile bytes (fully transparent tiles share one encoding)."""
        if getattr(self, "_transparent", None) is not None and not rgba[3].any():
            return self._transparent
        return encode_tile(rgba, self.params.format, self.params.png_zlevel)

    @staticmethod
    def decode(path: Path) -> np.ndarray:
        return decode_tile(path)

    def count_skipped(self, n: int) -> None:
        with self._lock:
            self.skipped += n

    def write(self, layer: str, z: int, x: int, y: int, rgba: np.ndarray) -> None:
        """Write a tile unless it exists (atomic: temporary name, then rename)."""
        path = self.path(layer, z, x, y)
        if path.exists():
            self.count_skipped(1)
            return
        data = self.encode(rgba)
        folder = path.parent
        if folder not in self._dirs:
            folder.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._dirs.add(folder)
        tmp = folder / f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}"
        tmp.write_bytes(data)
        os.replace(tmp, path)
        with self._lock:
            self.written += 1


class _Pyramid:
    def __init__(self, info: _MosaicInfo, out: Path, params: PyramidParams):
        self.info, self.out, self.params = info, out, params
        self.zooms = range(params.min_zoom, params.max_zoom + 1)
        self.ranges = tile_ranges(info.bounds, self.zooms)
        self.job_zoom = max(params.min_zoom, params.max_zoom - int(math.log2(params.meta_tiles)))
        self.renderer = _Renderer(info, params)
        self.store = _TileStore(out, params)

    def in_range(self, z: int, x: int, y: int) -> bool:
        x0, x1, y0, y1 = self.ranges[z]
        return x0 <= x <= x1 and y0 <= y <= y1

    def counts(self) -> dict[int, int]:
        return {z: (x1 - x0 + 1) * (y1 - y0 + 1) for z, (x0, x1, y0, y1) in self.ranges.items()}

    def _job_tiles(self, jx: int, jy: int):
        """(z, x, y) of every tile of a job, in range, from the job zoom to the base zoom."""
        for z in range(self.job_zoom, self.params.max_zoom + 1):
            n = 1 << (z - self.job_zoom)
            x0, x1, y0, y1 = self.ranges[z]
            for y in range(max(jy * n, y0), min(jy * n + n - 1, y1) + 1):
                for x in range(max(jx * n, x0), min(jx * n + n - 1, x1) + 1):
                    yield z, x, y

    def _done(self, z: int, x: int, y: int) -> bool:
        return self.store.path("rgb", z, x, y).exists() and self.store.path("flags", z, x, y).exists()

    def run_job(self, jx: int, jy: int) -> None:
        """Render a job's block at the base zoom and every zoom up to the job zoom."""
        tiles = list(self._job_tiles(jx, jy))
        if all(self._done(*t) for t in tiles):
            self.store.count_skipped(2 * len(tiles))
            return
        base = self.params.max_zoom
        n = 1 << (base - self.job_zoom)
        x0, x1, y0, y1 = self.ranges[base]
        tx0, tx1 = max(jx * n, x0), min(jx * n + n - 1, x1)
        ty0, ty1 = max(jy * n, y0), min(jy * n + n - 1, y1)
        size = n * TILE_SIZE
        canvases = {"rgb": np.zeros((4, size, size), np.uint8), "flags": np.zeros((4, size, size), np.uint8)}
        if tx1 >= tx0 and ty1 >= ty0:
            tms = _tms()
            ul, lr = tms.xy_bounds(tx0, ty0, base), tms.xy_bounds(tx1, ty1, base)
            shape = ((ty1 - ty0 + 1) * TILE_SIZE, (tx1 - tx0 + 1) * TILE_SIZE)
            rgba, flags = self.renderer.render((ul.left, lr.bottom, lr.right, ul.top), shape,
                                               (ty0 * TILE_SIZE, tx0 * TILE_SIZE))
            r, c = (ty0 - jy * n) * TILE_SIZE, (tx0 - jx * n) * TILE_SIZE
            canvases["rgb"][:, r:r + shape[0], c:c + shape[1]] = rgba
            canvases["flags"][:, r:r + shape[0], c:c + shape[1]] = flags
        for z in range(base, self.job_zoom - 1, -1):
            m = 1 << (z - self.job_zoom)
            for layer, canvas in canvases.items():
                for ty in range(m):
                    for tx in range(m):
                        x, y = jx * m + tx, jy * m + ty
                        if self.in_range(z, x, y):
                            tile = canvas[:, ty * TILE_SIZE:(ty + 1) * TILE_SIZE, tx * TILE_SIZE:(tx + 1) * TILE_SIZE]
                            self.store.write(layer, z, x, y, tile)
            if z > self.job_zoom:
                canvases = {k: downsample_rgba(v) for k, v in canvases.items()}

    def run_overview(self, z: int, x: int, y: int) -> None:
        """A tile above the job zoom, from its four children on disk."""
        if self._done(z, x, y):
            self.store.count_skipped(2)
            return
        for layer in ("rgb", "flags"):
            children = np.zeros((4, 2 * TILE_SIZE, 2 * TILE_SIZE), np.uint8)
            for dy in (0, 1):
                for dx in (0, 1):
                    cx, cy = 2 * x + dx, 2 * y + dy
                    if self.in_range(z + 1, cx, cy):
                        path = self.store.path(layer, z + 1, cx, cy)
                        if not path.exists():
                            raise MosaicError(f"tile {z + 1}/{cx}/{cy} is missing below {z}/{x}/{y}", path)
                        children[:, dy * TILE_SIZE:(dy + 1) * TILE_SIZE,
                                 dx * TILE_SIZE:(dx + 1) * TILE_SIZE] = self.store.decode(path)
            self.store.write(layer, z, x, y, downsample_rgba(children))


def _metadata(info: _MosaicInfo, params: PyramidParams, pyramid: _Pyramid, complete: bool) -> dict:
    west, south, east, north = info.bounds
    ext = params.extension
    return {
        "format": ext, "tile_size": TILE_SIZE, "tile_matrix_set": _TMS_NAME, "scheme": "xyz",
        "tiles": f"{{z}}/{{x}}/{{y}}.{ext}", "flags_tiles": f"{FLAGS_DIR}/{{z}}/{{x}}/{{y}}.{ext}",
        "minzoom": params.min_zoom, "maxzoom": params.max_zoom, "bounds": [west, south, east, north],
        "center": [(west + east) / 2, (south + north) / 2, params.min_zoom],
        "bands": {"red": params.bands[0], "green": params.bands[1], "blue": params.bands[2]},
        "stretch": {"low": params.stretch.low, "high": params.stretch.high, "gamma": params.stretch.gamma,
                    "unit": "reflectance (stored value x 1e-4)",
                    "formula": "byte = floor(255 * clip((r - low) / (high - low), 0, 1) ** (1 / gamma) + 0.5)"},
        "flagged": params.flagged, "overview_method": "2x2 mean of premultiplied RGBA of the level below",
        "flags_colours": {"always_cloudy": [230, 40, 230, 170], "nodata": [40, 40, 40, 150]},
        "source": str(info.path), "flags_source": str(info.flags_path) if info.flags_path else None,
        "native_zoom": info.native_zoom, "tile_counts": {str(z): n for z, n in pyramid.counts().items()},
        "png_zlevel": params.png_zlevel if params.format == "png" else None, "meta_tiles": params.meta_tiles,
        "software": f"syntheo {__version__}", "complete": complete,
    }


_RESUME_KEYS = ("format", "minzoom", "maxzoom", "bands", "stretch", "flagged", "source", "png_zlevel", "meta_tiles")


def build_pyramid(mosaic: str | os.PathLike, out_dir: str | os.PathLike, params: PyramidParams, *,
                  workers: int = 1, show_progress: bool = False) -> PyramidResult:
    """Write the tile pyramids of a mosaic into ``out_dir`` (see the module docstring).

    Raises
    ------
    ZoomRangeError
        A deepest zoom more than :data:`MAX_OVERZOOM` levels beyond the mosaic's native zoom.
    MosaicFormatError, MissingFileError, CorruptRasterError
        A mosaic that cannot be read or lacks the bands.
    OutputExistsError
        ``out_dir`` holds a pyramid made with other parameters.
    """
    start = time.perf_counter()
    info = _inspect(Path(mosaic).absolute(), params)
    if params.max_zoom > info.native_zoom + MAX_OVERZOOM:
        raise ZoomRangeError(f"zoom {params.max_zoom} is absurd for this mosaic (native zoom {info.native_zoom}); "
                             f"use at most {info.native_zoom + MAX_OVERZOOM}")
    out = Path(out_dir).absolute()
    if out.exists() and not out.is_dir():
        raise OutputExistsError("is a file, not a folder", out)
    pyramid = _Pyramid(info, out, params)
    meta_path = out / METADATA
    meta = _metadata(info, params, pyramid, complete=False)
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            old = {}
        diff = [k for k in _RESUME_KEYS if old.get(k) != json.loads(json.dumps(meta[k]))]
        if diff:
            raise OutputExistsError(f"holds a pyramid made with other parameters ({', '.join(diff)}); "
                                    "use another folder", out)
        logger.info("%s: resuming (existing tiles are kept)", out)
    _write_json(meta_path, meta)
    jobs = [(x, y) for (x0, x1, y0, y1) in [pyramid.ranges[pyramid.job_zoom]]
            for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
    above = [(z, x, y) for z in range(pyramid.job_zoom - 1, params.min_zoom - 1, -1)
             for (x0, x1, y0, y1) in [pyramid.ranges[z]] for y in range(y0, y1 + 1) for x in range(x0, x1 + 1)]
    from tqdm import tqdm

    try:
        with warnings.catch_warnings(), \
                tqdm(total=len(jobs) + len(above), desc="tiles", unit="block", disable=not show_progress,
                     leave=False) as bar, \
                cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="tiles") as pool:
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # tile files have no georeferencing; see build
            _run(pool, [(pyramid.run_job, j) for j in jobs], workers, bar)
            for z in range(pyramid.job_zoom - 1, params.min_zoom - 1, -1):
                _run(pool, [(pyramid.run_overview, t) for t in above if t[0] == z], workers, bar)
    finally:
        pyramid.renderer.pool.close()
    _write_json(meta_path, _metadata(info, params, pyramid, complete=True))
    result = PyramidResult(out, pyramid.counts(), pyramid.store.written, pyramid.store.skipped,
                           time.perf_counter() - start)
    logger.info("pyramid of %d tiles per layer (zooms %d-%d) in %s: %d written, %d present, %.1f s",
                sum(result.counts.values()), params.min_zoom, params.max_zoom, out, result.written, result.skipped,
                result.seconds)
    return result


def _run(pool: cf.ThreadPoolExecutor, tasks: list, workers: int, bar) -> None:
    """Run (function, args) tasks, at most 2 x workers in flight; the first failure stops the run."""
    pending = set()
    for fn, args in tasks:
        pending.add(pool.submit(fn, *args))
        if len(pending) >= 2 * max(1, workers):
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                fut.result()
                bar.update()
    for fut in cf.as_completed(pending):
        fut.result()
        bar.update()


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1))
    os.replace(tmp, path)
