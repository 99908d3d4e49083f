"""The L3A writer: rasters block by block, then the quicklook and the metadata documents, published atomically.

:class:`L3AWriter` writes into a hidden temporary folder beside the target (:class:`l2a.io.atomic.AtomicFolder`)
and renames it into place when complete, so an interrupted run never leaves a partial product; with ``overwrite``,
an old product is replaced only once the new one is complete.
"""

from __future__ import annotations

import json
import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.enums import Resampling
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA, REFLECTANCE_QUANTIFICATION
from l2a.io.atomic import AtomicFolder
from l2a.io.cog import CogWriter, check_deflate_level
from l2a.sensors import band_resolution

from .documents import ipp_all, mtd_all, stac_item, write_xml
from .errors import L3AError
from .flags import FLG_CODES, FLG_NODATA
from .product import MASK_KINDS, RASTER_KINDS, L3AMetadata, deflate_level_of

__all__ = ["L3AWriter"]

logger = logging.getLogger(__name__)


class L3AWriter:
    """Write an L3A product block by block; atomic (temporary folder renamed on :meth:`close`).

    Parameters
    ----------
    out_dir : path-like
        Folder that will hold the product folder.
    meta : L3AMetadata
    threads : int
        Compression threads per raster.
    overwrite : bool
        Replace an existing product of the same name.
    deflate_level : int, optional
        DEFLATE level of every output COG, 1 fastest .. 12 smallest; None = :data:`DEFAULT_DEFLATE_LEVELS` (1 for
        FRC and WGT, 6 for DTS, FLG and NOB).

    Rasters are finished as COGs (overviews, DEFLATE) by a background thread: those of one resolution as soon as
    :meth:`finish` says all their blocks are written (so that encoding the R1 outputs overlaps the composition of
    the R2 blocks), the others in :meth:`close`.

    Raises
    ------
    ProductExistsError
        If the product exists and ``overwrite`` is False (checked again when publishing).
    OSError
        If the output folder cannot be created (the error names the path).
    InvalidParameterError
        If ``deflate_level`` is not None nor in 1..12.
    """

    def __init__(self, out_dir: str | os.PathLike, meta: L3AMetadata, *, threads: int = 2, overwrite: bool = False,
                 deflate_level: int | None = None):
        deflate_level = check_deflate_level(deflate_level)
        self.meta = meta
        self.out_dir = Path(out_dir).absolute()
        self.path = self.out_dir / meta.name
        self.overwrite = overwrite
        self.threads = threads
        self.deflate_level = deflate_level
        self._writers: dict[str, CogWriter] = {}
        self._res_of: dict[str, str] = {}  # raster key (band, or kind_res) -> resolution group
        self._flg_counts: dict[str, np.ndarray] = {}
        self._folder = AtomicFolder(self.path, overwrite=overwrite)
        self._tmp = self._folder.tmp
        # one finishing thread: GDAL's COG copy already compresses with `threads` threads
        self._finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="l3a-finish")
        self._finishing: dict[str, Future] = {}
        try:
            (self._tmp / "MASKS").mkdir()
            (self._tmp / "DATA").mkdir()
            frc_dtype, frc_nodata, frc_resampling = RASTER_KINDS["FRC"]
            for band in meta.bands:
                g = meta.grids[band_resolution(band)]
                self._writers[band] = CogWriter(
                    self._tmp / f"{meta.name}_FRC_{band}.tif", crs=meta.crs, transform=g.transform,
                    height=g.height, width=g.width, dtype=frc_dtype, nodata=frc_nodata, descriptions=[band],
                    scale=1.0 / REFLECTANCE_QUANTIFICATION, resampling=frc_resampling,
                    threads=threads, tags={"BAND": band, "PRODUCT": meta.name},
                    deflate_level=deflate_level_of("FRC", deflate_level))
                self._res_of[band] = band_resolution(band)
            for res, g in meta.grids.items():
                for kind, (dtype, nodata, resampling) in MASK_KINDS.items():
                    self._writers[f"{kind}_{res}"] = CogWriter(
                        self._tmp / "MASKS" / f"{meta.name}_{kind}_{res}.tif", crs=meta.crs, transform=g.transform,
                        height=g.height, width=g.width, dtype=dtype, nodata=nodata, descriptions=[kind],
                        resampling=resampling, threads=threads, deflate_level=deflate_level_of(kind, deflate_level))
                    self._res_of[f"{kind}_{res}"] = res
                self._flg_counts[res] = np.zeros(256, np.int64)
        except BaseException:
            self.abort()
            raise

    def _writer(self, key: str) -> CogWriter:
        if key in self._finishing:  # its COG is being made from the file: a late block would be lost or a race
            raise L3AError(f"{key} is finished already; no block may be written to it after finish()", self.path)
        return self._writers[key]

    def write_frc(self, band: str, data: np.ndarray, window: Window | None = None) -> None:
        """Write a block of the reflectance composite: int16 (rows, cols) x10000, nodata -10000
        (:data:`~l3a.product.RASTER_KINDS`)."""
        self._writer(band).write(data, window)

    def write_mask(self, kind: str, res: str, data: np.ndarray, window: Window | None = None) -> None:
        """Write a block of WGT, DTS, FLG or NOB at resolution ``res`` (dtypes of :data:`MASK_KINDS`)."""
        self._writer(f"{kind}_{res}").write(data, window)
        if kind == "FLG":
            self._flg_counts[res] += np.bincount(data.ravel(), minlength=256)

    def _submit_finishing(self, keys) -> None:
        for key in keys:
            if key not in self._finishing:
                self._finishing[key] = self._finisher.submit(self._writers[key].close)

    def finish(self, res: str) -> None:
        """Every block of resolution ``res`` (its FRC bands and masks) is written: start finishing those rasters
        in the background. Writing to them afterwards raises :class:`L3AError`; a raster that failed to finish
        meanwhile raises its error here, so that a run stops early."""
        for future in self._finishing.values():
            if future.done():
                future.result()
        self._submit_finishing(key for key, r in self._res_of.items() if r == res)

    def close(self) -> Path:
        """Finish every raster, write the quicklook and metadata, and move the product into place (replacing an old
        one with ``overwrite``); on any error, remove what was written and raise it."""
        try:
            self._submit_finishing(self._writers)
            for future in self._finishing.values():
                future.result()
            self._finisher.shutdown()
            name = self.meta.name
            self._write_quicklook(self._tmp / f"{name}_QKL_ALL.jpg")
            stats = self.statistics()
            write_xml(self._tmp / f"{name}_MTD_ALL.xml", mtd_all(self.meta, stats))
            write_xml(self._tmp / "DATA" / f"{name}_IPP_ALL.xml", ipp_all(self.meta, self.deflate_level))
            (self._tmp / f"{name}_STAC.json").write_text(json.dumps(stac_item(self.meta, stats), indent=1))
            self._folder.publish()
        except BaseException as exc:
            self.abort(exc)
            raise
        return self.path

    def statistics(self) -> dict[str, float]:
        """Cloud, snow, water, land and nodata percentages from the FLG written (R2 if present, else R1); cloud
        and snow are relative to the observed (FLG > 0) pixels, as Theia's CloudPercent/SnowPercent."""
        counts = self._flg_counts.get("R2", self._flg_counts.get("R1"))
        total = max(int(counts.sum()), 1)
        observed = max(total - int(counts[FLG_NODATA]), 1)
        pct = {k: round(100.0 * counts[v] / observed, 3) for k, v in FLG_CODES.items() if v != FLG_NODATA}
        pct["nodata"] = round(100.0 * counts[FLG_NODATA] / total, 3)
        return pct

    def _write_quicklook(self, path: Path, size: int = 1000) -> None:
        rgb = [b for b in ("B4", "B3", "B2") if b in self.meta.bands]
        if len(rgb) < 3:
            logger.info("no quicklook: B4, B3 and B2 are not all in the product")
            return
        g = self.meta.grids["R1"]
        scale = max(1, int(np.ceil(max(g.height, g.width) / size)))
        shape = (max(1, g.height // scale), max(1, g.width // scale))
        planes = []
        for band in rgb:
            with rasterio.open(self._tmp / f"{self.meta.name}_FRC_{band}.tif") as ds:
                planes.append(ds.read(1, out_shape=shape, resampling=Resampling.average))
        data = np.stack(planes).astype(np.float32)
        img = np.where(data <= REFLECTANCE_NODATA, 0, np.clip(data / 3000.0 * 255.0, 0, 255)).astype(np.uint8)
        transform = g.transform @ Affine.scale(g.width / shape[1], g.height / shape[0])
        profile = dict(driver="GTiff", height=shape[0], width=shape[1], count=3, dtype="uint8",
                       crs=self.meta.crs, transform=transform)
        with rasterio.MemoryFile() as mem:
            with mem.open(**profile) as tmp:
                tmp.write(img)
            with mem.open() as src:
                rasterio.shutil.copy(src, path, driver="JPEG", quality=90)
        aux = Path(str(path) + ".aux.xml")
        if aux.exists():
            aux.unlink()

    def abort(self, cause: BaseException | None = None) -> None:
        """Remove everything written so far (after the raster being finished in the background, if any, is done).
        Errors of background finishes other than ``cause`` (the error that stops the run) are logged."""
        try:
            for future in self._finishing.values():
                future.cancel()
            self._finisher.shutdown(wait=True)
            for key, future in self._finishing.items():
                error = None if future.cancelled() else future.exception()
                if error is not None and error is not cause:
                    logger.warning("finishing %s failed too: %s", key, error)
        finally:  # even on a second interrupt while waiting
            for w in self._writers.values():
                try:
                    w.abort()
                except Exception as exc:  # cleanup must go on for the others
                    logger.debug("abort of %s failed: %s", w.path, exc)
            self._folder.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)
