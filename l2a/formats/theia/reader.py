"""Reader of Theia/MUSCATE (MAJA) Level-2A products, folder or .zip; the toolkit's own L2A products use this format.

Files are found by name (:mod:`l2a.formats.theia.names`): ``*_FRE_B{n}.tif`` / ``*_SRE_B{n}.tif``, iota2 ``*_FRE_STACK.tif``
stacks, ``MASKS/*_{CLM,MG2,EDG,SAT}_R{1,2}.tif``, ``*_ATB_R{1,2}.tif`` and ``*_MTD_ALL.xml``. Metadata come from
MTD_ALL.xml when present, else from the product name (platform, date and time to the millisecond, tile) and the
rasters (CRS, grids). At open time every raster present must open, decode its last block (a truncated file fails
here, not in the middle of a synthesis) and lie on the product's grid of its resolution group
(:class:`~l2a.errors.GridMismatchError` names the file). What is missing (MTD_ALL.xml, MG2, ATB, SAT, R2 masks,
CLM, EDG) gives one :class:`IncompleteProductWarning` and counts as clear, never as cloud.

Tolerances for third-party files (the iota2 test crops): float32 reflectance, either DN (x 10000) or reflectance
0-1 (decided once per file from its values), uint16 stacks with nodata 0, float32 masks.

Masks of a missing resolution group are resampled from the other group on the fly:

* R1 from R2: each 10 m pixel takes the 20 m pixel holding its centre (each 20 m pixel repeated 2 x 2);
* R2 from R1: each 20 m pixel looks at the 2 x 2 pixels it covers: ``cloud``, ``shadow``, ``nodata`` and
  ``saturated`` are set if any of them is (a partly cloudy pixel is not clear), ``snow`` and ``water`` if at least
  half of them are (a class, not a defect).

An R2 band read from a 10 m stack is the mean of the valid 10 m values under each 20 m pixel.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window

from l2a.constants import (
    MASK_NAMES,
    REFLECTANCE_NODATA,
    REFLECTANCE_QUANTIFICATION,
    RESOLUTIONS,
)
from l2a.errors import (
    BandNotFoundError,
    CorruptRasterError,
    GridMismatchError,
    IncompleteProductWarning,
    InvalidParameterError,
    MissingFileError,
    ProductFormatError,
)
from l2a.formats.theia.bits import decode_clm, decode_mg2, decode_sat, to_uint8
from l2a.formats.theia.mtd import TheiaMetadata, parse_mtd_all, read_mtd_all
from l2a.formats.theia.names import TheiaFiles, classify_members, parse_product_name
from l2a.grid import Grid
from l2a.io.archive import ZipIndex
from l2a.io.members import list_members
from l2a.io.raster import open_raster, window_shape
from l2a.product import L2AProduct, RasterSource, check_resolution
from l2a.sensors import (
    CALIBRATION_VERSION,
    L2A_BANDS,
    R1_BANDS,
    R2_BANDS,
    band_resolution,
    normalize_band,
)

__all__ = ["TheiaL2A", "open_theia", "STACK_BANDS"]

logger = logging.getLogger(__name__)

#: Band order of the iota2 ``*_FRE_STACK.tif`` multi-band files (all at 10 m).
STACK_BANDS = ("B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B11", "B12")
#: Float rasters whose valid values stay within +-this are reflectance 0-1 (else DN = reflectance x 10000).
FLOAT_REFLECTANCE_MAX = 2.0
_OTHER = {"R1": "R2", "R2": "R1"}
_MAJORITY_PLANES = ("snow", "water")


@dataclass(frozen=True)
class _Raster:
    """One raster of the product as checked at open time."""

    member: str          # path relative to the product root
    gdal_path: str       # path or /vsizip/ path
    res: str             # resolution group whose grid it lies on
    grid: Grid
    count: int
    nodata: float | None
    factor: float = 1.0  # multiply stored values by this to get reflectance x 10000 (bands only)
    descriptions: tuple = ()


@dataclass(frozen=True)
class _BandSource:
    raster: _Raster
    index: int           # 1-based band index in the raster


class TheiaL2A(L2AProduct):
    """A Theia/MUSCATE Level-2A product (see module docstring); open it with :func:`open_theia` or
    :func:`l2a.open_l2a`.

    Attributes (beyond :class:`~l2a.product.L2AProduct`)
    ----------------------------------------------------
    reflectance : str
        ``"FRE"`` or ``"SRE"``, the reflectance read by :meth:`read_band`.
    metadata : TheiaMetadata or None
        Parsed MTD_ALL.xml.
    orbit_number, relative_orbit : int or None
    cloud_percent, snow_percent : float or None
        Quality indexes of MTD_ALL.xml, %.
    """

    format = "theia"
    mask_kinds = ("CLM", "MG2", "EDG", "SAT")

    def __init__(self, path, *, reflectance: str, bands: dict, masks: dict, atb: dict,
                 metadata: TheiaMetadata | None, aot_nodata: float, **kwargs):
        super().__init__(path, bands=tuple(b for b in L2A_BANDS if b in bands), **kwargs)
        self.reflectance = reflectance
        self.metadata = metadata
        self._bands: dict[str, _BandSource] = bands
        self._masks: dict[tuple[str, str], _Raster] = masks
        self._atb: dict[str, _Raster] = atb
        self._aot_nodata = aot_nodata
        md = metadata or TheiaMetadata()
        self.orbit_number, self.relative_orbit = md.orbit_number, md.relative_orbit
        self.cloud_percent, self.snow_percent = md.cloud_percent, md.snow_percent

    # --- helpers ----------------------------------------------------------------------------------------------
    def _read(self, raster: _Raster, window: Window, index: int | None = 1) -> np.ndarray:
        with open_raster(raster.gdal_path) as ds:
            try:
                return ds.read(index, window=window)
            except RasterioIOError as exc:
                raise CorruptRasterError(f"cannot decode raster: {str(exc).splitlines()[0][:200]}",
                                         raster.gdal_path) from exc

    def _gather(self, raster: _Raster, res: str, window: Window, index: int | None):
        """Values of ``raster`` (on another grid) under each pixel of ``window`` of grid ``res``: array
        (rows, n, cols, n) (or (bands, rows, n, cols, n)), and bool (rows, n, cols, n) True inside the raster."""
        rows, cols = _footprint(self.grids[res], raster.grid, window)
        h, w = raster.grid.shape
        rc, cc = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
        r0, c0 = int(rc.min()), int(cc.min())
        src = self._read(raster, Window(c0, r0, int(cc.max()) - c0 + 1, int(rc.max()) - r0 + 1), index)
        ri, ci = (rc - r0)[:, :, None, None], (cc - c0)[None, None, :, :]
        data = src[..., ri, ci]
        inside = ((rows >= 0) & (rows < h))[:, :, None, None] & ((cols >= 0) & (cols < w))[None, None, :, :]
        return data, np.broadcast_to(inside, data.shape[-4:])

    def _mask_planes(self, kind: str, res: str, window: Window) -> dict[str, np.ndarray] | None:
        """Decoded planes of one mask kind at ``res`` (resampled from the other group if needed), or None."""
        if (kind, res) in self._masks:
            return _decode(kind, to_uint8(self._read(self._masks[kind, res], window)))
        other = _OTHER[res]
        if (kind, other) not in self._masks:
            return None
        data, _ = self._gather(self._masks[kind, other], res, window, 1)
        planes = _decode(kind, to_uint8(data))
        n = data.shape[1]
        if n == 1:
            return {k: p[:, 0, :, 0] for k, p in planes.items()}
        return {k: (p.sum(axis=(1, 3)) * 2 >= n * n) if k in _MAJORITY_PLANES else p.any(axis=(1, 3))
                for k, p in planes.items()}

    def _edge(self, res: str, window: Window) -> np.ndarray | None:
        planes = self._mask_planes("EDG", res, window)
        return None if planes is None else planes["nodata"]

    def _read_dn(self, band: str, window: Window) -> np.ndarray:
        """Reflectance x 10000 of a band in its own grid, before the EDG mask is applied."""
        src = self._bands[band]
        res = band_resolution(band)
        raster = src.raster
        if raster.res == res:
            return _to_dn(self._read(raster, window, src.index), raster.factor, raster.nodata)
        data, inside = self._gather(raster, res, window, src.index)
        dn = _to_dn(data, raster.factor, raster.nodata)
        valid = inside & (dn != REFLECTANCE_NODATA)
        count = valid.sum(axis=(1, 3))
        total = np.where(valid, dn, 0).sum(axis=(1, 3), dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.rint(total / count)
        return np.where(count > 0, mean, REFLECTANCE_NODATA).astype(np.int16)

    # --- reads ------------------------------------------------------------------------------------------------
    def read_band(self, name: str, window: Window | None = None) -> np.ndarray:
        """Surface reflectance of one band (FRE or SRE as opened).

        Parameters
        ----------
        name : str
            Band name (``B2`` ... ``B12``, ``B8A``).
        window : Window, optional
            Window in the band's resolution grid (R1 10 m or R2 20 m); the whole band if None.

        Returns
        -------
        numpy.ndarray
            int16 (rows, cols), reflectance x 10000, nodata -10000 (file nodata, NaN, and EDG pixels).

        Raises
        ------
        BandNotFoundError, InvalidParameterError, CorruptRasterError
        """
        band = self._check_band(name)
        res = band_resolution(band)
        win = self._check_window(res, window)
        out = self._read_dn(band, win)
        edge = self._edge(res, win)
        if edge is not None:
            out[edge] = REFLECTANCE_NODATA
        return out

    def read_masks(self, res: str = "R1", window: Window | None = None) -> dict[str, np.ndarray]:
        """Validity masks at one resolution (see :meth:`l2a.product.L2AProduct.read_masks`).

        ``cloud``/``shadow`` from CLM (bits: :func:`l2a.formats.theia.bits.decode_clm`), ``water``/``snow`` from MG2,
        ``saturated`` from SAT (any band), ``nodata`` from EDG, or without EDG where the first band of the group
        (B2 for R1, B5 for R2) is nodata. Missing masks count as clear; masks of the other group are resampled
        (module docstring).

        Returns
        -------
        dict of str -> numpy.ndarray
            bool (rows, cols) planes ``cloud``, ``shadow``, ``snow``, ``water``, ``nodata``, ``saturated``.
        """
        win = self._check_window(res, window)
        out = {k: np.zeros(window_shape(win), bool) for k in MASK_NAMES}
        for kind in ("CLM", "MG2", "EDG", "SAT"):
            planes = self._mask_planes(kind, res, win)
            if planes is not None:
                out.update(planes)
        if self._edge_missing():
            group = [b for b in (R1_BANDS if res == "R1" else R2_BANDS) if b in self._bands]
            if group:
                out["nodata"] = self._read_dn(group[0], win) == REFLECTANCE_NODATA
        return out

    def _edge_missing(self) -> bool:
        return not any(kind == "EDG" for kind, _ in self._masks)

    @property
    def has_aot(self) -> bool:
        return bool(self._atb)

    def read_aot(self, window: Window | None = None, res: str = "R1") -> np.ndarray:
        """Aerosol optical thickness at 550 nm from ATB band 2.

        Parameters
        ----------
        window : Window, optional
            Window in the ``res`` grid.
        res : {"R1", "R2"}
            Resolution group; ATB of the other group is resampled (nearest, or mean of the valid 2 x 2 values).

        Returns
        -------
        numpy.ndarray
            float32 (rows, cols), dimensionless (DN / AEROSOL_OPTICAL_THICKNESS_QUANTIFICATION_VALUE), NaN where
            DN is the AOT nodata value (0), outside the image, or EDG.
        """
        win = self._check_window(res, window)
        if not self._atb:
            raise MissingFileError("product has no ATB (aerosol) raster", self.path)
        q = float(self.aot_quantification or 200.0)
        if res in self._atb:
            dn = self._read(self._atb[res], win, 2).astype(np.float64)
            aot = np.where(dn == self._aot_nodata, np.nan, dn / q)
        else:
            data, inside = self._gather(self._atb[_OTHER[res]], res, win, 2)
            valid = inside & (data != self._aot_nodata)
            count = valid.sum(axis=(1, 3))
            with np.errstate(invalid="ignore", divide="ignore"):
                aot = np.where(valid, data, 0).sum(axis=(1, 3)) / count / q
            aot = np.where(count > 0, aot, np.nan)
        edge = self._edge(res, win)
        if edge is not None:
            aot = np.where(edge, np.nan, aot)
        return aot.astype(np.float32)

    # --- raw layout -------------------------------------------------------------------------------------------
    def band_source(self, name: str) -> RasterSource:
        """Where the stored values of a band (FRE or SRE as opened) live: its ``*_B{n}.tif``, or a band of a 10 m
        ``*_STACK.tif`` (``res`` R1 also for R2 bands). ``quantification`` 10000 for values stored x 10000, 1 for
        float reflectance 0-1; ``nodata`` as the file declares it. :meth:`read_band` also rounds, turns NaN into
        -10000, averages the valid 2 x 2 values of a stack for R2 bands, and sets EDG pixels to -10000.

        Raises
        ------
        BandNotFoundError
        """
        src = self._bands[self._check_band(name)]
        raster = src.raster
        return RasterSource(raster.gdal_path, src.index, raster.res, REFLECTANCE_QUANTIFICATION / raster.factor,
                            0.0, raster.nodata)

    def mask_source(self, kind: str, res: str = "R1") -> RasterSource | None:
        """Where the ``MASKS/*_{kind}_R{1,2}.tif`` read for group ``res`` lives: that of ``res``, else that of the
        other group (resampled by :meth:`read_masks`). uint8 codes decoded by :mod:`l2a.formats.theia.bits`. None when
        the product has no ``kind`` mask (clear; without EDG, nodata comes from the group's first band)."""
        check_resolution(res)
        raster = self._masks.get((kind, res))
        if raster is None:
            raster = self._masks.get((kind, _OTHER[res]))
        return None if raster is None else RasterSource(raster.gdal_path, 1, raster.res)

    def aot_source(self, res: str = "R1") -> RasterSource | None:
        """Where the AOT read for group ``res`` lives: band 2 of the ATB of ``res``, else of the other group
        (resampled by :meth:`read_aot`, which also sets EDG pixels to NaN); ``quantification`` and ``nodata`` of
        MTD_ALL.xml (200 and 0 without). None without ATB."""
        check_resolution(res)
        raster = self._atb.get(res)
        if raster is None:
            raster = self._atb.get(_OTHER[res])
        if raster is None:
            return None
        return RasterSource(raster.gdal_path, 2, raster.res, float(self.aot_quantification or 200.0), 0.0,
                            self._aot_nodata)


# --- pixel helpers ---------------------------------------------------------------------------------------------
def _decode(kind: str, raw: np.ndarray) -> dict[str, np.ndarray]:
    if kind == "CLM":
        cloud, shadow = decode_clm(raw)
        return {"cloud": cloud, "shadow": shadow}
    if kind == "MG2":
        water, snow = decode_mg2(raw)
        return {"water": water, "snow": snow}
    if kind == "EDG":
        return {"nodata": raw != 0}
    return {"saturated": decode_sat(raw)}


def _footprint(dst: Grid, src: Grid, window: Window) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of ``src`` under each pixel of ``window`` of ``dst``.

    Returns int64 (rows, n) and (cols, n) with ``n = max(1, round(dst_res / src_res))``: the source pixels holding
    the centres of the n x n sub-pixels of each destination pixel (may lie outside the source grid).
    """
    n = max(1, int(round(dst.resolution / src.resolution)))
    sub = (np.arange(n) + 0.5) / n
    r = np.arange(int(window.row_off), int(window.row_off + window.height))[:, None] + sub[None, :]
    c = np.arange(int(window.col_off), int(window.col_off + window.width))[:, None] + sub[None, :]
    y = dst.transform.f + dst.transform.e * r
    x = dst.transform.c + dst.transform.a * c
    rows = np.floor((y - src.transform.f) / src.transform.e + 1e-9).astype(np.int64)
    cols = np.floor((x - src.transform.c) / src.transform.a + 1e-9).astype(np.int64)
    return rows, cols


def _to_dn(raw: np.ndarray, factor: float, nodata: float | None) -> np.ndarray:
    """Stored values -> int16 reflectance x 10000 (any input dtype, any shape); nodata/NaN -> -10000."""
    a = np.asarray(raw)
    invalid = np.zeros(a.shape, bool)
    if nodata is not None:
        invalid |= np.isnan(a) if math.isnan(nodata) else (a == nodata)
    if a.dtype == np.int16 and factor == 1.0:
        out = a.copy()
    else:
        values = a.astype(np.float64)
        if a.dtype.kind == "f":
            invalid |= ~np.isfinite(values)
        values = np.rint(np.nan_to_num(values * factor, nan=REFLECTANCE_NODATA, posinf=32767, neginf=-32768))
        out = np.clip(values, -32768, 32767).astype(np.int16)
    out[invalid] = REFLECTANCE_NODATA
    return out


# --- open -------------------------------------------------------------------------------------------------------
def _float_factor(ds, index: int, nodata: float | None, quantification: float) -> float:
    """``quantification`` for a float band holding reflectance 0-1, 1.0 for DN (decided on a decimated read)."""
    shape = (min(ds.height, 256), min(ds.width, 256))
    try:
        sample = ds.read(index, out_shape=shape).astype(np.float64)
    except RasterioIOError as exc:
        raise CorruptRasterError(f"cannot decode raster: {str(exc).splitlines()[0][:200]}", ds.name) from exc
    valid = np.isfinite(sample)
    if nodata is not None and not math.isnan(nodata):
        valid &= sample != nodata
    if not valid.any():
        return 1.0
    return quantification if np.percentile(np.abs(sample[valid]), 99) <= FLOAT_REFLECTANCE_MAX else 1.0


def _inspect(gdal_path: str, member: str, res: str, *, is_band: bool, quantification: float):
    """Open a raster, decode its last block, and describe it: returns (_Raster, CRS)."""
    with warnings.catch_warnings():   # a raster without georeferencing gets our own error below
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        ds = open_raster(gdal_path, "raster")
    with ds:
        try:
            ds.read(window=Window(ds.width - 1, ds.height - 1, 1, 1))
        except RasterioIOError as exc:
            raise CorruptRasterError(f"raster is truncated or corrupt: {str(exc).splitlines()[0][:200]}",
                                     gdal_path) from exc
        t = ds.transform
        if ds.crs is None or t.is_identity:
            raise CorruptRasterError("raster has no georeferencing (CRS or geotransform lost)", gdal_path)
        if t.b != 0 or t.d != 0 or t.e >= 0 or t.a <= 0:
            raise GridMismatchError(f"raster is not north-up ({tuple(t)[:6]})", gdal_path)
        factor = 1.0
        if is_band and np.dtype(ds.dtypes[0]).kind == "f":
            factor = _float_factor(ds, 1, ds.nodata, quantification)
        raster = _Raster(member, gdal_path, res, Grid(t, ds.height, ds.width), ds.count, ds.nodata, factor,
                         tuple(ds.descriptions))
        return raster, ds.crs


def _stack_bands(raster: _Raster) -> tuple[str, ...]:
    names = []
    for d in raster.descriptions:
        try:
            names.append(normalize_band(d or ""))
        except BandNotFoundError:  # not a band name: fall back to the iota2 order
            names = []
            break
    if names and all(n in L2A_BANDS for n in names):
        return tuple(names)
    if raster.count != len(STACK_BANDS):
        n = min(raster.count, len(STACK_BANDS))
        warnings.warn(f"{raster.gdal_path}: stack has {raster.count} band(s) without names; taking them as "
                      f"{','.join(STACK_BANDS[:n])}", IncompleteProductWarning, stacklevel=4)
    return STACK_BANDS[:raster.count]


def _is_crop(grid: Grid, declared: Grid) -> bool:
    """True when ``grid`` is a pixel-aligned part of ``declared`` (same pixel size)."""
    ta, td = grid.transform, declared.transform
    if not (math.isclose(ta.a, td.a, rel_tol=1e-9) and math.isclose(ta.e, td.e, rel_tol=1e-9)):
        return False
    dc, dr = (ta.c - td.c) / td.a, (ta.f - td.f) / td.e
    if abs(dc - round(dc)) > 1e-6 or abs(dr - round(dr)) > 1e-6:
        return False
    c0, r0 = round(dc), round(dr)
    return c0 >= 0 and r0 >= 0 and c0 + grid.width <= declared.width and r0 + grid.height <= declared.height


def _derive(grid: Grid, factor: float) -> Grid:
    t = grid.transform
    return Grid(Affine(t.a * factor, 0.0, t.c, 0.0, t.e * factor, t.f), math.ceil(grid.height / factor),
                math.ceil(grid.width / factor))


def _grids(rasters: list[_Raster], crs_of: dict, mtd: TheiaMetadata | None):
    """Grids per resolution group: from the rasters (all of a group must agree), completed from MTD_ALL.xml or
    derived from the other group. Returns (grids, crs)."""
    grids, crs = {}, None
    first = {}
    for r in rasters:
        if crs is None:
            crs, first_crs = crs_of[r.member], r
        elif crs_of[r.member] != crs:
            raise GridMismatchError(f"CRS {crs_of[r.member]} differs from {crs} of {first_crs.member}", r.gdal_path)
        ref = grids.setdefault(r.res, r.grid)
        first.setdefault(r.res, r)
        if not r.grid.same_as(ref):
            raise GridMismatchError(
                f"not on the {r.res} grid of the product: {r.grid.height} x {r.grid.width} px at "
                f"{tuple(r.grid.transform)[:6]}, expected {ref.height} x {ref.width} px at {tuple(ref.transform)[:6]} "
                f"(from {first[r.res].member})", r.gdal_path)
    declared = {res: g.grid for res, g in (mtd.geopositions.items() if mtd else ()) if res in RESOLUTIONS}
    exact = {}
    for res, grid in grids.items():
        if res in declared:
            exact[res] = grid.same_as(declared[res])
            if not exact[res] and not _is_crop(grid, declared[res]):
                raise GridMismatchError(f"raster grid {tuple(grid.transform)[:6]} ({grid.height} x {grid.width}) "
                                        f"does not match the {res} geoposition of MTD_ALL.xml", first[res].gdal_path)
            if not exact[res]:
                logger.info("%s: rasters are a crop of the %s grid declared in MTD_ALL.xml", first[res].gdal_path,
                            res)
    if mtd is not None and mtd.crs is not None and crs is not None and mtd.crs != crs \
            and mtd.crs.to_epsg() != crs.to_epsg():
        raise GridMismatchError(f"rasters are in {crs}, MTD_ALL.xml declares {mtd.crs}", first_crs.gdal_path)
    if len(grids) == 2:
        g1, g2 = grids["R1"], grids["R2"]
        (l1, b1, r1, t1), (l2, b2, r2, t2) = g1.bounds, g2.bounds
        if not math.isclose(g2.resolution, 2 * g1.resolution, rel_tol=1e-6) or \
                min(r1, r2) <= max(l1, l2) or min(t1, t2) <= max(b1, b2):
            raise GridMismatchError(f"R2 grid ({g2.resolution} m) is not twice as coarse as the R1 grid "
                                    f"({g1.resolution} m) over the same area", first["R2"].gdal_path)
    if not grids:
        if not declared:
            raise ProductFormatError("product has no raster and no geoposition in its metadata")
        return dict(declared), (mtd.crs if mtd else None)
    for res in RESOLUTIONS:
        if res in grids:
            continue
        other = _OTHER[res]
        if res in declared and exact.get(other, False):
            grids[res] = declared[res]
        else:
            grids[res] = _derive(grids[other], 2.0 if res == "R2" else 0.5)
    return grids, crs


def _identity(mtd: TheiaMetadata | None, names: list[str], source):
    """platform, tile, datetime and product id from MTD_ALL.xml, else from the product or file names."""
    parsed = next((p for p in (parse_product_name(n) for n in names if n) if p is not None), None)
    md = mtd or TheiaMetadata()
    platform = md.platform or (parsed.platform if parsed else None)
    tile = md.tile or (parsed.tile if parsed else None)
    when = md.datetime or (parsed.datetime if parsed else None)
    missing = [k for k, v in (("platform", platform), ("tile", tile), ("acquisition date", when)) if v is None]
    if missing:
        raise ProductFormatError(f"cannot tell the {', '.join(missing)} (no MTD_ALL.xml field and no Theia product "
                                 f"name)", source)
    product_id = md.product_id or (parsed.product_id if parsed else None)
    return platform, tile, when, product_id


def open_theia(path: str | os.PathLike, *, zip_index: ZipIndex | None = None, root: str = "",
               reflectance: str = "FRE") -> TheiaL2A:
    """Open a Theia/MUSCATE L2A product.

    Parameters
    ----------
    path : str or path-like
        Product folder or .zip archive (or a folder/archive holding the product folder, see ``root``).
    zip_index : ZipIndex, optional
        Checked member list when ``path`` is an archive (:func:`l2a.io.archive.open_zip_index`).
    root : str
        Product folder inside ``path`` (``""`` when ``path`` is the product itself), POSIX separators.
    reflectance : {"FRE", "SRE"}
        Flat (slope-corrected) or surface reflectance for :meth:`TheiaL2A.read_band`.

    Returns
    -------
    TheiaL2A

    Raises
    ------
    InvalidParameterError, MissingFileError, MetadataError, UnsafeXMLError, CorruptRasterError, GridMismatchError,
    ProductFormatError
    """
    kind = str(reflectance).upper()
    if kind not in ("FRE", "SRE"):
        raise InvalidParameterError(f"reflectance must be FRE or SRE, not {reflectance!r}")
    p = Path(path).absolute()
    root = root.strip("/")
    if zip_index is not None:
        prefix = f"{root}/" if root else ""
        members = [n[len(prefix):] for n in zip_index.names if n.startswith(prefix)]
        locate: Callable[[str], str] = lambda m: zip_index.vsi(prefix + m)
    else:
        if p.is_file():
            raise ProductFormatError("a product archive needs its zip index (use l2a.open_l2a)", p)
        members = list_members(p / root)
        locate = lambda m: os.fspath(p / root / m)  # noqa: E731
    files = classify_members(members)
    product_dir = root.rpartition("/")[2] or p.name
    mtd = _read_mtd(files, locate, zip_index, prefix=f"{root}/" if root else "",
                    tile_hint=_tile_hint(product_dir, files))
    quant = (mtd.reflectance_quantification if mtd and mtd.reflectance_quantification else 10000.0)
    rasters, crs_of, bands, masks, atb = [], {}, {}, {}, {}

    def inspect(member, res, is_band=False):
        raster, crs = _inspect(locate(member), member, res, is_band=is_band, quantification=quant)
        rasters.append(raster)
        crs_of[member] = crs
        return raster

    for rkind in (kind, "SRE" if kind == "FRE" else "FRE"):
        for band, member in files.bands[rkind].items():
            raster = inspect(member, band_resolution(band), is_band=True)
            if rkind == kind:
                bands[band] = _BandSource(raster, 1)
    for rkind, member in sorted(files.stacks.items(), key=lambda kv: kv[0] != kind):
        raster = inspect(member, "R1", is_band=True)
        if rkind == kind:
            for i, band in enumerate(_stack_bands(raster), start=1):
                bands.setdefault(band, _BandSource(raster, i))
    for key, member in files.masks.items():
        masks[key] = inspect(member, key[1])
    for res, member in files.atb.items():
        atb[res] = inspect(member, res)
        if atb[res].count < 2:
            raise CorruptRasterError(f"ATB raster has {atb[res].count} band(s), expected 2 (WVC, AOT)",
                                     atb[res].gdal_path)
    other = "SRE" if kind == "FRE" else "FRE"
    if not bands and (files.bands[other] or other in files.stacks):
        raise MissingFileError(f"product has no {kind} reflectance files (it has {other}; open it with "
                               f"reflectance={other!r})", p)
    grids, crs = _grids(rasters, crs_of, mtd)
    platform, tile, when, product_id = _identity(mtd, [mtd.product_id if mtd else None, product_dir,
                                                       files.file_id], p)
    _warn_missing(p, files, mtd, masks, atb)
    md = mtd or TheiaMetadata()
    aot_q = md.aot_quantification or (200.0 if atb else None)
    return TheiaL2A(p, reflectance=kind, bands=bands, masks=masks, atb=atb, metadata=mtd,
                    aot_nodata=md.aot_nodata if md.aot_nodata is not None else 0.0,
                    platform=platform, tile=tile, datetime=when, crs=crs, grids=grids, angles=md.angles,
                    reflectance_quantification=quant, aot_quantification=aot_q,
                    calibration_version=md.calibration_version or CALIBRATION_VERSION,
                    product_id=product_id or product_dir.removesuffix(".zip"))


def _tile_hint(product_dir: str, files: TheiaFiles) -> str | None:
    for name in (product_dir, files.file_id):
        parsed = parse_product_name(name) if name else None
        if parsed is not None:
            return parsed.tile
    return None


def _read_mtd(files: TheiaFiles, locate, zip_index, *, prefix: str, tile_hint: str | None) -> TheiaMetadata | None:
    if files.mtd is None:
        return None
    if zip_index is None:
        return read_mtd_all(locate(files.mtd), tile=tile_hint)
    return parse_mtd_all(zip_index.read_bytes(prefix + files.mtd), locate(files.mtd), tile=tile_hint)


def _warn_missing(path, files: TheiaFiles, mtd, masks, atb) -> None:
    missing = []
    if mtd is None:
        missing.append("MTD_ALL.xml (metadata from the product name and the rasters)")
    for kind, what in (("CLM", "no cloud"), ("MG2", "no snow, no water"), ("EDG", "nodata from the bands"),
                       ("SAT", "no saturation")):
        present = [res for res in RESOLUTIONS if (kind, res) in masks]
        if not present:
            missing.append(f"{kind} ({what})")
        elif len(present) == 1:
            missing.append(f"{kind}_{_OTHER[present[0]]} (resampled from {kind}_{present[0]})")
    if not atb:
        missing.append("ATB (no aerosol optical thickness)")
    if missing:
        message = f"{path}: product lacks " + "; ".join(missing)
        logger.info(message)
        warnings.warn(message, IncompleteProductWarning, stacklevel=3)
