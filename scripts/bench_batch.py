#!/usr/bin/env python
"""Benchmark of ``l3a batch`` on dask.distributed: the same batch on 1 worker and on 2 workers, in one run.

Prints ONE JSON line. The batch is every (tile, month) of ``--tiles`` x ``--months`` (default 4 tiles x 2 months = 8
tile-months), from L2A products simulated once at ``--size`` and cached under ``--cache`` (``l2a simulate``, seed 1,
the months' whole windows). It runs through :func:`l3a.batch.run_batch` (what ``l3a batch`` runs) on a LocalCluster
of worker processes, first with ``1 worker x 1 thread``, then with ``2 workers x 1 thread``, each into its own
output folder; the products of the two runs are compared byte for byte (``identical``). The input files are read
once beforehand so that both runs find them in the page cache.

Figures (seconds are wall times; compare ratios, not seconds, on a shared machine):

* ``run_s``: first submission to last result, per run (the cluster's start, ``start_s``, and the discovery of the
  products, ``discovery_s``, apart); ``speedup = run_s(1 worker) / run_s(2 workers)``;
* ``task_mean_s``: mean wall time of one task (one :func:`l3a.compose`, measured inside the task), per run;
* ``overhead_per_task_s``: what the scheduler adds per task, from the run report's task stream: on each worker, the
  idle time between the end of a task and the start of the next (submission, scheduling, transfer of the task and
  of its result, all of which happen between them; the workers always have a task waiting), averaged over those
  gaps; ``overhead_ratio`` divides it by ``task_mean_s``. The first task of a worker also waits for the worker to
  import the toolkit (``first_dispatch_s``, once per worker, not per task); ``idle_per_task_s = (run_s x workers -
  sum of task seconds) / tasks`` counts that, and the workers idle at the end of an uneven batch, too;
* ``peak_rss_mb``: the largest peak RSS of a worker process during a task (the run report's ``peak_rss_bytes``: the
  worker's baseline plus one synthesis), and ``rss_start_mb``, the baseline of a worker that has composed before;
* ``france``: a projection of one month of France at 10 m, about 100 tiles, on 10 nodes of 16 cores (workers of 1
  thread and 2 GiB, 16 per node: 32 GiB of a node's memory), from the measured 1-worker task time. Assumptions: a
  task's time scales with its pixel count, ``(10980 / size)^2`` (decoding, kernels and encoding are per pixel; the
  per-date coarse grids and the opening of the products are not, so the figure is pessimistic); a French tile-month
  has about as many dates as the simulated ones (two relative orbits, ``dates_per_task``); the file system delivers
  the inputs to 160 tasks at once; the 1-worker run's per-task time holds for a worker of a 16-core node. 100 tasks
  on 160 worker slots make one wave: the month takes one task's time plus the overhead; ``core_hours`` is the CPU
  the month costs. At small sizes the costs of a task that do not grow with its pixels (opening the 19 products
  alone takes about 1 s of the 3.5 s at 366 pixels; the per-date coarse grids) are scaled by the pixel ratio too, so
  this projection is an upper bound. ``france_from_full_tile`` makes the same projection from the full 10 m tile
  actually measured by ``scripts/bench_l3a.py`` (:data:`FULL_TILE_COMPOSE_CPU_S` for 10 dates, scaled by
  ``dates_per_task / 10``, pessimistic too since encoding the outputs does not grow with the dates), as a check of
  the pixel scaling.

The rest of a month, syntheses -> mosaic -> pyramid, runs on the 2-worker cluster too: for it the bench starts that
LocalCluster itself (2 worker processes of 1 thread offering ``tile-month=1``, each with half the machine's memory,
as :func:`l3a.batch.run_batch` would make it) and gives :func:`l3a.batch.run_batch` its address
(``BatchParams(scheduler=...)``); that run's ``start_s`` is the cluster's start plus the connection. Once the batch
is done, on the same cluster:

* ``mosaic``: :func:`mosaic.build.build_mosaic` of the first month's syntheses of the 2-worker run, tiled layout,
  EPSG:2154, at the syntheses' own pixel (``R1`` of a product: 109.8 km / ``size``), in COG tiles of
  ``--grid-tile-px`` (512) pixels, one dask task per COG tile. Figures: ``grid_tiles``, ``tiles_written``, the wall
  time ``wall_s`` (from the call to its return: inputs opened, feathering ramps on the client, tasks, VRTs and STAC),
  the tile tasks' own times read from the scheduler's task stream (:func:`distributed.get_task_stream`: compute time
  of each ``mosaic-tile-*`` task; ``task_mean_s``, ``task_max_s``, ``task_sum_s``, the CPU seconds since a worker
  has one thread), ``client_s`` (wall time outside the tasks' span: preparation, ramps, VRTs), the output's
  ``data_mpx`` (pixels whose FLG is not 255, i.e. inside a synthesis's frame), ``cpu_s_per_data_mpx`` and, as the
  fallback a task stream would not give, ``cpu_s_per_tile_wall_x_workers = wall_s x workers / grid_tiles``;
* ``pyramid``: :func:`mosaic.tiles.build_pyramid` of that mosaic's ``mosaic.vrt``, zooms 5 to the mosaic's native
  zoom (:func:`mosaic.pyramid.native_zoom`; ``native_zoom_formula`` checks it: the largest z whose WebMercator
  pixel at 45 deg N, ``156543.03 x cos(lat) / 2^z`` m, is not finer than the mosaic's), one task per meta-block
  (8 x 8 tiles of the deepest zoom and the zooms above them inside it) and per 256 overview tiles. Figures: tiles
  per zoom (``counts``, in each of the two layers, true colour and flags), ``written`` (files, both layers),
  ``wall_s``, the tasks' compute times (``tasks``, ``task_sum_s``), ``cpu_s_per_1000_tiles`` (per tile of any zoom)
  and ``cpu_s_per_1000_deepest_tiles`` (the whole pyramid's CPU over the deepest zoom's tiles), plus the
  wall-time-based ``s_per_1000_tiles_wall``.

``france_month`` projects a whole month of France at 10 m on the same 10 nodes x 16 cores (160 workers of 1 thread)
from those measured rates, stage after stage, each stage's ``hours`` (wall, on 160 workers) and ``core_hours`` (the
CPU of its tasks), and their ``total``; its ``assumptions`` list says how:

* ``syntheses``: the ``france`` projection above;
* ``mosaic``: the measured CPU seconds per output megapixel of data, times ``10 / bands`` (1 when the syntheses have
  the 10 bands of a real mosaic, as the simulated ones do; with fewer, linear in the bands, pessimistic since flags,
  weights and ramps do not grow with them), times France's 5,490 Mpx (549,000 km2 at 10 m). The COG tiles (5120 px,
  the default of :class:`mosaic.params.MosaicParams`: 51.2 km) that hold data are counted as the squares of a lattice
  meeting a disc of France's area (Steiner: ``A / s^2 + 2 L / (pi s) + 1``, ``L`` the disc's perimeter; France, less
  compact, has somewhat more); each full tile is one task of ``cpu_s_per_data_mpx x 26.2 Mpx``, run in waves of 160;
  the client's share (``client_s``) is scaled by the number of input syntheses (100 against the measured ones);
* ``pyramid``: the native zoom of 10 m at 46.5 deg N by the same rule (13: 13.2 m pixels on the ground; zoom 14's
  6.6 m would magnify the data, and ``core_hours_one_zoom_deeper`` gives its cost, 4 x); the deepest zoom's tiles
  over France's area
  (tile side ``40075016.7 m x cos(lat) / 2^z``, same lattice margin), plus 1/3 for the zooms above it down to 5;
  CPU = ``cpu_s_per_1000_tiles`` (measured over every zoom, so the 1/3 is not counted twice) x those tiles; wall:
  the stages run one after the other, the meta-blocks in waves of 160 tasks, then each zoom above in tasks of 256
  tiles.

The measured mosaic and pyramid are small (a few COG tiles, a few dozen web tiles at the default size), so their
per-tile rates carry the fixed costs of a task (opening the VRT and its sources, a dask round trip) over few pixels:
the projection of those two stages is an upper bound too; run with a larger ``--size`` for rates closer to 10 m.

Usage::

    python scripts/bench_batch.py                         # 4 tiles x 2 months at 366 pixels
    python scripts/bench_batch.py --size 1098 --months 2018-07
    python scripts/bench_batch.py --grid-tile-px 1024          # fewer, larger COG tiles in the mosaic stage
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TILES = ("T30TYN", "T30TYP", "T31TCH", "T31TCJ")
FULL_TILE_SIZE = 10980
#: CPU seconds of one 10 m tile-month (10980 x 10980, FULL_TILE_DATES dates, 10 bands) measured by
#: scripts/bench_l3a.py (README "Benchmarks": 145 CPU-s in 80 s on 2 threads): about the wall time of a 1-thread task.
FULL_TILE_COMPOSE_CPU_S = 145.0
FULL_TILE_DATES = 10
FRANCE_TILES = 100
NODES = 10
CORES_PER_NODE = 16
#: Physical constants and choices of the France month projection (``france_month``).
FRANCE_AREA_KM2 = 549_000.0  # metropolitan France's land area
FRANCE_LAT = 46.5  # its mean latitude, degrees N
FRANCE_RES_M = 10.0  # pixel of the national mosaic, m
MOSAIC_BANDS = 10  # bands of a real mosaic (B2-B8, B8A, B11, B12)
EARTH_CIRCUMFERENCE_M = 40075016.7  # WebMercator's equator (WGS84 semi-major axis x 2 pi)
WEBMERCATOR_RES0_M = 156543.03  # WebMercator pixel at zoom 0 on the equator: circumference / 256
MEASURED_LAT = 45.0  # latitude of the simulated tiles, for the native-zoom formula's check
MIN_ZOOM = 5  # shallowest zoom of the pyramids (measured and projected)


def _simulate(cache: Path, size: int, tiles: list[str], months: tuple[str, ...]) -> Path:
    """Products of ``tiles`` covering the windows of ``months`` (+-23 days around the 15th), simulated once."""
    import datetime as dt

    from l2a.simulate import SimulationConfig, simulate
    from l3a.dates import month_central_date

    first, last = month_central_date(months[0]), month_central_date(months[-1])
    start, end = first - dt.timedelta(days=23), last + dt.timedelta(days=23)
    sim = cache / f"sim-{size}-{'-'.join(tiles)}-{start:%Y%m%d}-{end:%Y%m%d}"
    done = sim / ".complete"
    if not done.exists():
        print(f"simulating {len(tiles)} tiles {start}..{end} at {size} into {sim}", file=sys.stderr)
        simulate(SimulationConfig(sim, start=start, end=end, tiles=tuple(tiles), size=size, seed=1))
        done.write_text("")
    return sim


def _warm(folder: Path) -> None:
    """Read every input file once (page cache), so that neither run pays the first read from disk."""
    for f in folder.rglob("*.tif"):
        with open(f, "rb") as stream:
            while stream.read(1 << 22):
                pass


def _digest(folder: Path) -> dict:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and f.name != "batch-report.json"}


def _figures(report: dict) -> dict:
    """Times, overhead and memory of one run, from its report."""
    tasks = [t for t in report["tasks"] if t["status"] == "written"]
    workers = report["cluster"]["workers"]
    run_s = report["totals"]["run_seconds"]
    task_s = [t["seconds"] for t in tasks]
    by_worker: dict[str, list[dict]] = {}
    for t in tasks:
        by_worker.setdefault(t["worker"], []).append(t)
    gaps, first = [], []
    for stream in by_worker.values():
        stream.sort(key=lambda t: t["start_time"])
        first.append(stream[0]["start_time"] - report["totals"]["run_start_time"])
        gaps += [b["start_time"] - a["end_time"] for a, b in zip(stream, stream[1:])]
    mean = sum(task_s) / len(task_s)
    overhead = sum(gaps) / len(gaps) if gaps else None
    return {"workers": workers, "tasks": len(tasks), "run_s": round(run_s, 2),
            "start_s": round(report["cluster"]["start_seconds"], 2),
            "discovery_s": round(report["totals"]["discovery_seconds"], 2),
            "task_mean_s": round(mean, 3), "task_sum_s": round(sum(task_s), 2),
            "overhead_per_task_s": None if overhead is None else round(overhead, 4),
            "overhead_ratio": None if overhead is None else round(overhead / mean, 5),
            "first_dispatch_s": round(max(first), 2),
            "idle_per_task_s": round((run_s * workers - sum(task_s)) / len(tasks), 3),
            "peak_rss_mb": round(max(t["peak_rss_bytes"] for t in tasks) / 1e6),
            "rss_start_mb": round(max(t["rss_start_bytes"] for t in tasks) / 1e6),
            "dates_per_task": round(sum(len(t["inputs"]) for t in tasks) / len(tasks), 1)}


def _france(task_10m_s: float, overhead_s: float) -> dict:
    """One month of France at 10 m on NODES x CORES_PER_NODE workers of 1 thread, from one task's 10 m time."""
    slots = NODES * CORES_PER_NODE
    waves = math.ceil(FRANCE_TILES / slots)
    return {"tiles": FRANCE_TILES, "nodes": NODES, "workers": slots, "task_10m_s": round(task_10m_s),
            "waves": waves, "hours": round(waves * (task_10m_s + overhead_s) / 3600, 3),
            "core_hours": round(FRANCE_TILES * task_10m_s / 3600, 1)}


