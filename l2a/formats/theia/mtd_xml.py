"""Building the MTD_ALL.xml tree of the toolkit's own Theia-format products and :func:`write_mtd_all`, which writes it.

The layout follows MAJA's MUSCATE template (reference-l2a-formats.md section 3.7): identification, product
characteristics, file organisation, geoposition, mean angles and 5 km angle grids (NaN written as ``NaN``),
radiometric scaling and special values, quality indexes; then a ``Syntheo_Informations`` element with the software
and calibration-table versions, the angle-grid origins and the producer's ``extra`` items.
"""

from __future__ import annotations

import io
import math
import os
import re
import xml.etree.ElementTree as ET
from typing import Mapping

import numpy as np
from rasterio.crs import CRS

from l2a._version import __version__
from l2a.angles import AngleGrid
from l2a.errors import InvalidParameterError
from l2a.formats.theia.mtd import SYNTHEO_ELEMENT, TheiaMetadata, format_datetime
from l2a.formats.theia.names import THEIA_PLATFORM_NAMES
from l2a.formats.theia.values import (
    AOT_QUANTIFICATION,
    REFLECTANCE_NODATA,
    REFLECTANCE_QUANTIFICATION,
    WVC_QUANTIFICATION,
)
from l2a.io.atomic import atomic_write_bytes
from l2a.io.xmldoc import sub_element
from l2a.sensors import CALIBRATION_VERSION, R1_BANDS, R2_BANDS

__all__ = ["mtd_tree", "write_mtd_all"]

#: MG2 bits as listed in MTD_ALL.xml (1-based bit_number).
_MG2_NATURES = ("Water", "Cloud", "Snow", "Cloud_Shadow", "Topography_Shadow", "Hidden_Surface", "Sun_Too_Low",
                "Tangent_Sun")


def _fmt(value: float) -> str:
    v = float(value)
    return repr(v) if math.isfinite(v) else "NaN"


def _grid_xml(parent: ET.Element, grid: AngleGrid) -> None:
    for tag, values in (("Zenith", grid.zenith), ("Azimuth", grid.azimuth)):
        el = sub_element(parent, tag, step_unit="m", values_unit="deg")
        sub_element(el, "COL_STEP", _fmt_num(grid.col_step))
        sub_element(el, "ROW_STEP", _fmt_num(grid.row_step))
        vl = sub_element(el, "Values_List")
        for row in np.asarray(values, dtype=np.float64):
            sub_element(vl, "VALUES", " ".join(_fmt(v) for v in row))


def _listed(parent: ET.Element, list_tag: str, item: str, nature: str, encoding: str) -> ET.Element:
    """Append an Image or Mask entry with its properties; return its file list element."""
    entry = sub_element(parent, item)
    props = sub_element(entry, f"{item}_Properties")
    for tag, text in (("NATURE", nature), ("FORMAT", "image/tiff"), ("ENCODING", encoding),
                      ("ENDIANNESS", "LittleEndian"), ("COMPRESSION", "DEFLATE")):
        sub_element(props, tag, text)
    return sub_element(entry, list_tag)


