"""Reader of ESA Sen2Cor Level-2A SAFE products (folder or .zip): :class:`Sen2CorL2A` and :func:`open_sen2cor`.

Layout (reference-l2a-formats.md section 4.2)::

    <PRODUCT>.SAFE/MTD_MSIL2A.xml
    <PRODUCT>.SAFE/GRANULE/L2A_T31TCJ_A035569_20220414T110747/MTD_TL.xml
        IMG_DATA/R10m/T31TCJ_20220414T110751_{B02,B03,B04,B08,AOT,WVP,TCI}_10m.jp2
        IMG_DATA/R20m/T31TCJ_20220414T110751_{B01..B07,B8A,B11,B12,SCL,AOT,WVP,TCI}_20m.jp2
        IMG_DATA/R60m/...

Older products spell the files ``L2A_T31TCJ_..._B02_10m.jp2``; both are read. Each Theia band comes from the file
at its native resolution (B2 B3 B4 B8 at 10 m -> group R1; B5 B6 B7 B8A B11 B12 at 20 m -> R2); other resolutions
are ignored, and missing bands are simply absent (an error only when read).

Radiometry: reflectance x 10000 = (DN + BOA_ADD_OFFSET[band]) * 10000 / BOA_QUANTIFICATION_VALUE, DN 0 -> -10000.
The offsets are read per band from ``MTD_MSIL2A.xml`` whenever ``BOA_ADD_OFFSET_VALUES_LIST`` is present (baseline
04.00 and later, reprocessed archive included), never decided from the date or the baseline.

Masks come from the scene classification (SCL, 20 m; nearest neighbour, i.e. 2 x 2 repetition, at 10 m):
0 nodata, 1 saturated, 3 shadow, 8/9/10 cloud, 6 water, 11 snow, 2/4/5/7 clear. AOT = DN / AOT_QUANTIFICATION_VALUE,
NaN where DN is 0 or SCL is nodata.

At open every raster of IMG_DATA (bands at every resolution, SCL, AOT, WVP, TCI) is opened, its kind checked (one
uint16 band for the bands, AOT and WVP, one uint8 band for SCL, three for TCI) and its grid checked against its
resolution grid from ``MTD_TL.xml`` (Tile_Geocoding), and the 10 m and 20 m grids against each other; a raster off its
grid is a :class:`~l2a.errors.GridMismatchError`, an undecodable one a :class:`~l2a.errors.CorruptRasterError`, one of
another kind a :class:`~l2a.errors.RasterKindError`, all naming the file. Without ``MTD_TL.xml`` (a warning) grids
come from the rasters and there are no angles.
"""

from __future__ import annotations

import logging
import os
import re

import numpy as np
from rasterio.windows import Window

from l2a.constants import MASK_NAMES, REFLECTANCE_NODATA
from l2a.errors import GridMismatchError, MissingFileError, ProductFormatError
from l2a.formats.safe.files import SafeFiles, probe_raster
from l2a.formats.safe.grids import describe_grid, resolve_grids
from l2a.formats.safe.metadata import (
    ProductMetadata,
    TileMetadata,
    parse_product_metadata,
    read_tile_metadata,
    resolve_identity,
)
from l2a.formats.safe.names import esa_band_name
from l2a.grid import Grid
from l2a.io.raster import read_raster, window_shape
from l2a.product import L2AProduct, RasterSource, check_resolution
from l2a.sensors import L2A_BANDS, band_resolution

__all__ = ["Sen2CorL2A", "open_sen2cor", "dn_to_reflectance", "scl_to_masks", "SCL_CLASSES"]

logger = logging.getLogger(__name__)

#: SCL values of each mask plane (the other values, 2 4 5 7, are clear).
SCL_CLASSES = {"nodata": (0,), "saturated": (1,), "shadow": (3,), "cloud": (8, 9, 10), "water": (6,), "snow": (11,)}
_SCL_LUT = {name: np.isin(np.arange(256), SCL_CLASSES[name]) for name in MASK_NAMES}

_RASTER = re.compile(
    r"^GRANULE/(?P<granule>[^/]+)/IMG_DATA/R(?P<folder>10|20|60)m/(?:L2A_)?(?P<tile>T\d{2}[A-Z]{3})_\d{8}T\d{6}_"
    r"(?P<kind>B\d{2}|B8A|SCL|AOT|WVP|TCI)_(?P<res>10|20|60)m\.jp2$")
_GROUP_M = {"R1": 10, "R2": 20}
_DEFAULT_AOT_QUANTIFICATION = 1000.0
#: Data type and band count of each raster kind of IMG_DATA (``kind`` of the file name; bands are B01 ... B12, B8A).
_RASTER_KINDS = {"band": (("uint16",), 1), "AOT": (("uint16",), 1), "WVP": (("uint16",), 1), "SCL": (("uint8",), 1),
                 "TCI": (("uint8",), 3)}


