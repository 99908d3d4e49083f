"""The L3A product: folder layout and names, the metadata a product records, and the reader.

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

:class:`~l3a.writer.L3AWriter` writes this layout (its documents are built by :mod:`l3a.documents`);
:func:`open_l3a` reads it, and Theia's own L3A products (whose WGT is 0 for snow and water: a valid pixel of minimal
weight, never nodata). Every raster is checked against :data:`RASTER_KINDS` when the product is opened: a file of
another data type or band count is refused at once, naming it (:class:`~l2a.errors.RasterKindError`).

A product is also read from its STAC item (:func:`open_l3a_item`; :func:`open_l3a` takes the item's JSON file): the
item's assets name its rasters, which may be local files or remote COGs (``/vsicurl/https://...``, read by range
requests), and each raster must be on the grid the item declares for it (:class:`DeclaredGrid`). Either way an
:class:`L3AProduct` is built from the locations of its files (:class:`L3AFiles`), holds no open dataset and pickles
(the mosaic ships products to dask workers).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence, Union

import numpy as np
from rasterio.crs import CRS
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA, RESOLUTIONS
from l2a.errors import BandNotFoundError, MetadataError, MissingFileError, NotAProductError, SyntheoError
from l2a.grid import Grid
from l2a.io.raster import open_raster, read_raster
from l2a.io.xmldoc import find_text, parse_xml
from l2a.product import check_resolution
from l2a.sensors import L2A_BANDS, band_resolution

from .errors import L3AError
from .flags import DTS_NODATA, WGT_NODATA

__all__ = ["L3AMetadata", "L3AProduct", "L3AFiles", "DeclaredGrid", "Location", "open_l3a", "open_l3a_item",
           "l3a_product_name", "RASTER_KINDS", "MASK_KINDS", "DEFAULT_DEFLATE_LEVELS", "deflate_level_of",
           "is_l3a_folder"]

logger = logging.getLogger(__name__)

#: Every raster of an L3A product, by kind: data type, nodata, overview resampling; each holds one band. The one
#: table of what the files are: :class:`~l3a.writer.L3AWriter` creates them so, :class:`L3AProduct` refuses a file
#: of another data type or band count when the product is opened.
RASTER_KINDS = {
    "FRC": ("int16", REFLECTANCE_NODATA, "average"),
    "WGT": ("int16", WGT_NODATA, "average"),
    "DTS": ("int16", DTS_NODATA, "nearest"),
    "FLG": ("uint8", None, "nearest"),
    "NOB": ("uint8", None, "nearest"),
}
#: The per-resolution mask rasters (every kind of :data:`RASTER_KINDS` but the FRC reflectance), in writing order.
MASK_KINDS = {kind: spec for kind, spec in RASTER_KINDS.items() if kind != "FRC"}
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


# --- reader ----------------------------------------------------------------------------------------------------
#: Where a raster of a product is: a local file, or a GDAL path (``/vsicurl/https://...``) of a STAC item's asset.
Location = Union[Path, str]
_NAME_PATTERN = "PLATFORM_YYYYMMDD-HHMMSS-mmm_L3A_Txxxxx_C_Vx-y"


@dataclass(frozen=True)
class L3AFiles:
    """Where the files of one L3A product are, by role.

    Attributes
    ----------
    frc : mapping band -> Location
        FRC reflectance raster of each band (Theia names).
    masks : mapping (kind, res) -> Location
        MASKS rasters present, e.g. ``("FLG", "R1")``.
    metadata : Path or None
        The local ``*_MTD_ALL.xml``, when there is one.
    root : Location
        The product's folder (for a STAC item, the folder its relative hrefs resolve against): where an absent mask
        would be, named in the error that reports it.
    """

    frc: Mapping[str, Location]
    masks: Mapping[tuple[str, str], Location]
    metadata: Path | None
    root: Location

    @classmethod
    def in_folder(cls, folder: Path, name: str) -> "L3AFiles":
        """The files of the product folder ``folder`` named ``name`` (rasters present; names of the layout)."""
        frc = {f.stem.rsplit("_", 1)[1]: f for f in folder.glob(f"{name}_FRC_B*.tif")}
        masks = {(kind, res): f for kind in MASK_KINDS for res in RESOLUTIONS
                 if (f := _mask_location(folder, name, kind, res)).exists()}
        mtd = folder / f"{name}_MTD_ALL.xml"
        return cls(frc, masks, mtd if mtd.exists() else None, folder)


def _mask_location(root: Location, name: str, kind: str, res: str) -> Location:
    """Where the layout puts a MASKS raster below ``root``."""
    file = f"{name}_{kind}_{res}.tif"
    return root / "MASKS" / file if isinstance(root, Path) else f"{root.rstrip('/')}/MASKS/{file}"


@dataclass(frozen=True)
class DeclaredGrid:
    """The grid (and CRS) a STAC item declares for one of its assets with ``proj:`` fields, checked against the raster
    when the product is opened (:func:`l2a.formats.stac.reader.probe_asset`).

    Attributes
    ----------
    key : str
        Asset key, named in messages.
    source : str
        The item (its file or URL, and id), named in messages.
    grid : Grid or None
        ``proj:shape``, ``proj:transform`` (CRS units, m) and CRS; None when the item declares no grid for this asset.
    """

    key: str
    source: str
    grid: Grid | None


def _probe(location: Location, what: str, dtype: str, declared: DeclaredGrid | None) -> tuple[Grid, CRS | None]:
    """Open a raster's header: its kind checked (one band of ``dtype``), and its grid against the declared one."""
    if declared is not None:
        from l2a.formats.stac.reader import probe_asset

        grid = probe_asset(location, declared.key, declared.grid, what, (dtype,), declared.source)
    else:
        with open_raster(location, what, dtypes=(dtype,), count=1) as ds:
            grid = Grid(ds.transform, ds.height, ds.width, ds.crs)
    return replace(grid, crs=None), grid.crs


