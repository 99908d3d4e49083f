"""Orchestration of ``l2a simulate``: the acquisition plan, one task per product (and per month of truth), row
blocks, and writing.

Every product is computed by row blocks (:data:`BLOCK_ROWS` rows of the 10 m grid at a time, with the matching rows
of the 20 m and 60 m grids), so memory is bounded whatever ``size``. Tasks run on a thread pool (the numba kernels
release the GIL); each pixel depends only on its world coordinates, the date and the seed, and each file is written
by one task, so the bytes never depend on the number of workers or on their order. Products already present are
skipped (an interrupted run resumed gives the same result); each product appears atomically (temporary folder +
rename), after its truth files.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import threading
import warnings
import zlib
from collections import deque
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from l2a._version import __version__
from l2a.errors import InvalidParameterError
from l2a.sensors import L2A_BANDS, R1_BANDS, R2_BANDS

from .clouds import day_params
from .frame import WORLD_EPSG, tile_frame, world_params
from .kernels import (
    F_AOT,
    F_AOT_EST,
    F_WV,
    F_WV_EST,
    MODE_ACQUISITION,
    MODE_MONTHLY,
    U_CIRRUS_DET,
    U_CLASS,
    U_CLOUD,
    U_CLOUD_DET,
    U_EDGE,
    U_LANDCOVER,
    U_SHADOW,
    U_SHADOW_DET,
    U_SNOW_DET,
    U_WATER_DET,
    _interp,
    allocate_outputs,
    scene_block,
)
from .landscape import ALL_BANDS, CLASS_SNOW
from .atmosphere import ATMOSPHERE_MODELS, forward_model_args
from .masks import DEFAULT_MASK_QUALITY, PRESETS, MaskQuality, mask_quality, quality_params
from .metadata import product_geometry, tile_datetime
from .mgrs import DEFAULT_TILES, TILE_SIZE_M, tile_footprint
from .noise import hash3_ref
from .surface_brdf import REFERENCE_SUN_ZENITH_DEG, cover_brdf_table, cover_multipliers
from .orbits import (
    SWATH_HALF_WIDTH_M,
    Acquisition,
    acquisitions_for_tiles,
    track_params,
    track_position_ref,
)
from .truth import (
    ACQUISITION_MASK_BANDS,
    CODE_TABLES,
    DEFINITIONS,
    MONTHLY_MASK_BANDS,
    TruthWriter,
    acquisition_stem,
    truth_exists,
    write_index,
)

__all__ = ["SimulationConfig", "simulate", "DEFAULT_SIZE", "BLOCK_ROWS", "LEVELS", "parse_window"]

logger = logging.getLogger(__name__)

#: Default pixels per tile side at 10 m-band resolution (100 m pixels; divisible by 6 for L1C 60 m bands).
DEFAULT_SIZE = 1098
#: Rows of the 10 m grid per block (a multiple of 6: whole rows of the 20 m and 60 m grids).
BLOCK_ROWS = 192
LEVELS = ("l2a", "l1c")
MAX_SIZE = 10980
MIN_SIZE = 20
_R1_IDX = np.array([ALL_BANDS.index(b) for b in R1_BANDS], np.int64)
_R2_IDX = np.array([ALL_BANDS.index(b) for b in R2_BANDS], np.int64)
_R60_BANDS = ("B1", "B9", "B10")
_R60_IDX = np.array([ALL_BANDS.index(b) for b in _R60_BANDS], np.int64)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    Attributes
    ----------
    out_dir : pathlib.Path
        Output folder: products directly inside, truth under ``truth/``.
    start, end : datetime.date
        Inclusive UTC date range.
    tiles : tuple of str
        MGRS tiles (``T31TCJ``); default: the 4-tile block across the UTM 30/31 boundary.
    level : str
        ``l2a`` (Theia-format L2A products) or ``l1c`` (ESA L1C SAFE products).
    size : int
        Pixels per tile side on the 10 m-band grid (10980 = true 10 m); even, >= 20 (a multiple of 6 for l1c).
        With a ``window`` it is 10980 (any other value than the default is an error).
    seed : int
        World, weather and noise seed (>= 0).
    workers : int
        Parallel tasks (threads).
    block_rows : int
        Rows of the 10 m-band grid computed at a time (a multiple of 6); bounds the memory, never the result.
    mask_quality : MaskQuality or str
        Errors of the simulated L2A masks: a :class:`~l2a.simulate.masks.MaskQuality` or a preset name
        (``perfect``, ``maja``, ``sen2cor``). Default ``maja``.
    window : tuple of 4 int, optional
        ``(xoff, yoff, width, height)`` in 10 m pixels of the whole 10980 x 10980 tile: simulate only that part,
        at the true 10 m / 20 m (60 m) pixel sizes; products and truth are crops of the tile (their grids start at
        the window's corner). Even numbers (multiples of 6 for l1c) so that every resolution aligns. Default: the
        whole tile.
    atmosphere : str, optional
        Forward model of the clear sky: ``6s`` (the 6S look-up table of :mod:`l2a.atmosphere`, which ``l2a
        process`` inverts, for the ten bands of an L2A product; B1, B9, B10 stay analytic) or ``analytic`` (the
        SMAC-like model of :mod:`l2a.simulate.atmosphere`, physics the processor does not share). Default: ``6s``
        for l1c, ``analytic`` for l2a.
    """

    out_dir: Path
    start: dt.date
    end: dt.date
    tiles: tuple[str, ...] = DEFAULT_TILES
    level: str = "l2a"
    size: int = DEFAULT_SIZE
    seed: int = 0
    workers: int = 1
    block_rows: int = BLOCK_ROWS
    mask_quality: MaskQuality | str = DEFAULT_MASK_QUALITY
    window: tuple[int, int, int, int] | None = None
    atmosphere: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.atmosphere is None:
            object.__setattr__(self, "atmosphere", "6s" if self.level == "l1c" else "analytic")
        if self.atmosphere not in ATMOSPHERE_MODELS:
            raise InvalidParameterError(f"atmosphere must be one of {', '.join(ATMOSPHERE_MODELS)}, "
                                        f"not {self.atmosphere!r}")
        object.__setattr__(self, "mask_quality", mask_quality(self.mask_quality))
        if self.window is not None:
            if self.size not in (DEFAULT_SIZE, MAX_SIZE):
                raise InvalidParameterError(f"size {self.size}: a window is simulated at the true 10 m pixels "
                                            f"(size {MAX_SIZE}); leave size out")
            object.__setattr__(self, "size", MAX_SIZE)
            object.__setattr__(self, "window", _check_window(self.window, 6 if self.level == "l1c" else 2))
        object.__setattr__(self, "tiles", tuple(sorted({tile_footprint(t).tile for t in self.tiles})))
        if not self.tiles:
            raise InvalidParameterError("no tile to simulate")
        if self.level not in LEVELS:
            raise InvalidParameterError(f"level must be one of {', '.join(LEVELS)}, not {self.level!r}")
        if self.end < self.start:
            raise InvalidParameterError(f"end date {self.end} is before start date {self.start}")
        size = self.size
        if not MIN_SIZE <= size <= MAX_SIZE or size % 2:
            raise InvalidParameterError(f"size {size} must be an even number of pixels from {MIN_SIZE} to {MAX_SIZE}")
        if self.level == "l1c" and size % 6:
            raise InvalidParameterError(f"size {size} must be a multiple of 6 for l1c (60 m bands get size/6 pixels)")
        if self.seed < 0:
            raise InvalidParameterError(f"seed must be >= 0, not {self.seed}")
        if self.workers < 1:
            raise InvalidParameterError(f"workers must be >= 1, not {self.workers}")
        if self.block_rows < 6 or self.block_rows % 6:
            raise InvalidParameterError(f"block_rows must be a positive multiple of 6, not {self.block_rows}")


