"""Building the MTD_ALL.xml tree of the toolkit's own Theia-format products and :func:`write_mtd_all`, which writes it.

The layout follows MAJA's MUSCATE template (reference-l2a-formats.md section 3.7): identification, product
characteristics, file organisation, geoposition, mean angles and 5 km angle grids (NaN written as ``NaN``),
radiometric scaling and special values, quality indexes; then a ``Syntheo_Informations`` element with the software
and calibration-table versions, the angle-grid origins and the producer's ``extra`` items.
"""

from __future__ import annotations

import math
import os
import re
import uuid
import xml.etree.ElementTree as ET
from typing import Mapping

import numpy as np
from rasterio.crs import CRS

from l2a._version import __version__
from l2a.angles import AngleGrid
from l2a.errors import InvalidParameterError
from l2a.formats.theia.mtd import SYNTHEO_ELEMENT, TheiaMetadata, format_datetime
from l2a.formats.theia.names import THEIA_PLATFORM_NAMES
from l2a.sensors import CALIBRATION_VERSION, R1_BANDS, R2_BANDS

__all__ = ["mtd_tree", "write_mtd_all"]

#: MG2 bits as listed in MTD_ALL.xml (1-based bit_number).
_MG2_NATURES = ("Water", "Cloud", "Snow", "Cloud_Shadow", "Topography_Shadow", "Hidden_Surface", "Sun_Too_Low",
                "Tangent_Sun")


def _fmt(value: float) -> str:
    v = float(value)
    return repr(v) if math.isfinite(v) else "NaN"