def _organisation(doc: ET.Element, mtd: TheiaMetadata, files: Mapping[str, str]) -> None:
    product = sub_element(sub_element(doc, "Product_Organisation"), "Muscate_Product")
    if "QKL" in files:
        sub_element(product, "QUICKLOOK", files["QKL"], bands_id="B4,B3,B2")
    images = sub_element(product, "Image_List")
    for kind, nature in (("SRE", "Surface_Reflectance"), ("FRE", "Flat_Reflectance")):
        present = [(b, files[f"{kind}_{b}"]) for b in mtd.bands if f"{kind}_{b}" in files]
        if present:
            flist = _listed(images, "Image_File_List", "Image", nature, "int16")
            for band, name in present:
                sub_element(flist, "IMAGE_FILE", name, band_id=band)
    atb = [(res, files[f"ATB_{res}"]) for res in ("R1", "R2") if f"ATB_{res}" in files]
    for number, nature in ((1, "Water_Vapor_Content"), (2, "Aerosol_Optical_Thickness")) if atb else ():
        flist = _listed(images, "Image_File_List", "Image", nature, "byte")
        for res, name in atb:
            sub_element(flist, "IMAGE_FILE", name, group_id=res, band_number=number)
    masks = sub_element(product, "Mask_List")
    natures = [("Detailed_Cloud", "CLM", None), ("Edge", "EDG", None), ("Saturation", "SAT", None)]
    natures += [(n, "MG2", bit) for bit, n in enumerate(_MG2_NATURES, start=1)]
    for nature, kind, bit in natures:
        present = [(res, files[f"{kind}_{res}"]) for res in ("R1", "R2") if f"{kind}_{res}" in files]
        if not present:
            continue
        flist = _listed(masks, "Mask_File_List", "Mask", nature, "byte")
        for res, name in present:
            if kind == "SAT":
                # SAT bit i is band i of the whole group, whichever bands were written
                for i, band in enumerate(R1_BANDS if res == "R1" else R2_BANDS, start=1):
                    sub_element(flist, "MASK_FILE", name, band_id=band, bit_number=i)
            elif bit is not None:
                sub_element(flist, "MASK_FILE", name, group_id=res, bit_number=bit)
            else:
                sub_element(flist, "MASK_FILE", name, group_id=res)


def _geometry(doc: ET.Element, mtd: TheiaMetadata) -> list[tuple[str, AngleGrid]]:
    geo = sub_element(doc, "Geometric_Informations")
    a = mtd.angles
    means = sub_element(geo, "Mean_Value_List")
    if a.mean_sun is not None:
        sun = sub_element(means, "Sun_Angles")
        sub_element(sun, "ZENITH_ANGLE", _fmt(a.mean_sun[0]), unit="deg")
        sub_element(sun, "AZIMUTH_ANGLE", _fmt(a.mean_sun[1]), unit="deg")
    bands = [b for b in mtd.bands if a.mean_view_of(b) is not None] or [b for b in a.view]
    if bands:
        mv = sub_element(means, "Mean_Viewing_Incidence_Angle_List")
        for band in bands:
            zen, az = a.mean_view_of(band)
            el = sub_element(mv, "Mean_Viewing_Incidence_Angle", band_id=band)
            sub_element(el, "ZENITH_ANGLE", _fmt(zen), unit="deg")
            sub_element(el, "AZIMUTH_ANGLE", _fmt(az), unit="deg")
    written = []
    if a.sun is not None or a.view:
        grids = sub_element(geo, "Angles_Grids_List")
        if a.sun is not None:
            _grid_xml(sub_element(grids, "Sun_Angles_Grids"), a.sun)
            written.append(("SUN", a.sun))
        if a.view:
            vl = sub_element(grids, "Viewing_Incidence_Angles_Grids_List")
            for band, grid in a.view.items():
                # detectors are merged in memory: written as one grid (detector "01") covering the whole swath
                det = sub_element(sub_element(vl, "Band_Viewing_Incidence_Angles_Grids_List", band_id=band),
                           "Viewing_Incidence_Angles_Grids", detector_id="01")
                _grid_xml(det, grid)
                written.append((band, grid))
    return written