def _check_window(window, multiple: int) -> tuple[int, int, int, int]:
    try:
        values = tuple(int(v) for v in window)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"window {window!r} must be 4 integers XOFF,YOFF,WIDTH,HEIGHT") from None
    if len(values) != 4:
        raise InvalidParameterError(f"window {window!r} must be 4 integers XOFF,YOFF,WIDTH,HEIGHT")
    xoff, yoff, width, height = values
    if xoff < 0 or yoff < 0 or width <= 0 or height <= 0:
        raise InvalidParameterError(f"window {','.join(map(str, values))}: offsets must be >= 0 and sizes > 0")
    if any(v % multiple for v in values):
        what = "even" if multiple == 2 else f"multiples of {multiple} for l1c"
        raise InvalidParameterError(f"window {','.join(map(str, values))}: every value must be {what} (so that the "
                                    f"coarser bands' pixels align)")
    if xoff + width > MAX_SIZE or yoff + height > MAX_SIZE:
        raise InvalidParameterError(f"window {','.join(map(str, values))} goes past the tile ({MAX_SIZE} x "
                                    f"{MAX_SIZE} pixels of 10 m)")
    return values


def parse_window(text: str | None) -> tuple[int, int, int, int] | None:
    """Parse ``XOFF,YOFF,WIDTH,HEIGHT`` (10 m pixels of the whole tile); None for an empty text."""
    if text is None or not str(text).strip():
        return None
    parts = [p.strip() for p in str(text).split(",")]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise InvalidParameterError(f"window {text!r} must be 4 integers XOFF,YOFF,WIDTH,HEIGHT") from None
    if len(values) != 4:
        raise InvalidParameterError(f"window {text!r} must be 4 integers XOFF,YOFF,WIDTH,HEIGHT")
    return values