def _sub(parent: ET.Element, tag: str, text=None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = str(text)
    return el


def _grid_xml(parent: ET.Element, grid: AngleGrid) -> None:
    for tag, values in (("Zenith", grid.zenith), ("Azimuth", grid.azimuth)):
        el = _sub(parent, tag, step_unit="m", values_unit="deg")
        _sub(el, "COL_STEP", _fmt_num(grid.col_step))
        _sub(el, "ROW_STEP", _fmt_num(grid.row_step))
        vl = _sub(el, "Values_List")
        for row in np.asarray(values, dtype=np.float64):
            _sub(vl, "VALUES", " ".join(_fmt(v) for v in row))


def _listed(parent: ET.Element, list_tag: str, item: str, nature: str, encoding: str) -> ET.Element:
    """Append an Image or Mask entry with its properties; return its file list element."""
    entry = _sub(parent, item)
    props = _sub(entry, f"{item}_Properties")
    for tag, text in (("NATURE", nature), ("FORMAT", "image/tiff"), ("ENCODING", encoding),
                      ("ENDIANNESS", "LittleEndian"), ("COMPRESSION", "DEFLATE")):
        _sub(props, tag, text)
    return _sub(entry, list_tag)


def _organisation(doc: ET.Element, mtd: TheiaMetadata, files: Mapping[str, str]) -> None:
    product = _sub(_sub(doc, "Product_Organisation"), "Muscate_Product")
    if "QKL" in files:
        _sub(product, "QUICKLOOK", files["QKL"], bands_id="B4,B3,B2")
    images = _sub(product, "Image_List")
    for kind, nature in (("SRE", "Surface_Reflectance"), ("FRE", "Flat_Reflectance")):
        present = [(b, files[f"{kind}_{b}"]) for b in mtd.bands if f"{kind}_{b}" in files]
        if present:
            flist = _listed(images, "Image_File_List", "Image", nature, "int16")
            for band, name in present:
                _sub(flist, "IMAGE_FILE", name, band_id=band)
    atb = [(res, files[f"ATB_{res}"]) for res in ("R1", "R2") if f"ATB_{res}" in files]
    for number, nature in ((1, "Water_Vapor_Content"), (2, "Aerosol_Optical_Thickness")) if atb else ():
        flist = _listed(images, "Image_File_List", "Image", nature, "byte")
        for res, name in atb:
            _sub(flist, "IMAGE_FILE", name, group_id=res, band_number=number)
    masks = _sub(product, "Mask_List")
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
                    _sub(flist, "MASK_FILE", name, band_id=band, bit_number=i)
            elif bit is not None:
                _sub(flist, "MASK_FILE", name, group_id=res, bit_number=bit)
            else:
                _sub(flist, "MASK_FILE", name, group_id=res)


def _geometry(doc: ET.Element, mtd: TheiaMetadata) -> list[tuple[str, AngleGrid]]:
    geo = _sub(doc, "Geometric_Informations")
    a = mtd.angles
    means = _sub(geo, "Mean_Value_List")
    if a.mean_sun is not None:
        sun = _sub(means, "Sun_Angles")
        _sub(sun, "ZENITH_ANGLE", _fmt(a.mean_sun[0]), unit="deg")
        _sub(sun, "AZIMUTH_ANGLE", _fmt(a.mean_sun[1]), unit="deg")
    bands = [b for b in mtd.bands if a.mean_view_of(b) is not None] or [b for b in a.view]
    if bands:
        mv = _sub(means, "Mean_Viewing_Incidence_Angle_List")
        for band in bands:
            zen, az = a.mean_view_of(band)
            el = _sub(mv, "Mean_Viewing_Incidence_Angle", band_id=band)
            _sub(el, "ZENITH_ANGLE", _fmt(zen), unit="deg")
            _sub(el, "AZIMUTH_ANGLE", _fmt(az), unit="deg")
    written = []
    if a.sun is not None or a.view:
        grids = _sub(geo, "Angles_Grids_List")
        if a.sun is not None:
            _grid_xml(_sub(grids, "Sun_Angles_Grids"), a.sun)
            written.append(("SUN", a.sun))
        if a.view:
            vl = _sub(grids, "Viewing_Incidence_Angles_Grids_List")
            for band, grid in a.view.items():
                # detectors are merged in memory: written as one grid (detector "01") covering the whole swath
                det = _sub(_sub(vl, "Band_Viewing_Incidence_Angles_Grids_List", band_id=band),
                           "Viewing_Incidence_Angles_Grids", detector_id="01")
                _grid_xml(det, grid)
                written.append((band, grid))
    return written


def mtd_tree(mtd: TheiaMetadata, files: Mapping[str, str]) -> ET.Element:
    """Element tree of an MTD_ALL.xml document (arguments as :func:`write_mtd_all`)."""
    doc = ET.Element("Muscate_Metadata_Document")
    ident = _sub(doc, "Metadata_Identification")
    _sub(ident, "METADATA_FORMAT", "METADATA_MUSCATE", version="1.16")
    _sub(ident, "METADATA_PROFILE", "USER")
    _sub(ident, "METADATA_INFORMATION", "EXPERT")
    ds = _sub(doc, "Dataset_Identification")
    _sub(ds, "IDENTIFIER", mtd.product_id)
    _sub(ds, "AUTHORITY", "syntheo")
    _sub(ds, "PRODUCER", "syntheo")
    _sub(ds, "PROJECT", "VENUS" if mtd.platform == "VENUS" else "SENTINEL2")
    _sub(ds, "GEOGRAPHICAL_ZONE", mtd.tile, type="Tile")
    pc = _sub(doc, "Product_Characteristics")
    _sub(pc, "PRODUCT_ID", mtd.product_id)
    _sub(pc, "ACQUISITION_DATE", format_datetime(mtd.datetime))
    _sub(pc, "PRODUCT_VERSION", mtd.product_version or "1.0")
    _sub(pc, "PRODUCT_LEVEL", mtd.product_level or "L2A")
    _sub(pc, "PLATFORM", THEIA_PLATFORM_NAMES[mtd.platform])
    if mtd.orbit_number is not None:
        _sub(pc, "ORBIT_NUMBER", int(mtd.orbit_number), type="Orbit")
    if mtd.relative_orbit is not None:
        _sub(pc, "ORBIT_NUMBER", int(mtd.relative_orbit), type="Track")
    rng = _sub(pc, "UTC_Acquisition_Range")
    _sub(rng, "MEAN", format_datetime(mtd.datetime))
    _sub(rng, "DATE_PRECISION", "0.001", unit="s")
    glist = _sub(pc, "Band_Global_List", count=len(mtd.bands))
    for b in mtd.bands:
        _sub(glist, "BAND_ID", b)
    groups = _sub(pc, "Band_Group_List")
    for res in sorted(mtd.band_groups):
        blist = _sub(_sub(groups, "Group", group_id=res), "Band_List", count=len(mtd.band_groups[res]))
        for b in mtd.band_groups[res]:
            _sub(blist, "BAND_ID", b)
    _organisation(doc, mtd, files)
    geo = _sub(doc, "Geoposition_Informations")
    crs = mtd.crs
    epsg = crs.to_epsg() if crs is not None else None
    crs_el = _sub(geo, "Coordinate_Reference_System")
    _sub(crs_el, "GEO_TABLES", "EPSG")
    hcs = _sub(crs_el, "Horizontal_Coordinate_System")
    _sub(hcs, "HORIZONTAL_CS_TYPE", "PROJECTED" if crs is None or crs.is_projected else "GEOGRAPHIC")
    if crs is not None:
        _sub(hcs, "HORIZONTAL_CS_NAME", _crs_name(crs))
    if epsg is not None:
        _sub(hcs, "HORIZONTAL_CS_CODE", epsg)
    gp = _sub(_sub(geo, "Geopositioning"), "Group_Geopositioning_List")
    for res in sorted(mtd.geopositions):
        g = mtd.geopositions[res]
        el = _sub(gp, "Group_Geopositioning", group_id=res)
        for tag, v in (("ULX", g.ulx), ("ULY", g.uly), ("XDIM", g.xdim), ("YDIM", g.ydim)):
            _sub(el, tag, _fmt_num(v))
        _sub(el, "NROWS", g.nrows)
        _sub(el, "NCOLS", g.ncols)
    written_grids = _geometry(doc, mtd)
    rad = _sub(doc, "Radiometric_Informations")
    _sub(rad, "REFLECTANCE_QUANTIFICATION_VALUE", _fmt_num(mtd.reflectance_quantification or 10000))
    _sub(rad, "WATER_VAPOR_CONTENT_QUANTIFICATION_VALUE", _fmt_num(mtd.wvc_quantification or 20))
    _sub(rad, "AEROSOL_OPTICAL_THICKNESS_QUANTIFICATION_VALUE", _fmt_num(mtd.aot_quantification or 200))
    sv = _sub(rad, "Special_Values_List")
    _sub(sv, "SPECIAL_VALUE", _fmt_num(-10000 if mtd.nodata is None else mtd.nodata), name="nodata")
    _sub(sv, "SPECIAL_VALUE", _fmt_num(mtd.wvc_nodata or 0), name="water_vapor_content_nodata")
    _sub(sv, "SPECIAL_VALUE", _fmt_num(mtd.aot_nodata or 0), name="aerosol_optical_thickness_nodata")
    quality = _sub(_sub(_sub(_sub(doc, "Quality_Informations"), "Current_Product"), "Product_Quality_List",
                        level="N2"), "Product_Quality")
    src = _sub(quality, "Source_Product")
    _sub(src, "PRODUCT_ID", mtd.product_id)
    _sub(src, "ACQUISITION_DATE", format_datetime(mtd.datetime))
    indexes = _sub(quality, "Global_Index_List")
    for name, value in (("CloudPercent", mtd.cloud_percent), ("SnowPercent", mtd.snow_percent)):
        if value is not None:
            _sub(indexes, "QUALITY_INDEX", _fmt_num(value), name=name)
    syn = _sub(doc, SYNTHEO_ELEMENT)
    _sub(syn, "SOFTWARE", "syntheo")
    _sub(syn, "SOFTWARE_VERSION", mtd.software_version or __version__)
    _sub(syn, "CALIBRATION_VERSION", mtd.calibration_version or CALIBRATION_VERSION)
    if crs is not None and epsg is None:
        _sub(syn, "CRS_WKT", crs.to_wkt())
    for grid_id, grid in written_grids:
        _sub(syn, "ANGLES_GRID_ORIGIN", grid=grid_id, ulx=_fmt_num(grid.ulx), uly=_fmt_num(grid.uly))
    if mtd.extra:
        el = _sub(syn, "Extra_List")
        for k in sorted(mtd.extra):
            _sub(el, "EXTRA", str(mtd.extra[k]), name=k)
    return doc


def _crs_name(crs: CRS) -> str:
    wkt = crs.to_wkt()
    m = re.match(r'^\w+\["([^"]*)"', wkt)
    return m.group(1) if m else crs.to_string()


def _fmt_num(value: float) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else _fmt(v)


def write_mtd_all(path: str | os.PathLike, mtd: TheiaMetadata, *, files: Mapping[str, str]) -> str:
    """Write a MUSCATE-like MTD_ALL.xml atomically (temporary file + rename).

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
    target = os.fspath(path)
    tmp = os.path.join(os.path.dirname(os.path.abspath(target)), f".tmp-mtd-{uuid.uuid4().hex}.xml")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # mode filtered by the umask, as any file
    try:
        with os.fdopen(fd, "wb") as f:
            ET.ElementTree(doc).write(f, encoding="utf-8", xml_declaration=True)
            f.write(b"\n")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return target