def mtd_tree(mtd: TheiaMetadata, files: Mapping[str, str]) -> ET.Element:
    """Element tree of an MTD_ALL.xml document (arguments as :func:`write_mtd_all`)."""
    doc = ET.Element("Muscate_Metadata_Document")
    ident = sub_element(doc, "Metadata_Identification")
    sub_element(ident, "METADATA_FORMAT", "METADATA_MUSCATE", version="1.16")
    sub_element(ident, "METADATA_PROFILE", "USER")
    sub_element(ident, "METADATA_INFORMATION", "EXPERT")
    ds = sub_element(doc, "Dataset_Identification")
    sub_element(ds, "IDENTIFIER", mtd.product_id)
    sub_element(ds, "AUTHORITY", "syntheo")
    sub_element(ds, "PRODUCER", "syntheo")
    sub_element(ds, "PROJECT", "VENUS" if mtd.platform == "VENUS" else "SENTINEL2")
    sub_element(ds, "GEOGRAPHICAL_ZONE", mtd.tile, type="Tile")
    pc = sub_element(doc, "Product_Characteristics")
    sub_element(pc, "PRODUCT_ID", mtd.product_id)
    sub_element(pc, "ACQUISITION_DATE", format_datetime(mtd.datetime))
    sub_element(pc, "PRODUCT_VERSION", mtd.product_version or "1.0")
    sub_element(pc, "PRODUCT_LEVEL", mtd.product_level or "L2A")
    sub_element(pc, "PLATFORM", THEIA_PLATFORM_NAMES[mtd.platform])
    if mtd.orbit_number is not None:
        sub_element(pc, "ORBIT_NUMBER", int(mtd.orbit_number), type="Orbit")
    if mtd.relative_orbit is not None:
        sub_element(pc, "ORBIT_NUMBER", int(mtd.relative_orbit), type="Track")
    rng = sub_element(pc, "UTC_Acquisition_Range")
    sub_element(rng, "MEAN", format_datetime(mtd.datetime))
    sub_element(rng, "DATE_PRECISION", "0.001", unit="s")
    glist = sub_element(pc, "Band_Global_List", count=len(mtd.bands))
    for b in mtd.bands:
        sub_element(glist, "BAND_ID", b)
    groups = sub_element(pc, "Band_Group_List")
    for res in sorted(mtd.band_groups):
        blist = sub_element(sub_element(groups, "Group", group_id=res), "Band_List", count=len(mtd.band_groups[res]))
        for b in mtd.band_groups[res]:
            sub_element(blist, "BAND_ID", b)
    _organisation(doc, mtd, files)
    geo = sub_element(doc, "Geoposition_Informations")
    crs = mtd.crs
    epsg = crs.to_epsg() if crs is not None else None
    crs_el = sub_element(geo, "Coordinate_Reference_System")
    sub_element(crs_el, "GEO_TABLES", "EPSG")
    hcs = sub_element(crs_el, "Horizontal_Coordinate_System")
    sub_element(hcs, "HORIZONTAL_CS_TYPE", "PROJECTED" if crs is None or crs.is_projected else "GEOGRAPHIC")
    if crs is not None:
        sub_element(hcs, "HORIZONTAL_CS_NAME", _crs_name(crs))
    if epsg is not None:
        sub_element(hcs, "HORIZONTAL_CS_CODE", epsg)
    gp = sub_element(sub_element(geo, "Geopositioning"), "Group_Geopositioning_List")
    for res in sorted(mtd.geopositions):
        g = mtd.geopositions[res]
        el = sub_element(gp, "Group_Geopositioning", group_id=res)
        for tag, v in (("ULX", g.ulx), ("ULY", g.uly), ("XDIM", g.xdim), ("YDIM", g.ydim)):
            sub_element(el, tag, _fmt_num(v))
        sub_element(el, "NROWS", g.nrows)
        sub_element(el, "NCOLS", g.ncols)
    written_grids = _geometry(doc, mtd)
    rad = sub_element(doc, "Radiometric_Informations")
    sub_element(rad, "REFLECTANCE_QUANTIFICATION_VALUE", _fmt_num(mtd.reflectance_quantification or REFLECTANCE_QUANTIFICATION))
    sub_element(rad, "WATER_VAPOR_CONTENT_QUANTIFICATION_VALUE", _fmt_num(mtd.wvc_quantification or WVC_QUANTIFICATION))
    sub_element(rad, "AEROSOL_OPTICAL_THICKNESS_QUANTIFICATION_VALUE", _fmt_num(mtd.aot_quantification or AOT_QUANTIFICATION))
    sv = sub_element(rad, "Special_Values_List")
    sub_element(sv, "SPECIAL_VALUE", _fmt_num(REFLECTANCE_NODATA if mtd.nodata is None else mtd.nodata), name="nodata")
    sub_element(sv, "SPECIAL_VALUE", _fmt_num(mtd.wvc_nodata or 0), name="water_vapor_content_nodata")
    sub_element(sv, "SPECIAL_VALUE", _fmt_num(mtd.aot_nodata or 0), name="aerosol_optical_thickness_nodata")
    quality = sub_element(sub_element(sub_element(sub_element(doc, "Quality_Informations"), "Current_Product"), "Product_Quality_List",
                        level="N2"), "Product_Quality")
    src = sub_element(quality, "Source_Product")
    sub_element(src, "PRODUCT_ID", mtd.product_id)
    sub_element(src, "ACQUISITION_DATE", format_datetime(mtd.datetime))
    indexes = sub_element(quality, "Global_Index_List")
    for name, value in (("CloudPercent", mtd.cloud_percent), ("SnowPercent", mtd.snow_percent)):
        if value is not None:
            sub_element(indexes, "QUALITY_INDEX", _fmt_num(value), name=name)
    syn = sub_element(doc, SYNTHEO_ELEMENT)
    sub_element(syn, "SOFTWARE", "syntheo")
    sub_element(syn, "SOFTWARE_VERSION", mtd.software_version or __version__)
    sub_element(syn, "CALIBRATION_VERSION", mtd.calibration_version or CALIBRATION_VERSION)
    if crs is not None and epsg is None:
        sub_element(syn, "CRS_WKT", crs.to_wkt())
    for grid_id, grid in written_grids:
        sub_element(syn, "ANGLES_GRID_ORIGIN", grid=grid_id, ulx=_fmt_num(grid.ulx), uly=_fmt_num(grid.uly))
    if mtd.extra:
        el = sub_element(syn, "Extra_List")
        for k in sorted(mtd.extra):
            sub_element(el, "EXTRA", str(mtd.extra[k]), name=k)
    return doc


