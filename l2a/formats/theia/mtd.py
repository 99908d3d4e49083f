"""MTD_ALL.xml, the metadata document of Theia/MUSCATE products: the metadata model and its (tolerant) parser.

:func:`parse_mtd_all` reads every field the toolkit uses (XPaths in reference-l2a-formats.md section 3.7) into a
frozen :class:`TheiaMetadata`. Every field is optional: real documents found in the wild are sometimes fragments
(the iota2 test data keep only the viewing-angle grids and ``CloudPercent``, as several top-level elements), and a
reader then completes the metadata from the product name and the rasters. Parsing goes through
:mod:`l2a.io.xmldoc` (defusedxml: entity declarations and external references are refused).

:func:`l2a.formats.theia.mtd_xml.write_mtd_all` writes a MUSCATE-like document for the toolkit's own products, plus a
``Syntheo_Informations`` element (software and calibration-table versions, angle-grid origins, free ``extra``
items). The document holds no wall-clock time, so the same product always gets the same bytes.

Angle grids: node (0, 0) lies on the tile's upper-left corner. MUSCATE does not write that corner beside the grids;
it is taken from ``Syntheo_Informations``, else the R1 group geoposition, else the global upper-left point, else
computed from the MGRS tile code (:func:`l2a.formats.theia.names.s2_tile_origin`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Mapping

import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from l2a.angles import AngleGrid, Angles, merge_detectors, parse_values_list
from l2a.errors import (
    BandNotFoundError,
    InvalidParameterError,
    MetadataError,
    MissingFileError,
    UnsafeXMLError,
)
from l2a.grid import Grid
from l2a.io.xmldoc import MAX_XML_BYTES, find_float, find_text, parse_xml_bytes
from l2a.sensors import normalize_band, normalize_platform
from l2a.tiles import normalize_tile, s2_tile_origin

__all__ = ["GroupGeoposition", "TheiaMetadata", "parse_mtd_all", "read_mtd_all",
           "format_datetime", "parse_datetime"]

logger = logging.getLogger(__name__)

#: Element of MTD_ALL.xml holding what the toolkit records beyond MUSCATE.
SYNTHEO_ELEMENT = "Syntheo_Informations"
_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$")


@dataclass(frozen=True)
class GroupGeoposition:
    """Grid of one resolution group as declared in MTD_ALL.xml (``Group_Geopositioning``).

    Attributes
    ----------
    ulx, uly : float
        Upper-left corner of the upper-left pixel, m.
    xdim, ydim : float
        Pixel size, m (``ydim`` negative for north-up).
    nrows, ncols : int
        Grid size, pixels.
    """

    ulx: float
    uly: float
    xdim: float
    ydim: float
    nrows: int
    ncols: int

    @property
    def grid(self) -> Grid:
        return Grid(Affine(self.xdim, 0.0, self.ulx, 0.0, self.ydim, self.uly), self.nrows, self.ncols)

    @classmethod
    def from_grid(cls, grid: Grid) -> "GroupGeoposition":
        t = grid.transform
        return cls(t.c, t.f, t.a, t.e, grid.height, grid.width)


@dataclass(frozen=True)
class TheiaMetadata:
    """Content of an MTD_ALL.xml document; every field may be missing (None or empty).

    Attributes
    ----------
    product_id : str or None
    platform : str or None
        Canonical platform (``S2A``, ``S2B``, ``S2C``, ``VENUS``).
    tile : str or None
        Tile with its ``T``.
    datetime : datetime.datetime or None
        Acquisition time, UTC.
    product_level, product_version : str or None
        ``L2A``; ``1.0``.
    orbit_number, relative_orbit : int or None
        Absolute orbit (``ORBIT_NUMBER type="Orbit"``) and relative orbit (``type="Track"``).
    band_groups : mapping str -> tuple of str
        ``R1``/``R2`` -> band names.
    crs_code : str or None
        ``EPSG:32631`` (from ``HORIZONTAL_CS_CODE``), or a WKT string for a CRS without EPSG code.
    geopositions : mapping str -> GroupGeoposition
        Declared grid per group.
    reflectance_quantification, aot_quantification, wvc_quantification : float or None
        Divide stored values by these (10000, 200, 20).
    nodata, aot_nodata, wvc_nodata : float or None
        Special values (-10000, 0, 0).
    angles : Angles
        Sun and viewing angles; viewing grids with detectors merged.
    calibration_version, software_version : str or None
        Recorded by the toolkit's writer.
    cloud_percent, snow_percent : float or None
        ``QUALITY_INDEX`` CloudPercent / SnowPercent, %.
    extra : mapping str -> str
        Free items recorded by the toolkit's writer.
    source : str or None
        File the metadata came from.
    """

    product_id: str | None = None
    platform: str | None = None
    tile: str | None = None
    datetime: dt.datetime | None = None
    product_level: str | None = None
    product_version: str | None = None
    orbit_number: int | None = None
    relative_orbit: int | None = None
    band_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    crs_code: str | None = None
    geopositions: Mapping[str, GroupGeoposition] = field(default_factory=dict)
    reflectance_quantification: float | None = None
    aot_quantification: float | None = None
    wvc_quantification: float | None = None
    nodata: float | None = None
    aot_nodata: float | None = None
    wvc_nodata: float | None = None
    angles: Angles = field(default_factory=Angles)
    calibration_version: str | None = None
    software_version: str | None = None
    cloud_percent: float | None = None
    snow_percent: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self):
        for name in ("band_groups", "geopositions", "extra"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def __reduce__(self):  # mappingproxy fields cannot be pickled: rebuild from plain dicts
        return type(self), tuple(dict(v) if isinstance(v, MappingProxyType) else v
                                 for v in (getattr(self, f.name) for f in fields(self)))

    @property
    def crs(self) -> CRS | None:
        """The declared CRS, or None."""
        if not self.crs_code:
            return None
        try:
            return CRS.from_user_input(self.crs_code)
        except CRSError as exc:
            raise MetadataError(f"unusable coordinate reference system {self.crs_code!r} ({exc})", self.source) from exc

    @property
    def bands(self) -> tuple[str, ...]:
        """Bands of all groups, R1 then R2."""
        return tuple(b for res in sorted(self.band_groups) for b in self.band_groups[res])


# --- parsing ------------------------------------------------------------------------------------------------------
def format_datetime(when: dt.datetime) -> str:
    """ISO 8601 UTC with a ``Z``: milliseconds when exact (as MUSCATE writes), else microseconds."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    when = when.astimezone(dt.timezone.utc)
    frac = f"{when.microsecond // 1000:03d}" if when.microsecond % 1000 == 0 else f"{when.microsecond:06d}"
    return f"{when:%Y-%m-%dT%H:%M:%S}.{frac}Z"