class L3AProduct:
    """An L3A product (this toolkit's or Theia's), read by windows: from its folder (``L3AProduct(folder)``), or from
    the files a STAC item lists (:meth:`from_files`, :func:`open_l3a_item`), local or remote.

    Attributes
    ----------
    path : Path
        The product folder; for a product read from a STAC item, the item's JSON file, or ``Path(item id)`` for an
        item of a collection, a catalogue or a URL (a key and a name in messages: never read).
    name : str
    tile : str
    central_date : datetime.date
    platform : str
        Name prefix (``SENTINEL2X``, ``SENTINEL2A``, ...).
    crs : CRS
    grids : dict ``"R1"``/``"R2"`` -> Grid
    bands : tuple of str
        FRC bands present, in L2A order.
    files : L3AFiles
        Where its rasters are (local Paths, or GDAL paths such as ``/vsicurl/https://...``).
    metadata_path : Path or None
        The local ``*_MTD_ALL.xml``.
    """

    def __init__(self, path: str | os.PathLike):
        folder = Path(path).absolute()
        if not folder.is_dir():
            raise NotAProductError("not an L3A product folder", folder)
        if not _NAME_RE.match(folder.name):
            raise NotAProductError(f"folder name is not an L3A product name ({_NAME_PATTERN})", folder)
        files = L3AFiles.in_folder(folder, folder.name)
        if not files.frc:
            raise NotAProductError("no FRC reflectance raster in the product", folder)
        self._load(folder, folder.name, files)

    @classmethod
    def from_files(cls, path: str | os.PathLike, name: str, files: L3AFiles, *,
                   central_date: dt.date | None = None,
                   declared: Mapping[str, DeclaredGrid] | None = None) -> "L3AProduct":
        """A product from the locations of its files; every raster is opened and checked, as for a folder.

        Parameters
        ----------
        path : path-like
            The product's ``path`` (its folder, its item file, or a name).
        name : str
            Product name (:func:`l3a_product_name` pattern).
        files : L3AFiles
        central_date : datetime.date, optional
            Synthesis date when the product has no local ``*_MTD_ALL.xml`` (default: the date of the name).
        declared : mapping GDAL path -> DeclaredGrid, optional
            Grids the rasters must be on (keyed by ``os.fspath`` of their location).

        Raises
        ------
        NotAProductError
            Not an L3A product name, or no FRC raster.
        RasterKindError, CorruptRasterError, MissingFileError, GridMismatchError
            A raster of another kind, that does not open, or not on its declared grid.
        """
        if not _NAME_RE.match(name):
            raise NotAProductError(f"{name!r} is not an L3A product name ({_NAME_PATTERN})", path)
        if not files.frc:
            raise NotAProductError("no FRC reflectance raster in the product", path)
        product = cls.__new__(cls)
        product._load(Path(path), name, files, central_date, declared or {})
        return product

    def _load(self, path: Path, name: str, files: L3AFiles, central_date: dt.date | None = None,
              declared: Mapping[str, DeclaredGrid] | None = None) -> None:
        """Set the attributes and open every raster (names checked by the caller)."""
        self.path, self.name, self.files = path, name, files
        self.platform, day, _, _, self.tile, _, self.version = _NAME_RE.match(name).groups()
        self.central_date = central_date or dt.datetime.strptime(day, "%Y%m%d").date()
        self.bands = tuple(b for b in L2A_BANDS if b in files.frc)
        self.grids: dict[str, Grid] = {}
        self.crs: CRS | None = None
        declared = declared or {}
        self._open_frc(declared)
        self._check_masks(declared)
        self.metadata_path = files.metadata
        if files.metadata is not None:
            self.central_date = _synthesis_date(files.metadata) or self.central_date

    def _open_frc(self, declared: Mapping[str, DeclaredGrid]) -> None:
        """Check every FRC raster (kind, declared grid) and set ``grids`` and ``crs`` from them."""
        frc_dtype = RASTER_KINDS["FRC"][0]
        for band in self.bands:
            res, location = band_resolution(band), self.files.frc[band]
            grid, crs = _probe(location, f"FRC {band} raster", frc_dtype, declared.get(os.fspath(location)))
            self.crs = self.crs or crs
            if res in self.grids and not self.grids[res].same_as(grid):
                raise SyntheoError(f"FRC {band} is not on the {res} grid of the other bands", location)
            self.grids.setdefault(res, grid)

    def _check_masks(self, declared: Mapping[str, DeclaredGrid]) -> None:
        """Refuse a MASKS raster that is present but not of its kind (:data:`MASK_KINDS`) or not on its declared
        grid. Absent masks are allowed here (Theia's products have no NOB); reading one raises
        :class:`MissingFileError`."""
        for res in self.grids:
            for kind, (dtype, _, _) in MASK_KINDS.items():
                if self.has_mask(kind, res):
                    location = self.mask_path(kind, res)
                    _probe(location, f"{kind} mask", dtype, declared.get(os.fspath(location)))

    def mask_path(self, kind: str, res: str) -> Location:
        """Location of a MASKS raster (WGT, DTS, FLG, NOB) at a resolution: a Path, or a GDAL path for a remote
        item; for a mask the product lacks, where its layout would put it (named by errors)."""
        key = (kind, check_resolution(res))
        return self.files.masks.get(key) or _mask_location(self.files.root, self.name, kind, res)

    def has_mask(self, kind: str, res: str) -> bool:
        """Whether the product has this MASKS raster (as found when it was opened: no file system access)."""
        return (kind, check_resolution(res)) in self.files.masks

    def frc_path(self, band: str) -> Location:
        """Location of the FRC raster of a band (``{name}_FRC_{band}.tif``): a Path, or a GDAL path.

        Raises
        ------
        BandNotFoundError
            If the product has no FRC raster of this band.
        """
        if band not in self.files.frc:
            raise BandNotFoundError(f"band {band} is not in this L3A product", self.path)
        return self.files.frc[band]

    def read_frc(self, band: str, window: Window | None = None) -> np.ndarray:
        """Composite reflectance of a band: int16 (rows, cols) x10000, nodata -10000."""
        path = self.frc_path(band)
        g = self.grids[band_resolution(band)]
        return read_raster(path, 1, window, g.shape, f"FRC {band}").astype(np.int16, copy=False)

    def read_mask(self, kind: str, res: str, window: Window | None = None) -> np.ndarray:
        """A MASKS raster at a resolution: WGT int16, DTS int16, FLG uint8, NOB uint8 (rows, cols)."""
        if not self.has_mask(kind, res):
            raise MissingFileError(f"{kind} mask at {res} not found", self.mask_path(kind, res))
        return read_raster(self.mask_path(kind, res), 1, window, self.grids[res].shape, f"{kind}_{res}")

    def __repr__(self) -> str:
        return f"<L3AProduct {self.name} bands={','.join(self.bands)}>"


