"""The L3A product: folder layout, writer and reader.

Layout (Theia L3A compatible, plus NOB, IPP and STAC; SPEC section 3)::

    SENTINEL2X_20180715-000000-000_L3A_T31TCJ_C_V1-0/
        *_FRC_B2.tif ... *_FRC_B12.tif      reflectance composite, int16 x10000, nodata -10000
        MASKS/*_WGT_R1.tif, *_WGT_R2.tif    sum of weights x1000, int16, -10000 where FLG 0
        MASKS/*_DTS_R1.tif, *_DTS_R2.tif    weighted-mean date, 0-based day of year, int16, -10000 where FLG 0
        MASKS/*_FLG_R1.tif, *_FLG_R2.tif    0 nodata, 1 always cloudy, 2 snow, 3 water, 4 land (uint8)
        MASKS/*_NOB_R1.tif, *_NOB_R2.tif    number of clear observations used (uint8)
        *_QKL_ALL.jpg                       quicklook of B4, B3, B2 (0-0.3 reflectance -> 0-255)
        *_MTD_ALL.xml                       MUSCATE-style metadata (synthesis date and period, cloud/snow %)
        DATA/*_IPP_ALL.xml                  every parameter and the list of inputs
        *_STAC.json                         STAC item

:class:`L3AWriter` writes into a hidden temporary folder beside the target and renames it when complete, so an
interrupted run never leaves a partial product. :func:`open_l3a` reads this layout and Theia's own L3A products
(whose WGT is 0 for snow and water: a valid pixel of minimal weight, never nodata).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import xml.etree.ElementTree as ET
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from l2a._version import __version__
from l2a.io.cog import CogWriter, check_deflate_level
from l2a.errors import BandNotFoundError, MissingFileError, NotAProductError, SyntheoError
from l2a.grid import Grid
from l2a.product import check_resolution
from l2a.io.raster import open_raster, read_raster
from l2a.io.xmldoc import find_text, parse_xml
from l2a.sensors import CALIBRATION_VERSION, band_resolution

from .errors import L3AError

__all__ = ["L3AMetadata", "L3AWriter", "L3AProduct", "open_l3a", "l3a_product_name", "FLG", "MASK_KINDS",
           "DEFAULT_DEFLATE_LEVELS", "deflate_level_of", "is_l3a_folder"]

logger = logging.getLogger(__name__)

#: FLG values (Theia L3A).
FLG = {"nodata": 0, "cloud": 1, "snow": 2, "water": 3, "land": 4}
#: Per-resolution mask rasters of an L3A product: dtype, nodata, overview resampling.
MASK_KINDS = {
    "WGT": ("int16", -10000, "average"),
    "DTS": ("int16", -10000, "nearest"),
    "FLG": ("uint8", None, "nearest"),
    "NOB": ("uint8", None, "nearest"),
}
#: DEFLATE level of each raster kind when none is asked for (``scripts/bench_deflate.py`` compares levels). On the
#: noisy 16-bit rasters, reflectance (FRC) and weights (WGT), libdeflate's level 1 is the better choice: FRC files
#: 1-3 % smaller than at GDAL's default level 6 in about half the DEFLATE time (simulated composites, real Sentinel-2
#: bands); WGT 14 % larger but 2.2-2.5 times cheaper, about 1 % of the product for 5 % of the synthesis CPU. Dates,
#: classes and counts (DTS, FLG, NOB) are 3-23 % smaller at level 6 for little CPU, and keep it.
DEFAULT_DEFLATE_LEVELS = {"FRC": 1, "WGT": 1, "DTS": 6, "FLG": 6, "NOB": 6}
_NAME_RE = re.compile(r"^(SENTINEL2[ABCX]|VENUS)_(\d{8})-(\d{6})-(\d{3})_L3A_(T\d{2}[A-Z]{3})_([A-Z])_V(\d+-\d+)$")


def deflate_level_of(kind: str, deflate_level: int | None = None) -> int:
    """DEFLATE level of a raster of ``kind`` (``FRC``, ``WGT``, ``DTS``, ``FLG`` or ``NOB``): ``deflate_level`` when
    given (every raster), else :data:`DEFAULT_DEFLATE_LEVELS`."""
    return DEFAULT_DEFLATE_LEVELS[kind] if deflate_level is None else deflate_level


def l3a_product_name(platforms: Sequence[str], central_date: dt.date, tile: str, version: str = "1-0") -> str:
    """Theia-style L3A folder name: ``SENTINEL2X`` when several platforms contributed, else ``SENTINEL2A``/``B``/``C``.

    Parameters
    ----------
    platforms : sequence of str
        Platform codes of the contributing products (``S2A``, ``S2B``, ...).
    central_date : datetime.date
        Synthesis (central) date.
    tile : str
        Tile code with its ``T``.
    """
    plats = sorted(set(platforms))
    if len(plats) == 1 and plats[0].startswith("S2"):
        prefix = "SENTINEL2" + plats[0][-1]
    elif plats == ["VENUS"]:
        prefix = "VENUS"
    else:
        prefix = "SENTINEL2X"
    return f"{prefix}_{central_date:%Y%m%d}-000000-000_L3A_{tile}_C_V{version}"


def is_l3a_folder(path: str | os.PathLike) -> bool:
    """True when a folder looks like an L3A product (``*_L3A_*`` name with FRC rasters)."""
    p = Path(path)
    return p.is_dir() and "_L3A_" in p.name and any(p.glob("*_FRC_B*.tif"))


@dataclass(frozen=True)
class L3AMetadata:
    """What an L3A product records about itself.

    Attributes
    ----------
    tile : str
        Tile code with its ``T``.
    central_date : datetime.date
        Synthesis date (the 15th for monthly runs).
    half_window_days : int
        Half-width of the synthesis window, days.
    crs : CRS
        Coordinate reference system.
    grids : mapping ``"R1"``/``"R2"`` -> Grid
    bands : tuple of str
        Composite bands, Theia names.
    platforms : tuple of str
        Platforms of the products used.
    inputs : sequence of mapping
        One entry per input considered: ``product_id``, ``path``, ``platform``, ``datetime`` (ISO), ``used`` (bool),
        ``reason`` (why skipped), ``date_offset_days``, ``date_weight``.
    params : mapping
        Every synthesis parameter (``CompositeParams.to_dict()``).
    """

    tile: str
    central_date: dt.date
    half_window_days: int
    crs: CRS
    grids: Mapping[str, Grid]
    bands: tuple[str, ...]
    platforms: tuple[str, ...]
    inputs: Sequence[Mapping] = field(default_factory=tuple)
    params: Mapping = field(default_factory=dict)
    version: str = "1-0"

    @property
    def name(self) -> str:
        return l3a_product_name(self.platforms, self.central_date, self.tile, self.version)

    @property
    def period(self) -> tuple[dt.date, dt.date]:
        h = dt.timedelta(days=self.half_window_days)
        return self.central_date - h, self.central_date + h


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
    L3AError
        If the product exists and ``overwrite`` is False.
    InvalidParameterError
        If ``deflate_level`` is not None nor in 1..12.
    """

    def __init__(self, out_dir: str | os.PathLike, meta: L3AMetadata, *, threads: int = 2, overwrite: bool = False,
                 deflate_level: int | None = None):
        deflate_level = check_deflate_level(deflate_level)
        self.meta = meta
        self.out_dir = Path(out_dir).absolute()
        self.path = self.out_dir / meta.name
        if self.path.exists() and not overwrite:
            raise L3AError("product exists already (use --overwrite to replace it)", self.path)
        self.overwrite = overwrite
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._tmp = self.out_dir / f".tmp-{meta.name}-{os.getpid()}"
        if self._tmp.exists():
            shutil.rmtree(self._tmp)
        (self._tmp / "MASKS").mkdir(parents=True)
        (self._tmp / "DATA").mkdir()
        self.threads = threads
        self.deflate_level = deflate_level
        self._writers: dict[str, CogWriter] = {}
        self._res_of: dict[str, str] = {}  # raster key (band, or kind_res) -> resolution group
        self._flg_counts: dict[str, np.ndarray] = {}
        # one finishing thread: GDAL's COG copy already compresses with `threads` threads
        self._finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="l3a-finish")
        self._finishing: dict[str, Future] = {}
        try:
            for band in meta.bands:
                g = meta.grids[band_resolution(band)]
                self._writers[band] = CogWriter(
                    self._tmp / f"{meta.name}_FRC_{band}.tif", crs=meta.crs, transform=g.transform,
                    height=g.height, width=g.width, dtype="int16", nodata=-10000, descriptions=[band], scale=1e-4,
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
        """Write a block of the reflectance composite: int16 (rows, cols) x10000, nodata -10000."""
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
        """Finish every raster, write the quicklook and metadata, and move the product into place."""
        try:
            self._submit_finishing(self._writers)
            for future in self._finishing.values():
                future.result()
            self._finisher.shutdown()
            name = self.meta.name
            self._write_quicklook(self._tmp / f"{name}_QKL_ALL.jpg")
            stats = self.statistics()
            _write_xml(self._tmp / f"{name}_MTD_ALL.xml", _mtd_all(self.meta, stats))
            _write_xml(self._tmp / "DATA" / f"{name}_IPP_ALL.xml", _ipp_all(self.meta, self.deflate_level))
            (self._tmp / f"{name}_STAC.json").write_text(json.dumps(_stac_item(self.meta, stats), indent=1))
            if self.path.exists() and self.overwrite:
                old = self.out_dir / f".old-{name}-{os.getpid()}"
                os.replace(self.path, old)
                os.replace(self._tmp, self.path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self._tmp, self.path)
        except BaseException as exc:
            self.abort(exc)
            raise
        return self.path

    def statistics(self) -> dict[str, float]:
        """Cloud, snow, water, land and nodata percentages from the FLG written (R2 if present, else R1); cloud
        and snow are relative to the observed (FLG > 0) pixels, as Theia's CloudPercent/SnowPercent."""
        counts = self._flg_counts.get("R2", self._flg_counts.get("R1"))
        total = max(int(counts.sum()), 1)
        observed = max(total - int(counts[0]), 1)
        pct = {k: round(100.0 * counts[v] / observed, 3) for k, v in FLG.items() if v}
        pct["nodata"] = round(100.0 * counts[0] / total, 3)
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
        img = np.where(data <= -10000, 0, np.clip(data / 3000.0 * 255.0, 0, 255)).astype(np.uint8)
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
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort(exc)


# --- metadata documents ----------------------------------------------------------------------------------------
def _sub(parent: ET.Element, tag: str, text=None, **attrib) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items()})
    if text is not None:
        el.text = str(text)
    return el