def _native_zoom(pixel_m: float, lat: float) -> int:
    """Largest WebMercator zoom whose pixel on the ground at ``lat`` is not finer than ``pixel_m`` (the rule of
    :func:`mosaic.pyramid.native_zoom`: the coarser zoom between two)."""
    ground0 = WEBMERCATOR_RES0_M * math.cos(math.radians(lat))
    return max(0, math.floor(math.log2(ground0 / pixel_m) + 1e-9))


def _lattice_squares(area_m2: float, side_m: float) -> int:
    """Squares of side ``side_m`` of a lattice meeting a disc of ``area_m2`` (Steiner's formula, mean over the
    lattice's positions: ``A / s^2 + 2 L / (pi s) + 1``, ``L`` the disc's perimeter): the tiles holding data."""
    perimeter = 2 * math.sqrt(math.pi * area_m2)
    return math.ceil(area_m2 / side_m ** 2 + 2 * perimeter / (math.pi * side_m) + 1)


class _Tasks:
    """The tasks the scheduler ran while the context was open, from its task stream: compute seconds per key."""

    def __init__(self, client):
        self.client = client
        self.seconds: dict[str, float] = {}

    def __enter__(self):
        from distributed import get_task_stream

        self._stream = get_task_stream(self.client)
        self._stream.__enter__()
        return self

    def __exit__(self, *exc):
        self._stream.__exit__(*exc)
        for record in self._stream.data:
            spent = sum(s["stop"] - s["start"] for s in record.get("startstops", ()) if s["action"] == "compute")
            self.seconds[record["key"]] = self.seconds.get(record["key"], 0.0) + spent
        return False

    def matching(self, prefix: str) -> list[float]:
        return [v for k, v in self.seconds.items() if str(k).startswith(prefix)]

    def span(self) -> float:
        """Seconds from the first task's start to the last task's end."""
        times = [s for r in self._stream.data for s in r.get("startstops", ()) if s["action"] == "compute"]
        return max(s["stop"] for s in times) - min(s["start"] for s in times) if times else 0.0