@dataclass(frozen=True)
class _ProductTask:
    tile: str
    acquisition: Acquisition
    coverage: float


@dataclass(frozen=True)
class _MonthlyTask:
    tile: str
    central_date: dt.date


@dataclass
class SimulationResult:
    """What a run produced: product folders (relative names) and the truth index path."""

    products: list[str] = field(default_factory=list)
    index: Path | None = None


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(dt.date(y, m, 15))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _coverage(tile: str, acq: Acquisition, window=None) -> float:
    """Fraction of the tile (or of a window of it, in 10 m pixels) inside the swath, on sample points."""
    frame = tile_frame(tile_footprint(tile))
    if window is None:
        lon, lat = frame.nodes[2], frame.nodes[3]
    else:
        xoff, yoff, width, height = window
        pixel = TILE_SIZE_M / MAX_SIZE
        xs = (xoff + (np.arange(33) + 0.5) * width / 33.0) * pixel
        ys = (yoff + (np.arange(33) + 0.5) * height / 33.0) * pixel
        point = np.empty(frame.nodes.shape[0])
        lon, lat = np.empty((33, 33)), np.empty((33, 33))
        for i, py in enumerate(ys):
            for j, px in enumerate(xs):
                _interp(frame.nodes, frame.step, px, py, point)
                lon[i, j], lat[i, j] = point[2], point[3]
    cross, _ = track_position_ref(lon, lat, acq.nadir_lon_ref)
    return float(np.mean(np.abs(cross) <= SWATH_HALF_WIDTH_M))


def _noise_seed(seed: int, tile: str, acq: Acquisition) -> int:
    return int(hash3_ref(seed, acq.date.toordinal() * 1000 + acq.relative_orbit, zlib.crc32(tile.encode())) >> 14)


def _refl_int16(values: np.ndarray) -> np.ndarray:
    """float reflectance (NaN = nodata) -> int16 x10000, nodata -10000, valid values kept off the nodata value."""
    out = np.clip(np.rint(np.nan_to_num(values, nan=0.0) * 10000.0), -9999, 32767).astype(np.int16)
    out[np.isnan(values)] = -10000
    return out


def _quantize(values: np.ndarray, scale: float, edge: np.ndarray) -> np.ndarray:
    out = np.clip(np.rint(np.nan_to_num(values, nan=0.0) * scale), 1, 255).astype(np.uint8)
    out[edge] = 0
    return out


