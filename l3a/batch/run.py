"""A batch from start to end: find the products, plan the (tile, month) tasks, run them on the cluster, report.

Tasks are submitted to dask.distributed (``client.submit`` with the key ``compose-TILE-YYYY-MM-<token>``,
``retries``, ``pure=False`` and one unit of the tile-month resource) and collected as they complete
(``as_completed``), one tqdm bar over them; a failed task is recorded with its error and the others go on. Tasks
without input are not submitted (status "no-data"). Outputs do not depend on the cluster: each task is one
:func:`l3a.compose`, whose products are byte-identical whatever the threads, the input order or the other tasks.

Interrupts: a KeyboardInterrupt (SIGINT, Ctrl-C) while the tasks run cancels the tasks not finished, marks them
"interrupted", writes the report of what was done (``totals.interrupted`` true) and raises
:class:`BatchInterrupted` (a KeyboardInterrupt naming the report); leaving the cluster's context closes the
LocalCluster, whose nannies stop their worker processes (a task being composed is abandoned with its temporary
folder, which the task of that tile-month removes when the batch is run again:
:func:`l3a.batch.task.remove_stale_temporaries`). Rerunning the same command resumes: finished products are kept
(status "exists").
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Callable, Sequence

from l2a.errors import InvalidParameterError

from ..params import CompositeParams
from .cluster import ClusterSetup, open_client
from .discover import discover
from .params import TILE_MONTH_RESOURCE, BatchParams
from .plan import TaskSpec, plan_tasks, select_tiles
from .report import REPORT_NAME, batch_report, write_report
from .task import run_task

__all__ = ["run_batch", "run_tasks", "BatchInterrupted"]

logger = logging.getLogger(__name__)


class BatchInterrupted(KeyboardInterrupt):
    """A batch stopped by a KeyboardInterrupt while its tasks ran.

    Attributes
    ----------
    records : list of dict
        One per task, in plan order; those not finished have the status "interrupted".
    report : dict or None
        The partial report, once written (its path in ``report["report"]``).
    """

    def __init__(self, records: list[dict]):
        super().__init__("batch interrupted")
        self.records = records
        self.report: dict | None = None


def _no_data(spec: TaskSpec) -> dict:
    return {"tile": spec.tile, "month": spec.month, "status": "no-data", "inputs": [], "cleaned": [], "output": None,
            "error": None,
            "note": "no product in the window", "worker": None, "threads": None, "seconds": 0.0,
            "start_time": None, "end_time": None, "rss_start_bytes": None, "peak_rss_bytes": None}


def _failed(spec: TaskSpec, exc: BaseException) -> dict:
    """Record of a task whose future ended in an error (raised after its retries, or its workers died)."""
    return {**_no_data(spec), "status": "failed", "inputs": list(spec.inputs), "note": None, "seconds": None,
            "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}


def _token(spec: TaskSpec, params: CompositeParams, out_dir: str, overwrite: bool) -> str:
    """8 hex digits naming what a task computes, appended to its key: the scheduler takes two tasks of one key for
    one task, so two batches sharing a scheduler must not give the same key to a tile-month they compose
    differently (another output folder, other parameters or inputs)."""
    what = json.dumps([out_dir, params.to_dict(), overwrite, spec.inputs], sort_keys=True)
    return hashlib.sha256(what.encode()).hexdigest()[:8]


def run_tasks(client, tasks: Sequence[TaskSpec], params: CompositeParams, out_dir: str | os.PathLike,
              batch: BatchParams, threads: int | None = None, show_progress: bool = False) -> list[dict]:
    """Run the tasks with inputs on the cluster of ``client``; returns one record per task, in ``tasks`` order.

    Parameters
    ----------
    client : distributed.Client
    tasks : sequence of TaskSpec
    params : CompositeParams
    out_dir : path-like
        Folder receiving the products.
    batch : BatchParams
        ``retries``, ``overwrite``, ``memory_sample_s``.
    threads : int, optional
        Threads of each synthesis (default: the thread count of the worker running it).
    show_progress : bool
        One tqdm bar over the submitted tasks.

    Raises
    ------
    BatchInterrupted
        On a KeyboardInterrupt while waiting for the tasks: the unfinished ones are cancelled, and recorded as
        "interrupted".
    """
    from distributed import as_completed

    from l2a.cli_options import progress

    out = str(Path(out_dir).absolute())
    records = {t.key: _no_data(t) for t in tasks if not t.inputs}
    futures = {client.submit(run_task, t, params, out, threads, batch.overwrite, batch.memory_sample_s,
                             key=f"{t.key}-{_token(t, params, out, batch.overwrite)}", retries=batch.retries,
                             pure=False, resources={TILE_MONTH_RESOURCE: 1}): t
               for t in tasks if t.inputs}
    try:
        with progress(total=len(futures), quiet=not show_progress, desc="l3a batch", unit="tile-month") as bar:
            for future in as_completed(futures):
                spec = futures[future]
                if future.status == "finished":
                    records[spec.key] = future.result()
                elif future.status == "error":
                    records[spec.key] = _failed(spec, future.exception())
                else:  # cancelled or lost: the scheduler gave up on it
                    records[spec.key] = _failed(spec, RuntimeError(f"task {future.status} by the scheduler"))
                if records[spec.key]["status"] == "failed":
                    logger.error("%s %s failed: %s", spec.tile, spec.month, records[spec.key]["error"])
                future.release()
                bar.update(1)
    except KeyboardInterrupt:
        pending = [f for f, t in futures.items() if t.key not in records]
        for spec in (futures[f] for f in pending):
            records[spec.key] = {**_failed(spec, KeyboardInterrupt()), "status": "interrupted", "error": None,
                                 "note": "not finished when the batch was interrupted"}
        try:
            client.cancel(pending)
        except Exception as exc:  # the cluster may be going down with the interrupt: closing it stops them anyway
            logger.debug("cancelling the unfinished tasks failed: %s", exc)
        raise BatchInterrupted([records[t.key] for t in tasks]) from None
    return [records[t.key] for t in tasks]


def run_batch(inputs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, months: Sequence[str], *,
              tiles: Sequence[str] | None = None, area: str | os.PathLike | None = None,
              params: CompositeParams | None = None, batch: BatchParams | None = None,
              report_path: str | os.PathLike | None = None, show_progress: bool = False,
              level: str = "l2a", l2a_dir: str | os.PathLike | None = None, process_params=None,
              dem: Sequence[str | os.PathLike] | None = None,
              announce: Callable[[ClusterSetup], None] | None = None) -> dict:
    """Compose every (tile, month) of a batch on dask.distributed and write the run report.

    Parameters
    ----------
    inputs : sequence of path-like
        Folders holding L2A products (or products), any format :func:`l2a.open_l2a` reads.
    out_dir : path-like
        Folder receiving the L3A products (and the report by default).
    months : sequence of str
        Months ``YYYY-MM`` (:func:`l3a.dates.month_range`).
    tiles : sequence of str, optional
        Tiles to compose; or
    area : path-like, optional
        GeoJSON of an area of interest: the tiles found whose footprint intersects it. Neither: every tile found.
    params : CompositeParams, optional
        Synthesis parameters (default profile).
    batch : BatchParams, optional
        Cluster and task settings.
    report_path : path-like, optional
        Where to write the report (default ``out_dir/batch-report.json``).
    level : str
        ``l2a`` (inputs are L2A products) or ``l1c``: L1C products, processed tile by tile by ``l2a process``
        (:mod:`l3a.batch.l1c`) into ``l2a_dir`` (default ``out_dir/l2a``) with ``process_params`` and ``dem``, the
        syntheses depending on their tile's processing; the report then starts with one record per tile
        (``kind`` "l2a-process").
    show_progress : bool
        tqdm bar over the tasks.
    announce : callable, optional
        Called with the :class:`ClusterSetup` once the cluster is up (the CLI prints the dashboard link).

    Returns
    -------
    dict
        The report (:func:`l3a.batch.report.batch_report`); ``l3a.batch.exit_code(report)`` says whether everything
        succeeded.

    Raises
    ------
    BatchInterrupted
        On a KeyboardInterrupt while the tasks run, once the cluster is closed and the partial report written
        (``totals.interrupted`` true; unfinished tasks "interrupted"); its ``report`` attribute is that report.
    NoProductError, AreaOfInterestError, SchedulerError, InvalidParameterError, MissingFileError
        Before any task runs: no product, an area intersecting no tile, no scheduler, bad parameters, a missing
        folder.
    """
    params = params or CompositeParams()
    batch = batch or BatchParams()
    if level not in ("l2a", "l1c"):
        raise InvalidParameterError(f"level: expected l2a or l1c, not {level!r}")
    clock = time.perf_counter()
    if level == "l1c":
        from .l1c import discover_l1c

        discovery = discover_l1c(inputs)
    else:
        discovery = discover(inputs, batch.discovery_threads)
    chosen = select_tiles(discovery, tiles, area)
    tasks = plan_tasks(discovery.products, chosen, months, params.half_window_days)
    discovery_seconds = time.perf_counter() - clock
    submitted = sum(1 for t in tasks if t.inputs)
    logger.info("%d products, %d tiles x %d months: %d tasks with data", len(discovery.products), len(chosen),
                len(set(months)), submitted)
    setup, run_seconds, run_start_time, interrupted = None, 0.0, None, None
    if submitted:
        try:
            with open_client(batch, submitted) as (client, setup):
                if announce is not None:
                    announce(setup)
                run_start_time, run_clock = time.time(), time.perf_counter()
                threads = batch.threads_per_worker if batch.scheduler is None else None
                try:
                    if level == "l1c":
                        from l2a.process import ProcessParams

                        from .l1c import run_l1c_tasks

                        records = run_l1c_tasks(client, discovery, chosen, months, params,
                                                process_params or ProcessParams(), out_dir,
                                                l2a_dir or Path(out_dir) / "l2a", batch, threads, dem, show_progress)
                    else:
                        records = run_tasks(client, tasks, params, out_dir, batch, threads, show_progress)
                finally:
                    run_seconds = time.perf_counter() - run_clock
        except BatchInterrupted as exc:  # the cluster is closed: report what was done, then stop
            interrupted, records = exc, exc.records
    else:
        records = [_no_data(t) for t in tasks]
    report = batch_report(records, inputs=[str(Path(p).absolute()) for p in inputs], out_dir=out_dir, months=months,
                          tiles=chosen, params=params.to_dict(), batch=dataclasses.asdict(batch),
                          cluster=setup.to_dict() if setup else None, products=len(discovery.products),
                          unreadable=discovery.unreadable, discovery_seconds=discovery_seconds,
                          run_seconds=run_seconds, run_start_time=run_start_time,
                          seconds=time.perf_counter() - clock, interrupted=interrupted is not None)
    path = write_report(report_path or Path(out_dir) / REPORT_NAME, report)
    report["report"] = str(path)
    if interrupted is not None:
        interrupted.report = report
        raise interrupted
    return report