def _start_cluster(workers: int):
    """A LocalCluster as :func:`l3a.batch.run_batch` makes one (processes of 1 thread, the tile-month resource, the
    machine's memory shared), started here so that the mosaic and the pyramid run on it after the batch."""
    import logging

    import psutil
    from distributed import LocalCluster

    from l3a.batch.params import TILE_MONTH_RESOURCE

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        memory_limit=psutil.virtual_memory().total // workers, resources={TILE_MONTH_RESOURCE: 1},
                        dashboard_address=None, silence_logs=logging.ERROR)


def _mosaic_stage(client, products: Path, month: str, out: Path, tile_px: int, workers: int) -> dict:
    """Tiled mosaic of the month's syntheses on the cluster of ``client``, at the syntheses' own pixel."""
    import rasterio

    from l3a.product import open_l3a
    from mosaic.build import build_mosaic
    from mosaic.flags import FLG_OUTSIDE
    from mosaic.params import MosaicParams
    from mosaic.sources import find_inputs

    resolution = open_l3a(find_inputs([products])[0]).grids["R1"].resolution
    params = MosaicParams(crs="EPSG:2154", resolution=resolution, layout="tiled", grid_tile_px=tile_px, month=month)
    shutil.rmtree(out, ignore_errors=True)
    with _Tasks(client) as tasks:
        result = build_mosaic([products], out, params, workers=1, scheduler=client.scheduler.address)
    task_s = tasks.matching("mosaic-tile-")
    with rasterio.open(out / "flags.vrt") as ds:
        data_px = int((ds.read(1) != FLG_OUTSIDE).sum())
    tiles = result.extra["grid_tiles"]
    cpu = sum(task_s)
    return {"month": month, "inputs": len(result.inputs), "bands": len(result.bands), "resolution_m": resolution,
            "grid_tile_px": tile_px, "shape": list(result.grid.shape), "grid_tiles": tiles,
            "tiles_written": result.extra["tiles_written"], "wall_s": round(result.seconds, 2),
            "tasks": len(task_s), "task_mean_s": round(cpu / len(task_s), 3) if task_s else None,
            "task_max_s": round(max(task_s), 3) if task_s else None, "task_sum_s": round(cpu, 2),
            "client_s": round(max(0.0, result.seconds - tasks.span()), 2),
            "data_mpx": round(data_px / 1e6, 4), "cpu_s_per_data_mpx": round(cpu / (data_px / 1e6), 3),
            "cpu_s_per_tile_wall_x_workers": round(result.seconds * workers / tiles, 3)}


