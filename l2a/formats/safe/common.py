"""Shared parsing of ESA SAFE products (Sentinel-2 L1C and Sen2Cor L2A), used by :mod:`l2a.formats.safe.l1c` and
:mod:`l2a.formats.safe.sen2cor`: :class:`SafeFiles` (a product's files in a folder or .zip), :func:`parse_product_metadata`
(``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``), :func:`parse_tile_metadata` (``GRANULE/*/MTD_TL.xml``: geocoding, sensing
time, 23 x 23 sun grid, per-detector viewing grids merged per band), :func:`parse_product_name` and
:func:`resolve_grids` (every raster on the grid the tile declares).

Band ids in ESA metadata count 0..12 in the order B1 B2 B3 B4 B5 B6 B7 B8 **B8A** B9 B10 B11 B12
(reference-l2a-formats.md section 4.1); :data:`BAND_IDS` maps them to Theia names.

Rasters that are a crop of the tile. ``MTD_TL.xml`` always declares the full tile (10980 x 10980 px at 10 m from
ULX/ULY). Cropped products, such as the ALCD test products (30 x 30 px JP2 files, every band resampled to 10 m,
georeferenced by the GMLJP2 box and by identical ``.aux.xml`` PAM files), do not match it. With
``allow_subset=True`` :func:`resolve_grids` accepts a raster whose grid is a window of the declared tile: same CRS,
north-up square pixels whose size divides the band's native resolution (10 m pixels for a 60 m band: resampled),
origin on the tile's lattice at that pixel size, extent inside the tile. The raster's own grid is then used and a
warning is logged; angle grids keep the tile's origin, so angles interpolated on the crop's grid stay right. Any
other difference is a :class:`~l2a.errors.GridMismatchError` naming the file.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterable, Mapping

from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from l2a.angles import AngleGrid, Angles, merge_detectors, parse_values_list
from l2a.errors import (
    GridMismatchError,
    InvalidParameterError,
    MetadataError,
    MissingFileError,
)
from l2a.grid import Grid
from l2a.io.archive import ZipIndex
from l2a.io.members import list_members
from l2a.io.raster import open_raster
from l2a.io.xmldoc import find_float, find_text, parse_xml, parse_xml_bytes
from l2a.sensors import SENSORS, normalize_platform

__all__ = [
    "BAND_IDS", "SafeFiles", "ProductMetadata", "TileMetadata", "ProductName", "RasterInfo", "band_of_id",
    "esa_band_name", "native_resolution_m", "parse_product_metadata", "parse_tile_metadata", "parse_tile_angles",
    "parse_product_name", "parse_utc", "probe_raster", "resolve_grids", "resolve_identity", "read_tile_metadata",
    "describe_grid",
]

logger = logging.getLogger(__name__)

#: Theia band names in the order of ESA's band ids 0..12.
BAND_IDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12")

_UTC = dt.timezone.utc


def band_of_id(band_id, source=None) -> str:
    """Theia name of an ESA band id (``0`` -> ``B1``, ``8`` -> ``B8A``); :class:`MetadataError` if not 0..12."""
    try:
        i = int(str(band_id).strip())
    except ValueError:
        raise MetadataError(f"band id {band_id!r} is not an integer", source) from None
    if not 0 <= i < len(BAND_IDS):
        raise MetadataError(f"band id {i} is outside 0..12", source)
    return BAND_IDS[i]


def esa_band_name(band: str) -> str:
    """ESA file spelling of a Theia band name (``B2`` -> ``B02``, ``B8A`` -> ``B8A``, ``B11`` -> ``B11``)."""
    return band if band.endswith("A") else f"B{int(band[1:]):02d}"


def native_resolution_m(band: str) -> int:
    """Native pixel size of a Sentinel-2 band, m (10, 20 or 60)."""
    return int(SENSORS["S2A"][band].resolution_m)


def parse_utc(text: str, source=None) -> dt.datetime:
    """Parse an ISO 8601 time of ESA metadata (``2024-03-05T10:58:54.168722Z``) as an aware UTC datetime."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", t)
    if m:  # Python < 3.11 accepts only 3 or 6 fractional digits
        t = f"{m.group(1)}.{(m.group(2) + '000000')[:6]}{m.group(3)}"
    try:
        value = dt.datetime.fromisoformat(t)
    except ValueError:
        raise MetadataError(f"not an ISO 8601 time: {text!r}", source) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value.astimezone(_UTC)