def _crs_name(crs: CRS) -> str:
    wkt = crs.to_wkt()
    m = re.match(r'^\w+\["([^"]*)"', wkt)
    return m.group(1) if m else crs.to_string()


def _fmt_num(value: float) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else _fmt(v)


def write_mtd_all(path: str | os.PathLike, mtd: TheiaMetadata, *, files: Mapping[str, str]) -> str:
    """Write a MUSCATE-like MTD_ALL.xml atomically (:func:`l2a.io.atomic.atomic_write_bytes`).

    Parameters
    ----------
    path : str or path-like
        Target file.
    mtd : TheiaMetadata
        Content; ``product_id``, ``platform``, ``tile`` and ``datetime`` are required. Quantification and nodata
        values default to the Theia ones (10000, 200, 20; -10000, 0, 0).
    files : mapping str -> str
        Files of the product relative to its root, keyed ``FRE_B2``, ``SRE_B2``, ``ATB_R1``, ``CLM_R1``,
        ``MG2_R2``, ``EDG_R1``, ``SAT_R1``, ``QKL``; listed in ``Product_Organisation``.

    Returns
    -------
    str
        The path written.
    """
    missing = [k for k in ("product_id", "platform", "tile", "datetime") if getattr(mtd, k) is None]
    if missing:
        raise InvalidParameterError(f"cannot write MTD_ALL.xml without {', '.join(missing)}", path)
    doc = mtd_tree(mtd, files)
    ET.indent(doc, space="    ")
    buffer = io.BytesIO()
    ET.ElementTree(doc).write(buffer, encoding="utf-8", xml_declaration=True)
    buffer.write(b"\n")
    target = os.fspath(path)
    atomic_write_bytes(target, buffer.getvalue())
    return target
