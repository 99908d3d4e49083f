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
  the pixel scaling. Mosaics and pyramids (``mosaic build``/``tiles`` on the cluster) are not part of this batch and
  not projected.

Usage::

    python scripts/bench_batch.py                         # 4 tiles x 2 months at 366 pixels
    python scripts/bench_batch.py --size 1098 --months 2018-07
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
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


def main() -> None:
    from l3a.batch import BatchParams, exit_code, run_batch
    from l3a.dates import month_range

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=366, help="pixels per tile side at 10 m (10980 = full tile)")
    ap.add_argument("--tiles", default=",".join(TILES))
    ap.add_argument("--months", default="2018-07..2018-08")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/syntheo-bench-batch"))
    args = ap.parse_args()
    tiles = [t.strip() for t in args.tiles.split(",") if t.strip()]
    months = month_range(args.months)
    sim = _simulate(args.cache, args.size, tiles, months)
    _warm(sim)
    runs, digests = {}, {}
    for workers in (1, 2):
        out = args.cache / f"out-{args.size}-{workers}w"
        shutil.rmtree(out, ignore_errors=True)
        report = run_batch([sim], out, months, tiles=tiles,
                           batch=BatchParams(workers=workers, threads_per_worker=1))
        if exit_code(report) != 0 or report["totals"]["written"] != len(tiles) * len(months):
            sys.exit(f"bench_batch: the {workers}-worker run did not write every product: {report['totals']}")
        runs[workers] = _figures(report)
        digests[workers] = _digest(out)
        shutil.rmtree(out, ignore_errors=True)
    one = runs[1]
    scale = (FULL_TILE_SIZE / args.size) ** 2
    overhead = max(r["overhead_per_task_s"] or 0.0 for r in runs.values())
    print(json.dumps({
        "size": args.size, "tiles": len(tiles), "months": len(months), "tile_months": len(tiles) * len(months),
        "cpu_count": os.cpu_count(), "identical": digests[1] == digests[2] and len(digests[1]) > 0,
        "speedup": round(runs[1]["run_s"] / runs[2]["run_s"], 3),
        "runs": {f"{w}x1": r for w, r in runs.items()},
        "france": _france(one["task_mean_s"] * scale, overhead),
        "france_from_full_tile": _france(FULL_TILE_COMPOSE_CPU_S * one["dates_per_task"] / FULL_TILE_DATES, overhead),
    }))


if __name__ == "__main__":
    main()