def parse_datetime(text: str, source=None) -> dt.datetime:
    """Parse an ISO 8601 date-time (any number of fraction digits; ``Z``, offset or none = UTC) to aware UTC."""
    m = _DATETIME.match(text.strip())
    if not m:
        raise MetadataError(f"not a date-time: {text!r}", source)
    y, mo, d, h, mi, s, frac, tz = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    tzinfo = dt.timezone.utc
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        hh, mm = int(tz[1:3]), int(tz[-2:])
        tzinfo = dt.timezone(sign * dt.timedelta(hours=hh, minutes=mm))
    try:
        when = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=tzinfo)
    except ValueError as exc:
        raise MetadataError(f"not a valid date-time: {text!r} ({exc})", source) from None
    return when.astimezone(dt.timezone.utc)


def _parse_root(data: bytes, source) -> ET.Element:
    """Parse safely; a fragment with several top-level elements is wrapped in a synthetic root. The result is
    always a holder element whose descendants are the document's elements."""
    try:
        root = parse_xml_bytes(data, source)
    except UnsafeXMLError:
        raise
    except MetadataError as exc:
        if "junk after document element" not in exc.problem:
            raise
        body = _XML_DECL.sub(b"", data, count=1)
        root = parse_xml_bytes(b"<MTD_Fragment>" + body + b"</MTD_Fragment>", source)
        logger.info("%s: metadata is a fragment (several top-level elements); reading what it holds", source)
        return root
    holder = ET.Element("MTD_Holder")
    holder.append(root)
    return holder


def _band(text: str | None, source) -> str:
    try:
        return normalize_band(text or "")
    except BandNotFoundError:
        raise MetadataError(f"not a band name: {text!r}", source) from None


def _angle_pair(el: ET.Element | None, source) -> tuple[float, float] | None:
    if el is None:
        return None
    zen, az = find_float(el, "ZENITH_ANGLE", source), find_float(el, "AZIMUTH_ANGLE", source)
    return None if zen is None or az is None else (zen, az)


def _grid_values(el: ET.Element, what: str, source) -> tuple[np.ndarray, float, float]:
    values = parse_values_list([v.text for v in el.findall("Values_List/VALUES")], source)
    col = find_float(el, "COL_STEP", source, 5000.0)
    row = find_float(el, "ROW_STEP", source, 5000.0)
    if col <= 0 or row <= 0:
        raise MetadataError(f"{what} angle grid has a non-positive step", source)
    return values, col, row