def _write_xml(path: Path, root: ET.Element) -> None:
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def _mtd_all(meta: L3AMetadata, stats: Mapping[str, float]) -> ET.Element:
    begin, end = meta.period
    root = ET.Element("Muscate_Metadata_Document")
    ident = _sub(root, "Metadata_Identification")
    _sub(ident, "METADATA_FORMAT", "METADATA_MUSCATE", version="1.16")
    _sub(ident, "METADATA_PROFILE", "GENERIC")
    _sub(ident, "METADATA_INFORMATION", "EXPERT")
    ds = _sub(root, "Dataset_Identification")
    _sub(ds, "IDENTIFIER", meta.name)
    _sub(ds, "AUTHORITY", "syntheo")
    _sub(ds, "PRODUCER", f"syntheo {__version__}")
    _sub(ds, "PROJECT", "SENTINEL2")
    _sub(ds, "GEOGRAPHICAL_ZONE", meta.tile, type="Tile")
    pc = _sub(root, "Product_Characteristics")
    _sub(pc, "PRODUCT_ID", meta.name)
    _sub(pc, "ACQUISITION_DATE", f"{meta.central_date:%Y-%m-%d}T00:00:00.000Z")
    _sub(pc, "SYNTHESIS_DATE", f"{meta.central_date:%Y-%m-%d}")
    _sub(pc, "SYNTHESIS_PERIOD_BEGIN", f"{begin:%Y-%m-%d}")
    _sub(pc, "SYNTHESIS_PERIOD_END", f"{end:%Y-%m-%d}")
    _sub(pc, "PRODUCT_VERSION", meta.version.replace("-", "."))
    _sub(pc, "PRODUCT_LEVEL", "L3A")
    _sub(pc, "PLATFORM", "+".join(meta.platforms))
    _sub(pc, "ORBIT_NUMBER", -1)
    bgl = _sub(pc, "Band_Global_List", count=len(meta.bands))
    for b in meta.bands:
        _sub(bgl, "BAND_ID", b)
    groups = _sub(pc, "Band_Group_List")
    for res in meta.grids:
        grp = _sub(groups, "Group", group_id=res)
        bl = _sub(grp, "Band_List")
        for b in meta.bands:
            if band_resolution(b) == res:
                _sub(bl, "BAND_ID", b)
    org = _sub(_sub(root, "Product_Organisation"), "Muscate_Product")
    img = _sub(_sub(org, "Image_List"), "Image")
    _sub(_sub(img, "Image_Properties"), "NATURE", "Flat_Reflectance_Composite")
    files = _sub(img, "Image_File_List")
    for b in meta.bands:
        _sub(files, "IMAGE_FILE", f"{meta.name}_FRC_{b}.tif", band_id=b)
    masks = _sub(org, "Mask_List")
    for kind, nature in (("WGT", "Pixel_Weight"), ("DTS", "Weighted_Average_Dates"), ("FLG", "Pixel_Status_Flag"),
                         ("NOB", "Number_Of_Observations")):
        m = _sub(masks, "Mask")
        _sub(_sub(m, "Mask_Properties"), "NATURE", nature)
        mf = _sub(m, "Mask_File_List")
        for res in meta.grids:
            _sub(mf, "MASK_FILE", f"MASKS/{meta.name}_{kind}_{res}.tif", group_id=res)
    geo = _sub(root, "Geoposition_Informations")
    cs = _sub(_sub(geo, "Coordinate_Reference_System"), "Horizontal_Coordinate_System")
    epsg = meta.crs.to_epsg()
    _sub(cs, "HORIZONTAL_CS_CODE", epsg if epsg else meta.crs.to_wkt())
    _sub(cs, "HORIZONTAL_CS_TYPE", "PROJECTED")
    gl = _sub(_sub(geo, "Geopositioning"), "Group_Geopositioning_List")
    for res, g in meta.grids.items():
        gg = _sub(gl, "Group_Geopositioning", group_id=res)
        for tag, val in (("ULX", g.transform.c), ("ULY", g.transform.f), ("XDIM", g.transform.a),
                         ("YDIM", g.transform.e), ("NROWS", g.height), ("NCOLS", g.width)):
            _sub(gg, tag, f"{val:g}" if isinstance(val, float) else val)
    rad = _sub(root, "Radiometric_Informations")
    _sub(rad, "REFLECTANCE_QUANTIFICATION_VALUE", 10000)
    _sub(_sub(rad, "Special_Values_List"), "SPECIAL_VALUE", -10000, name="nodata")
    q = _sub(_sub(_sub(root, "Quality_Informations"), "Current_Product"), "Product_Quality_List", level="N2")
    qi = _sub(q, "Global_Index_List")
    _sub(qi, "QUALITY_INDEX", stats.get("cloud", 0.0), name="CloudPercent")
    _sub(qi, "QUALITY_INDEX", stats.get("snow", 0.0), name="SnowPercent")
    _sub(qi, "QUALITY_INDEX", stats.get("water", 0.0), name="WaterPercent")
    _sub(qi, "QUALITY_INDEX", stats.get("nodata", 0.0), name="NoDataPercent")
    contrib = _sub(root, "Contributing_Products_List")
    for i in meta.inputs:
        if i.get("used"):
            c = _sub(contrib, "Contributing_Product")
            _sub(c, "PRODUCT_ID", i["product_id"])
            _sub(c, "ACQUISITION_DATE", i["datetime"])
            _sub(c, "PLATFORM", i["platform"])
    return root


