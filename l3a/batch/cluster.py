"""The dask cluster of a batch: a LocalCluster of worker processes, or a running scheduler's.

Every worker offers one unit of :data:`~l3a.batch.params.TILE_MONTH_RESOURCE` and every task asks for one, so a
worker composes one tile-month at a time with all its threads (the memory rule of :mod:`l3a.batch.params`). A local
cluster is set up so; the workers of a running scheduler must be started with ``--resources tile-month=1``: when
the scheduler already has workers and none offers it, the batch stops at once (its tasks would wait for ever).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from dataclasses import asdict, dataclass
from typing import Iterator

from ..errors import SchedulerError
from .params import TILE_MONTH_RESOURCE, WORKER_MEMORY_BYTES, BatchParams, default_workers

__all__ = ["ClusterSetup", "open_client"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSetup:
    """How the batch's cluster is made, for the run report.

    Attributes
    ----------
    kind : str
        ``local`` (a LocalCluster made for the run) or ``scheduler`` (a running scheduler's workers).
    scheduler : str
        Scheduler address.
    workers : int
        Workers when the run started.
    threads_per_worker : int or None
        Threads of each worker (of the first, for a running scheduler; None without workers yet).
    memory_limit_bytes : int or None
        Memory limit of each worker, bytes (None: no limit or no workers yet).
    processes : bool or None
        Local workers are processes (None for a running scheduler's).
    dashboard : str or None
        Dashboard link, when asked for.
    start_seconds : float
        Time to start or reach the cluster, s.
    """

    kind: str
    scheduler: str
    workers: int
    threads_per_worker: int | None
    memory_limit_bytes: int | None
    processes: bool | None
    dashboard: str | None
    start_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise SchedulerError("l3a batch needs dask.distributed: pip install 'syntheo[dask]'") from None
    return distributed


def _local_cluster(params: BatchParams, tasks: int):
    """A LocalCluster sized by ``params`` (workers by :func:`default_workers` when not given)."""
    import psutil

    distributed = _import_distributed()
    workers = params.workers or default_workers(tasks, params.threads_per_worker, params.memory_limit_bytes)
    memory_limit = params.memory_limit_bytes or psutil.virtual_memory().total // workers
    if memory_limit < WORKER_MEMORY_BYTES:
        logger.warning("workers get %.1f GB each, less than the %.1f GB a 10 m tile-month needs "
                       "(fine for smaller tiles)", memory_limit / 1e9, WORKER_MEMORY_BYTES / 1e9)
    with _sigint_ignored(params.processes):
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=params.threads_per_worker, processes=params.processes,
            memory_limit=memory_limit, resources={TILE_MONTH_RESOURCE: 1},
            dashboard_address=":0" if params.dashboard else None, silence_logs=logging.ERROR)
    return cluster, workers, memory_limit


@contextlib.contextmanager
def _sigint_ignored(processes: bool):
    """Ignore SIGINT while the local worker processes are started, so that they (and the workers their nannies
    restart) inherit the ignored disposition: a Ctrl-C in a terminal reaches the whole process group, and only the
    client should answer it (it cancels the tasks, closes the cluster and writes the partial report) -- otherwise
    every worker dies on its own with a traceback."""
    import signal
    import threading

    if not processes or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_workers(client, address: str) -> tuple[int, int | None, int | None]:
    """Workers, threads and memory limit of the first worker of a running scheduler; refuses workers that do not
    offer the tile-month resource."""
    workers = client.scheduler_info().get("workers", {})
    if not workers:
        logger.warning("%s has no worker yet; the tasks wait for workers started with --resources %s=1",
                       address, TILE_MONTH_RESOURCE)
        return 0, None, None
    if not any(w.get("resources", {}).get(TILE_MONTH_RESOURCE) for w in workers.values()):
        raise SchedulerError(f"none of its {len(workers)} workers offers the {TILE_MONTH_RESOURCE} resource "
                             f"(start them with --resources {TILE_MONTH_RESOURCE}=1)", address)
    first = workers[sorted(workers)[0]]
    return len(workers), first.get("nthreads"), first.get("memory_limit") or None


@contextlib.contextmanager
def open_client(params: BatchParams, tasks: int) -> Iterator[tuple[object, ClusterSetup]]:
    """Start a LocalCluster, or reach a running scheduler, and yield a connected client with the set-up.

    Parameters
    ----------
    params : BatchParams
        ``scheduler`` (an address, or None for a LocalCluster), ``workers``, ``threads_per_worker``,
        ``memory_limit_bytes``, ``processes``, ``dashboard``, ``scheduler_timeout_s``.
    tasks : int
        Tasks to run (bounds the default number of local workers).

    Yields
    ------
    (distributed.Client, ClusterSetup)
        Both closed on exit (a LocalCluster with its workers; a running scheduler is left running).

    Raises
    ------
    SchedulerError
        distributed not installed; no scheduler answered within ``scheduler_timeout_s``; its workers lack the
        tile-month resource.
    """
    import time

    distributed = _import_distributed()
    clock = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if params.scheduler is None:
            cluster, workers, memory_limit = _local_cluster(params, tasks)
            stack.callback(cluster.close)
            client = stack.enter_context(distributed.Client(cluster))
            setup = dict(kind="local", scheduler=cluster.scheduler_address, workers=workers,
                         threads_per_worker=params.threads_per_worker, memory_limit_bytes=memory_limit,
                         processes=params.processes)
        else:
            try:
                client = distributed.Client(params.scheduler, timeout=params.scheduler_timeout_s)
            except (OSError, TimeoutError) as exc:  # refused, or no answer in time
                raise SchedulerError(f"no dask scheduler answered within {params.scheduler_timeout_s:g} s "
                                     f"({' '.join(str(exc).split())})", params.scheduler) from None
            except ValueError as exc:  # an address distributed cannot parse
                raise SchedulerError(f"not a scheduler address ({' '.join(str(exc).split())})",
                                     params.scheduler) from None
            stack.enter_context(client)
            workers, threads, memory_limit = _check_workers(client, params.scheduler)
            setup = dict(kind="scheduler", scheduler=params.scheduler, workers=workers, threads_per_worker=threads,
                         memory_limit_bytes=memory_limit, processes=None)
        dashboard = client.dashboard_link if params.dashboard else None
        if dashboard and setup["kind"] == "local" and importlib.util.find_spec("bokeh") is None:
            # distributed serves no dashboard without bokeh, yet still reports a link
            logger.warning("no dashboard: dask's dashboard needs bokeh (pip install 'bokeh>=3.1')")
            dashboard = None
        yield client, ClusterSetup(**setup, dashboard=dashboard, start_seconds=time.perf_counter() - clock)