# --- files ----------------------------------------------------------------------------------------------------
class SafeFiles:
    """The files of one SAFE product, in a folder or a checked .zip, addressed by POSIX paths relative to the
    product root (``MTD_MSIL2A.xml``, ``GRANULE/L2A_.../MTD_TL.xml``).

    Parameters
    ----------
    path : str or path-like
        Product folder or .zip archive as given to :func:`l2a.open_l2a` / :func:`l2a.open_l1c`.
    zip_index : ZipIndex, optional
        Checked member list when ``path`` is an archive.
    root : str
        Product root inside the folder or archive (``""`` when ``path`` is the product itself).
    """

    def __init__(self, path: str | os.PathLike, zip_index: ZipIndex | None = None, root: str = ""):
        self.path = Path(path)
        self.zip_index = zip_index
        self.root = root.strip("/")
        self._prefix = f"{self.root}/" if self.root else ""
        if zip_index is not None:
            names = [n[len(self._prefix):] for n in zip_index.names if n.startswith(self._prefix)]
        else:
            names = list_members(self.path / self.root if self.root else self.path)
        self.names = tuple(sorted(names))

    @property
    def product_name(self) -> str:
        """Name of the product folder without ``.SAFE`` (or of the archive without ``.zip``)."""
        name = PurePosixPath(self.root).name if self.root else self.path.name
        for suffix in (".zip", ".SAFE", ".safe"):
            name = name.removesuffix(suffix)
        return name

    def location(self, rel: str) -> str:
        """Path of a member for GDAL: a file path, or a ``/vsizip/`` path inside an archive."""
        if self.zip_index is not None:
            return self.zip_index.vsi(self._prefix + rel)
        return os.fspath(self.path / self.root / rel if self.root else self.path / rel)

    def display(self, rel: str) -> str:
        """Path of a member for messages (``archive.zip/member`` inside an archive)."""
        if self.zip_index is not None:
            return f"{self.zip_index.path}/{self._prefix}{rel}"
        return self.location(rel)

    def read_xml(self, rel: str) -> ET.Element:
        """Parse an XML member safely (defusedxml, namespaces stripped).

        Raises
        ------
        MissingFileError, MetadataError, UnsafeXMLError
        """
        if rel not in self.names:
            raise MissingFileError("metadata file not found", self.display(rel))
        if self.zip_index is not None:
            return parse_xml_bytes(self.zip_index.read_bytes(self._prefix + rel), self.display(rel))
        return parse_xml(self.location(rel))

    def match(self, pattern: re.Pattern) -> list[tuple[str, re.Match]]:
        """Members whose relative path matches a compiled regular expression, with their match objects."""
        out = []
        for name in self.names:
            m = pattern.match(name)
            if m:
                out.append((name, m))
        return out


# --- product name ---------------------------------------------------------------------------------------------
_PRODUCT_NAME = re.compile(
    r"^(?P<platform>S2[A-C])_MSI(?P<level>L1C|L2A)_(?P<start>\d{8}T\d{6})_N(?P<baseline>\d{4})_R(?P<orbit>\d{3})_"
    r"(?P<tile>T\d{2}[A-Z]{3})_\d{8}T\d{6}")


@dataclass(frozen=True)
class ProductName:
    """Fields of a compact SAFE product name: platform (``S2A``, ``S2B``, ``S2C``), level (``L1C``/``L2A``),
    datatake sensing start (UTC), processing baseline (``"05.10"``) and tile (``T31TCJ``)."""

    platform: str
    level: str
    datetime: dt.datetime
    baseline: str
    tile: str


