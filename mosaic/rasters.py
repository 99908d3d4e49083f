"""The two rasters of a mosaic on one grid, block by block: reflectance (``mosaic``) and flags (``FLG``, ``NTILES``).

:func:`open_writers` opens their :class:`~l2a.io.cog.CogWriter` pair, :func:`run_blocks` computes blocks in a thread
pool (at most ``2 x workers`` in flight) and hands each to a writer as it completes, :func:`write_rasters` does both
and finishes the COGs. The single layout of ``mosaic build`` writes the whole grid so; the tiled layout
(:mod:`mosaic.national`) writes each of its COG tiles so, on any worker.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import warnings
from pathlib import Path
from typing import Callable, Iterable

from rasterio.errors import NotGeoreferencedWarning
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA as NODATA
from l2a.constants import REFLECTANCE_QUANTIFICATION
from l2a.grid import Grid
from l2a.io.cog import CogWriter
from l2a.io.threads import env_thread_pool

from .blocks import Mosaicker
from .flags import FLG_DESCRIPTION, FLG_OUTSIDE
from .outputs import output_errors

__all__ = ["SCALE", "open_writers", "run_blocks", "write_rasters", "write_block"]

#: Reflectance of one unit of the stored int16 values (the COG's scale).
SCALE = 1.0 / REFLECTANCE_QUANTIFICATION


def open_writers(mosaic_path: Path, flags_path: Path, grid: Grid, bands: tuple[str, ...], tags: dict,
                 threads: int) -> tuple[CogWriter, CogWriter]:
    """The reflectance and flags writers of a grid (each finished atomically by its ``close``).

    Parameters
    ----------
    mosaic_path, flags_path : Path
        Final COG paths.
    grid : Grid
        The rasters' grid, with its CRS.
    bands : tuple of str
        Reflectance bands (descriptions).
    tags : dict
        Dataset metadata of both rasters (the flags raster adds ``FLG_VALUES``).
    threads : int
        Compression threads.
    """
    mosaic_w = CogWriter(mosaic_path, crs=grid.crs, transform=grid.transform, height=grid.height, width=grid.width,
                         dtype="int16", count=len(bands), nodata=NODATA, descriptions=list(bands), scale=SCALE,
                         resampling="average", tags=tags, threads=threads)
    try:
        flags_w = CogWriter(flags_path, crs=grid.crs, transform=grid.transform, height=grid.height, width=grid.width,
                            dtype="uint8", count=2, nodata=FLG_OUTSIDE, descriptions=["FLG", "NTILES"],
                            resampling="nearest", tags={**tags, "FLG_VALUES": FLG_DESCRIPTION}, threads=threads)
    except BaseException:
        mosaic_w.abort()
        raise
    return mosaic_w, flags_w


def write_block(writers: tuple[CogWriter, CogWriter], block) -> None:
    """Write one computed block (:meth:`mosaic.blocks.Mosaicker.block`'s tuple) into the writer pair."""
    window, refl, mask, flags = block
    mosaic_w, flags_w = writers
    mosaic_w.write(refl, window)
    mosaic_w.write_mask(mask, window)
    flags_w.write(flags, window)


def run_blocks(worker: Mosaicker, blocks: Iterable[Window], workers: int, write: Callable, *, total: int | None = None,
               show_progress: bool = False) -> None:
    """Compute blocks in a thread pool (at most ``2 x workers`` in flight) and ``write`` each as it completes."""
    from tqdm import tqdm

    with tqdm(total=total, desc="mosaic blocks", unit="block", disable=not show_progress, leave=False) as bar:
        if workers == 1:
            for window in blocks:
                write(worker.block(window))
                bar.update()
            return
        with env_thread_pool(workers, thread_name_prefix="mosaic") as pool:
            pending = set()
            for window in blocks:
                pending.add(pool.submit(worker.block, window))
                if len(pending) >= 2 * workers:
                    done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                    for fut in done:
                        write(fut.result())
                        bar.update()
            for fut in cf.as_completed(pending):
                write(fut.result())
                bar.update()


def write_rasters(worker: Mosaicker, mosaic_path: Path, flags_path: Path, tags: dict, workers: int, *,
                  error_scope: str | os.PathLike, show_progress: bool = False, compute: Callable | None = None) -> None:
    """Compute every block of ``worker.grid`` and write the reflectance and flags COGs at their final paths.

    Each COG appears at its path only when finished (temporary file, then rename); on any failure both are
    discarded. I/O errors are :class:`~l2a.errors.OutputError` naming ``error_scope``. ``compute(blocks, write)``
    replaces the local thread pool (``mosaic build --scheduler``: blocks computed by a cluster's workers).
    """
    with output_errors(error_scope):
        writers = open_writers(mosaic_path, flags_path, worker.grid, worker.bands, tags, workers)
    try:
        def write(block) -> None:
            with output_errors(error_scope):
                write_block(writers, block)

        blocks = worker.grid.blocks(worker.params.block_size)
        with warnings.catch_warnings():
            # rasterio silences this warning around the in-memory datasets of reproject() with catch_warnings,
            # which is not thread-safe: with several workers it leaks out. Our arrays are always georeferenced.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            if compute is None:
                run_blocks(worker, blocks, workers, write, total=len(blocks), show_progress=show_progress)
            else:
                compute(blocks, write)
        with output_errors(error_scope):
            for w in writers:
                w.close()
    except BaseException:
        for w in writers:
            w.abort()
        raise