def _synthesis_date(mtd: Path) -> dt.date | None:
    """Synthesis date of a ``*_MTD_ALL.xml`` (``SYNTHESIS_DATE``, else the day of ``ACQUISITION_DATE``), or None.

    Raises
    ------
    L3AError
        A date that is not ``YYYY-MM-DD``.
    """
    root = parse_xml(mtd)
    d = find_text(root, ".//SYNTHESIS_DATE") or (find_text(root, ".//ACQUISITION_DATE") or "")[:10]
    if not d:
        return None
    try:
        return dt.date.fromisoformat(d[:10])
    except ValueError:
        raise L3AError(f"bad synthesis date {d!r} in metadata", mtd) from None


def open_l3a(path: str | os.PathLike) -> L3AProduct:
    """Open an L3A product: its folder (this toolkit's or Theia's), or a JSON file holding its STAC item (the
    product's own ``*_STAC.json``, or any file with one L3A item, read as :func:`open_l3a_item` does).

    Raises
    ------
    NotAProductError
        Not a folder, not an L3A product name, or no FRC raster; a JSON file that is not one L3A item.
    RasterKindError
        An FRC or MASKS raster of another data type or band count than :data:`RASTER_KINDS` says, or a folder where
        it should be a file (one line naming it).
    CorruptRasterError
        An FRC or MASKS raster GDAL cannot open.
    GridMismatchError
        A raster of an item not on the grid its item declares.
    """
    p = Path(path)
    if p.suffix.lower() == ".json" and p.is_file():
        return _open_item_file(p.absolute())
    return L3AProduct(path)