def parse_product_name(name: str) -> ProductName | None:
    """Parse ``S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347[.SAFE]``; None if it is not one."""
    m = _PRODUCT_NAME.match(name)
    if not m:
        return None
    when = dt.datetime.strptime(m["start"], "%Y%m%dT%H%M%S").replace(tzinfo=_UTC)
    return ProductName(m["platform"], m["level"], when, f"{m['baseline'][:2]}.{m['baseline'][2:]}", m["tile"])


# --- product metadata (MTD_MSIL1C.xml / MTD_MSIL2A.xml) ---------------------------------------------------------
_LEVELS = {
    "L1C": dict(root="Level-1C_User_Product", quantification=("QUANTIFICATION_VALUE",),
                offsets="Radiometric_Offset_List", offset="RADIO_ADD_OFFSET"),
    "L2A": dict(root="Level-2A_User_Product",
                quantification=("BOA_QUANTIFICATION_VALUE", "L2A_BOA_QUANTIFICATION_VALUE"),
                offsets="BOA_ADD_OFFSET_VALUES_LIST", offset="BOA_ADD_OFFSET"),
}


@dataclass(frozen=True)
class ProductMetadata:
    """What the readers use from ``MTD_MSIL1C.xml`` (``level="L1C"``) or ``MTD_MSIL2A.xml`` (``"L2A"``).
    Reflectance = (DN + offset) / quantification; no offset list means no offset, whatever the baseline or date."""

    level: str                                  # "L1C" or "L2A"
    source: str                                 # the metadata file, for messages
    product_uri: str | None                     # PRODUCT_URI
    processing_baseline: str | None             # PROCESSING_BASELINE ("05.10"), informative only
    platform: str | None                        # S2A... from SPACECRAFT_NAME
    start_time: dt.datetime | None              # PRODUCT_START_TIME, UTC
    quantification: float                       # QUANTIFICATION_VALUE (L1C) / BOA_QUANTIFICATION_VALUE (L2A)
    offsets: Mapping[str, float] | None         # RADIO_/BOA_ADD_OFFSET per band, DN; None without the list
    aot_quantification: float | None            # L2A: AOT = DN / this (dimensionless)
    wvp_quantification: float | None            # L2A: water vapour = DN / this (cm)
    u: float | None                             # Reflectance_Conversion/U, Earth-Sun distance factor
    solar_irradiance: Mapping[str, float]       # SOLAR_IRRADIANCE per band, W m-2 um-1
    nodata_dn: int = 0                          # Special_Values NODATA
    saturated_dn: int = 65535                   # Special_Values SATURATED

    def offset(self, band: str) -> float:
        """Additive offset of a band, DN units: 0 without an offset list; :class:`MetadataError` when the list is
        present but lacks the band."""
        if self.offsets is None:
            return 0.0
        try:
            return self.offsets[band]
        except KeyError:
            raise MetadataError(f"offset list has no entry for band {band}", self.source) from None


def _per_band(elements: Iterable[ET.Element], attr: str, source) -> dict[str, float]:
    out = {}
    for el in elements:
        band = band_of_id(el.get(attr), source)
        try:
            out[band] = float((el.text or "").strip())
        except ValueError:
            raise MetadataError(f"{el.tag} of band {band} is not a number: {el.text!r}", source) from None
    return out


