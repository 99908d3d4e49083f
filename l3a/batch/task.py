"""The task a worker runs for one (tile, month) of a batch: one :func:`l3a.compose` call, measured.

The task is idempotent: a product already under its final name is kept (status ``exists``; :func:`l3a.compose`
writes under a temporary name and renames when complete, so a final name always holds a complete product), unless
``overwrite``. The name is predicted from the inputs' platforms (:func:`l3a.product.l3a_product_name`) so that a
rerun skips a finished tile-month without opening its inputs; should the synthesis name it otherwise (an input with
no valid pixel left out), :func:`l3a.compose` still finds the existing product and the task still says ``exists``.

Errors: a window without usable input is ``no-data``; any other error of the toolkit (an unreadable product, named
in the message) is returned as ``failed`` at once, since running it again would read the same bytes. Anything else
(an I/O error of the file system, memory) is raised, for dask to retry the task on a worker.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from l2a.errors import SyntheoError

from ..errors import EmptyWindowError
from ..params import CompositeParams
from ..product import l3a_product_name
from .memory import PeakMemory
from .plan import TaskSpec

__all__ = ["run_task", "STATUSES"]

#: Task outcomes: a product written, one kept from an earlier run, no input in the window, an error.
STATUSES = ("written", "exists", "no-data", "failed")


def _worker() -> tuple[str, int]:
    """Address and thread count of the dask worker running the caller ("local" and 1 outside a worker)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not inside a dask worker
        return "local", 1
    return worker.address, worker.state.nthreads


def _existing(out_dir: Path, spec: TaskSpec) -> set[Path]:
    """L3A products of the task's tile and central date already in ``out_dir`` (any platform prefix)."""
    pattern = f"*_{spec.central_date:%Y%m%d}-000000-000_L3A_{spec.tile}_*"
    return {p for p in out_dir.glob(pattern) if p.is_dir()} if out_dir.is_dir() else set()


def run_task(spec: TaskSpec, params: CompositeParams, out_dir: str | os.PathLike, threads: int | None = None,
             overwrite: bool = False, memory_sample_s: float = 0.05) -> dict:
    """Compose one tile-month and describe how it went.

    Parameters
    ----------
    spec : TaskSpec
        The tile, month and inputs.
    params : CompositeParams
        Synthesis parameters.
    out_dir : path-like
        Folder receiving the product.
    threads : int, optional
        Threads of the synthesis; default: the thread count of the dask worker running the task (1 outside one).
    overwrite : bool
        Recompose an existing product.
    memory_sample_s : float
        Seconds between two samples of the worker's RSS.

    Returns
    -------
    dict
        ``tile``, ``month``, ``status`` (one of :data:`STATUSES`), ``inputs`` (paths), ``output`` (product path, None
        without one), ``error`` (message of a failure, naming the file), ``note`` (why no data, or the other products
        of the tile and date in ``out_dir``), ``worker`` (address), ``threads``, ``seconds`` (wall time in the
        task), ``start_time`` and ``end_time`` (Unix time on the worker's clock, s), ``rss_start_bytes`` and
        ``peak_rss_bytes`` (the worker process's RSS at the start and its peak during the task, bytes:
        :class:`~l3a.batch.memory.PeakMemory`).

    Raises
    ------
    Exception
        Errors that are not the toolkit's (see the module docstring), for dask to retry.
    """
    from ..compose import compose

    worker, worker_threads = _worker()
    threads = threads or worker_threads
    out = Path(out_dir).absolute()
    record = {"tile": spec.tile, "month": spec.month, "status": None, "inputs": list(spec.inputs), "output": None,
              "error": None, "note": None, "worker": worker, "threads": threads}
    start = time.time()
    clock = time.perf_counter()
    with PeakMemory(memory_sample_s) as memory:
        before = _existing(out, spec)
        predicted = out / l3a_product_name(spec.platforms, spec.central_date, spec.tile)
        if not spec.inputs:
            record.update(status="no-data", note="no product in the window")
        elif predicted in before and not overwrite:
            record.update(status="exists", output=str(predicted))
        else:
            try:
                path = compose(spec.inputs, spec.central_date, params, out, tile=spec.tile, threads=threads,
                               overwrite=overwrite)
                record.update(status="exists" if path in before and not overwrite else "written", output=str(path))
                others = sorted(p.name for p in before - {path})
                if others:  # an earlier run of other inputs named its product after other platforms
                    record["note"] = "other products of this tile and date in the folder: " + ", ".join(others)
            except EmptyWindowError as exc:
                record.update(status="no-data", note=str(exc))
            except SyntheoError as exc:
                record.update(status="failed", error=" ".join(str(exc).split()))
    record.update(seconds=time.perf_counter() - clock, start_time=start, end_time=time.time(),
                  rss_start_bytes=memory.start_bytes, peak_rss_bytes=memory.peak_bytes)
    return record
