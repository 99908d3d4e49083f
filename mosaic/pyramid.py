"""The one tile-pyramid writer of ``mosaic``: WebMercatorQuad tile ranges, the native zoom, the tile store and the
block writer that every layer goes through.

A layer is made by a *renderer*: an object with ``layers`` (names of the layers it draws) and
``render(bounds, shape, origin) -> {layer: uint8 (4, rows, cols) RGBA}`` for an EPSG:3857 rectangle. ``mosaic
tiles`` has one for true colour and the flags overlay (:mod:`mosaic.tiles`), ``mosaic compare`` one for the NDVI
change (:mod:`mosaic.change`). :class:`PyramidWriter` cuts what a renderer draws into 256 px tiles and hands them to
the :class:`TileStore`; it renders a block of ``size`` x ``size`` tiles at one zoom at a time
(:meth:`PyramidWriter.write_block`), optionally writes the zooms above the block by 2 x 2 reduction of the rendered
canvas, and builds a tile from its four children on disk (:meth:`PyramidWriter.write_overview`). Jobs run in a
thread pool with at most ``2 x workers`` in flight (:meth:`PyramidWriter.run`), or as dask.distributed tasks
(:mod:`mosaic.cluster`): a writer holds open datasets that cannot leave its process, so a task receives its
:class:`WriterRecipe` (picklable values) and builds its own writer from it.

Tiles are written atomically (temporary name, then rename) and a tile already on disk is kept, so an interrupted
run resumed gives the same files.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from l2a.grid import Grid
from l2a.io.atomic import atomic_write_bytes

from .encode import decode_tile, encode_tile
from .errors import MissingChildTileError
from .grid import read_factor
from .render import downsample_rgba

__all__ = ["TILE_SIZE", "METADATA", "TMS_NAME", "tms", "tile_ranges", "tile_counts", "native_zoom", "lonlat_bounds",
           "block_bounds", "block_transform", "BlockRead", "plan_block_read", "TileStore", "PyramidWriter",
           "WriterRecipe"]

logger = logging.getLogger(__name__)

#: Tile side, pixels.
TILE_SIZE = 256
#: The pyramid's description, in its root folder.
METADATA = "metadata.json"
#: Tile matrix set of every pyramid (XYZ scheme).
TMS_NAME = "WebMercatorQuad"
#: Latitude limit of WebMercatorQuad, degrees.
_WEBMERCATOR_LAT = 85.0511287798066
#: Deepest zoom the native zoom search looks at (beyond any real mosaic's pixel).
_NATIVE_MAX_Z = 30
#: Source pixels kept around a block's footprint for the resampling kernels.
_READ_PAD = 2


def tms():
    """The WebMercatorQuad tile matrix set (morecantile)."""
    import morecantile

    return morecantile.tms.get(TMS_NAME)


def tile_ranges(bounds: tuple[float, float, float, float], zooms: range) -> dict[int, tuple[int, int, int, int]]:
    """Tiles that intersect lon/lat bounds, per zoom: (x_min, x_max, y_min, y_max), inclusive."""
    matrix_set = tms()
    west, south, east, north = bounds
    eps = 1e-9
    out = {}
    for z in zooms:
        ul = matrix_set.tile(west + eps, north - eps, z)
        lr = matrix_set.tile(east - eps, south + eps, z)
        out[z] = (ul.x, lr.x, ul.y, lr.y)
    return out


def tile_counts(ranges: Mapping[int, tuple[int, int, int, int]]) -> dict[int, int]:
    """Tiles per zoom of :func:`tile_ranges`."""
    return {z: (x1 - x0 + 1) * (y1 - y0 + 1) for z, (x0, x1, y0, y1) in ranges.items()}


def native_zoom(grid: Grid) -> int:
    """The native zoom of a raster: the deepest WebMercatorQuad zoom whose pixel is not finer than the raster's.

    The one rule of ``mosaic tiles`` (the deepest zoom it accepts is this plus :data:`mosaic.tiles.MAX_OVERZOOM`, and
    its metadata records it) and ``mosaic compare`` (the default deepest zoom of the mosaics it tiles). The raster's
    pixel is measured in EPSG:3857 at the centre of the grid (geometric mean of its two sides). Between two zooms the
    coarser one is taken (``lower``, as gdal2tiles does): at the native zoom every tile pixel is made of at least one
    whole raster pixel, so the pyramid never invents detail, and every deeper zoom is, by definition, a
    magnification of the data (which the viewer also does by itself beyond a layer's deepest zoom). Rounding up
    ("never lose detail") would make the native zoom itself a magnification by up to 2, with up to 4 times the tiles
    at the costliest level; whoever wants every pixel on screen asks for one zoom more (``--zoom``), which
    ``MAX_OVERZOOM`` allows.

    Parameters
    ----------
    grid : Grid
        With its CRS.

    Returns
    -------
    int
        Zoom level, 0 to 30.
    """
    left, bottom, right, top = grid.bounds
    cx, cy = (left + right) / 2, (bottom + top) / 2
    res = grid.transform.a, abs(grid.transform.e)
    merc = transform_bounds(grid.crs, "EPSG:3857", cx, cy, cx + res[0], cy + res[1])
    pixel = math.sqrt(abs((merc[2] - merc[0]) * (merc[3] - merc[1])))
    return tms().zoom_for_res(pixel, max_z=_NATIVE_MAX_Z, zoom_level_strategy="lower")


def lonlat_bounds(grid: Grid) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of a grid in degrees, clipped to WebMercatorQuad's latitudes; None when empty."""
    west, south, east, north = transform_bounds(grid.crs, "EPSG:4326", *grid.bounds, densify_pts=21)
    south, north = max(south, -_WEBMERCATOR_LAT), min(north, _WEBMERCATOR_LAT)
    return (west, south, east, north) if east > west and north > south else None


def block_bounds(z: int, x0: int, y0: int, x1: int, y1: int) -> tuple[tuple[float, float, float, float],
                                                                        tuple[int, int]]:
    """EPSG:3857 (left, bottom, right, top) and pixel shape (rows, cols) of tiles [x0, x1] x [y0, y1] of zoom z."""
    matrix_set = tms()
    ul, lr = matrix_set.xy_bounds(x0, y0, z), matrix_set.xy_bounds(x1, y1, z)
    return (ul.left, lr.bottom, lr.right, ul.top), ((y1 - y0 + 1) * TILE_SIZE, (x1 - x0 + 1) * TILE_SIZE)


def block_transform(bounds: tuple[float, float, float, float], shape: tuple[int, int]) -> Affine:
    """Pixel-corner transform of an EPSG:3857 block of ``shape`` pixels."""
    rows, cols = shape
    return Affine((bounds[2] - bounds[0]) / cols, 0, bounds[0], 0, -(bounds[3] - bounds[1]) / rows, bounds[3])


@dataclass(frozen=True)
class BlockRead:
    """What to read of a source raster for one web block.

    Attributes
    ----------
    window : Window
        Source pixels under the block (with a margin of 2 pixels for the kernels), clipped to the raster.
    factor : int
        Source pixels averaged per side (:func:`mosaic.grid.read_factor` of the block's pixel over the source's).
    grid : Grid
        The grid of the (decimated) read: ``window`` sampled at ``ceil(size / factor)`` pixels per side.
    """

    window: Window
    factor: int
    grid: Grid

    @property
    def out_shape(self) -> tuple[int, int]:
        return self.grid.shape


def plan_block_read(source: Grid, bounds: tuple[float, float, float, float],
                    shape: tuple[int, int]) -> BlockRead | None:
    """The read of ``source`` (a grid with its CRS) that an EPSG:3857 block of ``shape`` pixels needs; None when the
    block misses the source."""
    rows, cols = shape
    src_bounds = transform_bounds("EPSG:3857", source.crs, *bounds, densify_pts=21)
    window = source.window_covering(src_bounds, pad=_READ_PAD)
    if window is None:
        return None
    pixel = math.sqrt(abs((src_bounds[2] - src_bounds[0]) * (src_bounds[3] - src_bounds[1])) / (rows * cols))
    factor = read_factor(pixel / source.resolution)
    height, width = int(window.height), int(window.width)
    out_shape = (max(1, -(-height // factor)), max(1, -(-width // factor)))
    transform = source.window_transform(window) @ Affine.scale(width / out_shape[1], height / out_shape[0])
    return BlockRead(window, factor, Grid(transform, out_shape[0], out_shape[1], source.crs))


class TileStore:
    """Tile files of the layers of a pyramid: paths, atomic writes (existing tiles are kept), encoding, decoding.

    Parameters
    ----------
    out : Path
        Pyramid folder.
    layers : mapping layer -> sub-folder
        ``""`` for the root (``{z}/{x}/{y}.ext``), e.g. ``{"rgb": "", "flags": "flags"}``.
    tile_format : str
        Key of :data:`mosaic.params.TILE_FORMATS`; also the file extension.
    png_zlevel : int
        DEFLATE level of PNG tiles.
    """

    def __init__(self, out: Path, layers: Mapping[str, str], tile_format: str = "png", png_zlevel: int = 1):
        self.out, self.layers = out, dict(layers)
        self.format, self.png_zlevel = tile_format, png_zlevel
        self._dirs: set = set()
        self._lock = threading.Lock()
        self._transparent = encode_tile(np.zeros((4, TILE_SIZE, TILE_SIZE), np.uint8), tile_format, png_zlevel)
        self.written = 0
        self.skipped = 0

    def path(self, layer: str, z: int, x: int, y: int) -> Path:
        sub = self.layers[layer]
        base = self.out / sub if sub else self.out
        return base / str(z) / str(x) / f"{y}.{self.format}"

    def template(self, layer: str) -> str:
        """The layer's tile path relative to the pyramid folder, ``{z}/{x}/{y}.png`` style."""
        sub = self.layers[layer]
        return f"{sub}/" * bool(sub) + f"{{z}}/{{x}}/{{y}}.{self.format}"

    def encode(self, rgba: np.ndarray) -> bytes:
        """Tile bytes (fully transparent tiles share one encoding)."""
        if not rgba[3].any():
            return self._transparent
        return encode_tile(rgba, self.format, self.png_zlevel)

    @staticmethod
    def decode(path: Path) -> np.ndarray:
        return decode_tile(path)

    def done(self, z: int, x: int, y: int) -> bool:
        """Whether the tile exists in every layer."""
        return all(self.path(layer, z, x, y).exists() for layer in self.layers)

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
        atomic_write_bytes(path, data, fsync=False)  # tiles are cheap to redo: no fsync per tile
        with self._lock:
            self.written += 1


class PyramidWriter:
    """Renders blocks of tiles with a renderer and writes them to a store (thread-safe).

    Parameters
    ----------
    renderer
        ``layers`` and ``render(bounds, shape, origin)``, see the module docstring; ``close()`` is called at the end
        of :meth:`run`.
    store : TileStore
        With the renderer's layers.
    ranges : dict zoom -> (x_min, x_max, y_min, y_max)
        The tiles of the pyramid (:func:`tile_ranges`); tiles outside are never written.
    """

    def __init__(self, renderer, store: TileStore, ranges: Mapping[int, tuple[int, int, int, int]]):
        self.renderer, self.store, self.ranges = renderer, store, ranges

    def in_range(self, z: int, x: int, y: int) -> bool:
        x0, x1, y0, y1 = self.ranges[z]
        return x0 <= x <= x1 and y0 <= y <= y1

    def _block_tiles(self, z: int, x0: int, y0: int, size: int, levels: int):
        """(z, x, y) of the in-range tiles of a block and of the ``levels`` zooms above it."""
        for level in range(levels + 1):
            n = size >> level
            bx, by = x0 >> level, y0 >> level
            for y in range(by, by + n):
                for x in range(bx, bx + n):
                    if self.in_range(z - level, x, y):
                        yield z - level, x, y

    def write_block(self, z: int, x0: int, y0: int, size: int, levels: int = 0) -> None:
        """Render tiles [x0, x0 + size) x [y0, y0 + size) of zoom ``z`` (those in range) in one call of the renderer,
        write them, then the ``levels`` zooms above by 2 x 2 reduction of the canvas (``x0``, ``y0`` and ``size``
        multiples of ``2 ** levels``). A block whose tiles all exist is skipped."""
        tiles = list(self._block_tiles(z, x0, y0, size, levels))
        if all(self.store.done(*t) for t in tiles):
            self.store.count_skipped(len(self.store.layers) * len(tiles))
            return
        rx0, rx1, ry0, ry1 = self.ranges[z]
        tx0, tx1 = max(x0, rx0), min(x0 + size - 1, rx1)
        ty0, ty1 = max(y0, ry0), min(y0 + size - 1, ry1)
        side = size * TILE_SIZE
        canvases = {layer: np.zeros((4, side, side), np.uint8) for layer in self.store.layers}
        if tx1 >= tx0 and ty1 >= ty0:
            bounds, shape = block_bounds(z, tx0, ty0, tx1, ty1)
            drawn = self.renderer.render(bounds, shape, (ty0 * TILE_SIZE, tx0 * TILE_SIZE))
            r, c = (ty0 - y0) * TILE_SIZE, (tx0 - x0) * TILE_SIZE
            for layer, rgba in drawn.items():
                canvases[layer][:, r:r + shape[0], c:c + shape[1]] = rgba
        for level in range(levels + 1):
            n, bx, by = size >> level, x0 >> level, y0 >> level
            for layer, canvas in canvases.items():
                for ty in range(n):
                    for tx in range(n):
                        if self.in_range(z - level, bx + tx, by + ty):
                            tile = canvas[:, ty * TILE_SIZE:(ty + 1) * TILE_SIZE, tx * TILE_SIZE:(tx + 1) * TILE_SIZE]
                            self.store.write(layer, z - level, bx + tx, by + ty, tile)
            if level < levels:
                canvases = {k: downsample_rgba(v) for k, v in canvases.items()}

    def write_overview(self, z: int, x: int, y: int) -> None:
        """A tile from its four children of zoom ``z + 1`` on disk (2 x 2 reduction), in every layer."""
        if self.store.done(z, x, y):
            self.store.count_skipped(len(self.store.layers))
            return
        for layer in self.store.layers:
            children = np.zeros((4, 2 * TILE_SIZE, 2 * TILE_SIZE), np.uint8)
            for dy in (0, 1):
                for dx in (0, 1):
                    cx, cy = 2 * x + dx, 2 * y + dy
                    if self.in_range(z + 1, cx, cy):
                        path = self.store.path(layer, z + 1, cx, cy)
                        if not path.exists():
                            raise MissingChildTileError(f"tile {z + 1}/{cx}/{cy} is missing below {z}/{x}/{y}", path)
                        children[:, dy * TILE_SIZE:(dy + 1) * TILE_SIZE,
                                 dx * TILE_SIZE:(dx + 1) * TILE_SIZE] = self.store.decode(path)
            self.store.write(layer, z, x, y, downsample_rgba(children))

    def run(self, stages: list[list[tuple]], workers: int, *, desc: str, show_progress: bool = False) -> None:
        """Run stages of jobs in order, each job ``(method, args)`` (e.g. ``(writer.write_block, (z, x, y, 8))``, or
        the method's name, ``("write_block", (z, x, y, 8))``), the jobs of a stage in a thread pool, at most
        ``2 x workers`` in flight; the first failure stops the run."""
        from tqdm import tqdm

        stages = [[(getattr(self, fn) if isinstance(fn, str) else fn, args) for fn, args in stage]
                  for stage in stages]

        try:
            with warnings.catch_warnings(), \
                    tqdm(total=sum(map(len, stages)), desc=desc, unit="block", disable=not show_progress,
                         leave=False) as bar, \
                    cf.ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=desc) as pool:
                # tile files have no georeferencing; rasterio's own filter around them is not thread-safe
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                for stage in stages:
                    _run_stage(pool, stage, workers, bar)
        finally:
            self.renderer.close()


@dataclass(frozen=True)
class WriterRecipe:
    """A :class:`PyramidWriter` described by picklable values, to build one where the jobs run (a dask worker): the
    writer's renderer holds open GDAL datasets (one per thread), which cannot be pickled.

    Attributes
    ----------
    renderer : callable
        Module-level class or function (pickled by reference) returning the renderer, called as
        ``renderer(*renderer_args)``.
    renderer_args : tuple
        Picklable arguments of ``renderer`` (paths, grids, parameters).
    out : Path
        Pyramid folder, absolute (a worker may have another working directory).
    layers : mapping layer -> sub-folder
        As :class:`TileStore`'s.
    ranges : dict zoom -> (x_min, x_max, y_min, y_max)
        The tiles of the pyramid (:func:`tile_ranges`).
    tile_format : str
        Key of :data:`mosaic.params.TILE_FORMATS`.
    png_zlevel : int
        DEFLATE level of PNG tiles.
    """

    renderer: Callable
    renderer_args: tuple
    out: Path
    layers: Mapping[str, str]
    ranges: Mapping[int, tuple[int, int, int, int]]
    tile_format: str = "png"
    png_zlevel: int = 1

    def store(self) -> TileStore:
        """A new tile store (counters at zero)."""
        return TileStore(self.out, self.layers, self.tile_format, self.png_zlevel)

    def writer(self, store: TileStore | None = None) -> PyramidWriter:
        """A new writer with a new renderer, on ``store`` (default: a new one); the caller closes the renderer
        (:meth:`PyramidWriter.run` does)."""
        return PyramidWriter(self.renderer(*self.renderer_args), store or self.store(), self.ranges)


def _run_stage(pool: cf.ThreadPoolExecutor, jobs: list, workers: int, bar) -> None:
    pending = set()
    for fn, args in jobs:
        pending.add(pool.submit(fn, *args))
        if len(pending) >= 2 * max(1, workers):
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                fut.result()
                bar.update()
    for fut in cf.as_completed(pending):
        fut.result()
        bar.update()