def _ipp_all(meta: L3AMetadata, deflate_level: int | None = None) -> ET.Element:
    root = ET.Element("Syntheo_L3A_Parameters")
    _sub(root, "SOFTWARE", f"syntheo {__version__}")
    _sub(root, "CALIBRATION_TABLE", CALIBRATION_VERSION)
    # how the rasters were encoded: DEFLATE level per raster kind
    _sub(root, "OUTPUT_COMPRESSION", "DEFLATE", predictor="2",
         **{f"level_{kind.lower()}": str(deflate_level_of(kind, deflate_level)) for kind in DEFAULT_DEFLATE_LEVELS})
    _sub(root, "TILE", meta.tile)
    _sub(root, "CENTRAL_DATE", f"{meta.central_date:%Y-%m-%d}")
    params = _sub(root, "Parameters")
    for k, v in meta.params.items():
        _sub(params, "PARAMETER", json.dumps(v) if not isinstance(v, str) else v, name=k)
    inputs = _sub(root, "Input_List", count=len(meta.inputs))
    for i in meta.inputs:
        el = _sub(inputs, "INPUT", i.get("path", ""), **{k: v for k, v in i.items() if k != "path"})
        el.attrib = {k: str(v) for k, v in el.attrib.items()}
    return root


def _stac_item(meta: L3AMetadata, stats: Mapping[str, float]) -> dict:
    import pystac
    from pyproj import Transformer
    from pystac.extensions.projection import ProjectionExtension
    from shapely.geometry import Polygon, mapping

    g = meta.grids["R1"] if "R1" in meta.grids else next(iter(meta.grids.values()))
    left, bottom, right, top = g.bounds
    tr = Transformer.from_crs(meta.crs, "EPSG:4326", always_xy=True)
    xs = np.concatenate([np.linspace(left, right, 11), np.full(11, right), np.linspace(right, left, 11),
                         np.full(11, left)])
    ys = np.concatenate([np.full(11, top), np.linspace(top, bottom, 11), np.full(11, bottom),
                         np.linspace(bottom, top, 11)])
    lon, lat = tr.transform(xs, ys)
    poly = Polygon(zip(lon, lat))
    begin, end = meta.period
    item = pystac.Item(
        id=meta.name, geometry=mapping(poly), bbox=list(poly.bounds),
        datetime=dt.datetime.combine(meta.central_date, dt.time(), dt.timezone.utc),
        properties={
            "start_datetime": f"{begin:%Y-%m-%d}T00:00:00Z", "end_datetime": f"{end:%Y-%m-%d}T23:59:59Z",
            "processing:level": "L3A", "s2:mgrs_tile": meta.tile, "platform": "+".join(meta.platforms),
            "syntheo:version": __version__, "syntheo:cloud_percent": stats.get("cloud", 0.0),
            "syntheo:snow_percent": stats.get("snow", 0.0),
            "syntheo:inputs": [i["product_id"] for i in meta.inputs if i.get("used")],
        })
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.epsg = meta.crs.to_epsg()
    proj.shape = list(g.shape)
    proj.transform = list(g.transform)[:6]
    for b in meta.bands:
        item.add_asset(f"FRC_{b}", pystac.Asset(f"./{meta.name}_FRC_{b}.tif", media_type=pystac.MediaType.COG,
                                                roles=["data", "reflectance"], title=f"Composite {b}"))
    for res in meta.grids:
        for kind in MASK_KINDS:
            item.add_asset(f"{kind}_{res}", pystac.Asset(f"./MASKS/{meta.name}_{kind}_{res}.tif",
                                                         media_type=pystac.MediaType.COG, roles=["metadata"]))
    item.add_asset("quicklook", pystac.Asset(f"./{meta.name}_QKL_ALL.jpg", media_type=pystac.MediaType.JPEG,
                                             roles=["overview"]))
    item.add_asset("metadata", pystac.Asset(f"./{meta.name}_MTD_ALL.xml", media_type=pystac.MediaType.XML,
                                            roles=["metadata"]))
    return item.to_dict(include_self_link=False)


