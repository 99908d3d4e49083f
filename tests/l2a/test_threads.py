"""l2a.io.threads: pools whose threads read with the GDAL settings of the thread that made them."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import rasterio
from rasterio._env import get_gdal_config

from l2a.io.threads import env_thread_pool, map_or_cancel


def _seen_by_pool(make_pool) -> list:
    """GDAL_HTTP_TIMEOUT as a pool's threads see it, the pool made in a thread that is not the main one (a dask
    worker's task thread) inside a rasterio.Env setting it."""
    seen = []

    def task():
        with rasterio.Env(GDAL_HTTP_TIMEOUT="7"), make_pool() as pool:
            seen.extend(pool.map(lambda _: get_gdal_config("GDAL_HTTP_TIMEOUT"), range(4)))

    t = threading.Thread(target=task)
    t.start()
    t.join()
    return seen


def test_pool_threads_read_with_the_creating_threads_settings():
    assert _seen_by_pool(lambda: env_thread_pool(2)) == [7] * 4


def test_a_plain_pool_would_not():
    """The defect env_thread_pool is for (rasterio 1.4: an Env entered outside the main thread is thread-local)."""
    assert _seen_by_pool(lambda: ThreadPoolExecutor(2)) == [None] * 4


def test_map_or_cancel_cancels_what_has_not_started():
    started = []

    def call(i):
        started.append(i)
        if i == 0:
            raise ValueError("first")
        threading.Event().wait(0.05)
        return i

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="first"):
        map_or_cancel(pool, call, range(20))
    assert len(started) < 20
    with ThreadPoolExecutor(2) as pool:
        assert map_or_cancel(pool, lambda i: i * i, range(5)) == [0, 1, 4, 9, 16]
