"""Pyramid jobs as dask.distributed tasks on a running scheduler's workers (``mosaic tiles --scheduler``,
``mosaic compare --scheduler``), and the cluster helpers that ``mosaic build --scheduler`` shares
(:mod:`mosaic.national`: its COG tiles, or the single layout's blocks, as tasks).

The jobs are those of :meth:`mosaic.pyramid.PyramidWriter.run`, named by method (``("write_block", args)``), in
stages: a stage is submitted once the one before has finished, since an overview tile is built from its children
on disk. The workers therefore write into, and read from, the same output folder as the client: **they must share
its file system under the same absolute paths** (the mosaic's too). A task is coarse enough for the scheduler's
cost (1.5-1.9 ms a task, measured for ``l3a batch``) to vanish: one ``write_block`` job (a meta-block: 8 x 8 tiles
of the deepest zoom and the 21 above it, in both layers; 0.4-0.8 s measured on the test mosaic) or up to
:data:`OVERVIEW_TILES_PER_TASK` ``write_overview`` jobs of one zoom. Its jobs run in the worker's threads
(:meth:`~mosaic.pyramid.PyramidWriter.run`; a one-block task uses one).

A writer's renderer holds open GDAL datasets (one per thread), which cannot be pickled: a task receives the
pyramid's :class:`~mosaic.pyramid.WriterRecipe` and its jobs, builds its own writer, closes its datasets at the end
and returns its tile counts, which the client adds to its :class:`~mosaic.pyramid.TileStore`'s.

Every task asks for one unit of the workers' ``tile-month`` resource (:data:`l3a.batch.params.TILE_MONTH_RESOURCE`,
the memory rule of ``l3a batch``: one heavy task per worker at a time; a block task holds about 100 MB), so the
workers are those of ``l3a batch``, started with ``--resources tile-month=1``; a scheduler that does not answer
within :data:`SCHEDULER_TIMEOUT_S`, or whose workers lack the resource, is a one-line
:class:`~l3a.errors.SchedulerError` (:func:`l3a.batch.cluster.open_client`). A task's error reaches the client as the same
exception (a syntheo error with its message) and the stage's other tasks are cancelled. The toolkit's errors (an
unreadable mosaic) come at once, since a retry would read the same bytes (:func:`run_task`); other errors, and a
missing child tile (a network file system may not show a file written on another node yet), are retried
:data:`RETRIES` times first. The tasks of ``mosaic build --scheduler`` follow the same rule. Tiles are written atomically and existing ones kept, so running the command
again resumes.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Iterator

from l2a.errors import SyntheoError
from l3a.batch.params import TILE_MONTH_RESOURCE, BatchParams
from l3a.errors import SchedulerError

from .errors import MissingChildTileError
from .pyramid import TileStore, WriterRecipe
from .sources import gdal_cache

__all__ = ["OVERVIEW_TILES_PER_TASK", "SCHEDULER_TIMEOUT_S", "RETRIES", "scheduler_client", "task_jobs", "run_jobs",
           "run_stages", "worker_threads", "portable_error", "cancel_unfinished", "DataError", "run_task", "task_result"]

logger = logging.getLogger(__name__)

#: ``write_overview`` jobs (tiles of one zoom) per task: each decodes four children and encodes one tile per layer
#: (7 ms for both layers, measured on the test mosaic), so 256 of them make a task of about 2 s, of the order of
#: one meta-block's.
OVERVIEW_TILES_PER_TASK = 256
#: Seconds to wait for the scheduler to answer (``l3a batch``'s default).
SCHEDULER_TIMEOUT_S = BatchParams.scheduler_timeout_s
#: dask retries of a task that raised (``l3a batch``'s default). Data errors are not raised but returned
#: (:func:`run_task`): a retry would read the same bytes.
RETRIES = BatchParams.retries


@dataclass(frozen=True)
class DataError:
    """The toolkit's error of a task (a :class:`~l2a.errors.SyntheoError`: an unreadable input, a path the file
    system refuses), returned instead of raised so that dask does not retry it; :func:`task_result` raises it in
    the client."""

    error: Exception


def run_task(fn, *args):
    """``fn(*args)`` as a dask task: its result; a :class:`DataError` for the toolkit's errors; any other error
    (memory, an I/O hiccup) and a :class:`~mosaic.errors.MissingChildTileError` raised for dask to retry. Exceptions travel without their chained causes
    (:func:`portable_error`)."""
    try:
        return fn(*args)
    except MissingChildTileError as exc:   # may be a shared file system's lag: worth a retry
        raise portable_error(exc) from None
    except SyntheoError as exc:
        return DataError(portable_error(exc))
    except Exception as exc:
        raise portable_error(exc) from None


def task_result(result):
    """A task's result, in the client: a :class:`DataError` raised as its error."""
    if isinstance(result, DataError):
        raise result.error
    return result


@contextlib.contextmanager
def scheduler_client(address: str) -> Iterator[object]:
    """A ``distributed.Client`` of the running scheduler at ``address`` (``tcp://host:8786``), closed on exit (the
    scheduler is left running).

    Raises
    ------
    SchedulerError
        distributed is not installed, no scheduler answered within :data:`SCHEDULER_TIMEOUT_S`, or none of its
        workers offers the ``tile-month`` resource.
    """
    from l3a.batch.cluster import open_client

    params = BatchParams(scheduler=address, scheduler_timeout_s=SCHEDULER_TIMEOUT_S, retries=RETRIES)
    with open_client(params, tasks=1) as (client, setup):  # tasks only sizes a LocalCluster
        logger.info("scheduler %s: %d workers of %s threads", address, setup.workers, setup.threads_per_worker)
        yield client