def parse_product_metadata(root: ET.Element, level: str, source) -> ProductMetadata:
    """Read a SAFE product metadata document (already parsed, namespaces stripped).

    Parameters
    ----------
    root : Element
        Root of ``MTD_MSIL1C.xml`` (``level="L1C"``) or ``MTD_MSIL2A.xml`` (``level="L2A"``).
    source : str
        File name for messages.

    Raises
    ------
    MetadataError
        Wrong document, missing or non-numeric quantification, malformed offsets or special values.
    """
    spec = _LEVELS[level]
    if root.tag != spec["root"]:
        raise MetadataError(f"root element is <{root.tag}>, expected <{spec['root']}>", source)
    quantification = None
    for tag in spec["quantification"]:
        quantification = find_float(root, f".//{tag}", source)
        if quantification is not None:
            break
    if quantification is None:
        raise MetadataError(f"missing field {spec['quantification'][0]}", source)
    if not quantification > 0:
        raise MetadataError(f"quantification value {quantification} is not positive", source)
    offset_list = root.find(f".//{spec['offsets']}")
    offsets = None
    if offset_list is not None:
        offsets = _per_band(offset_list.iter(spec["offset"]), "band_id", source)
    platform = find_text(root, ".//SPACECRAFT_NAME", source)
    if platform is not None:
        try:
            platform = normalize_platform(platform)
        except InvalidParameterError:
            raise MetadataError(f"unknown SPACECRAFT_NAME {platform!r}", source) from None
    start = find_text(root, ".//PRODUCT_START_TIME", source)
    specials = {}
    for sv in root.iter("Special_Values"):
        text = find_text(sv, "SPECIAL_VALUE_TEXT", source, "")
        index = find_text(sv, "SPECIAL_VALUE_INDEX", source)
        try:
            specials[text.upper()] = int(index)
        except (TypeError, ValueError):
            raise MetadataError(f"special value {text} has index {index!r}", source) from None
    aot_q = (find_float(root, ".//AOT_QUANTIFICATION_VALUE", source)
             or find_float(root, ".//L2A_AOT_QUANTIFICATION_VALUE", source))
    wvp_q = (find_float(root, ".//WVP_QUANTIFICATION_VALUE", source)
             or find_float(root, ".//L2A_WVP_QUANTIFICATION_VALUE", source))
    return ProductMetadata(
        level=level, source=os.fspath(source), product_uri=find_text(root, ".//PRODUCT_URI", source),
        processing_baseline=find_text(root, ".//PROCESSING_BASELINE", source), platform=platform,
        start_time=None if start is None else parse_utc(start, source), quantification=quantification,
        offsets=offsets, aot_quantification=aot_q, wvp_quantification=wvp_q,
        u=find_float(root, ".//Reflectance_Conversion/U", source),
        solar_irradiance=_per_band(root.iter("SOLAR_IRRADIANCE"), "bandId", source),
        nodata_dn=specials.get("NODATA", 0), saturated_dn=specials.get("SATURATED", 65535))


# --- tile metadata (MTD_TL.xml) -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TileMetadata:
    """What the readers use from a granule's ``MTD_TL.xml``."""

    source: str                                 # the metadata file, for messages
    tile_id: str | None                         # TILE_ID (S2B_OPER_MSI_L1C_TL_..._T31TCJ_N05.10)
    tile: str | None                            # MGRS tile found in TILE_ID, with its T
    sensing_time: dt.datetime | None            # SENSING_TIME, UTC
    crs: CRS                                    # HORIZONTAL_CS_CODE
    grids: Mapping[int, Grid]                   # declared grid per resolution, m (full tile: 10980 px at 10 m)
    angles: Angles                              # degrees; view grids keyed by Theia band name; may be empty


def _int(el: ET.Element, path: str, source) -> int:
    text = find_text(el, path, source, required=True)
    try:
        return int(text)
    except ValueError:
        raise MetadataError(f"field {path} is not an integer: {text!r}", source) from None


def _resolution_attr(el: ET.Element, source) -> int:
    try:
        return int(float(el.get("resolution", "")))
    except ValueError:
        raise MetadataError(f"<{el.tag}> has resolution {el.get('resolution')!r}", source) from None