def _pyramid_stage(client, mosaic_dir: Path, out: Path, workers: int) -> dict:
    """Web pyramid of the mosaic, zooms MIN_ZOOM to its native zoom, on the cluster of ``client``."""
    import rasterio

    from l2a.grid import Grid
    from mosaic.params import PyramidParams
    from mosaic.pyramid import native_zoom
    from mosaic.tiles import build_pyramid

    vrt = mosaic_dir / "mosaic.vrt"
    with rasterio.open(vrt) as ds:
        grid = Grid(ds.transform, ds.height, ds.width, ds.crs)
    native = native_zoom(grid)
    params = PyramidParams(min_zoom=min(MIN_ZOOM, native), max_zoom=native)
    shutil.rmtree(out, ignore_errors=True)
    with _Tasks(client) as tasks:
        result = build_pyramid(vrt, out, params, workers=1, scheduler=client.scheduler.address)
    task_s = tasks.matching("tiles-")
    cpu = sum(task_s)
    total, deepest = sum(result.counts.values()), result.counts[native]
    return {"zooms": [params.min_zoom, native], "native_zoom": native,
            "native_zoom_formula": _native_zoom(grid.resolution, MEASURED_LAT),
            "counts": {str(z): n for z, n in result.counts.items()}, "tiles": total, "deepest_tiles": deepest,
            "written": result.written, "wall_s": round(result.seconds, 2), "tasks": len(task_s),
            "task_mean_s": round(cpu / len(task_s), 3) if task_s else None, "task_sum_s": round(cpu, 2),
            "cpu_s_per_1000_tiles": round(1000 * cpu / total, 2),
            "cpu_s_per_1000_deepest_tiles": round(1000 * cpu / deepest, 2),
            "s_per_1000_tiles_wall": round(1000 * result.seconds / total, 2),
            "cpu_s_per_1000_tiles_wall_x_workers": round(1000 * result.seconds * workers / total, 2)}