def task_jobs(stage: list[tuple[str, tuple]]) -> list[list[tuple[str, tuple]]]:
    """The jobs of a stage grouped into tasks: each ``write_block`` job alone, ``write_overview`` jobs by up to
    :data:`OVERVIEW_TILES_PER_TASK`, in order.

    Parameters
    ----------
    stage : list of (method name, args)
        Jobs of :meth:`mosaic.pyramid.PyramidWriter.run` named by method (a bound method cannot leave the client).
    """
    blocks, overviews = [], []
    for job in stage:
        name = job[0]
        if name == "write_block":
            blocks.append([job])
        elif name == "write_overview":
            overviews.append(job)
        else:
            raise ValueError(f"not a pyramid job to send to a worker: {name!r}")
    n = OVERVIEW_TILES_PER_TASK
    return blocks + [overviews[i:i + n] for i in range(0, len(overviews), n)]


def worker_threads() -> int:
    """Threads of the dask worker running the caller (1 outside a worker)."""
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError):  # not inside a dask worker
        return 1


def run_jobs(recipe: WriterRecipe, jobs: list[tuple[str, tuple]]) -> tuple[int, int]:
    """The task: build a writer from ``recipe`` and run ``jobs`` with the worker's threads (its datasets closed at
    the end).

    Returns
    -------
    (written, skipped) : (int, int)
        Tile files written, and found already present.
    """
    store = recipe.store()
    with gdal_cache():
        recipe.writer(store).run([jobs], worker_threads(), desc="pyramid-task")
    return store.written, store.skipped


def portable_error(exc: Exception) -> Exception:
    """``exc`` without its chained causes, so that it reaches the client as itself; a ``RuntimeError`` with its
    class and message when even so it cannot be unpickled.

    dask pickles a task's exception with its causes (tblib), and the GDAL errors rasterio chains below its own
    (``CPLE_*``) cannot be unpickled: the client would get a bare ``Exception``. A syntheo error's message already
    names the cause (:class:`~mosaic.sources.DatasetPool` puts GDAL's in it).
    """
    from distributed.protocol.pickle import dumps, loads

    exc.__cause__ = exc.__context__ = None
    try:
        loads(dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    return exc


def _counts(future, address: str) -> tuple[int, int]:
    """A finished task's counts; its own exception when it failed (after its retries)."""
    if future.status == "finished":
        return task_result(future.result())
    if future.status == "error":
        future.result()  # raises the task's exception, with its traceback
    raise SchedulerError(f"task {future.key} was {future.status} by the scheduler (its workers went away?)", address)


def run_stages(client, recipe: WriterRecipe, stages: list[list[tuple[str, tuple]]], store: TileStore, *,
               desc: str, show_progress: bool = False) -> None:
    """Run stages of named jobs as tasks on ``client``'s workers, a stage once the one before has finished, and add
    the tasks' tile counts to ``store.written`` and ``store.skipped``.

    Parameters
    ----------
    client : distributed.Client
        Of a scheduler whose workers share the output folder (:func:`scheduler_client`).
    recipe : WriterRecipe
        The pyramid's writer, rebuilt by every task.
    stages : list of list of (method name, args)
        As :meth:`mosaic.pyramid.PyramidWriter.run`'s, jobs named by method; grouped into tasks by
        :func:`task_jobs`.
    store : TileStore
        Receives the counts.
    desc : str
        Progress bar label and prefix of the task keys.
    show_progress : bool
        One tqdm bar over the jobs.

    Raises
    ------
    Exception
        The error of the first task that failed after its retries (the stage's other tasks are cancelled);
        :class:`~l3a.errors.SchedulerError` when the scheduler gave up on a task or the connection to it was lost.
    """
    from distributed import as_completed
    from distributed.comm import CommClosedError
    from tqdm import tqdm

    address = client.scheduler.address
    token = uuid.uuid4().hex[:8]  # two runs sharing a scheduler never share a key
    with tqdm(total=sum(map(len, stages)), desc=desc, unit="block", disable=not show_progress, leave=False) as bar:
        for number, stage in enumerate(stages):
            futures = {}
            try:
                for i, jobs in enumerate(task_jobs(stage)):
                    key = f"{desc}-{number}-z{jobs[0][1][0]}-{i}-{token}"
                    future = client.submit(run_task, run_jobs, recipe, jobs, key=key, retries=RETRIES, pure=False,
                                           resources={TILE_MONTH_RESOURCE: 1})
                    futures[future] = len(jobs)
                for future in as_completed(futures):
                    written, skipped = _counts(future, address)
                    store.written += written
                    store.skipped += skipped
                    bar.update(futures[future])
            except CommClosedError as exc:
                raise SchedulerError(f"lost the connection to the scheduler ({' '.join(str(exc).split())})",
                                     address) from None
            except BaseException:
                cancel_unfinished(client, list(futures))
                raise


def cancel_unfinished(client, futures: list) -> None:
    """Cancel the tasks not finished (running ones finish on their workers: dask cannot stop them)."""
    try:
        client.cancel(futures)
    except Exception as exc:  # the scheduler may be gone with the failure: nothing left to cancel then
        logger.debug("cancelling the unfinished tasks failed: %s", exc)