def _open_item_file(path: Path) -> L3AProduct:
    """The product of the one item a JSON file holds (an Item, or an ItemCollection or catalogue of one item)."""
    from l2a.formats.stac import read_items

    items = read_items(path)
    if len(items) != 1:
        raise NotAProductError(f"holds {len(items)} STAC items, not one L3A item", path)
    doc, base = items[0]
    return open_l3a_item(doc, base, str(path), path=path)


def open_l3a_item(doc: dict, base: str, source: str, *, path: str | os.PathLike | None = None) -> L3AProduct:
    """Open the L3A product a STAC item describes (as :func:`l3a.documents.stac_item` writes it), its rasters local
    or remote (``/vsicurl/``, read with :func:`l2a.formats.stac.remote.remote_env`'s settings).

    The item's id is the product name. Rasters are the assets whose href's file name is the layout's
    (``{name}_FRC_B4.tif``, ``{name}_FLG_R1.tif``...), or else whose key is (``FRC_B4``, ``FLG_R1``); hrefs go
    through the href hook (``SYNTHEO_STAC_HREF_HOOK``) and :func:`l2a.formats.stac.item.gdal_path`. Each raster is
    checked against the grid the item declares for it: the asset's ``proj:shape`` / ``proj:transform`` / CRS fields,
    else the item's (whose shape and transform describe the R1 grid). Central date: the local ``*_MTD_ALL.xml``
    when the item links one that exists, else the item's ``datetime`` (the central date, 00:00 UTC).

    Parameters
    ----------
    doc : dict
        The item document (GeoJSON Feature).
    base : str
        Folder or URL its relative hrefs resolve against (:func:`l2a.formats.stac.read_items` gives it).
    source : str
        Where the item comes from (file or URL), named in messages.
    path : path-like, optional
        The product's ``path``: the item's file; ``Path(item id)`` by default.

    Raises
    ------
    NotAProductError
        Not a STAC item, an item of another level (``processing:level``), an id that is not an L3A name, no FRC
        asset.
    MetadataError, L3AError
        An asset without href, two assets for one raster, unreadable ``proj:`` fields, a bad ``datetime``.
    GridMismatchError
        A raster that disagrees with the grid (or CRS) its item declares, naming the asset and the item.
    MissingFileError, CorruptRasterError, RasterKindError
        A raster that is absent, does not open (an HTTP 404...) or is not of its kind.
    """
    from l2a.formats.stac.remote import remote_env

    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise NotAProductError("is not a STAC item (a GeoJSON Feature)", source)
    name = str(doc.get("id") or "")
    source = f"{source} (item {name})" if name and name not in source else source
    props, assets = doc.get("properties"), doc.get("assets")
    if not isinstance(props, dict) or not isinstance(assets, dict):
        raise NotAProductError("is not an L3A item (no properties or no assets)", source)
    level = props.get("processing:level")
    if level is not None and str(level).upper() != "L3A":
        raise NotAProductError(f"is not an L3A item (processing:level {level!r})", source)
    if not _NAME_RE.match(name):
        raise NotAProductError(f"item id is not an L3A product name ({_NAME_PATTERN})", source)
    files, declared = _item_files(name, assets, props, base, source)
    if not files.frc:
        raise NotAProductError(f"is not an L3A item: no FRC asset ({name}_FRC_B*.tif or key FRC_B*)", source)
    product_path = Path(path).absolute() if path is not None else Path(name)
    with remote_env():  # the rasters' headers may be read over HTTP: retries, timeout, no directory listing
        return L3AProduct.from_files(product_path, name, files, central_date=_item_date(doc, source),
                                     declared=declared)


