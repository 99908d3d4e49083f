"""Metadata of ESA SAFE products (Sentinel-2 L1C and Sen2Cor L2A): :func:`parse_product_metadata`
(``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml``: quantification, offsets, special values, platform),
:func:`parse_tile_metadata` (``GRANULE/*/MTD_TL.xml``: geocoding, sensing time, 23 x 23 sun grid, per-detector viewing
grids merged per band), and :func:`resolve_identity` (platform, time and tile from the best source available).

Band ids in ESA metadata count 0..12 (:data:`l2a.formats.safe.names.BAND_IDS`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Iterable, Mapping

from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from l2a.angles import AngleGrid, Angles, merge_detectors, parse_values_list
from l2a.errors import InvalidParameterError, MetadataError
from l2a.formats.safe.files import SafeFiles
from l2a.formats.safe.names import BAND_IDS, band_of_id, parse_product_name
from l2a.grid import Grid
from l2a.io.xmldoc import find_float, find_text
from l2a.sensors import normalize_platform

__all__ = ["ProductMetadata", "TileMetadata", "parse_utc", "parse_product_metadata", "parse_tile_metadata",
           "parse_tile_angles", "read_tile_metadata", "resolve_identity"]

logger = logging.getLogger(__name__)

_UTC = dt.timezone.utc


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