def parse_tile_metadata(root: ET.Element, source) -> TileMetadata:
    """Read a granule's ``MTD_TL.xml`` (already parsed, namespaces stripped).

    Raises
    ------
    MetadataError
        No ``Tile_Geocoding``, unknown CRS code, missing or non-numeric sizes and positions, bad angle grids.
    """
    geo = root.find(".//Tile_Geocoding")
    if geo is None:
        raise MetadataError("missing Tile_Geocoding", source)
    code = find_text(geo, "HORIZONTAL_CS_CODE", source, required=True)
    try:
        crs = CRS.from_string(code)
    except CRSError:
        raise MetadataError(f"unknown HORIZONTAL_CS_CODE {code!r}", source) from None
    sizes = {_resolution_attr(el, source): el for el in geo.findall("Size")}
    grids = {}
    for pos in geo.findall("Geoposition"):
        res = _resolution_attr(pos, source)
        if res not in sizes:
            raise MetadataError(f"Tile_Geocoding has a Geoposition but no Size at {res} m", source)
        values = [find_float(pos, k, source, required=True) for k in ("ULX", "ULY", "XDIM", "YDIM")]
        ulx, uly, xdim, ydim = values
        grids[res] = Grid(Affine(xdim, 0.0, ulx, 0.0, ydim, uly), _int(sizes[res], "NROWS", source),
                          _int(sizes[res], "NCOLS", source))
    if not grids:
        raise MetadataError("Tile_Geocoding has no Geoposition", source)
    origin = grids[min(grids)].transform
    tile_id = find_text(root, ".//TILE_ID", source)
    tile_match = re.search(r"_(T\d{2}[A-Z]{3})(?:_|$)", tile_id or "")
    sensing = find_text(root, ".//SENSING_TIME", source)
    return TileMetadata(
        source=os.fspath(source), tile_id=tile_id, tile=tile_match.group(1) if tile_match else None,
        sensing_time=None if sensing is None else parse_utc(sensing, source), crs=crs,
        grids=grids, angles=parse_tile_angles(root, origin.c, origin.f, source))


def _angle_values(el: ET.Element, source):
    zenith = parse_values_list([v.text for v in el.findall("Zenith/Values_List/VALUES")], source)
    azimuth = parse_values_list([v.text for v in el.findall("Azimuth/Values_List/VALUES")], source)
    if zenith.shape != azimuth.shape:
        raise MetadataError(f"zenith grid {zenith.shape} and azimuth grid {azimuth.shape} differ", source)
    col_step = find_float(el, "Zenith/COL_STEP", source, default=5000.0)
    row_step = find_float(el, "Zenith/ROW_STEP", source, default=5000.0)
    if not (col_step > 0 and row_step > 0):
        raise MetadataError(f"angle grid steps {col_step}, {row_step} are not positive", source)
    return zenith, azimuth, col_step, row_step


def _mean_pair(el: ET.Element | None, source) -> tuple[float, float] | None:
    if el is None:
        return None
    zenith = find_float(el, "ZENITH_ANGLE", source)
    azimuth = find_float(el, "AZIMUTH_ANGLE", source)
    return None if zenith is None or azimuth is None else (zenith, azimuth)


def parse_tile_angles(root: ET.Element, ulx: float, uly: float, source) -> Angles:
    """Angles of ``MTD_TL.xml``: ``Sun_Angles_Grid`` (23 x 23 nodes at 5 km for a full tile), the
    ``Viewing_Incidence_Angles_Grids`` of every band and detector (NaN outside the detector), merged per band with
    :func:`~l2a.angles.merge_detectors` (NaN left only outside the swath), and the mean angles.

    Parameters
    ----------
    ulx, uly : float
        Position of node (0, 0): the tile's upper-left corner, CRS units (m).

    Returns
    -------
    Angles
        Degrees; view grids keyed by Theia band name. Empty (with a warning) when there is no ``Tile_Angles``.
    """
    tile_angles = root.find(".//Tile_Angles")
    if tile_angles is None:
        logger.warning("%s: no Tile_Angles; the product has no angle grids", source)
        return Angles()
    sun = None
    sun_el = tile_angles.find("Sun_Angles_Grid")
    if sun_el is not None:
        zenith, azimuth, col_step, row_step = _angle_values(sun_el, source)
        sun = AngleGrid(zenith, azimuth, ulx, uly, col_step, row_step)
    per_band: dict[str, list] = {}
    steps: dict[str, tuple[float, float]] = {}
    for el in tile_angles.findall("Viewing_Incidence_Angles_Grids"):
        band = band_of_id(el.get("bandId"), source)
        zenith, azimuth, col_step, row_step = _angle_values(el, source)
        per_band.setdefault(band, []).append((zenith, azimuth))
        if steps.setdefault(band, (col_step, row_step)) != (col_step, row_step):
            raise MetadataError(f"viewing grids of band {band} have different steps", source)
    view = {}
    for band in sorted(per_band, key=BAND_IDS.index):
        grids = per_band[band]
        if len({z.shape for z, _ in grids}) != 1:
            raise MetadataError(f"viewing grids of band {band} have different shapes", source)
        zenith, azimuth = merge_detectors(grids)
        view[band] = AngleGrid(zenith, azimuth, ulx, uly, *steps[band])
    mean_view = {}
    for el in tile_angles.findall("Mean_Viewing_Incidence_Angle_List/Mean_Viewing_Incidence_Angle"):
        pair = _mean_pair(el, source)
        if pair is not None:
            mean_view[band_of_id(el.get("bandId"), source)] = pair
    return Angles(sun=sun, view=view, mean_sun=_mean_pair(tile_angles.find("Mean_Sun_Angle"), source),
                  mean_view=mean_view)


