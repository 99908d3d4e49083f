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
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from rasterio.crs import CRS
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA
from l2a.errors import BandNotFoundError, MissingFileError, NotAProductError, SyntheoError
from l2a.grid import Grid
from l2a.io.raster import check_raster_kind, open_raster, read_raster
from l2a.io.xmldoc import find_text, parse_xml
from l2a.product import check_resolution
from l2a.sensors import L2A_BANDS, band_resolution

from .errors import L3AError
from .flags import DTS_NODATA, WGT_NODATA

__all__ = ["L3AMetadata", "L3AProduct", "open_l3a", "l3a_product_name", "RASTER_KINDS", "MASK_KINDS",
           "DEFAULT_DEFLATE_LEVELS", "deflate_level_of", "is_l3a_folder"]

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
        self.bands = tuple(b for b in L2A_BANDS if b in self._frc)
        self.grids: dict[str, Grid] = {}
        self.crs: CRS | None = None
        frc_dtype = RASTER_KINDS["FRC"][0]
        for band in self.bands:
            res = band_resolution(band)
            with open_raster(self._frc[band], f"FRC {band} raster", dtypes=(frc_dtype,), count=1) as ds:
                grid = Grid(ds.transform, ds.height, ds.width)
                self.crs = self.crs or ds.crs
                if res in self.grids and not self.grids[res].same_as(grid):
                    raise SyntheoError(f"FRC {band} is not on the {res} grid of the other bands", self._frc[band])
                self.grids.setdefault(res, grid)
        self._check_masks()
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

    def _check_masks(self) -> None:
        """Refuse a MASKS raster that is present but not of its kind (:data:`MASK_KINDS`). Absent masks are allowed
        here (Theia's products have no NOB); reading one raises :class:`MissingFileError`."""
        for res in self.grids:
            for kind, (dtype, _, _) in MASK_KINDS.items():
                if self.has_mask(kind, res):
                    check_raster_kind(self.mask_path(kind, res), (dtype,), 1, f"{kind} mask")

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
    """Open an L3A product folder (this toolkit's or Theia's).

    Raises
    ------
    NotAProductError
        Not a folder, not an L3A product name, or no FRC raster.
    RasterKindError
        An FRC or MASKS raster of another data type or band count than :data:`RASTER_KINDS` says, or a folder where
        it should be a file (one line naming it).
    CorruptRasterError
        An FRC or MASKS raster GDAL cannot open.
    """
    return L3AProduct(path)