def dn_to_reflectance(dn: np.ndarray, offset: float, quantification: float, nodata_dn: int = 0) -> np.ndarray:
    """Convert Sen2Cor digital numbers to the toolkit's reflectance.

    Parameters
    ----------
    dn : numpy.ndarray
        uint16 (rows, cols) digital numbers as stored.
    offset : float
        BOA_ADD_OFFSET of the band, DN units (-1000 from baseline 04.00; 0 without an offset list).
    quantification : float
        BOA_QUANTIFICATION_VALUE (10000).
    nodata_dn : int
        Stored no-data value (0).

    Returns
    -------
    numpy.ndarray
        int16 (rows, cols), reflectance x 10000 rounded, valid values clipped to [-9999, 32767], -10000 where
        ``dn == nodata_dn``.
    """
    scale = 10000.0 / quantification
    if scale == 1.0 and float(offset).is_integer():
        refl = dn.astype(np.int32) + int(offset)
    else:
        refl = np.rint((dn.astype(np.float64) + offset) * scale)
    refl = np.clip(refl, REFLECTANCE_NODATA + 1, np.iinfo(np.int16).max)
    return np.where(dn == nodata_dn, REFLECTANCE_NODATA, refl).astype(np.int16)


def scl_to_masks(scl: np.ndarray) -> dict[str, np.ndarray]:
    """Map a scene classification array to the mask planes (see :data:`SCL_CLASSES`).

    Parameters
    ----------
    scl : numpy.ndarray
        uint8 (rows, cols) SCL classes 0..11.

    Returns
    -------
    dict of str -> numpy.ndarray
        bool (rows, cols) planes ``cloud``, ``shadow``, ``snow``, ``water``, ``nodata``, ``saturated``.
    """
    index = scl.astype(np.uint8, copy=False)
    return {name: _SCL_LUT[name][index] for name in MASK_NAMES}