# --- rasters and grids ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RasterInfo:
    """Header of one raster: where it is, its grid, CRS (None when not georeferenced), first-band dtype, count."""

    display: str
    location: str
    grid: Grid
    crs: CRS | None
    dtype: str
    count: int


def probe_raster(files: SafeFiles, rel: str, what: str = "raster") -> RasterInfo:
    """Open a member raster (header only) and return its :class:`RasterInfo`.

    Raises
    ------
    MissingFileError, CorruptRasterError
        Naming the file.
    """
    location = files.location(rel)
    with open_raster(location, what) as ds:
        return RasterInfo(files.display(rel), location, Grid(ds.transform, ds.height, ds.width), ds.crs,
                          ds.dtypes[0], ds.count)


def describe_grid(grid: Grid) -> str:
    """``"30 x 30 px of 10 m at (350000, 4850020)"``."""
    t = grid.transform
    return f"{grid.height} x {grid.width} px of {abs(t.a):g} m at ({t.c:.10g}, {t.f:.10g})"


def _fit_to_tile(grid: Grid, declared: Grid, display: str) -> Grid:
    """``grid`` when it is a window of the tile (see module docstring), else GridMismatchError."""
    t, d = grid.transform, declared.transform
    if t.b or t.d or t.a <= 0 or t.e >= 0 or not math.isclose(t.a, -t.e, rel_tol=1e-9):
        raise GridMismatchError(f"raster grid {tuple(t)[:6]} is not north-up with square pixels", display)
    ratio = declared.resolution / t.a
    if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9:
        raise GridMismatchError(f"pixel size {t.a:g} m does not divide the band's {declared.resolution:g} m", display)
    col, row = (t.c - d.c) / t.a, (d.f - t.f) / t.a
    if abs(col - round(col)) > 1e-6 or abs(row - round(row)) > 1e-6:
        raise GridMismatchError(f"raster origin ({t.c:.10g}, {t.f:.10g}) is not on the tile's {t.a:g} m lattice",
                                display)
    ratio, col, row = round(ratio), round(col), round(row)
    if col < 0 or row < 0 or col + grid.width > declared.width * ratio or row + grid.height > declared.height * ratio:
        raise GridMismatchError(f"raster {describe_grid(grid)} extends outside the tile {describe_grid(declared)}",
                                display)
    return grid


