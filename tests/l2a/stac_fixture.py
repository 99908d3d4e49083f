"""Earth Search-like STAC items over COG assets, written from simulated Theia L2A products (tests only).

Each band becomes a uint16 COG of Sen2Cor DN (``reflectance x 10000 + 1000`` from baseline 04.00 when the BOA offset
is not applied, 0 where there is no data), the masks a 20 m SCL (0 nodata, 9 cloud, 3 shadow, 11 snow, 6 water,
4 else: the first that applies), the AOT a uint16 COG x 1000; the item document follows the Earth Search v1 layout
(asset keys by common name, ``eo:bands``, ``raster:bands``, ``proj:`` fields, ``s2:``/``mgrs:``/``view:`` properties).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from l2a import open_l2a
from l2a.io.cog import write_cog
from l2a.sensors import band_resolution

from l2a.formats.stac.item import BAND_ASSETS

SCL_NODATA, SCL_CLOUD, SCL_SHADOW, SCL_SNOW, SCL_WATER, SCL_VEGETATION = 0, 9, 3, 11, 6, 4
ESA_ID = {"B2": "B02", "B3": "B03", "B4": "B04", "B5": "B05", "B6": "B06", "B7": "B07", "B8": "B08", "B8A": "B8A",
          "B11": "B11", "B12": "B12"}


def scl_from_masks(masks: dict) -> np.ndarray:
    scl = np.full(masks["nodata"].shape, SCL_VEGETATION, np.uint8)
    for name, code in (("water", SCL_WATER), ("snow", SCL_SNOW), ("shadow", SCL_SHADOW), ("cloud", SCL_CLOUD),
                       ("nodata", SCL_NODATA)):
        scl[masks[name]] = code  # later ones win: nodata over cloud over shadow ...
    return scl


def write_item(product_dir: Path, out: Path, *, baseline: str = "05.09", offset_applied: bool = False,
               raster_offset: bool = False, drop: tuple[str, ...] = (), level: str = "L2A",
               shift_declared_grid: str | None = None, relative: bool = True, offset_flag: bool = True,
               granule_metadata: Path | None = None) -> Path:
    """Write the COG assets and the item JSON of one simulated product under ``out``; returns the JSON path."""
    out.mkdir(parents=True, exist_ok=True)
    p = open_l2a(product_dir)
    offset = 0 if (offset_applied or baseline < "04.00") else 1000
    item_id = f"{p.platform}_{p.tile[1:]}_{p.datetime:%Y%m%d}_0_L2A"
    assets = {}

    def asset(key, path, grid, extra):
        transform = list(grid.transform)[:6]
        if key == shift_declared_grid:
            transform[2] += grid.resolution  # the item says one pixel east of where the raster is
        href = path.name if relative else str(path.absolute())
        assets[key] = {"href": href, "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                       "roles": ["data"], "proj:shape": [grid.height, grid.width], "proj:transform": transform,
                       "gsd": grid.resolution, **extra}

    for band in p.bands:
        if band in drop:
            continue
        grid = p.band_grid(band)
        refl = p.read_band(band)
        dn = np.where(refl == -10000, 0, refl.astype(np.int32) + offset).clip(0, 65535).astype(np.uint16)
        key = BAND_ASSETS[band][0]
        path = out / f"{item_id}_{ESA_ID[band]}.tif"
        write_cog(path, dn, crs=p.crs, transform=grid.transform, nodata=0)
        raster = {"nodata": 0, "data_type": "uint16", "scale": 0.0001, "spatial_resolution": grid.resolution}
        if raster_offset:
            raster["offset"] = -0.1  # as Earth Search, whether or not the offset was applied
        asset(key, path, grid, {"eo:bands": [{"name": ESA_ID[band], "common_name": key}], "raster:bands": [raster]})
    if "scl" not in drop:
        masks = p.read_masks("R2")
        path = out / f"{item_id}_SCL.tif"
        write_cog(path, scl_from_masks(masks), crs=p.crs, transform=p.grid("R2").transform, nodata=0,
                  resampling="nearest")
        asset("scl", path, p.grid("R2"), {"raster:bands": [{"nodata": 0, "data_type": "uint8"}]})
    if "aot" not in drop and p.has_aot:
        aot = p.read_aot(res="R2")
        dn = np.where(np.isfinite(aot), np.rint(aot * 1000), 0).clip(0, 65535).astype(np.uint16)
        path = out / f"{item_id}_AOT.tif"
        write_cog(path, dn, crs=p.crs, transform=p.grid("R2").transform, nodata=0)
        asset("aot", path, p.grid("R2"), {"raster:bands": [{"nodata": 0, "data_type": "uint16", "scale": 0.001}]})
    if granule_metadata is not None:
        assets["granule_metadata"] = {"href": str(granule_metadata), "type": "application/xml", "roles": ["metadata"]}
    sun = p.angles.mean_sun
    view = p.angles.mean_view_of("B4")
    props = {
        "datetime": p.datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "platform": f"sentinel-{p.platform[1:].lower()}",
        "constellation": "sentinel-2", "instruments": ["msi"], "eo:cloud_cover": 12.5,
        "proj:epsg": p.crs.to_epsg(), "mgrs:utm_zone": int(p.tile[1:3]), "mgrs:latitude_band": p.tile[3],
        "mgrs:grid_square": p.tile[4:], "s2:processing_baseline": baseline,
        "s2:product_type": "S2MSI2A" if level == "L2A" else "S2MSI1C",
    }
    if offset_flag:
        props["earthsearch:boa_offset_applied"] = offset_applied
    if sun is not None:
        props.update({"view:sun_elevation": 90.0 - sun[0], "view:sun_azimuth": sun[1]})
    if view is not None:
        props.update({"view:incidence_angle": view[0], "view:azimuth": view[1]})
    left, bottom, right, top = p.grid("R1" if "R1" in p.grids else "R2").bounds
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds(p.crs, "EPSG:4326", left, bottom, right, top)
    doc = {"type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
           "bbox": [w, s, e, n],
           "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
           "properties": props, "assets": assets, "links": []}
    path = out / f"{item_id}.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def item_collection(items: list[Path], path: Path) -> Path:
    """An ItemCollection (FeatureCollection) of item files, hrefs made absolute."""
    features = []
    for item in items:
        doc = json.loads(item.read_text())
        for a in doc["assets"].values():
            if not Path(a["href"]).is_absolute():
                a["href"] = str((item.parent / a["href"]).absolute())
        features.append(doc)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def band_groups(p) -> dict:
    return {b: band_resolution(b) for b in p.bands}