class _Run:
    """State shared by the tasks of one run (read-only once built)."""

    def __init__(self, config: SimulationConfig):
        self.config = config
        self.out_dir = config.out_dir.absolute()
        self.truth_root = self.out_dir / "truth"
        self.world = world_params(config.seed)
        self.cover_brdf = cover_brdf_table(config.seed)
        self.quality = config.mask_quality
        self.footprints = {t: tile_footprint(t) for t in config.tiles}
        frames = [tile_frame(self.footprints[t]) for t in config.tiles]
        self.plan = acquisitions_for_tiles(frames, config.start, config.end)
        self.months = _months(config.start, config.end)
        n = config.size
        #: the simulated part of each tile, in pixels of the size-n grid: (xoff, yoff, width, height)
        self.window = config.window or (0, 0, n, n)
        self.grids = {t: {"R1": self.grid(fp, 1), "R2": self.grid(fp, 2)} for t, fp in self.footprints.items()}
        #: thread pool computing scene blocks (set by :func:`simulate` when workers > 1)
        self.pool: ThreadPoolExecutor | None = None
        self._geometry: dict = {}
        self._lock = threading.Lock()

    def grid(self, fp, factor: int):
        """Grid of the simulated part of a tile at ``factor`` times the 10 m-band pixel (1, 2 or 6)."""
        n = self.config.size
        if self.config.window is None:
            return fp.grid(n // factor)
        from affine import Affine

        from l2a.grid import Grid

        xoff, yoff, width, height = self.window
        step = fp.size_m / (n // factor)
        return Grid(Affine(step, 0.0, fp.ulx + xoff * (fp.size_m / n), 0.0, -step, fp.uly - yoff * (fp.size_m / n)),
                    height // factor, width // factor)

    # --- naming ---------------------------------------------------------------------------------------------
    def acquisition_files(self, tile: str, acq: Acquisition) -> tuple[dt.datetime, dict[str, str]]:
        when = tile_datetime(self.footprints[tile], acq)
        stem = acquisition_stem(tile, when, acq.platform, acq.relative_orbit)
        roles = ("REFL_R1", "REFL_R2", "NADIR_R1", "NADIR_R2", "MASKS_R1", "MASKS_R2", "ATMO_R2")
        return when, {r: f"{tile}/acquisitions/{stem}_{r}.tif" for r in roles}

    @staticmethod
    def dem_files(tile: str) -> dict[str, str]:
        return {"DEM_R2": f"{tile}/{tile}_DEM_R2.tif"}

    def dem(self, tile: str) -> None:
        """Write the tile's terrain (altitude at the 20 m-band pixel centres) once."""
        files = self.dem_files(tile)
        if truth_exists(self.truth_root, files):
            return
        from .frame import _transformers
        from .landscape import elevation_grid

        grid = self.grids[tile]["R2"]
        to_world = _transformers(self.footprints[tile].epsg)[0]
        t = grid.transform
        with TruthWriter(self.truth_root, files, crs=self.footprints[tile].crs, grids=self.grids[tile],
                         bands={}, mask_bands=()) as truth:
            for r0 in range(0, grid.height, 256):
                h = min(256, grid.height - r0)
                cols, rows = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(r0, r0 + h) + 0.5)
                x, y = to_world.transform(t.c + cols * t.a, t.f + rows * t.e)
                z = np.empty((h, grid.width))
                elevation_grid(np.ascontiguousarray(x), np.ascontiguousarray(y), self.world, z)
                truth.write("DEM_R2", np.round(z)[None].astype(np.int16), Window(0, r0, grid.width, h))

    def monthly_files(self, tile: str, central: dt.date) -> dict[str, str]:
        stem = f"{tile}_{central:%Y%m%d}"
        return {r: f"{tile}/monthly/{stem}_{r}.tif" for r in ("REFL_R1", "REFL_R2", "MASKS_R1", "MASKS_R2")}

    def geometry(self, tile: str, acq: Acquisition):
        """Angle grids of a product (computed once per run)."""
        key = (tile, acq)
        with self._lock:
            cached = self._geometry.get(key)
        if cached is None:
            origin = None
            if self.config.window is not None:        # a crop carries its angle grids from its own corner
                transform = self.grids[tile]["R1"].transform
                origin = (transform.c, transform.f)
            cached = product_geometry(self.footprints[tile], acq, origin)
            with self._lock:
                self._geometry[key] = cached
        return cached

    def l2a_metadata(self, tile: str, acq: Acquisition):
        from l2a.formats.theia.writer import L2AMetadata

        fp = self.footprints[tile]
        when, _ = self.acquisition_files(tile, acq)
        geometry = self.geometry(tile, acq)
        return L2AMetadata(platform=acq.platform, tile=tile, datetime=when, crs=fp.crs, grids=self.grids[tile],
                           bands=L2A_BANDS, angles=geometry.angles(L2A_BANDS), relative_orbit=acq.relative_orbit,
                           orbit_number=acq.absolute_orbit, version="1-0", extra=self.extra())

    def l1c_metadata(self, tile: str, acq: Acquisition):
        from l2a.formats.safe.writer import L1CMetadata

        fp = self.footprints[tile]
        when, _ = self.acquisition_files(tile, acq)
        geometry = self.geometry(tile, acq)
        nodes = tile_frame(fp).nodes
        corners = tuple((float(nodes[2][i, j]), float(nodes[3][i, j])) for i, j in ((0, 0), (0, -1), (-1, -1), (-1, 0)))
        # the datatake starts ~2000 km up the track, 5 minutes before the reference latitude
        start = acq.reference_time - dt.timedelta(minutes=5)
        start = start.replace(microsecond=(start.microsecond // 1000) * 1000)
        return L1CMetadata(platform=acq.platform, tile=tile, sensing_time=when, datatake_start=start, crs=fp.crs,
                           grids={10: self.grid(fp, 1), 20: self.grid(fp, 2), 60: self.grid(fp, 6)},
                           relative_orbit=acq.relative_orbit, absolute_orbit=acq.absolute_orbit, sun=geometry.sun,
                           view=geometry.detectors, footprint_lonlat=corners, extra=self.extra())

    def extra(self) -> dict[str, str]:
        c = self.config
        extra = {"simulator": f"syntheo {__version__} l2a simulate", "simulator_seed": str(c.seed),
                 "simulator_size": str(c.size), "simulator_mask_quality": c.mask_quality.name,
                 "simulator_atmosphere": c.atmosphere}
        if c.window is not None:
            extra["simulator_window"] = ",".join(map(str, c.window))
        return extra

    def product_name(self, tile: str, acq: Acquisition) -> str:
        if self.config.level == "l2a":
            from l2a.formats.theia.writer import theia_product_name
            return theia_product_name(self.l2a_metadata(tile, acq))
        from l2a.formats.safe.writer import safe_product_name
        return safe_product_name(self.l1c_metadata(tile, acq))

    # --- blocks -----------------------------------------------------------------------------------------------
    def blocks(self):
        """(row0, rows) of the 10 m grid of the simulated part for each block."""
        n, b = self.window[3], self.config.block_rows
        return [(r, min(b, n - r)) for r in range(0, n, b)]

    def jobs(self, tile, day, track, mode, noise_seed, quality, l1c=False, platform="S2A"):
        """Scene computations of one product, in writing order: per block of rows, R1 then R2 (then the 60 m
        grid for L1C). Each job is ``((res, row0, rows), arguments of run_scene)``."""
        out = []
        for row0, rows in self.blocks():
            grids = [("R1", 1, _R1_IDX), ("R2", 2, _R2_IDX)] + ([("R60", 6, _R60_IDX)] if l1c else [])
            for res, factor, bands in grids:
                r0, h = row0 // factor, rows // factor
                out.append(((res, r0, h), (tile, factor, r0, h, bands, day, track, mode, noise_seed, quality,
                                           platform)))
        return out

    def stream(self, jobs):
        """Results of scene jobs in order; with a block pool, up to ``workers`` jobs are computed ahead (bounded
        memory), so one product alone still uses every worker while its blocks are written."""
        if self.pool is None:
            for key, args in jobs:
                yield key, self.run_scene(*args)
            return
        pending = deque()
        todo = iter(jobs)
        for key, args in itertools.islice(todo, self.config.workers):
            pending.append((key, self.pool.submit(self.run_scene, *args)))
        while pending:
            key, future = pending.popleft()
            result = future.result()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append((nxt[0], self.pool.submit(self.run_scene, *nxt[1])))
            yield key, result

    def run_scene(self, tile, res_factor, row0, rows, bands, day, track, mode, noise_seed, quality, platform):
        """Outputs of :func:`~l2a.simulate.kernels.scene_block` for ``rows`` rows from ``row0`` of the simulated
        part, at ``res_factor`` times the 10 m-band pixel."""
        n = self.config.size // res_factor
        pixel = TILE_SIZE_M / n
        xoff, yoff, width, _ = self.window
        frame = tile_frame(self.footprints[tile])
        out = allocate_outputs(len(bands), rows, width // res_factor, retrieval=self.config.level == "l2a")
        scene_block(frame.nodes, frame.step, pixel, yoff // res_factor + row0, xoff // res_factor, bands, self.world,
                    day, track, mode, noise_seed, self.cover_brdf, quality,
                    *forward_model_args(self.config.atmosphere, platform), *out)
        return out

    # --- tasks ------------------------------------------------------------------------------------------------
    def product(self, task: _ProductTask) -> str | None:
        tile, acq = task.tile, task.acquisition
        name = self.product_name(tile, acq)
        if (self.out_dir / name).exists():
            logger.info("%s exists, skipped", name)
            return name
        _, files = self.acquisition_files(tile, acq)
        fp = self.footprints[tile]
        day = day_params(self.config.seed, acq.date)
        track = track_params(acq)
        seed = _noise_seed(self.config.seed, tile, acq)
        quality = quality_params(self.quality, self.config.seed, acq.date, acq.relative_orbit)
        counts = np.zeros(3, np.int64)          # observed, opaque cloud, snow (R2 truth)
        with ExitStack() as stack:              # the truth closes first, the product folder appears last
            if self.config.level == "l2a":
                from l2a.formats.theia.writer import TheiaL2AWriter
                writer = stack.enter_context(TheiaL2AWriter(self.out_dir, self.l2a_metadata(tile, acq), threads=1))
            else:
                from l2a.formats.safe.writer import L1CSafeWriter
                writer = stack.enter_context(L1CSafeWriter(self.out_dir, self.l1c_metadata(tile, acq), threads=1))
            truth = stack.enter_context(TruthWriter(self.truth_root, files, crs=fp.crs, grids=self.grids[tile],
                                                    bands={"R1": R1_BANDS, "R2": R2_BANDS},
                                                    mask_bands=ACQUISITION_MASK_BANDS))
            jobs = self.jobs(tile, day, track, MODE_ACQUISITION, seed, quality, l1c=self.config.level == "l1c",
                             platform=acq.platform)
            for (res, r0, h), (refl, nadir, toa, fre, u8, f32) in self.stream(jobs):
                win = Window(0, r0, u8.shape[2], h)
                if res == "R60":
                    self._write_l1c_block(writer, _R60_BANDS, toa, win)
                    continue
                names = R1_BANDS if res == "R1" else R2_BANDS
                truth.write(f"REFL_{res}", _refl_int16(refl), win)
                truth.write(f"NADIR_{res}", _refl_int16(nadir), win)
                truth.write(f"MASKS_{res}", u8[[U_CLASS, U_CLOUD, U_SHADOW, U_LANDCOVER]], win)
                if res == "R2":
                    truth.write("ATMO_R2", f32[[F_AOT, F_WV]], win)
                    inside = u8[U_EDGE] == 0
                    counts += (inside.sum(), (inside & (u8[U_CLOUD] == 2)).sum(),
                               (inside & (u8[U_CLASS] == CLASS_SNOW)).sum())
                if self.config.level == "l2a":
                    self._write_l2a_block(writer, res, names, fre, u8, f32, win)
                else:
                    self._write_l1c_block(writer, names, toa, win)
            if self.config.level == "l1c" and counts[0]:
                writer.cloud_percent = round(100.0 * counts[1] / counts[0], 2)
                writer.snow_percent = round(100.0 * counts[2] / counts[0], 2)
        return writer.path.name

    @staticmethod
    def _write_l2a_block(writer, res, names, fre, u8, f32, win):
        from l2a.formats.theia.bits import encode_clm, encode_mg2

        edge = u8[U_EDGE] != 0
        for b, band in enumerate(names):
            writer.write_band(band, _refl_int16(fre[b]), win)
        cloud = u8[U_CLOUD_DET] != 0
        cirrus = u8[U_CIRRUS_DET] != 0
        shadow = u8[U_SHADOW_DET] != 0
        clm = encode_clm(cloud, shadow, cirrus=cirrus)
        clm[edge] = 0
        water = (u8[U_WATER_DET] != 0) & ~cloud
        snow = (u8[U_SNOW_DET] != 0) & ~cloud
        mg2 = encode_mg2(water, snow, cloud | cirrus, shadow)
        mg2[edge] = 0
        writer.write_mask("CLM", res, clm, win)
        writer.write_mask("MG2", res, mg2, win)
        writer.write_mask("EDG", res, edge.astype(np.uint8), win)
        writer.write_mask("SAT", res, np.zeros(edge.shape, np.uint8), win)
        atb = np.stack([_quantize(f32[F_WV_EST], 20.0, edge), _quantize(f32[F_AOT_EST], 200.0, edge)])
        writer.write_atb(res, atb, win)

    @staticmethod
    def _write_l1c_block(writer, names, toa, win):
        from l2a.formats.safe.writer import dn_from_toa

        for b, band in enumerate(names):
            writer.write_band(band, dn_from_toa(toa[b]), win)

    def monthly(self, task: _MonthlyTask) -> None:
        tile, central = task.tile, task.central_date
        files = self.monthly_files(tile, central)
        if truth_exists(self.truth_root, files):
            return
        track = np.array([0.0, 0.0, float(central.timetuple().tm_yday)])
        day = day_params(self.config.seed, central)
        with TruthWriter(self.truth_root, files, crs=self.footprints[tile].crs, grids=self.grids[tile],
                         bands={"R1": R1_BANDS, "R2": R2_BANDS}, mask_bands=MONTHLY_MASK_BANDS) as truth:
            perfect = quality_params(PRESETS["perfect"], self.config.seed, central, 0)
            for (res, r0, h), (refl, _, _, _, u8, _) in self.stream(self.jobs(tile, day, track, MODE_MONTHLY, 0,
                                                                               perfect)):
                win = Window(0, r0, u8.shape[2], h)
                truth.write(f"REFL_{res}", _refl_int16(refl), win)
                truth.write(f"MASKS_{res}", u8[[U_CLASS, U_LANDCOVER]], win)

    # --- index ------------------------------------------------------------------------------------------------
    def index(self, tasks) -> dict:
        c = self.config
        tiles = {}
        for tile, fp in self.footprints.items():
            grids = {res: {"transform": list(g.transform)[:6], "height": g.height, "width": g.width}
                     for res, g in self.grids[tile].items()}
            tiles[tile] = {"epsg": fp.epsg, "ulx": fp.ulx, "uly": fp.uly, "size_m": fp.size_m, "grids": grids,
                           "dem": self.dem_files(tile)["DEM_R2"], "acquisitions": [], "monthly": []}
        for task in tasks:
            if isinstance(task, _ProductTask):
                acq = task.acquisition
                when, files = self.acquisition_files(task.tile, acq)
                tiles[task.tile]["acquisitions"].append({
                    "datetime": when.isoformat().replace("+00:00", "Z"), "date": acq.date.isoformat(),
                    "platform": acq.platform, "relative_orbit": acq.relative_orbit,
                    "absolute_orbit": acq.absolute_orbit, "coverage": round(task.coverage, 4),
                    "product": self.product_name(task.tile, acq), "files": files})
            else:
                tiles[task.tile]["monthly"].append({"central_date": task.central_date.isoformat(),
                                                    "files": self.monthly_files(task.tile, task.central_date)})
        multipliers = cover_multipliers(c.seed)
        from .landscape import LANDCOVER_CODES
        from .surface_brdf import SNOW_ROW

        rows = {**{str(k): v for k, v in sorted(LANDCOVER_CODES.items())}, str(SNOW_ROW): "snow (any cover)"}
        return {
            "simulator": {"software": f"syntheo {__version__}", "command": "l2a simulate", "seed": c.seed,
                          "size": c.size, "level": c.level, "start": c.start.isoformat(), "end": c.end.isoformat(),
                          "tiles": list(c.tiles), "window": list(c.window) if c.window is not None else None,
                          "mask_quality": c.mask_quality.name,
                          "mask_quality_parameters": c.mask_quality.as_dict(),
                          "atmosphere": c.atmosphere,
                          "surface_brdf": {
                              "model": "Ross-Thick + Li-Sparse-Reciprocal kernels (l2a.brdf.kernels), weights "
                                       "a_vol = m_vol f_vol/f_iso, a_geo = m_geo f_geo/f_iso per land cover (f_* of "
                                       "Roy et al. 2016 per band)",
                              "reference_sun_zenith_deg": REFERENCE_SUN_ZENITH_DEG,
                              "multipliers": {r: {"m_vol": round(float(multipliers[int(r), 0]), 6),
                                                  "m_geo": round(float(multipliers[int(r), 1]), 6), "cover": name}
                                              for r, name in rows.items()}}},
            "definitions": DEFINITIONS,
            "world_crs": f"EPSG:{WORLD_EPSG}",
            "bands": {"R1": list(R1_BANDS), "R2": list(R2_BANDS)},
            "mask_bands": {"acquisition": list(ACQUISITION_MASK_BANDS), "monthly": list(MONTHLY_MASK_BANDS)},
            "atmo_bands": ["AOT", "WV"],
            "codes": CODE_TABLES,
            "tiles": tiles,
        }


def simulate(config: SimulationConfig, *, quiet: bool = True) -> SimulationResult:
    """Run a simulation.

    Parameters
    ----------
    config : SimulationConfig
    quiet : bool
        No progress bar.

    Returns
    -------
    SimulationResult
    """
    from l2a.cli_options import progress

    run = _Run(config)
    tasks: list = []
    for tile in config.tiles:
        for acq in run.plan[tile]:
            coverage = _coverage(tile, acq, config.window)
            if coverage <= 0.0:
                logger.info("%s %s R%03d does not see the window, skipped", tile, acq.date, acq.relative_orbit)
                continue
            tasks.append(_ProductTask(tile, acq, coverage))
        tasks.extend(_MonthlyTask(tile, m) for m in run.months)
    if not any(isinstance(t, _ProductTask) for t in tasks):
        logger.warning("no acquisition between %s and %s (one every %d days per orbit); only monthly truth is written",
                       config.start, config.end, 5)
    logger.info("simulating %d products and %d monthly truths on %d worker(s)",
                sum(isinstance(t, _ProductTask) for t in tasks), sum(isinstance(t, _MonthlyTask) for t in tasks),
                config.workers)
    # the folders this run creates (the output folder and missing parents): removed again if the run fails empty
    created = [p for p in (run.out_dir, *run.out_dir.parents) if not p.exists()]
    try:
        run.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidParameterError(f"cannot create the output folder ({exc.strerror})", run.out_dir) from exc
    result = SimulationResult()
    bar = progress(total=len(tasks), quiet=quiet, desc="simulate", unit="task")

    def do(task):
        return run.product(task) if isinstance(task, _ProductTask) else run.monthly(task)

    try:
        # warning filters are process-wide: for the run only, silence GDAL's note about the writer's quicklook (an
        # ungeoreferenced JPEG), which the writer's own catch_warnings cannot hold back when threads write at once
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)
            _execute(run, tasks, do, bar)
            for tile in config.tiles:
                run.dem(tile)
    except BaseException:
        # products and truth rasters are each written atomically: what is complete stays, empty folders go
        _prune_empty_folders(run.out_dir, created)
        raise
    finally:
        bar.close()
    result.products = [run.product_name(t.tile, t.acquisition) for t in tasks if isinstance(t, _ProductTask)]
    result.index = write_index(run.truth_root, run.index(tasks))
    return result


def _prune_empty_folders(root: Path, created: list[Path]) -> None:
    """Remove the empty folders below ``root``, deepest first, then those of ``created`` (``root`` and the parents
    the run made, deepest first) that are empty."""
    below = [Path(f) for f, _, _ in os.walk(root) if Path(f) != root]
    for folder in sorted(below, key=lambda p: -len(p.parts)) + list(created):
        try:
            folder.rmdir()
        except OSError:  # not empty, already gone, or not ours
            pass


def _execute(run: _Run, tasks: list, do, bar) -> None:
    """Run the tasks: in order on this thread (one worker), or on a pool of ``workers`` threads whose tasks hand
    their scene blocks to a second pool of ``workers`` threads (numba kernels never run on more than ``workers``
    threads, and a lone big product still uses them all). The first failure cancels what has not started."""
    if run.config.workers == 1:
        for task in tasks:
            do(task)
            bar.update()
        return
    workers = run.config.workers
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulate-blocks") as blocks, \
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulate") as pool:
        run.pool = blocks
        pending = {pool.submit(do, t) for t in tasks}
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            bar.update(len(done))
            failed = [f for f in done if f.exception() is not None]
            if failed:
                for f in pending:
                    f.cancel()
                raise failed[0].exception()


def default_workers() -> int:
    """CPUs available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)
