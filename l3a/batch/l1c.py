"""Level-1C inputs of a batch (``l3a batch --level l1c``): ``l2a process`` tasks, then the syntheses that need them.

One processing task per tile runs :func:`l2a.process.process_source` on that tile's L1C products in date order
(the order a multi-temporal mode will need, to carry the tile's reference composite from one date to the next);
tiles run in parallel. Each (tile, month) synthesis is then a task that takes its tile's processing result as an
argument, so dask starts it only once that tile is processed (a futures dependency), and composes the L2A products
of the result that fall in the month's window, exactly as an L2A batch would have found them. The L2A products go
to their own folder (by default ``OUT/l2a``); a rerun keeps them (status ``exists``) as it keeps the syntheses.

A product that cannot be processed (bad input, named) makes its tile's task ``failed`` with the file named, the
tile's other dates are still processed and its syntheses still run on them; products that are not valid (too
cloudy, sun too low) are counted as skipped, as ``l2a process`` reports them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

from l2a.errors import SyntheoError

from ..dates import month_central_date
from ..params import CompositeParams
from ..weights import date_offset_days
from .discover import Discovery, product_facts
from .memory import PeakMemory
from .plan import TaskSpec
from .task import _worker, run_task

__all__ = ["discover_l1c", "process_tile", "compose_after", "run_l1c_tasks", "PROCESS_KEY"]

logger = logging.getLogger(__name__)

#: Key prefix of the processing tasks (``l2a-process-T31TCJ``).
PROCESS_KEY = "l2a-process"


def _token(*what) -> str:
    """8 hex digits naming what a task computes (its key's suffix: two batches sharing a scheduler must not give
    one key to different work)."""
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:8]


def discover_l1c(inputs: Sequence[str | os.PathLike]) -> Discovery:
    """The L1C products under the input folders (SAFE folders or zips, or folders holding them).

    A product that does not open is placed by its name in its tile's processing task, which then fails naming it;
    one that has no product name either is reported as unreadable.

    Raises
    ------
    NoProductError
        No Level-1C product among the inputs.
    InvalidParameterError
        Two inputs of one tile and date.
    """
    from l2a.detect import find_products
    from l2a.errors import InvalidParameterError

    from ..errors import NoProductError

    found = [str(Path(p).absolute()) for p in find_products(list(inputs), kinds=("l1c",))]
    if not found:
        raise NoProductError("no Level-1C product under " + " ".join(str(p) for p in inputs))
    facts, unreadable, seen = [], [], {}
    for path in sorted(found):
        got = product_facts(path, level="l1c")
        if isinstance(got, tuple):
            unreadable.append(got)
            continue
        key = (got.tile, got.datetime.replace(microsecond=0))
        if key in seen:
            raise InvalidParameterError(f"{seen[key]} and {path} are both {got.tile} of "
                                        f"{got.datetime:%Y-%m-%dT%H:%M:%SZ}: give one")
        seen[key] = path
        facts.append(got)
    return Discovery(tuple(facts), tuple(unreadable))


def process_tile(tile: str, paths: Sequence[str], l2a_dir: str, params, threads: int | None = None,
                 overwrite: bool = False, dem: Sequence[str] | None = None, memory_sample_s: float = 0.05) -> dict:
    """Process one tile's L1C products, in date order, into L2A products (a batch task).

    Returns
    -------
    dict
        ``kind`` ("l2a-process"), ``tile``, ``status`` (written: a product written; exists: all kept from an earlier
        run; no-data: none valid; failed: an input could not be processed, see ``error``), ``inputs``,
        ``products`` (``path``, ``datetime`` ISO, ``platform`` of each L2A product written or kept), ``skipped``
        ((input, reason) of the products not valid), ``error``, ``worker``, ``threads``, ``seconds``,
        ``start_time``, ``end_time``, ``rss_start_bytes``, ``peak_rss_bytes``.
    """
    from l2a.detect import open_l1c
    from l2a.process import process_source

    worker, worker_threads = _worker()
    threads = threads or worker_threads
    record = {"kind": PROCESS_KEY, "tile": tile, "month": None, "status": None, "inputs": list(paths),
              "output": str(l2a_dir), "products": [], "skipped": [], "error": None, "note": None, "worker": worker,
              "threads": threads}
    errors, written = [], 0
    start, clock = time.time(), time.perf_counter()
    with PeakMemory(memory_sample_s) as memory:
        Path(l2a_dir).mkdir(parents=True, exist_ok=True)
        sources = []
        for path in paths:
            try:
                sources.append(open_l1c(path))
            except SyntheoError as exc:
                errors.append(" ".join(str(exc).split()))
        for source in sorted(sources, key=lambda s: s.datetime):
            try:
                result = process_source(source, l2a_dir, params, overwrite=overwrite, threads=threads,
                                        dem=list(dem) if dem else None)
            except SyntheoError as exc:
                errors.append(" ".join(str(exc).split()))
                continue
            if result.status == "skipped":
                record["skipped"].append([str(result.source), result.reason])
                continue
            written += result.status == "written"
            record["products"].append({"path": str(result.product), "datetime": source.datetime.isoformat(),
                                       "platform": source.platform})
    if errors:
        record.update(status="failed", error="; ".join(errors))
    elif written:
        record["status"] = "written"
    else:
        record["status"] = "exists" if record["products"] else "no-data"
    record.update(seconds=time.perf_counter() - clock, start_time=start, end_time=time.time(),
                  rss_start_bytes=memory.start_bytes, peak_rss_bytes=memory.peak_bytes)
    return record


def compose_after(processed: dict, tile: str, month: str, half_window_days: int, params: CompositeParams,
                  out_dir: str, threads: int | None = None, overwrite: bool = False,
                  memory_sample_s: float = 0.05) -> dict:
    """The synthesis of one tile-month from its tile's processing record (a batch task that depends on it)."""
    import datetime as dt

    central = month_central_date(month)
    inside = sorted((p for p in processed["products"]
                     if abs(date_offset_days(dt.datetime.fromisoformat(p["datetime"]), central)) <= half_window_days),
                    key=lambda p: p["path"])
    spec = TaskSpec(tile, month, central, tuple(p["path"] for p in inside),
                    tuple(sorted({p["platform"] for p in inside})))
    return run_task(spec, params, out_dir, threads, overwrite, memory_sample_s)


