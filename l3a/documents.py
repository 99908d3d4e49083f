"""The metadata documents of an L3A product: ``*_MTD_ALL.xml`` (MUSCATE style), ``DATA/*_IPP_ALL.xml`` (every
parameter and the input list) and the STAC item, built from its :class:`~l3a.product.L3AMetadata` and the FLG
statistics the writer gathered."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Mapping

from l2a._version import __version__
from l2a.constants import REFLECTANCE_NODATA, REFLECTANCE_QUANTIFICATION
from l2a.io.xmldoc import sub_element
from l2a.sensors import CALIBRATION_VERSION, band_resolution

from .product import DEFAULT_DEFLATE_LEVELS, MASK_KINDS, L3AMetadata, deflate_level_of

__all__ = ["mtd_all", "ipp_all", "stac_item", "write_xml"]


def write_xml(path: Path, root: ET.Element) -> None:
    """Write an XML document, indented, UTF-8 with its declaration."""
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="UTF-8", xml_declaration=True)


def mtd_all(meta: L3AMetadata, stats: Mapping[str, float]) -> ET.Element:
    """``*_MTD_ALL.xml``: identification, synthesis date and period, bands, files, geoposition, quality indices
    (``stats``: percentages of :meth:`l3a.writer.L3AWriter.statistics`) and the contributing products."""
    begin, end = meta.period
    root = ET.Element("Muscate_Metadata_Document")
    ident = sub_element(root, "Metadata_Identification")
    sub_element(ident, "METADATA_FORMAT", "METADATA_MUSCATE", version="1.16")
    sub_element(ident, "METADATA_PROFILE", "GENERIC")
    sub_element(ident, "METADATA_INFORMATION", "EXPERT")
    ds = sub_element(root, "Dataset_Identification")
    sub_element(ds, "IDENTIFIER", meta.name)
    sub_element(ds, "AUTHORITY", "syntheo")
    sub_element(ds, "PRODUCER", f"syntheo {__version__}")
    sub_element(ds, "PROJECT", "SENTINEL2")
    sub_element(ds, "GEOGRAPHICAL_ZONE", meta.tile, type="Tile")
    pc = sub_element(root, "Product_Characteristics")
    sub_element(pc, "PRODUCT_ID", meta.name)
    sub_element(pc, "ACQUISITION_DATE", f"{meta.central_date:%Y-%m-%d}T00:00:00.000Z")
    sub_element(pc, "SYNTHESIS_DATE", f"{meta.central_date:%Y-%m-%d}")
    sub_element(pc, "SYNTHESIS_PERIOD_BEGIN", f"{begin:%Y-%m-%d}")
    sub_element(pc, "SYNTHESIS_PERIOD_END", f"{end:%Y-%m-%d}")
    sub_element(pc, "PRODUCT_VERSION", meta.version.replace("-", "."))
    sub_element(pc, "PRODUCT_LEVEL", "L3A")
    sub_element(pc, "PLATFORM", "+".join(meta.platforms))
    sub_element(pc, "ORBIT_NUMBER", -1)
    bgl = sub_element(pc, "Band_Global_List", count=len(meta.bands))
    for b in meta.bands:
        sub_element(bgl, "BAND_ID", b)
    groups = sub_element(pc, "Band_Group_List")
    for res in meta.grids:
        grp = sub_element(groups, "Group", group_id=res)
        bl = sub_element(grp, "Band_List")
        for b in meta.bands:
            if band_resolution(b) == res:
                sub_element(bl, "BAND_ID", b)
    org = sub_element(sub_element(root, "Product_Organisation"), "Muscate_Product")
    img = sub_element(sub_element(org, "Image_List"), "Image")
    sub_element(sub_element(img, "Image_Properties"), "NATURE", "Flat_Reflectance_Composite")
    files = sub_element(img, "Image_File_List")
    for b in meta.bands:
        sub_element(files, "IMAGE_FILE", f"{meta.name}_FRC_{b}.tif", band_id=b)
    masks = sub_element(org, "Mask_List")
    for kind, nature in (("WGT", "Pixel_Weight"), ("DTS", "Weighted_Average_Dates"), ("FLG", "Pixel_Status_Flag"),
                         ("NOB", "Number_Of_Observations")):
        m = sub_element(masks, "Mask")
        sub_element(sub_element(m, "Mask_Properties"), "NATURE", nature)
        mf = sub_element(m, "Mask_File_List")
        for res in meta.grids:
            sub_element(mf, "MASK_FILE", f"MASKS/{meta.name}_{kind}_{res}.tif", group_id=res)
    geo = sub_element(root, "Geoposition_Informations")
    cs = sub_element(sub_element(geo, "Coordinate_Reference_System"), "Horizontal_Coordinate_System")
    epsg = meta.crs.to_epsg()
    sub_element(cs, "HORIZONTAL_CS_CODE", epsg if epsg else meta.crs.to_wkt())
    sub_element(cs, "HORIZONTAL_CS_TYPE", "PROJECTED")
    gl = sub_element(sub_element(geo, "Geopositioning"), "Group_Geopositioning_List")
    for res, g in meta.grids.items():
        gg = sub_element(gl, "Group_Geopositioning", group_id=res)
        for tag, val in (("ULX", g.transform.c), ("ULY", g.transform.f), ("XDIM", g.transform.a),
                         ("YDIM", g.transform.e), ("NROWS", g.height), ("NCOLS", g.width)):
            sub_element(gg, tag, f"{val:g}" if isinstance(val, float) else val)
    rad = sub_element(root, "Radiometric_Informations")
    sub_element(rad, "REFLECTANCE_QUANTIFICATION_VALUE", int(REFLECTANCE_QUANTIFICATION))
    sub_element(sub_element(rad, "Special_Values_List"), "SPECIAL_VALUE", REFLECTANCE_NODATA, name="nodata")
    current = sub_element(sub_element(root, "Quality_Informations"), "Current_Product")
    q = sub_element(current, "Product_Quality_List", level="N2")
    qi = sub_element(q, "Global_Index_List")
    sub_element(qi, "QUALITY_INDEX", stats.get("cloud", 0.0), name="CloudPercent")
    sub_element(qi, "QUALITY_INDEX", stats.get("snow", 0.0), name="SnowPercent")
    sub_element(qi, "QUALITY_INDEX", stats.get("water", 0.0), name="WaterPercent")
    sub_element(qi, "QUALITY_INDEX", stats.get("nodata", 0.0), name="NoDataPercent")
    contrib = sub_element(root, "Contributing_Products_List")
    for i in meta.inputs:
        if i.get("used"):
            c = sub_element(contrib, "Contributing_Product")
            sub_element(c, "PRODUCT_ID", i["product_id"])
            sub_element(c, "ACQUISITION_DATE", i["datetime"])
            sub_element(c, "PLATFORM", i["platform"])
    return root


def ipp_all(meta: L3AMetadata, deflate_level: int | None = None) -> ET.Element:
    """``DATA/*_IPP_ALL.xml``: software, calibration table, compression, every parameter and every input considered
    (used or not, with the reason)."""
    root = ET.Element("Syntheo_L3A_Parameters")
    sub_element(root, "SOFTWARE", f"syntheo {__version__}")
    sub_element(root, "CALIBRATION_TABLE", CALIBRATION_VERSION)
    # how the rasters were encoded: DEFLATE level per raster kind
    sub_element(root, "OUTPUT_COMPRESSION", "DEFLATE", predictor="2",
         **{f"level_{kind.lower()}": str(deflate_level_of(kind, deflate_level)) for kind in DEFAULT_DEFLATE_LEVELS})
    sub_element(root, "TILE", meta.tile)
    sub_element(root, "CENTRAL_DATE", f"{meta.central_date:%Y-%m-%d}")
    params = sub_element(root, "Parameters")
    for k, v in meta.params.items():
        sub_element(params, "PARAMETER", json.dumps(v) if not isinstance(v, str) else v, name=k)
    inputs = sub_element(root, "Input_List", count=len(meta.inputs))
    for i in meta.inputs:
        sub_element(inputs, "INPUT", i.get("path", ""), **{k: v for k, v in i.items() if k != "path"})
    return root


def stac_item(meta: L3AMetadata, stats: Mapping[str, float]) -> dict:
    """The STAC item (projection extension, one asset per raster, quicklook and metadata) as a JSON-able dict."""
    import pystac
    from pystac.extensions.projection import ProjectionExtension
    from shapely.geometry import Polygon, mapping

    g = meta.grids["R1"] if "R1" in meta.grids else next(iter(meta.grids.values()))
    poly = Polygon(g.lonlat_outline(meta.crs))
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