class Sen2CorL2A(L2AProduct):
    """An ESA Sen2Cor Level-2A SAFE product (see module docstring); create with :func:`open_sen2cor` or
    :func:`l2a.open_l2a`. It has the attributes of :class:`~l2a.product.L2AProduct` and these:

    Attributes
    ----------
    processing_baseline : str or None
        ``"05.10"``..., informative (never used to decide the radiometry).
    boa_add_offset : mapping band -> float
        Offset applied to each band present, DN units (all 0 when the product has no offset list).
    metadata : ProductMetadata
        Parsed ``MTD_MSIL2A.xml``.
    tile_metadata : TileMetadata or None
        Parsed ``MTD_TL.xml``.
    """

    format = "sen2cor"
    mask_kinds = ("SCL",)

    def __init__(self, files: SafeFiles, *, band_files: dict[str, str], scl_file: str | None,
                 aot_files: dict[str, str], metadata: ProductMetadata, tile_metadata: TileMetadata | None,
                 **kwargs):
        super().__init__(files.path, **kwargs)
        self._files = files
        self._band_files = dict(band_files)
        self._scl_file = scl_file
        self._aot_files = dict(aot_files)
        self.metadata = metadata
        self.tile_metadata = tile_metadata
        self.processing_baseline = metadata.processing_baseline
        self.boa_add_offset = {band: metadata.offset(band) for band in self.bands}

    # --- reads ----------------------------------------------------------------------------------------------
    def read_band(self, name: str, window: Window | None = None) -> np.ndarray:
        band = self._check_band(name)
        res = band_resolution(band)
        win = self._check_window(res, window)
        raw = read_raster(self._files.location(self._band_files[band]), 1, win, self.grid(res).shape,
                          what=f"band {band}")
        return dn_to_reflectance(raw, self.boa_add_offset[band], self.reflectance_quantification,
                                 self.metadata.nodata_dn)

    def read_masks(self, res: str = "R1", window: Window | None = None) -> dict[str, np.ndarray]:
        check_resolution(res)
        win = self._check_window(res, window)
        if self._scl_file is None:
            shape = window_shape(win)
            return {name: np.zeros(shape, dtype=bool) for name in MASK_NAMES}
        return scl_to_masks(self._read_scl(res, win))

    @property
    def has_aot(self) -> bool:
        return bool(self._aot_files)

    def read_aot(self, window: Window | None = None, res: str = "R1") -> np.ndarray:
        check_resolution(res)
        if not self.has_aot:
            raise MissingFileError("product has no AOT raster", self.path)
        win = self._check_window(res, window)
        if res in self._aot_files:
            raw = read_raster(self._files.location(self._aot_files[res]), 1, win, self.grid(res).shape, what="AOT")
        elif res == "R1":
            raw = self._read_upsampled(self._aot_files["R2"], win, "AOT")
        else:
            raw = self._read_decimated(self._aot_files["R1"], win, "AOT")
        aot = raw.astype(np.float32) / np.float32(self.aot_quantification)
        invalid = raw == 0
        if self._scl_file is not None:
            invalid |= self._read_scl(res, win) == 0
        aot[invalid] = np.nan
        return aot

    # --- raw layout -------------------------------------------------------------------------------------------
    def band_source(self, name: str) -> RasterSource:
        """Where the stored DN of a band live: its JP2 at the band's native resolution.

        Reflectance = (DN + BOA_ADD_OFFSET) / BOA_QUANTIFICATION_VALUE; :meth:`read_band` rounds it x 10000,
        clips valid values to [-9999, 32767] and gives -10000 where DN is the nodata value (0).

        Raises
        ------
        BandNotFoundError
        """
        band = self._check_band(name)
        return RasterSource(self._files.location(self._band_files[band]), 1, band_resolution(band),
                            self.reflectance_quantification, float(self.boa_add_offset[band]),
                            float(self.metadata.nodata_dn))

    def mask_source(self, kind: str, res: str = "R1") -> RasterSource | None:
        """Where the scene classification (``kind`` ``"SCL"``) lives: the 20 m SCL raster, on the R2 grid for
        both groups (:meth:`read_masks` repeats it 2 x 2 at R1). Stored uint8 classes, mapped by
        :data:`SCL_CLASSES`. None without SCL (masks clear) or for another ``kind``."""
        check_resolution(res)
        if kind != "SCL" or self._scl_file is None:
            return None
        return RasterSource(self._files.location(self._scl_file), 1, "R2")

    def aot_source(self, res: str = "R1") -> RasterSource | None:
        """Where the AOT read for group ``res`` lives: the AOT JP2 of ``res``, or else of the other group (repeated
        2 x 2 or decimated by :meth:`read_aot`, which also gives NaN where SCL is nodata). ``quantification``
        AOT_QUANTIFICATION_VALUE, ``nodata`` 0. None without AOT."""
        check_resolution(res)
        rel = self._aot_files.get(res)
        group = res
        if rel is None:
            group = "R2" if res == "R1" else "R1"
            rel = self._aot_files.get(group)
        if rel is None:
            return None
        return RasterSource(self._files.location(rel), 1, group, float(self.aot_quantification), 0.0, 0.0)

    # --- resampling between R2 (20 m) and R1 (10 m) ----------------------------------------------------------
    def _read_scl(self, res: str, win: Window) -> np.ndarray:
        if res == "R2":
            return read_raster(self._files.location(self._scl_file), 1, win, self.grid("R2").shape, what="SCL")
        return self._read_upsampled(self._scl_file, win, "SCL")

    def _read_upsampled(self, rel: str, win: Window, what: str) -> np.ndarray:
        """Read the 20 m window covering a 10 m window, repeat each pixel 2 x 2 and cut the 10 m window out."""
        r0, c0 = win.row_off // 2, win.col_off // 2
        r1, c1 = (win.row_off + win.height + 1) // 2, (win.col_off + win.width + 1) // 2
        src = read_raster(self._files.location(rel), 1, Window(c0, r0, c1 - c0, r1 - r0), self.grid("R2").shape,
                          what=what)
        up = np.repeat(np.repeat(src, 2, axis=0), 2, axis=1)
        dr, dc = win.row_off - 2 * r0, win.col_off - 2 * c0
        return up[dr:dr + win.height, dc:dc + win.width]

    def _read_decimated(self, rel: str, win: Window, what: str) -> np.ndarray:
        """Read the 10 m pixels at the upper-left corner of each 20 m pixel of a 20 m window."""
        height, width = self.grid("R1").shape
        r0, c0 = 2 * win.row_off, 2 * win.col_off
        src_win = Window(c0, r0, min(2 * win.width, width - c0), min(2 * win.height, height - r0))
        return read_raster(self._files.location(rel), 1, src_win, (height, width), what=what)[::2, ::2]


# --- opening --------------------------------------------------------------------------------------------------
def _find_rasters(files: SafeFiles) -> tuple[str, dict[tuple[str, int], str], set[str]]:
    found: dict[tuple[str, int], str] = {}
    granules, tiles = set(), set()
    for rel, m in files.match(_RASTER):
        if m["folder"] != m["res"]:
            continue
        granules.add(m["granule"])
        tiles.add(m["tile"])
        found[(m["kind"], int(m["res"]))] = rel
    if not granules:
        raise MissingFileError("no JP2 raster under GRANULE/*/IMG_DATA/R10m|R20m|R60m", files.display(""))
    if len(granules) > 1:
        raise ProductFormatError(f"holds {len(granules)} granules ({', '.join(sorted(granules))}); expected one",
                                 files.display(""))
    return granules.pop(), found, tiles


