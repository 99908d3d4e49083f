"""Writer of the toolkit's own Level-2A products, in the Theia/MUSCATE format, as Cloud-Optimised GeoTIFFs.

Layout (every reader of Theia products reads it, :func:`l2a.open_l2a` included)::

    SENTINEL2A_20180715-105302-456_L2A_T31TCJ_C_V1-0/
        <ID>_FRE_B2.tif ... <ID>_FRE_B12.tif     int16, reflectance x 10000, nodata -10000, scale 1e-4
        <ID>_SRE_B*.tif                          the same data, only with ``write_sre=True``
        <ID>_ATB_R1.tif, <ID>_ATB_R2.tif          uint8, band 1 water vapour x 20 (g/cm2), band 2 AOT x 200, 0 = nodata
        <ID>_MTD_ALL.xml                          MUSCATE-like metadata (l2a.formats.theia.mtd)
        <ID>_QKL_ALL.jpg                          quicklook B4, B3, B2 (when the three bands were written)
        <ID>_STAC.json                            STAC item, relative hrefs (l2a.formats.theia.item)
        MASKS/<ID>_{CLM,MG2,EDG,SAT}_R{1,2}.tif   uint8 bit masks (l2a.formats.theia.bits), overviews by nearest neighbour

Everything is written into a hidden temporary folder inside ``out_dir`` and renamed to the final name when
:meth:`TheiaL2AWriter.close` succeeds; on an exception the temporary folder is removed, so no partial product is ever
visible under a product name. Bands and masks never written are simply absent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from concurrent.futures import ThreadPoolExecutor
import math
import os
import shutil
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import CRSError, NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rasterio.windows import Window

from l2a._version import __version__
from l2a.angles import Angles
from l2a.constants import REFLECTANCE_NODATA, RESOLUTIONS
from l2a.errors import InvalidParameterError
from l2a.formats.theia.bits import decode_clm, decode_mg2
from l2a.formats.theia.item import theia_item
from l2a.formats.theia.mtd import GroupGeoposition, TheiaMetadata
from l2a.formats.theia.mtd_xml import write_mtd_all
from l2a.formats.theia.names import MASK_KINDS, format_product_name, normalize_tile
from l2a.formats.theia.values import (
    AOT_NODATA,
    AOT_QUANTIFICATION,
    REFLECTANCE_QUANTIFICATION,
    WVC_NODATA,
    WVC_QUANTIFICATION,
)
from l2a.grid import Grid
from l2a.io.atomic import AtomicFolder
from l2a.io.cog import CogWriter
from l2a.io.raster import check_window, open_raster, window_shape
from l2a.sensors import (
    CALIBRATION_VERSION,
    L2A_BANDS,
    band_resolution,
    normalize_band,
    normalize_platform,
)

__all__ = ["L2AMetadata", "TheiaL2AWriter", "theia_product_name", "write_l2a"]

logger = logging.getLogger(__name__)

#: Theia quantification values: stored value = physical value x quantification.
#: Quicklook bands (red, green, blue) and largest side, px.
QUICKLOOK_BANDS = ("B4", "B3", "B2")
QUICKLOOK_SIZE = 1000
#: Masks the writer takes: the four every reader uses, and IAB (where ATB values were interpolated), which the
#: toolkit's own processor writes and readers leave aside.
WRITTEN_MASK_KINDS = MASK_KINDS + ("IAB",)
#: Colour of the cloud-mask contour on quicklooks (yellow).
QUICKLOOK_CLOUD_RGB = (255, 255, 0)
#: Rows per block when re-reading masks to compute CloudPercent / SnowPercent.
_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class L2AMetadata:
    """Identity and geometry of an L2A product to write.

    Attributes
    ----------
    platform : str
        ``S2A``, ``S2B``, ``S2C`` or ``VENUS`` (any spelling accepted by :func:`l2a.sensors.normalize_platform`).
    tile : str
        MGRS tile; the ``T`` is added if missing (``31TCJ`` -> ``T31TCJ``).
    datetime : datetime.datetime
        Acquisition time; naive values are taken as UTC. Names keep milliseconds, MTD_ALL.xml keeps microseconds.
    crs : rasterio.crs.CRS
        Coordinate reference system (anything ``CRS.from_user_input`` takes).
    grids : mapping str -> Grid
        ``"R1"`` (10 m) and/or ``"R2"`` (20 m) pixel grids.
    bands : tuple of str
        Bands the product may hold (each needs the grid of its group).
    angles : Angles, optional
        Sun and viewing angles, written to MTD_ALL.xml.
    relative_orbit, orbit_number : int, optional
        Relative orbit (1-143) and absolute orbit number.
    version : str
        Product version, ``1-0`` -> folder suffix ``_C_V1-0``.
    extra : mapping str -> str
        Free items recorded in MTD_ALL.xml (e.g. the simulator's seed).
    """

    platform: str
    tile: str
    datetime: dt.datetime
    crs: CRS
    grids: Mapping[str, Grid]
    bands: tuple[str, ...] = L2A_BANDS
    angles: Angles | None = None
    relative_orbit: int | None = None
    orbit_number: int | None = None
    version: str = "1-0"
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        when = self.datetime
        if not isinstance(when, dt.datetime):
            raise InvalidParameterError(f"datetime must be a datetime.datetime, not {type(when).__name__}")
        when = (when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when).astimezone(dt.timezone.utc)
        grids = dict(self.grids)
        if not grids or set(grids) - set(RESOLUTIONS) or not all(isinstance(g, Grid) for g in grids.values()):
            raise InvalidParameterError(f"grids must map some of {RESOLUTIONS} to l2a.product.Grid, not {self.grids!r}")
        bands = tuple(normalize_band(b) for b in self.bands)
        lacking = [b for b in bands if band_resolution(b) not in grids]
        if lacking:
            raise InvalidParameterError(f"bands {', '.join(lacking)} need a {band_resolution(lacking[0])} grid")
        object.__setattr__(self, "platform", normalize_platform(self.platform))
        object.__setattr__(self, "tile", normalize_tile(self.tile))
        object.__setattr__(self, "datetime", when)
        try:
            crs = self.crs if isinstance(self.crs, CRS) else CRS.from_user_input(self.crs)
        except CRSError as exc:
            raise InvalidParameterError(f"unusable CRS {self.crs!r} ({exc})") from None
        object.__setattr__(self, "crs", crs)
        object.__setattr__(self, "grids", MappingProxyType(grids))
        object.__setattr__(self, "bands", bands)
        object.__setattr__(self, "version", str(self.version).replace(".", "-"))
        object.__setattr__(self, "extra", MappingProxyType({str(k): str(v) for k, v in self.extra.items()}))
        theia_product_name(self)  # validates the version

    def __reduce__(self):  # mappingproxy fields cannot be pickled: rebuild from plain dicts
        return type(self), tuple(dict(v) if isinstance(v, MappingProxyType) else v
                                 for v in (getattr(self, f.name) for f in fields(self)))


def theia_product_name(meta: L2AMetadata) -> str:
    """Theia identifier of a product, e.g. ``SENTINEL2A_20180715-105302-456_L2A_T31TCJ_C_V1-0``."""
    return format_product_name(meta.platform, meta.datetime, meta.tile, version=meta.version)


class TheiaL2AWriter:
    """Write one Theia-format L2A product block by block (a context manager).

    Parameters
    ----------
    out_dir : str or path-like
        Folder that will hold the product folder (created if needed).
    meta : L2AMetadata
        Identity and grids.
    threads : int
        Compression threads per COG.
    write_sre : bool or "link"
        Also write ``SRE`` files (same values as ``FRE``; the toolkit does no slope correction): True encodes them
        again, ``"link"`` makes them hard links to the FRE files when the product is closed (a copy where links are
        not possible).
    overwrite : bool
        Replace an existing product of the same name (on successful close only).
    quicklook : bool
        Write ``<ID>_QKL_ALL.jpg`` (B4, B3, B2) when those three bands were written.
    quicklook_clouds : bool
        Draw the contour of the cloud-or-shadow mask (CLM_R1 bit 0) on the quicklook, in yellow.

    Attributes
    ----------
    path : pathlib.Path
        Final product folder (exists after :meth:`close`).

    Raises
    ------
    ProductExistsError
        If the product folder exists and ``overwrite`` is False.
    """

    def __init__(self, out_dir: str | os.PathLike, meta: L2AMetadata, *, threads: int = 2,
                 write_sre: bool | str = False,
                 overwrite: bool = False, quicklook: bool = True, quicklook_clouds: bool = False):
        if not isinstance(meta, L2AMetadata):
            raise InvalidParameterError(f"meta must be an L2AMetadata, not {type(meta).__name__}")
        self.meta = meta
        self.name = theia_product_name(meta)
        self.out_dir = Path(out_dir).absolute()
        self.path = self.out_dir / self.name
        self.threads = threads
        self.write_sre = write_sre
        self.overwrite = overwrite
        self.quicklook = quicklook
        self.quicklook_clouds = quicklook_clouds
        self._folder = AtomicFolder(self.path, overwrite=overwrite)
        self._tmp = self._folder.tmp
        (self._tmp / "MASKS").mkdir()
        self._writers: dict[str, CogWriter] = {}
        self._files: dict[str, str] = {}
        self._state = "open"

    # --- internals --------------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._state != "open":
            raise InvalidParameterError(f"writer is {self._state}; no more writes", self.path)

    def _grid(self, res: str) -> Grid:
        if res not in self.meta.grids:
            raise InvalidParameterError(f"product has no {res} grid (grids: {', '.join(self.meta.grids)})", self.path)
        return self.meta.grids[res]

    def _writer(self, role: str, rel: str, grid: Grid, **kwargs) -> CogWriter:
        if role not in self._writers:
            self._writers[role] = CogWriter(self._tmp / rel, crs=self.meta.crs, transform=grid.transform,
                                            height=grid.height, width=grid.width, threads=self.threads,
                                            tags={"PRODUCT_ID": self.name}, **kwargs)
            self._files[role] = rel
        return self._writers[role]

    def _window(self, grid: Grid, data: np.ndarray, window: Window | None, what: str, dtype, ndim: int = 2):
        arr = np.asarray(data)
        if arr.dtype != np.dtype(dtype) or arr.ndim != ndim:
            raise InvalidParameterError(f"{what}: expected a {ndim}-D {np.dtype(dtype).name} array, got {arr.ndim}-D "
                                        f"{arr.dtype}", self.path)
        win = check_window(window, grid.height, grid.width, os.fspath(self.path))
        if arr.shape[-2:] != window_shape(win):
            raise InvalidParameterError(f"{what}: array of {arr.shape[-2]} x {arr.shape[-1]} px does not fill the "
                                        f"{int(win.height)} x {int(win.width)} px window", self.path)
        return arr, win

    # --- writes -----------------------------------------------------------------------------------------------
    def write_band(self, name: str, data: np.ndarray, window: Window | None = None) -> None:
        """Write reflectance of one band.

        Parameters
        ----------
        name : str
            Band (``B2`` ... ``B12``, ``B8A``), one of ``meta.bands``.
        data : numpy.ndarray
            int16 (rows, cols), reflectance x 10000, nodata -10000, on the band's resolution grid.
        window : Window, optional
            Where the block goes in that grid; the whole grid if None.
        """
        self._check_open()
        band = normalize_band(name)
        if band not in self.meta.bands:
            raise InvalidParameterError(f"band {band} is not among the product bands {self.meta.bands}", self.path)
        grid = self._grid(band_resolution(band))
        arr, win = self._window(grid, data, window, f"band {band}", np.int16)
        for kind in ("FRE", "SRE") if self.write_sre is True else ("FRE",):
            w = self._writer(f"{kind}_{band}", f"{self.name}_{kind}_{band}.tif", grid, dtype="int16",
                             nodata=REFLECTANCE_NODATA, descriptions=(band,), scale=1.0 / REFLECTANCE_QUANTIFICATION,
                             offset=0.0, resampling="average")
            w.write(arr, win)

    def write_mask(self, kind: str, res: str, data: np.ndarray, window: Window | None = None) -> None:
        """Write a block of a mask.

        Parameters
        ----------
        kind : {"CLM", "MG2", "EDG", "SAT", "IAB"}
            Mask (bits in :mod:`l2a.formats.theia.bits`; EDG 1 = nodata; IAB bit 0 = water vapour interpolated,
            bit 1 = AOT interpolated).
        res : {"R1", "R2"}
            Resolution group.
        data : numpy.ndarray
            uint8 (rows, cols).
        window : Window, optional
            Where the block goes in the ``res`` grid.
        """
        self._check_open()
        kind = str(kind).upper()
        if kind not in WRITTEN_MASK_KINDS:
            raise InvalidParameterError(f"mask kind must be one of {WRITTEN_MASK_KINDS}, not {kind!r}", self.path)
        grid = self._grid(res)
        arr, win = self._window(grid, data, window, f"{kind}_{res}", np.uint8)
        w = self._writer(f"{kind}_{res}", f"MASKS/{self.name}_{kind}_{res}.tif", grid, dtype="uint8", nodata=None,
                         descriptions=(kind,), resampling="nearest")
        w.write(arr, win)

    def write_atb(self, res: str, data: np.ndarray, window: Window | None = None) -> None:
        """Write a block of the atmospheric raster.

        Parameters
        ----------
        res : {"R1", "R2"}
            Resolution group.
        data : numpy.ndarray
            uint8 (2, rows, cols): water vapour x 20 (g/cm2), AOT at 550 nm x 200; 0 = nodata.
        window : Window, optional
            Where the block goes in the ``res`` grid.
        """
        self._check_open()
        grid = self._grid(res)
        arr, win = self._window(grid, data, window, f"ATB_{res}", np.uint8, ndim=3)
        if arr.shape[0] != 2:
            raise InvalidParameterError(f"ATB_{res}: expected 2 bands (WVC, AOT), got {arr.shape[0]}", self.path)
        w = self._writer(f"ATB_{res}", f"{self.name}_ATB_{res}.tif", grid, dtype="uint8", count=2, nodata=0,
                         descriptions=("WVC", "AOT"), resampling="average")
        w.write(arr, win)

    # --- finishing --------------------------------------------------------------------------------------------
    def _percentages(self) -> tuple[float | None, float | None]:
        """CloudPercent (cloud or shadow) and SnowPercent among observed pixels, from the written masks."""
        res = "R1" if any(k.endswith("_R1") for k in self._files if k[:3] in ("CLM", "MG2")) else "R2"
        paths = {k: self._tmp / self._files[f"{k}_{res}"] for k in ("CLM", "MG2", "EDG") if f"{k}_{res}" in self._files}
        if "CLM" not in paths and "MG2" not in paths:
            return None, None
        grid = self.meta.grids[res]
        observed = cloudy = snowy = 0
        for row in range(0, grid.height, _BLOCK_ROWS):
            win = Window(0, row, grid.width, min(_BLOCK_ROWS, grid.height - row))
            arrays = {}
            for k, p in paths.items():
                with open_raster(p, k) as ds:
                    arrays[k] = ds.read(1, window=win)
            valid = arrays["EDG"] == 0 if "EDG" in arrays else np.ones(window_shape(win), bool)
            observed += int(valid.sum())
            if "CLM" in arrays:
                cloud, shadow = decode_clm(arrays["CLM"])
                cloudy += int(((cloud | shadow) & valid).sum())
            if "MG2" in arrays:
                snowy += int((decode_mg2(arrays["MG2"])[1] & valid).sum())

        def pct(n):
            return float(round(100.0 * n / observed)) if observed else 0.0

        return (pct(cloudy) if "CLM" in paths else None), (pct(snowy) if "MG2" in paths else None)

    def _metadata(self) -> TheiaMetadata:
        meta = self.meta
        written = [b for b in meta.bands if f"FRE_{b}" in self._files]
        groups = {res: tuple(b for b in written if band_resolution(b) == res) for res in RESOLUTIONS}
        epsg = meta.crs.to_epsg()
        cloud, snow = self._percentages()
        return TheiaMetadata(
            product_id=self.name, platform=meta.platform, tile=meta.tile, datetime=meta.datetime,
            product_level="L2A", product_version=meta.version.replace("-", "."), orbit_number=meta.orbit_number,
            relative_orbit=meta.relative_orbit, band_groups={r: g for r, g in groups.items() if g},
            crs_code=f"EPSG:{epsg}" if epsg else meta.crs.to_wkt(),
            geopositions={res: GroupGeoposition.from_grid(g) for res, g in meta.grids.items()},
            reflectance_quantification=REFLECTANCE_QUANTIFICATION, aot_quantification=AOT_QUANTIFICATION,
            wvc_quantification=WVC_QUANTIFICATION, nodata=REFLECTANCE_NODATA, aot_nodata=AOT_NODATA, wvc_nodata=WVC_NODATA,
            angles=meta.angles or Angles(), calibration_version=CALIBRATION_VERSION, software_version=__version__,
            cloud_percent=cloud, snow_percent=snow, extra=meta.extra)

    def _write_quicklook(self, path: Path) -> None:
        """RGB JPEG (B4, B3, B2) at most :data:`QUICKLOOK_SIZE` px wide, reflectance 0-0.25 stretched to 1-255,
        nodata black."""
        grid = self.meta.grids["R1"]
        scale = max(1, math.ceil(max(grid.height, grid.width) / QUICKLOOK_SIZE))
        shape = (math.ceil(grid.height / scale), math.ceil(grid.width / scale))
        rgb = np.zeros((3,) + shape, np.uint8)
        edge = np.zeros(shape, bool)
        if "EDG_R1" in self._files:
            with open_raster(self._tmp / self._files["EDG_R1"], "EDG") as ds:
                edge = ds.read(1, out_shape=shape, resampling=Resampling.nearest) != 0
        for i, band in enumerate(QUICKLOOK_BANDS):
            with open_raster(self._tmp / self._files[f"FRE_{band}"], band) as ds:
                dn = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
            value = np.clip(1 + dn.astype(np.float32) * (254 / 2500), 1, 255)
            rgb[i] = np.where((dn == REFLECTANCE_NODATA) | edge, 0, value)
        if self.quicklook_clouds and "CLM_R1" in self._files:
            with open_raster(self._tmp / self._files["CLM_R1"], "CLM") as ds:
                cloudy = (ds.read(1, out_shape=shape, resampling=Resampling.nearest) & 1) != 0
            inner = np.zeros_like(cloudy)  # 4-neighbour erosion: the contour is cloudy minus its interior
            inner[1:-1, 1:-1] = (cloudy[1:-1, 1:-1] & cloudy[:-2, 1:-1] & cloudy[2:, 1:-1] & cloudy[1:-1, :-2]
                                 & cloudy[1:-1, 2:])
            contour = cloudy & ~inner & ~edge
            for i, value in enumerate(QUICKLOOK_CLOUD_RGB):
                rgb[i][contour] = value
        with warnings.catch_warnings():   # a picture, deliberately without georeferencing (no .aux.xml beside it)
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with MemoryFile() as mem, mem.open(driver="GTiff", height=shape[0], width=shape[1], count=3,
                                               dtype="uint8") as src:
                src.write(rgb)
                rasterio.shutil.copy(src, path, driver="JPEG", quality=90)

    def _link_sre(self) -> None:
        """SRE files as hard links to the FRE files (a copy where the file system has no links): equal values,
        encoded once."""
        for role, rel in [(r, f) for r, f in self._files.items() if r.startswith("FRE_")]:
            sre_rel = rel.replace("_FRE_", "_SRE_")
            try:
                os.link(self._tmp / rel, self._tmp / sre_rel)
            except OSError:
                shutil.copyfile(self._tmp / rel, self._tmp / sre_rel)
            self._files["SRE_" + role[4:]] = sre_rel

    def _write_item(self, metadata: TheiaMetadata, mtd_name: str) -> None:
        """``<ID>_STAC.json``: the product's STAC item (:mod:`l2a.formats.theia.item`)."""
        angles = self.meta.angles or Angles()
        view = angles.mean_view_of("B4") or next(iter(angles.mean_view.values()), None)
        item = theia_item(self.name, platform=self.meta.platform, tile=self.meta.tile, datetime=self.meta.datetime,
                          crs=self.meta.crs, grids=self.meta.grids, files={**self._files, "MTD": mtd_name},
                          cloud_percent=metadata.cloud_percent, mean_sun=angles.mean_sun, mean_view=view,
                          software_version=__version__)
        (self._tmp / f"{self.name}_STAC.json").write_text(json.dumps(item, indent=1))

    def close(self) -> Path:
        """Finish every COG, write MTD_ALL.xml and the STAC item, and rename the temporary folder to :attr:`path`.

        Returns
        -------
        pathlib.Path
            The product folder.
        """
        if self._state == "closed":
            return self.path
        self._check_open()
        try:
            # finishing a COG (overviews, compression) is mostly GDAL work outside the GIL: files in parallel
            with ThreadPoolExecutor(max_workers=max(1, self.threads)) as pool:
                for done in [pool.submit(w.close) for w in self._writers.values()]:
                    done.result()
            if self.write_sre == "link":
                self._link_sre()
            if self.quicklook and all(f"FRE_{b}" in self._files for b in QUICKLOOK_BANDS):
                self._files["QKL"] = f"{self.name}_QKL_ALL.jpg"
                self._write_quicklook(self._tmp / self._files["QKL"])
            mtd_name = f"{self.name}_MTD_ALL.xml"
            metadata = self._metadata()
            write_mtd_all(self._tmp / mtd_name, metadata, files=self._files)
            self._write_item(metadata, mtd_name)
            self._folder.publish()
        except BaseException:
            self.abort()
            raise
        self._state = "closed"
        logger.info("wrote %s", self.path)
        return self.path

    def abort(self) -> None:
        """Discard everything written (nothing appears under the product name)."""
        if self._state == "closed":
            return
        for w in self._writers.values():
            w.abort()
        self._folder.discard()
        self._state = "aborted"

    def __enter__(self) -> "TheiaL2AWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_l2a(out_dir: str | os.PathLike, meta: L2AMetadata, bands: Mapping[str, np.ndarray],
              masks: Mapping[tuple[str, str], np.ndarray], atb: Mapping[str, np.ndarray] | None = None, *,
              threads: int = 2, write_sre: bool = False, overwrite: bool = False) -> Path:
    """Write a whole product from in-memory arrays.

    Parameters
    ----------
    out_dir : str or path-like
        Folder that will hold the product folder.
    meta : L2AMetadata
        Identity and grids.
    bands : mapping str -> numpy.ndarray
        Band name -> int16 (rows, cols) reflectance x 10000 on the band's grid, nodata -10000.
    masks : mapping (kind, res) -> numpy.ndarray
        (``"CLM"``/``"MG2"``/``"EDG"``/``"SAT"``, ``"R1"``/``"R2"``) -> uint8 (rows, cols).
    atb : mapping str -> numpy.ndarray, optional
        ``"R1"``/``"R2"`` -> uint8 (2, rows, cols).

    Returns
    -------
    pathlib.Path
        The product folder.
    """
    with TheiaL2AWriter(out_dir, meta, threads=threads, write_sre=write_sre, overwrite=overwrite) as w:
        for name, data in bands.items():
            w.write_band(name, data)
        for (kind, res), data in masks.items():
            w.write_mask(kind, res, data)
        for res, data in (atb or {}).items():
            w.write_atb(res, data)
    return w.path
