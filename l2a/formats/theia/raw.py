"""Raw reading of an L2A product's rasters as Theia-coded planes, block by block (the synthesis's fast path).

A Theia product whose rasters of a resolution group are all native to it (int16 bands stored as reflectance x 10000,
uint8 CLM, MG2, EDG, SAT and ATB on the group's grid, EDG present) is read *raw*: the stored values go straight into
the caller's buffers, through datasets kept open for the whole run, and the caller decodes them with the bit table of
:mod:`l2a.formats.theia.bits`. Every other product (Sen2Cor, Theia products needing resampled masks or converted
values) goes through its reader's ``read_band`` / ``read_masks`` / ``read_aot``, whose planes are encoded back into the
same Theia codes, so the caller sees one layout and gets the same results either way.

:func:`raw_layout` decides from the product's :meth:`~l2a.product.L2AProduct.band_source`, ``mask_source`` and
``aot_source``; :class:`RawReader` reads.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_QUANTIFICATION
from l2a.errors import CorruptRasterError
from l2a.io.raster import open_raster
from l2a.product import L2AProduct

from .bits import CLM_CLOUD_OR_SHADOW_BITS, MG2_SNOW, MG2_WATER, encode_clm
from .names import MASK_KINDS

__all__ = ["RawLayout", "raw_layout", "RawBlock", "RawReader"]


@dataclass(frozen=True)
class RawLayout:
    """Where the raw rasters of one product and resolution group are (every one native to the group)."""

    bands: tuple  # (gdal_path, 1-based index) per band
    masks: dict  # kind -> (gdal_path, 1-based index), or None when the product has no such mask at all
    atb: tuple | None  # (gdal_path, 1-based index) of the stored AOT, or None without AOT
    refl_nodata: int | None  # stored nodata of the bands, when it can occur in int16
    aot_scale: float  # stored AOT per unit AOT (1.0 without AOT)
    aot_nodata: float  # stored AOT marking no estimate (NaN when none)


def raw_layout(p: L2AProduct, res: str, bands: Sequence[str]) -> RawLayout | None:
    """Layout of the rasters of ``p`` for group ``res`` when they can be read raw, else None (reader's methods).

    Raw reading gives what the reader gives when nothing is resampled or converted: Theia-coded masks
    (CLM, MG2, EDG, SAT), bands stored as reflectance x 10000 on the group's grid, each mask native or absent at
    both resolutions (then clear), EDG present (without it, nodata comes from the first band), AOT native or absent.
    Dtypes are checked when the files are opened (:class:`RawReader`).

    Parameters
    ----------
    p : L2AProduct
        Any product; formats without a raw layout give None.
    res : {"R1", "R2"}
        Resolution group.
    bands : sequence of str
        Bands to read, all of group ``res``.
    """
    if set(p.mask_kinds) != set(MASK_KINDS):
        return None
    band_files, nodata = [], set()
    for b in bands:
        src = p.band_source(b)
        if src is None or src.res != res or src.quantification != REFLECTANCE_QUANTIFICATION or src.add_offset:
            return None
        band_files.append((src.path, src.index))
        nodata.add(src.nodata)
    masks = {}
    for kind in MASK_KINDS:
        src = p.mask_source(kind, res)
        if src is not None and (src.res != res or src.quantification != 1.0 or src.add_offset):
            return None
        masks[kind] = None if src is None else (src.path, src.index)
    if masks["EDG"] is None:
        return None
    atb = p.aot_source(res)
    if atb is not None and (atb.res != res or atb.add_offset):
        return None
    if len(nodata) > 1:
        return None
    value = nodata.pop() if nodata else None
    refl_nodata = None
    if value is not None and math.isfinite(value) and value == int(value) and -32768 <= value <= 32767:
        refl_nodata = int(value)
    if atb is None:  # without AOT its scalars mean nothing
        return RawLayout(tuple(band_files), masks, None, refl_nodata, 1.0, math.nan)
    return RawLayout(tuple(band_files), masks, (atb.path, atb.index), refl_nodata, float(atb.quantification),
                     math.nan if atb.nodata is None else float(atb.nodata))


@dataclass
class RawBlock:
    """The masks and AOT of one block, Theia-coded, and how to interpret the reflectance read with them.

    Attributes
    ----------
    clm, mg2, edg, sat : numpy.ndarray
        uint8 (rows, cols) Theia codes (:mod:`l2a.formats.theia.bits`); zeros for a mask the product lacks.
    aot : numpy.ndarray or None
        uint8 stored ATB (raw) or float32 AOT (reader), (rows, cols); None without AOT.
    refl_nodata : int or None
        Stored nodata of the reflectance still to be applied (raw), or None.
    apply_edge : bool
        EDG still to be applied to the reflectance and the AOT (raw); False when the reader did it already.
    aot_scale, aot_nodata : float
        Stored AOT per unit AOT and its nodata value (1.0 and NaN for a float32 AOT).
    """

    clm: np.ndarray
    mg2: np.ndarray
    edg: np.ndarray
    sat: np.ndarray
    aot: np.ndarray | None
    refl_nodata: int | None
    apply_edge: bool
    aot_scale: float
    aot_nodata: float


class RawReader:
    """Reads one product's rasters of one resolution group, block after block, keeping its datasets open.

    Used by one thread at a time (a driver runs one task per product and block); the lock makes sure of it, since a
    GDAL dataset must never be used by two threads at once. Closed by :meth:`close` or as a context manager.

    Parameters
    ----------
    product : L2AProduct
    res : {"R1", "R2"}
        Resolution group: the bands and the masks are read on its grid.
    bands : sequence of str
        Bands of the group to read (empty to read masks only).
    """

    def __init__(self, product: L2AProduct, res: str, bands: Sequence[str]):
        self.product = product
        self.res = res
        self.bands = tuple(bands)
        self._lock = threading.Lock()
        self._datasets: dict[str, rasterio.DatasetReader] = {}
        self._layout: RawLayout | None | bool = False  # False: not decided yet

    def _open(self, path: str) -> rasterio.DatasetReader:
        ds = self._datasets.get(path)
        if ds is None:
            ds = self._datasets[path] = open_raster(path)
        return ds

    def _decide(self) -> None:
        layout = raw_layout(self.product, self.res, self.bands)
        if layout is not None:
            dtypes = [self._open(path).dtypes[index - 1] for path, index in layout.bands]
            ok = all(d == "int16" for d in dtypes)
            masks = [source for source in layout.masks.values() if source is not None]
            ok &= all(self._open(path).dtypes[index - 1] == "uint8" for path, index in masks)
            if layout.atb is not None:
                path, index = layout.atb
                ds = self._open(path)
                ok &= ds.count >= index and ds.dtypes[index - 1] == "uint8"
            if not ok:
                layout = None
        self._layout = layout

    def _read(self, path: str, index: int, window: Window, out: np.ndarray | None = None) -> np.ndarray:
        try:
            return self._open(path).read(index, window=window, out=out)
        except RasterioIOError as exc:
            raise CorruptRasterError(f"cannot decode raster: {str(exc).splitlines()[0][:200]}", path) from exc

    def _mask(self, kind: str, window: Window) -> np.ndarray:
        source = self._layout.masks[kind]
        if source is None:
            return np.zeros((int(window.height), int(window.width)), np.uint8)
        return self._read(*source, window)

    def read(self, window: Window, refl: np.ndarray) -> RawBlock:
        """Fill ``refl`` with the bands and return the masks and AOT of a window.

        Parameters
        ----------
        window : rasterio.windows.Window
            Window of the group's grid.
        refl : numpy.ndarray
            int16 or float32 (bands, rows, cols), written: stored values (raw; nodata and EDG still to apply, see
            :class:`RawBlock`) or the reader's reflectance x 10000 (nodata -10000).

        Raises
        ------
        CorruptRasterError
            A raster that cannot be decoded (one line naming the file).
        """
        with self._lock:
            if self._layout is False:
                self._decide()
            layout = self._layout
            if layout is not None:
                for k, (path, index) in enumerate(layout.bands):
                    self._read(path, index, window, refl[k])
                masks = [self._mask(kind, window) for kind in MASK_KINDS]
                aot = None if layout.atb is None else self._read(*layout.atb, window)
                return RawBlock(*masks, aot, layout.refl_nodata, True, layout.aot_scale, layout.aot_nodata)
            p = self.product
            for k, b in enumerate(self.bands):
                refl[k] = p.read_band(b, window)
            m = p.read_masks(self.res, window)
            # the reader's planes in Theia codes: CLM as MAJA would code the cloud and shadow planes (bit 0 and
            # the detail bits, l2a.formats.theia.bits.encode_clm), MG2 water and snow bits
            clm = encode_clm(m["cloud"], m["shadow"])
            mg2 = (m["water"].astype(np.uint8) << MG2_WATER) | (m["snow"].astype(np.uint8) << MG2_SNOW)
            aot = p.read_aot(window, self.res) if p.has_aot else None
            # EDG is applied by the reader already; classes see the reader's nodata plane
            return RawBlock(clm, mg2, m["nodata"].astype(np.uint8), m["saturated"].astype(np.uint8), aot, None,
                            False, 1.0, math.nan)

    def read_cloud_and_nodata(self, window: Window, clm_bits: int = CLM_CLOUD_OR_SHADOW_BITS
                              ) -> tuple[np.ndarray, np.ndarray]:
        """bool (rows, cols) planes of a window: cloud or shadow (any of the CLM bits ``clm_bits``, by default any
        bit; for products read through their reader, the CLM that :meth:`read` gives), and nodata (only CLM and EDG
        are read raw)."""
        with self._lock:
            if self._layout is False:
                self._decide()
            if self._layout is not None:
                clm = self._mask("CLM", window)
                return (clm & clm_bits) != 0, self._mask("EDG", window) != 0
            m = self.product.read_masks(self.res, window)
            return (encode_clm(m["cloud"], m["shadow"]) & clm_bits) != 0, m["nodata"]

    def close(self) -> None:
        """Close every dataset (the reader can be used again: they reopen)."""
        with self._lock:
            for ds in self._datasets.values():
                ds.close()
            self._datasets.clear()

    def __enter__(self) -> "RawReader":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
