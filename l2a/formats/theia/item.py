"""The STAC item of a Theia-format L2A product: ``<ID>_STAC.json`` at the product root, written by
:class:`~l2a.formats.theia.writer.TheiaL2AWriter` beside ``MTD_ALL.xml``.

One asset per file of the product, keyed by its role (``FRE_B4``, ``SRE_B4``, ``CLM_R1``, ``MG2_R2``, ``ATB_R1``...,
``metadata`` for ``MTD_ALL.xml``, ``thumbnail`` for the quicklook), each with a relative href (``./<ID>_FRE_B4.tif``,
``./MASKS/<ID>_CLM_R1.tif``) so the product can be moved or served as it is, and with its own ``proj:shape`` /
``proj:transform`` (10 m and 20 m files differ). The item carries what a search filters on: ``datetime``,
``platform``, ``s2:mgrs_tile``, ``eo:cloud_cover``, ``processing:level`` (``L2A``), ``proj:epsg``. It is read back
as the same product by :mod:`l2a.formats.stac`, which recognises Theia assets by their file names.
"""

from __future__ import annotations

from typing import Mapping

from l2a.grid import Grid

__all__ = ["theia_item", "STAC_VERSION", "STAC_EXTENSIONS"]

STAC_VERSION = "1.0.0"
STAC_EXTENSIONS = ("https://stac-extensions.github.io/projection/v1.1.0/schema.json",
                   "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
                   "https://stac-extensions.github.io/view/v1.0.0/schema.json")
#: STAC ``platform`` of each canonical platform.
_STAC_PLATFORMS = {"S2A": "sentinel-2a", "S2B": "sentinel-2b", "S2C": "sentinel-2c", "S2D": "sentinel-2d",
                   "VENUS": "venus"}
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"


def _role_of(key: str) -> tuple[list[str], str]:
    """STAC roles and media type of a product file, by its role key."""
    if key.startswith(("FRE_", "SRE_")):
        return ["data", "reflectance"], _COG
    if key == "QKL":
        return ["thumbnail"], "image/jpeg"
    if key == "MTD":
        return ["metadata"], "application/xml"
    return ["data", "metadata"] if key.startswith("ATB_") else ["metadata"], _COG


def theia_item(product_id: str, *, platform: str, tile: str, datetime, crs, grids: Mapping[str, Grid],
               files: Mapping[str, str], cloud_percent: float | None = None,
               mean_sun: tuple[float, float] | None = None, mean_view: tuple[float, float] | None = None,
               software_version: str | None = None) -> dict:
    """The STAC item of a Theia L2A product, as a JSON-able dict.

    Parameters
    ----------
    product_id : str
        Theia identifier (the folder name), the item id.
    platform, tile : str
        Canonical platform (``S2A``...) and tile with its ``T``.
    datetime : datetime.datetime
        Acquisition time, UTC.
    crs : rasterio.crs.CRS
    grids : mapping ``"R1"``/``"R2"`` -> Grid
    files : mapping role -> path relative to the product root
        ``FRE_B4`` -> ``<ID>_FRE_B4.tif``, ``CLM_R1`` -> ``MASKS/<ID>_CLM_R1.tif``, ``QKL``, ``MTD``...; a raster's
        resolution group is read from its role (``_R1``/``_R2`` suffix, or the band's group).
    cloud_percent : float, optional
        Cloud and shadow cover of the observed pixels, % (``eo:cloud_cover``).
    mean_sun, mean_view : (zenith, azimuth), degrees, optional
        Scene-mean angles (``view:sun_elevation``/``view:sun_azimuth``, ``view:incidence_angle``/``view:azimuth``).
    """
    from l2a.sensors import L2A_BANDS, band_resolution

    frame = grids["R1"] if "R1" in grids else next(iter(grids.values()))
    ring = frame.lonlat_outline(crs)
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    epsg = crs.to_epsg()
    props = {
        "datetime": datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "platform": _STAC_PLATFORMS.get(platform, platform.lower()),
        "constellation": "sentinel-2" if platform.startswith("S2") else platform.lower(),
        "instruments": ["msi"] if platform.startswith("S2") else [],
        "s2:mgrs_tile": tile.removeprefix("T"),
        "processing:level": "L2A",
        "proj:epsg": epsg,
    }
    if epsg is None:
        props["proj:wkt2"] = crs.to_wkt()
    if cloud_percent is not None:
        props["eo:cloud_cover"] = float(cloud_percent)
    if mean_sun is not None:
        props["view:sun_elevation"], props["view:sun_azimuth"] = 90.0 - mean_sun[0], mean_sun[1]
    if mean_view is not None:
        props["view:incidence_angle"], props["view:azimuth"] = mean_view
    if software_version:
        props["syntheo:version"] = software_version
    assets = {}
    for key, rel in sorted(files.items()):
        roles, media = _role_of(key)
        asset = {"href": "./" + rel, "type": media, "roles": roles}
        suffix = key.rsplit("_", 1)[-1]
        res = suffix if suffix in ("R1", "R2") else (band_resolution(suffix) if suffix in L2A_BANDS else None)
        if res in grids and media == _COG:
            asset["proj:shape"] = list(grids[res].shape)
            asset["proj:transform"] = list(grids[res].transform)[:6]
        assets["metadata" if key == "MTD" else "thumbnail" if key == "QKL" else key] = asset
    return {
        "type": "Feature", "stac_version": STAC_VERSION, "stac_extensions": list(STAC_EXTENSIONS),
        "id": product_id,
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "properties": props, "links": [], "assets": assets,
    }
