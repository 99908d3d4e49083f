"""Parameters of a batch of syntheses on dask.distributed, and the memory figures its defaults come from.

Memory rule (SPEC section 7; README "National runs"): a worker runs **one tile-month at a time** (every task asks for
one unit of the worker resource :data:`TILE_MONTH_RESOURCE`, and every worker offers one), with
``threads_per_worker`` threads inside that synthesis. The memory of a worker is then its own baseline plus the peak
of one synthesis, which :func:`l3a.compose` bounds by its block size, not by the tile's size. At 10 m, from the code:

- two blocks of inputs (the one composed, the one being read) of at most :data:`l3a.compose.BLOCK_BYTES` (256 MiB)
  each, whatever the number of dates (more dates, narrower blocks): 0.54 GB;
- two blocks of outputs, 1024 rows x 10980 columns x 20 bytes (4 int16 bands, int16 WGT, float64 mean day, uint8 FLG
  and NOB) at R1: 0.45 GB;
- no GDAL block cache to speak of (:data:`l3a.compose.GDAL_CACHE_BYTES`: a 256 MiB one cost 0.35 GB more peak RSS
  for no speed); the libraries (about 0.2 GB);
- the per-date coarse grids kept for the whole run, about 15 MB a date, nearly all of it the swath-edge weight on
  its 60 m grid (1830 x 1830 float32; the 240 m cloud weight and 1.2 km c-factors are 1 MB): 0.15 GB at 10 dates.

That bounds a 10 m tile-month of 10 dates near 1.35 GB; `scripts/bench_l3a.py` measured 1.24-1.26 GB of peak RSS for a
full 10980 x 10980 tile of 10 dates and 10 bands with 2 threads (issue 12 closing note, README "Benchmarks"), 0.9 GB
at 5490. Threads: while blocks are composed, each holds only the COG tile it decodes or encodes (a few MB); before
the blocks, the per-date grids are made by ``threads`` dates at once, each holding its 20 m nodata mask for the whole
tile (30 MB) and a distance transform (about 30 MB), about 0.1 GB a thread, a phase that stays below the block phase
up to a few threads (estimated from the code, not measured at 10 m). A dask worker process with the toolkit imported
holds 0.3 GB before any synthesis (``rss_start_bytes`` of the run report: 312 MB measured), mostly the libraries the
1.26 GB already count. Hence :data:`WORKER_MEMORY_BYTES`, 2 GiB per worker, for up to about 20 dates a tile-month
and 4 threads a worker: dask pauses a worker at 80 % of its limit (1.6 GiB, above 1.26 + 0.3 GB) and its nanny
restarts it at 95 %; add 15 MB a date beyond 20 and 0.1 GB a thread beyond 4. A node of C cores and M bytes runs
``min(C // threads_per_worker, M // WORKER_MEMORY_BYTES)`` workers.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from l2a.errors import InvalidParameterError

__all__ = ["BatchParams", "TILE_MONTH_RESOURCE", "WORKER_MEMORY_BYTES", "default_workers"]

#: Worker resource a synthesis task asks one unit of; local workers offer one, so a worker composes one tile-month
#: at a time whatever its thread count. Workers of an external cluster are started with ``--resources
#: tile-month=1`` (dask-jobqueue: ``worker_extra_args=["--resources", "tile-month=1"]``).
TILE_MONTH_RESOURCE = "tile-month"

#: Memory limit of a worker that composes one 10 m tile-month at a time, bytes: the synthesis's peak (1.26 GB measured
#: at 10 dates) plus the worker's baseline, below dask's pause threshold (80 % of the limit); see the module docstring
#: for more dates or threads.
WORKER_MEMORY_BYTES = 2 * 2**30


@dataclass(frozen=True)
class BatchParams:
    """How a batch runs: the cluster, the tasks' threads and retries, the outputs' policy.

    Instances are immutable and validated on creation (:class:`~l2a.errors.InvalidParameterError` naming the field).
    """

    workers: int | None = None  # worker processes of the local cluster; None = default_workers(): as many as the
    #                             cores (over threads_per_worker), the tasks and the memory allow
    threads_per_worker: int = 1  # threads of one synthesis (decoding, kernels, COG encoding) and of a local worker;
    #                              1: a synthesis at 2 threads keeps 1.8 cores busy, not 2 (145 CPU-s in 80 s on a
    #                              10 m tile, README "Benchmarks"), so one thread per tile-month and more
    #                              tile-months at once use the cores best, memory permitting
    memory_limit_bytes: int | None = None  # limit of each local worker, bytes; None = the machine's memory shared
    #                                        among the workers (dask's "auto"); a warning below WORKER_MEMORY_BYTES
    processes: bool = True  # local workers are processes: no shared GIL, and a synthesis that crashes its process
    #                         takes down only its worker (the task is then rescheduled)
    scheduler: str | None = None  # address of a running scheduler (tcp://host:8786); None = a LocalCluster
    scheduler_timeout_s: float = 10.0  # s to wait for that scheduler to answer before giving up
    retries: int = 2  # dask retries of a task that raised an unexpected error (I/O hiccups, memory); the data errors
    #                   of a product (SyntheoError) fail at once, since a retry would read the same bytes
    dashboard: bool = False  # serve dask's dashboard on a free port (needs bokeh) and report its link
    overwrite: bool = False  # recompose products that exist; otherwise they are kept (status "exists")
    discovery_threads: int = 8  # threads opening the products' metadata: opening is latency-bound on network
    #                             file systems (about 20 small reads per product)
    memory_sample_s: float = 0.05  # s between two samples of the worker's RSS during a task (peak_rss_bytes)

    def __post_init__(self):
        for name, low in (("workers", 1), ("threads_per_worker", 1), ("memory_limit_bytes", 1), ("retries", 0),
                          ("discovery_threads", 1)):
            value = getattr(self, name)
            if value is None and name in ("workers", "memory_limit_bytes"):
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidParameterError(f"{name}: expected a whole number >= {low}, got {value!r}")
        for name in ("scheduler_timeout_s", "memory_sample_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise InvalidParameterError(f"{name}: expected a number of seconds > 0, got {value!r}")
        if self.scheduler is not None and self.workers is not None:
            raise InvalidParameterError("workers: a scheduler's workers are its own; give one of scheduler and workers")
        for name in ("processes", "dashboard", "overwrite"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidParameterError(f"{name}: expected true or false, got {getattr(self, name)!r}")


def default_workers(tasks: int, threads_per_worker: int, memory_limit_bytes: int | None = None, *,
                    cores: int | None = None, memory_bytes: int | None = None) -> int:
    """Worker processes of a local cluster when none are asked for.

    Parameters
    ----------
    tasks : int
        Tile-months to compose (no more workers than tasks).
    threads_per_worker : int
        Threads of each worker (no more than the cores can run).
    memory_limit_bytes : int, optional
        Limit of each worker, bytes; default :data:`WORKER_MEMORY_BYTES` (no more workers than the memory holds).
    cores, memory_bytes : int, optional
        Cores available and physical memory, bytes (default: this machine's).

    Returns
    -------
    int
        ``min(cores // threads_per_worker, tasks, memory // limit)``, at least 1.
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if memory_bytes is None:
        import psutil

        memory_bytes = psutil.virtual_memory().total
    limit = memory_limit_bytes or WORKER_MEMORY_BYTES
    return max(1, min(cores // threads_per_worker, tasks, memory_bytes // limit))