def _asset_role(name: str, key: str, href: str) -> tuple[str, object] | None:
    """What an asset of the L3A item ``name`` is, from its href's file name, else its key: ``("FRC", band)``,
    ``("MASK", (kind, res))``, ``("MTD", None)``, or None (quicklook, anything else)."""
    from l2a.formats.stac.item import asset_file_name

    file = asset_file_name(href)   # a signed URL's query is not part of the name
    n, kinds = re.escape(name), "|".join(MASK_KINDS)
    m = re.fullmatch(rf"{n}_FRC_(B[0-9A-Z]+)\.tif", file) or re.fullmatch(r"FRC_(B[0-9A-Z]+)", key)
    if m:
        return "FRC", m.group(1)
    m = re.fullmatch(rf"{n}_({kinds})_(R[12])\.tif", file) or re.fullmatch(rf"({kinds})_(R[12])", key)
    if m:
        return "MASK", (m.group(1), m.group(2))
    if file == f"{name}_MTD_ALL.xml" or key == "metadata":
        return "MTD", None
    return None


def _item_files(name: str, assets: Mapping, props: Mapping, base: str,
                source: str) -> tuple[L3AFiles, dict[str, DeclaredGrid]]:
    """The files of an L3A item and the grid it declares for each raster (keyed by GDAL path)."""
    from l2a.formats.stac.item import asset_path, declared_crs, declared_grid, gdal_path

    found: dict[str, dict] = {"FRC": {}, "MASK": {}}
    rasters = []   # (asset key, asset, resolution group, location)
    mtd = None
    for key, asset in assets.items():
        href = asset.get("href") if isinstance(asset, dict) else None
        role = _asset_role(name, str(key), href if isinstance(href, str) else "")
        if role is None:
            continue
        location = _location(asset_path(str(key), asset, base, source))
        kind, what = role
        if kind == "MTD":
            mtd = location
            continue
        if what in found[kind]:
            raise MetadataError(f"two assets are the {kind} raster {what} (the second is {key})", source)
        found[kind][what] = location
        res = what[1] if kind == "MASK" else (band_resolution(what) if what in L2A_BANDS else None)
        rasters.append((str(key), asset, res, location))
    # the item's own proj:shape / proj:transform are the R1 grid (stac_item writes the R2 one there when the
    # product has no R1 raster); its CRS is every raster's
    item_group = "R1" if any(res == "R1" for _, _, res, _ in rasters) else "R2"
    declared = {}
    for key, asset, res, location in rasters:
        if res is not None:
            crs = declared_crs(asset, source) or declared_crs(props, source)
            fields = {**(props if res == item_group else {}), **asset}   # the asset's own fields first
            declared[os.fspath(location)] = DeclaredGrid(key, source, declared_grid(fields, crs, source, key))
    root = _location(gdal_path("./", base))
    metadata = mtd if isinstance(mtd, Path) and mtd.is_file() else None
    return L3AFiles(found["FRC"], found["MASK"], metadata, root), declared


def _location(gdal: str) -> Location:
    """A GDAL path as a Location: a Path when local, the string for a virtual file system (``/vsicurl/``...)."""
    return gdal if gdal.startswith("/vsi") else Path(gdal).absolute()


def _item_date(doc: Mapping, source: str) -> dt.date | None:
    """The UTC day of an item's ``datetime`` (an L3A item's is its central date, 00:00 UTC), or None without one."""
    from l2a.formats.stac.item import item_datetime

    if doc.get("properties", {}).get("datetime") is None:
        return None
    return item_datetime(doc, source).astimezone(dt.timezone.utc).date()