def resolve_grids(rasters: Iterable[tuple[RasterInfo, int]], tile: TileMetadata | None, *,
                  allow_subset: bool = False) -> tuple[dict[int, Grid], CRS | None]:
    """Check rasters against the tile's declared grids and return the grid of each resolution.

    Parameters
    ----------
    rasters : iterable of (RasterInfo, int)
        Each raster with the resolution (m) whose grid it must lie on.
    tile : TileMetadata or None
        Declared geocoding; None when ``MTD_TL.xml`` is missing (grids then come from the rasters, which must
        agree per resolution).
    allow_subset : bool
        Accept rasters that are a window of the declared tile (a crop), with a logged warning; otherwise a raster
        must lie exactly on the declared grid.

    Returns
    -------
    grids : dict int -> Grid
        Grid of each resolution that has rasters.
    crs : CRS or None
        The tile's CRS (the rasters' one without tile metadata; None without rasters either).

    Raises
    ------
    GridMismatchError
        Naming the first raster that is not georeferenced, in another CRS, off its grid, or unlike the other
        rasters of its resolution.
    MetadataError
        If the tile metadata declares no grid at a resolution that has rasters.
    """
    grids: dict[int, Grid] = {}
    crs = None if tile is None else tile.crs
    for info, res in rasters:
        if info.crs is None:
            raise GridMismatchError("raster is not georeferenced (no CRS)", info.display)
        if crs is None:
            crs = info.crs
        elif info.crs != crs:
            raise GridMismatchError(f"raster CRS {info.crs.to_string()} differs from the tile's {crs.to_string()}",
                                    info.display)
        grid = info.grid
        if tile is not None:
            declared = tile.grids.get(res)
            if declared is None:
                raise MetadataError(f"Tile_Geocoding declares no {res} m grid", tile.source)
            if grid.same_as(declared):
                grid = declared
            elif allow_subset:
                grid = _fit_to_tile(grid, declared, info.display)
            else:
                raise GridMismatchError(f"raster is {describe_grid(grid)}, not on the tile's {res} m grid "
                                        f"({describe_grid(declared)})", info.display)
        if res in grids and not grids[res].same_as(grid):
            raise GridMismatchError(f"raster is {describe_grid(grid)}, unlike the other {res} m rasters "
                                    f"({describe_grid(grids[res])})", info.display)
        grids.setdefault(res, grid)
    if tile is not None:
        subsets = [f"{res} m: {describe_grid(g)} instead of {describe_grid(tile.grids[res])}"
                   for res, g in sorted(grids.items()) if not g.same_as(tile.grids[res])]
        if subsets:
            logger.warning("%s: rasters are a crop of the tile MTD_TL.xml declares; using the rasters' grids (%s)",
                           tile.source, "; ".join(subsets))
    return dict(sorted(grids.items())), crs


def resolve_identity(files: SafeFiles, metadata: ProductMetadata, tile_metadata: TileMetadata | None,
                     file_tiles: set[str], crs: CRS | None) -> tuple[str, dt.datetime, str]:
    """Platform, acquisition time and tile of a SAFE product, from the best source available.

    Platform: ``SPACECRAFT_NAME``, else the product name. Time: the tile's ``SENSING_TIME``, else
    ``PRODUCT_START_TIME``, else the product name. Tile: the raster file names, else ``TILE_ID``, else the product
    name.

    Raises
    ------
    MetadataError
        Naming the product metadata file, when one of them (or the CRS) cannot be found.
    """
    name = parse_product_name(files.product_name)
    platform = metadata.platform or (name.platform if name else None)
    when = ((tile_metadata.sensing_time if tile_metadata else None) or metadata.start_time
            or (name.datetime if name else None))
    tile = next(iter(file_tiles)) if len(file_tiles) == 1 else None
    tile = tile or (tile_metadata.tile if tile_metadata else None) or (name.tile if name else None)
    for value, what in ((platform, "platform (SPACECRAFT_NAME)"), (when, "acquisition time (SENSING_TIME)"),
                        (tile, "tile"), (crs, "CRS")):
        if value is None:
            raise MetadataError(f"cannot tell the product's {what} from metadata, names or rasters", metadata.source)
    return platform, when, tile


def read_tile_metadata(files: SafeFiles, granule: str) -> TileMetadata | None:
    """Parse ``GRANULE/<granule>/MTD_TL.xml``; None (with a warning) when the product has none."""
    rel = f"GRANULE/{granule}/MTD_TL.xml"
    if rel not in files.names:
        logger.warning("%s: no MTD_TL.xml; grids come from the rasters and the product has no angles",
                       files.display(f"GRANULE/{granule}"))
        return None
    return parse_tile_metadata(files.read_xml(rel), files.display(rel))
