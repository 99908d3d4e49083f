"""The task a worker runs for one (tile, month) of a batch: one :func:`l3a.compose` call, measured.

The task is idempotent: a product already under its final name is kept (status ``exists``; :func:`l3a.compose`
writes under a temporary name and renames when complete, so a final name always holds a complete product), unless
``overwrite``. The name is predicted from the inputs' platforms (:func:`l3a.product.l3a_product_name`) so that a
rerun skips a finished tile-month without opening its inputs; should the synthesis name it otherwise (an input with
no valid pixel left out), :func:`l3a.compose` still finds the existing product and the task still says ``exists``.

Stale temporaries: :func:`l3a.compose` builds a product in a hidden ``.NAME.<12 hex>.tmp`` folder beside it
(:func:`l2a.io.atomic.temporary_sibling`) and renames it when complete. A run killed mid-task (its worker process,
or the whole client with its local workers, by SIGKILL or a power cut) cannot remove that folder; so before
composing, a task removes the hidden ``.tmp`` (and ``.old``: an overwritten product renamed aside) folders of **its
own** tile and central date (:func:`remove_stale_temporaries`), whatever their platform prefix, and lists them in its
record (``cleaned``). Only the task of that (tile, month) may own such a folder: a batch runs one task per
tile-month and dask runs a task on one worker at a time (a worker that dies is removed from the scheduler before
its task is given to another), so a folder found when the task starts is a leftover of an earlier attempt. Hence
the one rule: never run two batches (or a batch and an ``l3a compose``) writing the same tile-month into the same
output folder at once.

Errors: a window without usable input is ``no-data``; any other error of the toolkit (an unreadable product, named
in the message) is returned as ``failed`` at once, since running it again would read the same bytes. Anything else
(an I/O error of the file system, memory) is raised, for dask to retry the task on a worker.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

from l2a.errors import SyntheoError

from ..errors import EmptyWindowError
from ..params import CompositeParams
from ..product import l3a_product_name
from .memory import PeakMemory
from .plan import TaskSpec

__all__ = ["run_task", "remove_stale_temporaries", "STATUSES"]

#: Task outcomes: a product written, one kept from an earlier run, no input in the window, an error, and (in the
#: report of a batch stopped by SIGINT) a task that had not finished.
STATUSES = ("written", "exists", "no-data", "failed", "interrupted")


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


def remove_stale_temporaries(out_dir: str | os.PathLike, spec: TaskSpec) -> list[str]:
    """Remove the hidden temporary folders (``.NAME.<12 hex>.tmp`` or ``.old``) of L3A products of the task's
    tile and central date in ``out_dir``, any platform prefix; returns their names, sorted.

    Only for the task of that tile-month, when it starts (see the module docstring): a folder of another tile or
    date, or any other file, is never touched.
    """
    out = Path(out_dir)
    if not out.is_dir():
        return []
    name = re.compile(rf"\.[A-Z0-9]+_{spec.central_date:%Y%m%d}-000000-000_L3A_{re.escape(spec.tile)}_C_V[^./]+"
                      r"\.[0-9a-f]{12}\.(tmp|old)")
    removed = []
    for entry in out.glob(f".*_L3A_{spec.tile}_*"):
        if name.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return sorted(removed)


def _remote_env(inputs):
    """GDAL's settings for remote assets (retries, timeout, block cache) when some inputs are STAC items."""
    import contextlib

    if not any(str(i).lower().endswith(".json") for i in inputs):
        return contextlib.nullcontext()
    from l2a.formats.stac.remote import remote_env

    return remote_env()


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
        ``tile``, ``month``, ``status`` (one of :data:`STATUSES`), ``inputs`` (paths), ``cleaned`` (names of the
        stale temporaries of this tile-month removed before composing), ``output`` (product path, None
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
    record = {"tile": spec.tile, "month": spec.month, "status": None, "inputs": list(spec.inputs), "cleaned": [],
              "output": None, "error": None, "note": None, "worker": worker, "threads": threads}
    start = time.time()
    clock = time.perf_counter()
    with PeakMemory(memory_sample_s) as memory:
        if spec.inputs:
            record["cleaned"] = remove_stale_temporaries(out, spec)
        before = _existing(out, spec)
        predicted = out / l3a_product_name(spec.platforms, spec.central_date, spec.tile)
        if not spec.inputs:
            record.update(status="no-data", note="no product in the window")
        elif predicted in before and not overwrite:
            record.update(status="exists", output=str(predicted))
        else:
            try:
                with _remote_env(spec.inputs):
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