def _zen_az(el: ET.Element, what: str, source):
    zen_el, az_el = el.find("Zenith"), el.find("Azimuth")
    if zen_el is None or az_el is None:
        raise MetadataError(f"{what} angle grid lacks Zenith or Azimuth", source)
    zen, col, row = _grid_values(zen_el, what, source)
    az, *_ = _grid_values(az_el, what, source)
    if zen.shape != az.shape:
        raise MetadataError(f"{what} zenith and azimuth grids differ in shape", source)
    return zen, az, col, row


def _angles(root: ET.Element, origin_of, source) -> Angles:
    mean_sun = _angle_pair(root.find(".//Mean_Value_List/Sun_Angles"), source)
    mean_view = {}
    for el in root.iter("Mean_Viewing_Incidence_Angle"):
        pair = _angle_pair(el, source)
        if pair is not None and el.get("band_id"):
            mean_view[_band(el.get("band_id"), source)] = pair
    sun = None
    sun_el = root.find(".//Sun_Angles_Grids")
    if sun_el is not None:
        zen, az, col, row = _zen_az(sun_el, "sun", source)
        ulx, uly = origin_of("SUN")
        sun = AngleGrid(zen, az, ulx, uly, col, row)
    view = {}
    for band_el in root.iter("Band_Viewing_Incidence_Angles_Grids_List"):
        band = _band(band_el.get("band_id"), source)
        detectors = [_zen_az(d, f"{band} detector {d.get('detector_id')}", source)
                     for d in band_el.findall("Viewing_Incidence_Angles_Grids")]
        if not detectors:
            continue
        if len({d[0].shape for d in detectors}) != 1:
            raise MetadataError(f"viewing grids of band {band} differ in shape between detectors", source)
        zen, az = detectors[0][:2] if len(detectors) == 1 else merge_detectors((d[0], d[1]) for d in detectors)
        ulx, uly = origin_of(band)
        view[band] = AngleGrid(zen, az, ulx, uly, detectors[0][2], detectors[0][3])
    return Angles(sun=sun, view=view, mean_sun=mean_sun, mean_view=mean_view)


def _origin_finder(root: ET.Element, geopositions, tile, source):
    """Return a function grid id -> (ulx, uly) for the angle grids (see module docstring)."""
    recorded = {}
    for el in root.iter("ANGLES_GRID_ORIGIN"):
        try:
            recorded[el.get("grid", "")] = (float(el.get("ulx")), float(el.get("uly")))
        except (TypeError, ValueError):
            raise MetadataError("ANGLES_GRID_ORIGIN needs numeric ulx and uly attributes", source) from None
    default = None
    if "R1" in geopositions:
        default = (geopositions["R1"].ulx, geopositions["R1"].uly)
    elif (ul := root.find(".//Global_Geopositioning/Point[@name='upperLeft']")) is not None \
            and find_float(ul, "X", source) is not None and find_float(ul, "Y", source) is not None:
        default = (find_float(ul, "X", source), find_float(ul, "Y", source))
    elif tile and (origin := s2_tile_origin(tile)) is not None:
        default = origin
    warned = []

    def origin_of(grid_id: str) -> tuple[float, float]:
        if grid_id in recorded:
            return recorded[grid_id]
        if default is None:
            if not warned:
                logger.warning("%s: angle grids have no known origin (no geoposition, no tile code)", source)
                warned.append(True)
            return math.nan, math.nan
        return default

    return origin_of