def run_l1c_tasks(client, discovery: Discovery, tiles: Sequence[str], months: Sequence[str],
                  params: CompositeParams, process_params, out_dir: str | os.PathLike, l2a_dir: str | os.PathLike,
                  batch, threads: int | None = None, dem: Sequence[str] | None = None,
                  show_progress: bool = False) -> list[dict]:
    """Submit the processing task of every tile and the syntheses that depend on them; one record per task
    (processing tasks first, by tile; then syntheses by month and tile).

    Parameters
    ----------
    client : distributed.Client
    discovery : Discovery
        The L1C products (:func:`discover_l1c`).
    tiles, months : the batch's tiles and months.
    params : CompositeParams
    process_params : l2a.process.ProcessParams
    out_dir, l2a_dir : path-like
        Folders of the syntheses and of the L2A products.
    batch : BatchParams
        ``retries``, ``overwrite``, ``memory_sample_s``.
    threads : int, optional
        Threads of each task (default: its worker's).
    dem : sequence of str, optional
        DEM files for ``l2a process``.
    show_progress : bool
    """
    from distributed import as_completed

    from l2a.cli_options import progress

    from .params import TILE_MONTH_RESOURCE
    from .run import _failed, _no_data

    out = str(Path(out_dir).absolute())
    l2a_out = str(Path(l2a_dir).absolute())
    by_tile: dict[str, list[str]] = {t: [] for t in tiles}
    for p in discovery.products:
        if p.tile in by_tile:
            by_tile[p.tile].append(p.path)
    processing, records, specs = {}, {}, {}
    for tile in sorted(by_tile):
        if by_tile[tile]:
            processing[tile] = client.submit(process_tile, tile, sorted(by_tile[tile]), l2a_out, process_params,
                                             threads, batch.overwrite, dem, batch.memory_sample_s,
                                             key=f"{PROCESS_KEY}-{tile}-{_token(l2a_out, by_tile[tile])}",
                                             retries=batch.retries, pure=False,
                                             resources={TILE_MONTH_RESOURCE: 1})
    futures = {f: ("process", tile) for tile, f in processing.items()}
    for month in sorted(set(months)):
        for tile in sorted(by_tile):
            spec = TaskSpec(tile, month, month_central_date(month), (), ())
            specs[(tile, month)] = spec
            if tile not in processing:
                records[(tile, month)] = _no_data(spec)
                continue
            f = client.submit(compose_after, processing[tile], tile, month, params.half_window_days, params, out,
                              threads, batch.overwrite, batch.memory_sample_s,
                              key=f"{spec.key}-{_token(out, l2a_out, params.to_dict())}", retries=batch.retries,
                              pure=False, resources={TILE_MONTH_RESOURCE: 1})
            futures[f] = ("compose", (tile, month))
    process_records = {}

    def failed(kind, what, exc):
        if kind == "process":
            return {**_failed(TaskSpec(what, "", month_central_date(months[0]), (), ()), exc),
                    "kind": PROCESS_KEY, "month": None, "inputs": by_tile[what]}
        return _failed(specs[what], exc)

    def ordered():
        return [process_records[t] for t in sorted(process_records)] + \
            [records[k] for k in sorted(records, key=lambda k: (k[1], k[0]))]

    try:
        with progress(total=len(futures), quiet=not show_progress, desc="l3a batch", unit="task") as bar:
            for future in as_completed(list(futures)):
                kind, what = futures[future]
                if future.status == "finished":
                    result = future.result()
                else:
                    result = failed(kind, what, future.exception() if future.status == "error"
                                    else RuntimeError(f"task {future.status} by the scheduler"))
                (process_records if kind == "process" else records)[what] = result
                if result["status"] == "failed":
                    logger.error("%s failed: %s", what, result["error"])
                bar.update(1)
    except KeyboardInterrupt:
        from .run import BatchInterrupted

        pending = [f for f, (kind, what) in futures.items()
                   if what not in (process_records if kind == "process" else records)]
        for f in pending:
            kind, what = futures[f]
            (process_records if kind == "process" else records)[what] = {
                **failed(kind, what, KeyboardInterrupt()), "status": "interrupted", "error": None,
                "note": "not finished when the batch was interrupted"}
        try:
            client.cancel(pending)
        except Exception as exc:  # the cluster may be going down with the interrupt: closing it stops them anyway
            logger.debug("cancelling the unfinished tasks failed: %s", exc)
        raise BatchInterrupted(ordered()) from None
    return ordered()
