"""Thread pools whose threads read rasters with the GDAL settings of the thread that made them.

rasterio (1.4) applies the options of a ``rasterio.Env`` to the whole process when it is entered in the main thread,
but to the entering thread alone anywhere else: in a dask worker's task thread, a pool started inside ``remote_env()``
would read remote COGs without its retries, timeout and curl cache. :func:`env_thread_pool` captures the options
active where it is called and enters them in each of its threads when the thread starts (for the thread's life).
``GDAL_CACHEMAX`` is left out: GDAL's block cache is one for the process, set where the Env was entered.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, TypeVar

_In = TypeVar("_In")
_Out = TypeVar("_Out")

__all__ = ["env_thread_pool", "map_or_cancel"]


def env_thread_pool(max_workers: int, thread_name_prefix: str = "") -> ThreadPoolExecutor:
    """A ``ThreadPoolExecutor`` of ``max_workers`` threads (at least 1) running under the calling thread's
    ``rasterio.Env`` options, if any."""
    import rasterio.env

    options = rasterio.env.getenv() if rasterio.env.hasenv() else {}
    options.pop("GDAL_CACHEMAX", None)

    def enter() -> None:
        # entered once per thread and never left: the options live as long as the thread (thread-local in GDAL)
        rasterio.Env(**options).__enter__()

    return ThreadPoolExecutor(max(1, max_workers), thread_name_prefix=thread_name_prefix,
                              initializer=enter if options else None)


def map_or_cancel(pool: ThreadPoolExecutor, fn: Callable[[_In], _Out], items: Iterable[_In]) -> list[_Out]:
    """``list(pool.map(fn, items))``, except that the first error cancels the calls not started yet (each may be
    a few remote requests) before it is raised."""
    futures = [pool.submit(fn, item) for item in items]
    try:
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        raise
