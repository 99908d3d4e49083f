"""The run report of a batch: one JSON document, written atomically, with every task's outcome, the run's totals
and the cluster's set-up. Its ``definitions`` member says what each figure means."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from l2a._version import __version__
from l2a.io.atomic import atomic_write_bytes

from .task import STATUSES

__all__ = ["REPORT_NAME", "DEFINITIONS", "batch_report", "write_report", "exit_code"]

#: File name of the report in the output folder when no other path is given.
REPORT_NAME = "batch-report.json"

#: What the report's figures mean (copied into every report).
DEFINITIONS = {
    "status": "written: product composed in this run; exists: product kept from an earlier run (not recomposed); "
              "no-data: no usable product of the tile in the month's window; failed: see error; interrupted: not "
              "finished when the batch was interrupted (rerun the batch to resume)",
    "cleaned": "hidden temporary folders of this tile-month left by an earlier attempt killed mid-task (a worker "
               "or client killed), removed by the task before composing",
    "inputs": "products of the tile within the month's window (central date +- half_window_days), given to compose",
    "seconds": "wall time of the task on its worker, s (null when the task never returned)",
    "start_time": "Unix time the task started, s, on its worker's clock",
    "rss_start_bytes": "resident memory of the worker process when the task started, bytes",
    "peak_rss_bytes": "highest resident memory of the worker process while the task ran, bytes: RSS sampled every "
                      "memory_sample_s by a thread, or the process's getrusage high-water mark when the task raised "
                      "it (one task runs per worker at a time, so it is the worker's baseline plus the task's peak)",
    "totals.task_seconds": "sum of the tasks' seconds",
    "totals.run_seconds": "wall time from the first submission to the last result, s (cluster start excluded)",
    "totals.run_start_time": "Unix time of the first submission, s, on the client's clock",
    "totals.unreadable": "products that neither open nor carry a product name: in no task, and a failure",
    "totals.interrupted": "true when the batch was stopped by SIGINT (Ctrl-C) before every task finished",
}


def batch_report(records: Sequence[dict], *, inputs: Sequence[str], out_dir: str | os.PathLike,
                 months: Sequence[str], tiles: Sequence[str], params: dict, batch: dict, cluster: dict | None,
                 products: int, unreadable: Sequence[tuple[str, str]], discovery_seconds: float,
                 run_seconds: float, run_start_time: float | None, seconds: float, interrupted: bool = False) -> dict:
    """The report document (a plain JSON-able dict).

    Parameters
    ----------
    records : sequence of dict
        One per task (:func:`l3a.batch.task.run_task`), in plan order.
    inputs, out_dir, months, tiles : the batch's input folders, output folder, months and tiles.
    params : dict
        Synthesis parameters (:meth:`CompositeParams.to_dict`).
    batch : dict
        Batch parameters (fields of :class:`~l3a.batch.params.BatchParams`).
    cluster : dict or None
        :meth:`ClusterSetup.to_dict` (None when no task was submitted).
    products : int
        Products found.
    unreadable : sequence of (str, str)
        (path, error) of products in no task.
    discovery_seconds, run_seconds, seconds : float
        Time to find the products, to run the tasks, and of the whole batch, s.
    run_start_time : float or None
        Unix time of the first submission, s (None when nothing was submitted).
    interrupted : bool
        The batch was stopped by a KeyboardInterrupt (records of unfinished tasks are "interrupted").
    """
    counts = {status: sum(1 for r in records if r["status"] == status) for status in STATUSES}
    peaks = [r["peak_rss_bytes"] for r in records if r.get("peak_rss_bytes")]
    totals = {"tasks": len(records), **counts, "unreadable": len(unreadable),
              "task_seconds": sum(r["seconds"] or 0.0 for r in records), "run_seconds": run_seconds,
              "run_start_time": run_start_time,
              "discovery_seconds": discovery_seconds, "seconds": seconds,
              "peak_rss_bytes": max(peaks) if peaks else None, "interrupted": interrupted}
    return {"command": "l3a batch", "version": __version__, "inputs": [str(p) for p in inputs],
            "out": str(Path(out_dir).absolute()), "months": list(months), "tiles": list(tiles),
            "products": products, "unreadable": [{"path": p, "error": e} for p, e in unreadable],
            "cluster": cluster, "batch": batch, "params": params, "totals": totals, "tasks": list(records),
            "definitions": DEFINITIONS}


def write_report(path: str | os.PathLike, report: dict) -> Path:
    """Write the report atomically (temporary sibling, rename), replacing an older one; returns its path."""
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, (json.dumps(report, indent=1) + "\n").encode())


def exit_code(report: dict) -> int:
    """0 when every task is written, exists or has no data; 1 when a task failed or a product is in no task;
    130 when the batch was interrupted."""
    totals = report["totals"]
    if totals.get("interrupted"):
        return 130
    return 1 if totals["failed"] or totals["unreadable"] else 0
