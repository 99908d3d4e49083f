"""Reader of Theia/MUSCATE (MAJA) Level-2A products, folder or .zip; the toolkit's own L2A products use this format.

Files are found by name (:mod:`l2a.formats.theia.names`): ``*_FRE_B{n}.tif`` / ``*_SRE_B{n}.tif``, iota2
``*_FRE_STACK.tif`` stacks, ``MASKS/*_{CLM,MG2,EDG,SAT}_R{1,2}.tif``, ``*_ATB_R{1,2}.tif`` and ``*_MTD_ALL.xml``.
Metadata come from MTD_ALL.xml when present, else from the product name (platform, date and time to the millisecond,
tile) and the rasters (CRS, grids). At open time every raster present must be of its role's kind (data type, band
count), open, decode its last block (a truncated file fails here, not in the middle of a synthesis) and lie on the
product's grid of its resolution group; :mod:`l2a.formats.theia.rasters` does these checks, each failure naming the
file. What is missing (MTD_ALL.xml, MG2, ATB, SAT, R2 masks, CLM, EDG) gives one :class:`IncompleteProductWarning`
and counts as clear, never as cloud.

Tolerances for third-party files (the iota2 test crops): float32 reflectance, either DN (x 10000) or reflectance
0-1 (decided once per file from its values), uint16 or int16 stacks with nodata 0, float32 masks.

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
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from l2a.constants import (
    MASK_NAMES,
    REFLECTANCE_NODATA,
    REFLECTANCE_QUANTIFICATION,
    RESOLUTIONS,
)
from l2a.errors import (
    CorruptRasterError,
    IncompleteProductWarning,
    InvalidParameterError,
    MissingFileError,
    ProductFormatError,
)
from l2a.formats.theia.bits import decode_clm, decode_mg2, decode_sat, to_uint8
from l2a.formats.theia.mtd import TheiaMetadata, parse_mtd_all, read_mtd_all
from l2a.formats.theia.names import TheiaFiles, classify_members, parse_product_name
from l2a.formats.theia.values import AOT_QUANTIFICATION
from l2a.formats.theia.rasters import (
    OTHER_GROUP,
    BandSource,
    TheiaRaster,
    inspect_raster,
    product_grids,
    stack_bands,
)
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
)

__all__ = ["TheiaL2A", "open_theia", "open_theia_files"]

logger = logging.getLogger(__name__)

_MAJORITY_PLANES = ("snow", "water")


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
        self._bands: dict[str, BandSource] = bands
        self._masks: dict[tuple[str, str], TheiaRaster] = masks
        self._atb: dict[str, TheiaRaster] = atb
        self._aot_nodata = aot_nodata
        md = metadata or TheiaMetadata()
        self.orbit_number, self.relative_orbit = md.orbit_number, md.relative_orbit
        self.cloud_percent, self.snow_percent = md.cloud_percent, md.snow_percent

    # --- helpers ----------------------------------------------------------------------------------------------
    def _read(self, raster: TheiaRaster, window: Window, index: int | None = 1) -> np.ndarray:
        with open_raster(raster.gdal_path) as ds:
            try:
                return ds.read(index, window=window)
            except RasterioIOError as exc:
                raise CorruptRasterError(f"cannot decode raster: {str(exc).splitlines()[0][:200]}",
                                         raster.gdal_path) from exc

    def _gather(self, raster: TheiaRaster, res: str, window: Window, index: int | None):
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
        other = OTHER_GROUP[res]
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
        q = float(self.aot_quantification or AOT_QUANTIFICATION)
        if res in self._atb:
            dn = self._read(self._atb[res], win, 2).astype(np.float64)
            aot = np.where(dn == self._aot_nodata, np.nan, dn / q)
        else:
            data, inside = self._gather(self._atb[OTHER_GROUP[res]], res, win, 2)
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
            raster = self._masks.get((kind, OTHER_GROUP[res]))
        return None if raster is None else RasterSource(raster.gdal_path, 1, raster.res)

    def aot_source(self, res: str = "R1") -> RasterSource | None:
        """Where the AOT read for group ``res`` lives: band 2 of the ATB of ``res``, else of the other group
        (resampled by :meth:`read_aot`, which also sets EDG pixels to NaN); ``quantification`` and ``nodata`` of
        MTD_ALL.xml (200 and 0 without). None without ATB."""
        check_resolution(res)
        raster = self._atb.get(res)
        if raster is None:
            raster = self._atb.get(OTHER_GROUP[res])
        if raster is None:
            return None
        quantification = float(self.aot_quantification or AOT_QUANTIFICATION)
        return RasterSource(raster.gdal_path, 2, raster.res, quantification, 0.0, self._aot_nodata)


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
    kind = _reflectance_kind(reflectance)
    p = Path(path).absolute()
    root = root.strip("/")
    if zip_index is not None:
        prefix = f"{root}/" if root else ""
        members = [n[len(prefix):] for n in zip_index.names if n.startswith(prefix)]
        locate: Callable[[str], str] = lambda m: zip_index.vsi(prefix + m)
        read_bytes: Callable[[str], bytes] = lambda m: zip_index.read_bytes(prefix + m)
    else:
        if p.is_file():
            raise ProductFormatError("a product archive needs its zip index (use l2a.open_l2a)", p)
        members = list_members(p / root)
        locate = lambda m: os.fspath(p / root / m)  # noqa: E731
        read_bytes = None
    return _open_files(p, classify_members(members), locate, read_bytes, root.rpartition("/")[2] or p.name, kind)


def open_theia_files(path: str | os.PathLike, locations: Mapping[str, str], *, product_dir: str,
                     read_bytes: Callable[[str], bytes], reflectance: str = "FRE") -> TheiaL2A:
    """Open a Theia L2A product whose files are anywhere GDAL reads (a STAC item's assets: ``/vsicurl/`` URLs,
    local paths).

    Parameters
    ----------
    path : path-like
        What the product is called in messages and :attr:`~l2a.product.L2AProduct.path` (the item document).
    locations : mapping str -> str
        File name as in a product folder (``<ID>_FRE_B4.tif``, ``MASKS/<ID>_CLM_R1.tif``, ``<ID>_MTD_ALL.xml``) ->
        GDAL path of that file; roles are found by name as in a folder (:func:`classify_members`).
    product_dir : str
        The product identifier (the folder name it would have).
    read_bytes : callable
        GDAL path -> bytes of a small document (the MTD_ALL.xml).
    reflectance : {"FRE", "SRE"}

    Raises
    ------
    the errors of :func:`open_theia`.
    """
    kind = _reflectance_kind(reflectance)
    return _open_files(Path(path), classify_members(locations), locations.__getitem__,
                       lambda member: read_bytes(locations[member]), product_dir, kind)


def _reflectance_kind(reflectance: str) -> str:
    kind = str(reflectance).upper()
    if kind not in ("FRE", "SRE"):
        raise InvalidParameterError(f"reflectance must be FRE or SRE, not {reflectance!r}")
    return kind


def _open_files(p: Path, files: TheiaFiles, locate: Callable[[str], str], read_bytes: Callable[[str], bytes] | None,
                product_dir: str, kind: str) -> TheiaL2A:
    """The product of classified files: ``locate`` gives a file's GDAL path, ``read_bytes`` its bytes (None: read
    the local file at that path)."""
    mtd = _read_mtd(files, locate, read_bytes, tile_hint=_tile_hint(product_dir, files))
    quant = (mtd.reflectance_quantification if mtd and mtd.reflectance_quantification else 10000.0)
    rasters, crs_of, bands, masks, atb = [], {}, {}, {}, {}

    def inspect(member, res, role):
        raster, crs = inspect_raster(locate(member), member, res, role, quantification=quant)
        rasters.append(raster)
        crs_of[member] = crs
        return raster

    for rkind in (kind, "SRE" if kind == "FRE" else "FRE"):
        for band, member in files.bands[rkind].items():
            raster = inspect(member, band_resolution(band), "band")
            if rkind == kind:
                bands[band] = BandSource(raster, 1)
    for rkind, member in sorted(files.stacks.items(), key=lambda kv: kv[0] != kind):
        raster = inspect(member, "R1", "stack")
        if rkind == kind:
            for i, band in enumerate(stack_bands(raster), start=1):
                bands.setdefault(band, BandSource(raster, i))
    for key, member in files.masks.items():
        masks[key] = inspect(member, key[1], "mask")
    for res, member in files.atb.items():
        atb[res] = inspect(member, res, "ATB")
    other = "SRE" if kind == "FRE" else "FRE"
    if not bands and (files.bands[other] or other in files.stacks):
        raise MissingFileError(f"product has no {kind} reflectance files (it has {other}; open it with "
                               f"reflectance={other!r})", p)
    grids, crs = product_grids(rasters, crs_of, mtd)
    platform, tile, when, product_id = _identity(mtd, [mtd.product_id if mtd else None, product_dir,
                                                       files.file_id], p)
    _warn_missing(p, files, mtd, masks, atb)
    md = mtd or TheiaMetadata()
    aot_q = md.aot_quantification or (float(AOT_QUANTIFICATION) if atb else None)
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


def _read_mtd(files: TheiaFiles, locate, read_bytes, *, tile_hint: str | None) -> TheiaMetadata | None:
    if files.mtd is None:
        return None
    if read_bytes is None:
        return read_mtd_all(locate(files.mtd), tile=tile_hint)
    return parse_mtd_all(read_bytes(files.mtd), locate(files.mtd), tile=tile_hint)


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
            missing.append(f"{kind}_{OTHER_GROUP[present[0]]} (resampled from {kind}_{present[0]})")
    if not atb:
        missing.append("ATB (no aerosol optical thickness)")
    if missing:
        message = f"{path}: product lacks " + "; ".join(missing)
        logger.info(message)
        warnings.warn(message, IncompleteProductWarning, stacklevel=3)