def _check_groups(grids: dict[str, Grid], source: str) -> None:
    """The 20 m grid must be the 10 m grid's 2 x 2 aggregation (same origin, ceil of half the size)."""
    if "R1" not in grids or "R2" not in grids:
        return
    r1, r2 = grids["R1"], grids["R2"]
    same_origin = abs(r1.transform.c - r2.transform.c) < 1e-6 and abs(r1.transform.f - r2.transform.f) < 1e-6
    if (not same_origin or abs(r2.resolution - 2 * r1.resolution) > 1e-9
            or r2.shape != ((r1.height + 1) // 2, (r1.width + 1) // 2)):
        raise GridMismatchError(f"the 20 m grid ({describe_grid(r2)}) is not the 10 m grid ({describe_grid(r1)}) "
                                "aggregated 2 x 2", source)


def open_sen2cor(path: str | os.PathLike, *, zip_index=None, root: str = "") -> Sen2CorL2A:
    """Open a Sen2Cor L2A SAFE product.

    Parameters
    ----------
    path : str or path-like
        The ``.SAFE`` folder, a folder holding it, or a .zip archive.
    zip_index : ZipIndex, optional
        Checked member list when ``path`` is an archive (from :func:`l2a.io.archive.open_zip_index`).
    root : str
        Product root inside the folder or archive (``""`` when ``path`` is the ``.SAFE`` folder).

    Returns
    -------
    Sen2CorL2A

    Raises
    ------
    MissingFileError
        No ``MTD_MSIL2A.xml`` or no JP2 raster.
    MetadataError, UnsafeXMLError
        Malformed or hostile metadata, or no platform / acquisition time anywhere.
    CorruptRasterError, GridMismatchError
        A raster that does not open or does not lie on its grid (naming the file).
    RasterKindError
        A raster of another data type or band count than Sen2Cor writes (naming the file).
    ProductFormatError
        Several granules.
    """
    files = SafeFiles(path, zip_index, root)
    mtd = "MTD_MSIL2A.xml"
    metadata = parse_product_metadata(files.read_xml(mtd), "L2A", files.display(mtd))
    granule, found, tiles = _find_rasters(files)
    tile_metadata = read_tile_metadata(files, granule)

    band_files = {b: found[(esa_band_name(b), _GROUP_M[band_resolution(b)])] for b in L2A_BANDS
                  if (esa_band_name(b), _GROUP_M[band_resolution(b)]) in found}
    scl_file = found.get(("SCL", 20))
    aot_files = {group: found[("AOT", m)] for group, m in _GROUP_M.items() if ("AOT", m) in found}
    if scl_file is None:
        logger.warning("%s: no SCL_20m raster; masks read as clear", files.display(f"GRANULE/{granule}"))
    infos = []
    for (kind, res), rel in sorted(found.items(), key=lambda item: item[1]):
        dtypes, count = _RASTER_KINDS.get(kind, _RASTER_KINDS["band"])
        infos.append((probe_raster(files, rel, what=rel.rsplit("/", 1)[-1], dtypes=dtypes, count=count), res))
    found_grids, crs = resolve_grids(infos, tile_metadata, allow_subset=False)
    declared = {} if tile_metadata is None else tile_metadata.grids
    grids = {g: found_grids.get(m, declared.get(m)) for g, m in _GROUP_M.items()}
    grids = {g: grid for g, grid in grids.items() if grid is not None}
    _check_groups(grids, tile_metadata.source if tile_metadata else files.display(f"GRANULE/{granule}"))

    platform, when, tile = resolve_identity(files, metadata, tile_metadata, tiles, crs)
    aot_q = metadata.aot_quantification
    if aot_files and aot_q is None:
        logger.warning("%s: no AOT_QUANTIFICATION_VALUE; using %g", files.display(mtd), _DEFAULT_AOT_QUANTIFICATION)
        aot_q = _DEFAULT_AOT_QUANTIFICATION
    product = Sen2CorL2A(
        files, band_files=band_files, scl_file=scl_file, aot_files=aot_files, metadata=metadata,
        tile_metadata=tile_metadata, platform=platform, tile=tile, datetime=when, crs=crs, grids=grids,
        bands=tuple(band_files), angles=tile_metadata.angles if tile_metadata else None,
        reflectance_quantification=metadata.quantification, aot_quantification=aot_q,
        product_id=(metadata.product_uri or files.product_name).removesuffix(".SAFE"))
    logger.debug("opened %r", product)
    return product