def parse_mtd_all(data: bytes, source: str | os.PathLike | None = None, *, tile: str | None = None) -> TheiaMetadata:
    """Parse an MTD_ALL.xml document (complete or fragment).

    Parameters
    ----------
    data : bytes
        The document.
    source : str or path-like, optional
        File name for messages.
    tile : str, optional
        Tile code known from elsewhere (product name), used when the document gives neither tile nor geoposition.

    Returns
    -------
    TheiaMetadata

    Raises
    ------
    UnsafeXMLError
        Entity declarations or external references.
    MetadataError
        Malformed XML, or a field that is present but unusable (non-numeric angle, unknown platform...).
    """
    src = None if source is None else os.fspath(source)
    root = _parse_root(data, src)
    pc = ".//Product_Characteristics/"
    platform = find_text(root, pc + "PLATFORM", src)
    if platform is not None:
        try:
            platform = normalize_platform(platform.split("-")[0] if platform.upper().startswith("VENUS") else platform)
        except InvalidParameterError as exc:
            raise MetadataError(exc.problem, src) from None
    when = find_text(root, pc + "ACQUISITION_DATE", src) or find_text(root, ".//UTC_Acquisition_Range/MEAN", src)
    zone = root.find(".//Dataset_Identification/GEOGRAPHICAL_ZONE[@type='Tile']")
    if zone is None:
        zone = root.find(".//Dataset_Identification/GEOGRAPHICAL_ZONE")
    doc_tile = normalize_tile(zone.text) if zone is not None and zone.text and zone.text.strip() else None
    orbits = {}
    for el in root.findall(pc + "ORBIT_NUMBER"):
        try:
            orbits[el.get("type", "Orbit")] = int(float(el.text))
        except (TypeError, ValueError):
            raise MetadataError(f"ORBIT_NUMBER is not a number: {el.text!r}", src) from None
    groups = {g.get("group_id"): tuple(_band(b.text, src) for b in g.findall("Band_List/BAND_ID") if b.text)
              for g in root.findall(".//Band_Group_List/Group") if g.get("group_id")}
    code = find_text(root, ".//HORIZONTAL_CS_CODE", src)
    if code is not None and code.isdigit():
        code = f"EPSG:{code}"
    code = code or find_text(root, f".//{SYNTHEO_ELEMENT}/CRS_WKT", src)
    geopositions = {}
    for g in root.iter("Group_Geopositioning"):
        vals = [find_float(g, k, src, required=True) for k in ("ULX", "ULY", "XDIM", "YDIM", "NROWS", "NCOLS")]
        if vals[2] == 0 or vals[3] == 0 or vals[4] <= 0 or vals[5] <= 0:
            raise MetadataError(f"geoposition of group {g.get('group_id')} has a null size", src)
        geopositions[g.get("group_id")] = GroupGeoposition(*vals[:4], int(vals[4]), int(vals[5]))
    origin_of = _origin_finder(root, geopositions, doc_tile or (normalize_tile(tile) if tile else None), src)
    special = {el.get("name"): el for el in root.iter("SPECIAL_VALUE")}

    def special_value(name):
        el = special.get(name)
        return None if el is None else find_float(el, ".", src) if el.text and el.text.strip() else None

    def quality(name):
        el = root.find(f".//QUALITY_INDEX[@name='{name}']")
        try:
            return None if el is None or not el.text else float(el.text)
        except ValueError:
            raise MetadataError(f"QUALITY_INDEX {name} is not a number: {el.text!r}", src) from None

    extra = {el.get("name"): (el.text or "") for el in root.findall(f".//{SYNTHEO_ELEMENT}/Extra_List/EXTRA")}
    return TheiaMetadata(
        product_id=find_text(root, pc + "PRODUCT_ID", src),
        platform=platform,
        tile=doc_tile,
        datetime=None if when is None else parse_datetime(when, src),
        product_level=find_text(root, pc + "PRODUCT_LEVEL", src),
        product_version=find_text(root, pc + "PRODUCT_VERSION", src),
        orbit_number=orbits.get("Orbit"),
        relative_orbit=orbits.get("Track", orbits.get("Relative")),
        band_groups=groups,
        crs_code=code,
        geopositions=geopositions,
        reflectance_quantification=find_float(root, ".//REFLECTANCE_QUANTIFICATION_VALUE", src),
        aot_quantification=find_float(root, ".//AEROSOL_OPTICAL_THICKNESS_QUANTIFICATION_VALUE", src),
        wvc_quantification=find_float(root, ".//WATER_VAPOR_CONTENT_QUANTIFICATION_VALUE", src),
        nodata=special_value("nodata"),
        aot_nodata=special_value("aerosol_optical_thickness_nodata"),
        wvc_nodata=special_value("water_vapor_content_nodata"),
        angles=_angles(root, origin_of, src),
        calibration_version=find_text(root, f".//{SYNTHEO_ELEMENT}/CALIBRATION_VERSION", src),
        software_version=find_text(root, f".//{SYNTHEO_ELEMENT}/SOFTWARE_VERSION", src),
        cloud_percent=quality("CloudPercent"),
        snow_percent=quality("SnowPercent"),
        extra=extra,
        source=src,
    )


def read_mtd_all(path: str | os.PathLike, *, tile: str | None = None) -> TheiaMetadata:
    """Read and parse an MTD_ALL.xml file (see :func:`parse_mtd_all`)."""
    try:
        if os.path.getsize(path) > MAX_XML_BYTES:
            raise MetadataError(f"XML document larger than {MAX_XML_BYTES} bytes", path)
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as exc:
        raise MissingFileError("metadata file not found", path) from exc
    return parse_mtd_all(data, path, tile=tile)