def _france_month(syntheses: dict, mosaic: dict, pyramid: dict, overhead_s: float) -> dict:
    """A France month at 10 m on NODES x CORES_PER_NODE workers: syntheses -> mosaic -> pyramid, from the measured
    rates (see the module docstring)."""
    from mosaic.cluster import OVERVIEW_TILES_PER_TASK
    from mosaic.params import MosaicParams, PyramidParams

    slots = NODES * CORES_PER_NODE
    area_m2 = FRANCE_AREA_KM2 * 1e6
    # mosaic: CPU per data megapixel, scaled to 10 bands and France's pixels; full COG tiles in waves
    tile_px = MosaicParams.__dataclass_fields__["grid_tile_px"].default
    rate = mosaic["cpu_s_per_data_mpx"] * MOSAIC_BANDS / mosaic["bands"]
    france_mpx = area_m2 / FRANCE_RES_M ** 2 / 1e6
    cog_tiles = _lattice_squares(area_m2, tile_px * FRANCE_RES_M)
    tile_task_s = rate * tile_px ** 2 / 1e6
    mosaic_waves = math.ceil(cog_tiles / slots)
    client_s = mosaic["client_s"] * FRANCE_TILES / mosaic["inputs"]
    mosaic_s = client_s + mosaic_waves * (tile_task_s + overhead_s)
    mosaic_core_s = rate * france_mpx
    # pyramid: CPU per tile (every zoom), France's tiles of the native zoom plus 1/3; stages one after the other
    zoom = _native_zoom(FRANCE_RES_M, FRANCE_LAT)
    side = EARTH_CIRCUMFERENCE_M * math.cos(math.radians(FRANCE_LAT)) / 2 ** zoom
    deepest = _lattice_squares(area_m2, side)
    per_tile = pyramid["cpu_s_per_1000_tiles"] / 1000
    meta = PyramidParams.__dataclass_fields__["meta_tiles"].default
    levels = int(math.log2(meta))
    block_task_s = per_tile * meta ** 2 * sum(4.0 ** -k for k in range(levels + 1))
    blocks = math.ceil(deepest / meta ** 2)
    pyramid_s = math.ceil(blocks / slots) * (block_task_s + overhead_s)
    for z in range(zoom - levels - 1, MIN_ZOOM - 1, -1):
        tiles_z = math.ceil(deepest / 4 ** (zoom - z))
        tasks_z = math.ceil(tiles_z / OVERVIEW_TILES_PER_TASK)
        pyramid_s += math.ceil(tasks_z / slots) * (per_tile * min(tiles_z, OVERVIEW_TILES_PER_TASK) + overhead_s)
    pyramid_tiles = deepest * 4 / 3
    pyramid_core_s = per_tile * pyramid_tiles
    stages = {
        "syntheses": {"tasks": syntheses["tiles"], "hours": syntheses["hours"], "core_hours": syntheses["core_hours"]},
        "mosaic": {"cog_tiles": cog_tiles, "cog_tile_px": tile_px, "mpx": round(france_mpx),
                   "cpu_s_per_mpx_10_bands": round(rate, 3), "tile_task_s": round(tile_task_s),
                   "waves": mosaic_waves, "client_s": round(client_s),
                   "hours": round(mosaic_s / 3600, 3), "core_hours": round(mosaic_core_s / 3600, 1)},
        "pyramid": {"native_zoom": zoom, "tile_side_m": round(side), "deepest_tiles": deepest,
                    "tiles": round(pyramid_tiles), "meta_blocks": blocks, "block_task_s": round(block_task_s, 1),
                    "hours": round(pyramid_s / 3600, 3), "core_hours": round(pyramid_core_s / 3600, 1),
                    "core_hours_one_zoom_deeper": round(4 * pyramid_core_s / 3600, 1)},
    }
    hours = sum(st["hours"] for st in stages.values())
    return {
        "workers": slots, "nodes": NODES, **stages,
        "total": {"hours": round(hours, 3), "core_hours": round(sum(st["core_hours"] for st in stages.values()), 1),
                  "allocated_core_hours": round(hours * slots, 1)},
        "assumptions": [
            f"France: {FRANCE_AREA_KM2:,.0f} km2 at {FRANCE_RES_M:g} m, {FRANCE_TILES} tile-months",
            f"{slots} workers of 1 thread; the stages run one after the other",
            "syntheses: the 'france' projection",
            f"mosaic: measured CPU-s per data Mpx x {MOSAIC_BANDS}/{mosaic['bands']} bands (linear in bands)",
            f"mosaic: {cog_tiles} COG tiles of {tile_px} px = lattice squares meeting a disc of France's area",
            "mosaic: every COG tile a full tile's work, one task per worker per wave",
            f"mosaic: client time x {FRANCE_TILES}/{mosaic['inputs']} inputs, not scaled by pixels",
            f"pyramid: zoom {zoom}, largest z with 156543.03 x cos({FRANCE_LAT:g}) / 2^z >= {FRANCE_RES_M:g} m",
            f"pyramid: zoom {zoom} tiles over France's area (same margin), +1/3 for zooms {MIN_ZOOM}-{zoom - 1}",
            "pyramid: bounding-box tiles outside France (transparent) not counted",
            "pyramid: measured CPU-s per tile of any zoom, both layers (true colour, flags)",
            f"scheduler overhead {overhead_s * 1000:.1f} ms per task wave (measured in the batch)",
            "file system serves 160 workers at once",
            "measured mosaic and pyramid are small: task fixed costs weigh more (upper bound)",
        ],
    }