# --- reader ----------------------------------------------------------------------------------------------------
class L3AProduct:
    """An L3A product (this toolkit's or Theia's), read by windows.

    Attributes
    ----------
    path : Path
    name : str
    tile : str
    central_date : datetime.date
    platform : str
        Name prefix (``SENTINEL2X``, ``SENTINEL2A``, ...).
    crs : CRS
    grids : dict ``"R1"``/``"R2"`` -> Grid
    bands : tuple of str
        FRC bands present, in L2A order.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).absolute()
        if not self.path.is_dir():
            raise NotAProductError("not an L3A product folder", self.path)
        m = _NAME_RE.match(self.path.name)
        if not m:
            raise NotAProductError("folder name is not an L3A product name (PLATFORM_YYYYMMDD-HHMMSS-mmm_L3A_"
                                   "Txxxxx_C_Vx-y)", self.path)
        self.name = self.path.name
        self.platform, day, _, _, self.tile, _, self.version = m.groups()
        self.central_date = dt.datetime.strptime(day, "%Y%m%d").date()
        self._frc = {}
        for f in self.path.glob(f"{self.name}_FRC_B*.tif"):
            self._frc[f.stem.rsplit("_", 1)[1]] = f
        if not self._frc:
            raise NotAProductError("no FRC reflectance raster in the product", self.path)
        from l2a.sensors import L2A_BANDS
        self.bands = tuple(b for b in L2A_BANDS if b in self._frc)
        self.grids: dict[str, Grid] = {}
        self.crs: CRS | None = None
        for band in self.bands:
            res = band_resolution(band)
            with open_raster(self._frc[band], "FRC raster") as ds:
                grid = Grid(ds.transform, ds.height, ds.width)
                self.crs = self.crs or ds.crs
                if res in self.grids and not self.grids[res].same_as(grid):
                    raise SyntheoError(f"FRC {band} is not on the {res} grid of the other bands", self._frc[band])
                self.grids.setdefault(res, grid)
        mtd = self.path / f"{self.name}_MTD_ALL.xml"
        self.metadata_path = mtd if mtd.exists() else None
        if self.metadata_path is not None:
            root = parse_xml(mtd)
            d = find_text(root, ".//SYNTHESIS_DATE") or (find_text(root, ".//ACQUISITION_DATE") or "")[:10]
            if d:
                try:
                    self.central_date = dt.date.fromisoformat(d[:10])
                except ValueError:
                    raise L3AError(f"bad synthesis date {d!r} in metadata", mtd) from None

    def mask_path(self, kind: str, res: str) -> Path:
        """Path of a MASKS raster (WGT, DTS, FLG, NOB) at a resolution."""
        return self.path / "MASKS" / f"{self.name}_{kind}_{check_resolution(res)}.tif"

    def has_mask(self, kind: str, res: str) -> bool:
        return self.mask_path(kind, res).exists()

    def frc_path(self, band: str) -> Path:
        """Path of the FRC raster of a band (``{name}_FRC_{band}.tif``).

        Raises
        ------
        BandNotFoundError
            If the product has no FRC raster of this band.
        """
        if band not in self._frc:
            raise BandNotFoundError(f"band {band} is not in this L3A product", self.path)
        return self._frc[band]

    def read_frc(self, band: str, window: Window | None = None) -> np.ndarray:
        """Composite reflectance of a band: int16 (rows, cols) x10000, nodata -10000."""
        path = self.frc_path(band)
        g = self.grids[band_resolution(band)]
        return read_raster(path, 1, window, g.shape, f"FRC {band}").astype(np.int16, copy=False)

    def read_mask(self, kind: str, res: str, window: Window | None = None) -> np.ndarray:
        """A MASKS raster at a resolution: WGT int16, DTS int16, FLG uint8, NOB uint8 (rows, cols)."""
        path = self.mask_path(kind, res)
        if not path.exists():
            raise MissingFileError(f"{kind} mask at {res} not found", path)
        return read_raster(path, 1, window, self.grids[res].shape, f"{kind}_{res}")

    def __repr__(self) -> str:
        return f"<L3AProduct {self.name} bands={','.join(self.bands)}>"


def open_l3a(path: str | os.PathLike) -> L3AProduct:
    """Open an L3A product folder (this toolkit's or Theia's)."""
    return L3AProduct(path)