def main() -> None:
    from distributed import Client

    from l3a.batch import BatchParams, exit_code, run_batch
    from l3a.dates import month_range

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=366, help="pixels per tile side at 10 m (10980 = full tile)")
    ap.add_argument("--tiles", default=",".join(TILES))
    ap.add_argument("--months", default="2018-07..2018-08")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/syntheo-bench-batch"))
    ap.add_argument("--grid-tile-px", type=int, default=512,
                    help="COG tile side of the measured mosaic, pixels (a multiple of 512)")
    args = ap.parse_args()
    tiles = [t.strip() for t in args.tiles.split(",") if t.strip()]
    months = month_range(args.months)
    sim = _simulate(args.cache, args.size, tiles, months)
    _warm(sim)
    runs, digests = {}, {}
    with contextlib.ExitStack() as stack:
        for workers in (1, 2):
            out = args.cache / f"out-{args.size}-{workers}w"
            shutil.rmtree(out, ignore_errors=True)
            if workers == 1:
                batch = BatchParams(workers=workers, threads_per_worker=1)
            else:  # a cluster of our own, kept for the mosaic and the pyramid of the month
                clock = time.perf_counter()
                cluster = stack.enter_context(_start_cluster(workers))
                cluster_start_s = time.perf_counter() - clock
                batch = BatchParams(scheduler=cluster.scheduler_address)
            report = run_batch([sim], out, months, tiles=tiles, batch=batch)
            if exit_code(report) != 0 or report["totals"]["written"] != len(tiles) * len(months):
                sys.exit(f"bench_batch: the {workers}-worker run did not write every product: {report['totals']}")
            runs[workers] = _figures(report)
            if workers == 2:
                runs[workers]["start_s"] = round(cluster_start_s + report["cluster"]["start_seconds"], 2)
            digests[workers] = _digest(out)
            if workers == 1:
                shutil.rmtree(out, ignore_errors=True)
        client = stack.enter_context(Client(cluster))
        out = args.cache / f"out-{args.size}-2w"
        mosaic_dir, pyramid_dir = args.cache / f"mosaic-{args.size}", args.cache / f"pyramid-{args.size}"
        try:
            mosaic = _mosaic_stage(client, out, months[0], mosaic_dir, args.grid_tile_px, 2)
            pyramid = _pyramid_stage(client, mosaic_dir, pyramid_dir, 2)
        finally:
            for folder in (out, mosaic_dir, pyramid_dir):
                shutil.rmtree(folder, ignore_errors=True)
    one = runs[1]
    scale = (FULL_TILE_SIZE / args.size) ** 2
    overhead = max(r["overhead_per_task_s"] or 0.0 for r in runs.values())
    france = _france(one["task_mean_s"] * scale, overhead)
    print(json.dumps({
        "size": args.size, "tiles": len(tiles), "months": len(months), "tile_months": len(tiles) * len(months),
        "cpu_count": os.cpu_count(), "identical": digests[1] == digests[2] and len(digests[1]) > 0,
        "speedup": round(runs[1]["run_s"] / runs[2]["run_s"], 3),
        "runs": {f"{w}x1": r for w, r in runs.items()},
        "france": france,
        "france_from_full_tile": _france(FULL_TILE_COMPOSE_CPU_S * one["dates_per_task"] / FULL_TILE_DATES, overhead),
        "mosaic": mosaic, "pyramid": pyramid,
        "france_month": _france_month(france, mosaic, pyramid, overhead),
    }))


if __name__ == "__main__":
    main()
