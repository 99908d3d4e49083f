"""What an L2A product needs from a STAC Item of Sentinel-2 L2A as cloud-optimised GeoTIFFs (Sen2Cor), the layout of
Element 84's Earth Search ``sentinel-2-l2a`` and Microsoft's Planetary Computer collections.

:func:`item_facts` reads one item document (a dict) into :class:`ItemFacts`: the tile (``s2:mgrs_tile``, the
``mgrs:`` fields, or the item id), the acquisition time, the platform, the processing baseline and whether the BOA
offset was already applied (``earthsearch:boa_offset_applied``), the CRS (``proj:epsg`` / ``proj:code``, item or
asset level), and per raster asset its GDAL path and declared grid (``proj:shape``, ``proj:transform``). Bands are
found by asset key (``blue``/``B02``...) or by the ``eo:bands`` names of the assets; the scene classification
(``scl``/``SCL``) and the AOT (``aot``/``AOT``) likewise; ``granule_metadata`` (``MTD_TL.xml``, per-pixel angle
grids) and ``product_metadata`` (``MTD_MSIL2A.xml``, exact offsets) when the item has them. An item whose assets are
the files of a Theia product (``<ID>_FRE_B4.tif``, ``<ID>_CLM_R1.tif``...: MUSCATE's, the toolkit's own
``<ID>_STAC.json``) is told by those file names, whatever its keys: its facts then list them (``theia_files``) for the
Theia reader, and its bands are the FRE (else SRE) files.

Hrefs become GDAL paths: ``http(s)://`` -> ``/vsicurl/``, ``s3://`` -> ``/vsis3/``, relative hrefs are resolved
against the item document's own location. An archive that wants signed URLs (Planetary Computer's SAS tokens) names
a hook in the environment: ``SYNTHEO_STAC_HREF_HOOK=module:function``, a function taking an asset href and returning
the href to read (``planetary_computer:sign`` does); it is called where the item is opened (a batch's workers need
the variable too), so short-lived signatures are fresh.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from l2a.errors import GridMismatchError, InvalidParameterError, MetadataError, NotAProductError, ProductFormatError
from l2a.formats.theia.names import classify_members
from l2a.grid import Grid
from l2a.sensors import L2A_BANDS, band_resolution, normalize_platform

__all__ = ["BAND_ASSETS", "SCL_ASSETS", "AOT_ASSETS", "AssetRaster", "ItemFacts", "item_facts", "gdal_path",
           "absolute_href", "asset_path", "asset_file_name", "item_datetime", "declared_crs", "declared_grid", "check_grid",
           "HREF_HOOK_VARIABLE", "href_hook"]

#: Environment variable naming the hook that rewrites asset hrefs (``module:function``), e.g. to sign them.
HREF_HOOK_VARIABLE = "SYNTHEO_STAC_HREF_HOOK"

#: Asset keys of each band (Theia names), Earth Search's common names first, then ESA ids (Planetary Computer).
BAND_ASSETS: Mapping[str, tuple[str, ...]] = {
    "B2": ("blue", "B02"), "B3": ("green", "B03"), "B4": ("red", "B04"), "B5": ("rededge1", "B05"),
    "B6": ("rededge2", "B06"), "B7": ("rededge3", "B07"), "B8": ("nir", "B08"), "B8A": ("nir08", "B8A"),
    "B11": ("swir16", "B11"), "B12": ("swir22", "B12"),
}
#: Asset keys of the scene classification and of the aerosol optical thickness.
SCL_ASSETS = ("scl", "SCL")
AOT_ASSETS = ("aot", "AOT")
#: Metadata assets: the granule's MTD_TL.xml and the product's MTD_MSIL2A.xml.
GRANULE_METADATA_ASSETS = ("granule_metadata", "granule-metadata")
PRODUCT_METADATA_ASSETS = ("product_metadata", "product-metadata")
#: ESA band id of each Theia band name, for ``eo:bands`` names.
_ESA_ID = {b: (f"B{int(b[1:]):02d}" if b[1:].isdigit() else b) for b in L2A_BANDS}
_TILE_IN_ID = re.compile(r"(?:^|_)T?(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})(?:_|$)")


@dataclass(frozen=True)
class AssetRaster:
    """One raster asset: where GDAL reads it, and the grid its item declares (None when it declares none)."""

    key: str
    path: str
    grid: Grid | None
    scale: float | None = None    # raster:bands scale (physical value per stored unit)
    offset: float | None = None   # raster:bands offset (physical units)


@dataclass(frozen=True)
class ItemFacts:
    """The facts of one Sentinel-2 L2A item (see the module docstring)."""

    item_id: str
    source: str                       # the item's location, for messages
    tile: str
    datetime: dt.datetime
    platform: str
    crs: CRS | None                   # None only for a Theia-layout item without proj: fields
    bands: Mapping[str, AssetRaster]  # Theia band name -> raster
    scl: AssetRaster | None
    aot: AssetRaster | None
    processing_baseline: str | None
    boa_offset_applied: bool | None
    cloud_cover: float | None
    granule_metadata: str | None      # GDAL path of MTD_TL.xml
    product_metadata: str | None      # GDAL path of MTD_MSIL2A.xml
    mean_sun: tuple[float, float] | None = None    # zenith, azimuth, degrees
    mean_view: tuple[float, float] | None = None   # zenith, azimuth, degrees
    properties: Mapping[str, object] = field(default_factory=dict)
    theia_files: Mapping[str, str] | None = None   # Theia-layout item: file name -> GDAL path


def absolute_href(href: str, base: str | None = None) -> str:
    """An asset href made absolute: a URL or an absolute path stays as it is, a relative one is resolved against
    ``base``, the folder or URL of the item document."""
    if "://" in href or os.path.isabs(href) or base is None:
        return href
    if base.startswith(("http://", "https://", "/vsicurl/")):
        from urllib.parse import urljoin

        return urljoin(base.removeprefix("/vsicurl/").rstrip("/") + "/", href)
    return os.path.normpath(os.path.join(base, href))


def gdal_path(href: str, base: str | None = None) -> str:
    """GDAL path of an asset href: ``/vsicurl/`` for http(s), ``/vsis3/`` for s3, a local path otherwise (relative
    hrefs resolved against ``base`` by :func:`absolute_href`)."""
    href = absolute_href(href, base)
    if href.startswith(("http://", "https://")):
        return "/vsicurl/" + href
    if href.startswith("s3://"):
        return "/vsis3/" + href[len("s3://"):]
    if href.startswith("file://"):
        return href[len("file://"):]
    return href


@functools.lru_cache(maxsize=4)
def _load_hook(spec: str):
    module, _, name = spec.partition(":")
    try:
        hook = getattr(importlib.import_module(module), name) if module and name else None
    except (ImportError, AttributeError) as exc:
        raise InvalidParameterError(f"{HREF_HOOK_VARIABLE}={spec!r}: cannot load it ({exc})") from None
    if not callable(hook):
        raise InvalidParameterError(f"{HREF_HOOK_VARIABLE}={spec!r}: expected module:function naming a function")
    return hook


def href_hook():
    """The href hook named by :data:`HREF_HOOK_VARIABLE`, or None."""
    spec = os.environ.get(HREF_HOOK_VARIABLE, "").strip()
    return _load_hook(spec) if spec else None


def _level_check(doc: dict, source: str) -> None:
    props = doc.get("properties", {})
    product_type = str(props.get("s2:product_type", "")).upper()
    level = str(props.get("processing:level", "")).upper()
    collection = str(doc.get("collection", "")).lower()
    if product_type.startswith("S2MSI1") or level in ("L1C", "L1B") or collection.endswith(("l1c", "l1c-cogs")):
        raise NotAProductError("is a Level-1C item (its surface reflectance is not computed); use an L2A "
                               "collection, or l2a process on the L1C products", source)


def _platform(value, venus: bool = False) -> str | None:
    """Canonical platform (``S2A``...) of a STAC ``platform`` (``sentinel-2a``, ``SENTINEL2A``; ``venus`` too when
    ``venus``, for Theia-layout items), or None."""
    try:
        platform = normalize_platform(str(value))
    except InvalidParameterError:
        return None
    return platform if platform.startswith("S2") or (venus and platform == "VENUS") else None


def _tile(doc: dict, source: str) -> str:
    props = doc.get("properties", {})
    tile = props.get("s2:mgrs_tile") or props.get("tilename") or props.get("tileid")
    if not tile and all(k in props for k in ("mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square")):
        tile = f"{int(props['mgrs:utm_zone']):02d}{props['mgrs:latitude_band']}{props['mgrs:grid_square']}"
    if not tile:
        m = _TILE_IN_ID.search(str(doc.get("id", "")))
        tile = m.group(1) if m else None
    if not tile or not re.fullmatch(r"T?\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2}", str(tile)):
        raise MetadataError(f"no MGRS tile (s2:mgrs_tile, mgrs:* or the item id), found {tile!r}", source)
    tile = str(tile)
    return tile if tile.startswith("T") else "T" + tile


def item_datetime(doc: dict, source: str) -> dt.datetime:
    """The item's ``datetime``, UTC when it names no zone.

    Raises
    ------
    MetadataError
        Not an ISO 8601 time.
    """
    text = doc.get("properties", {}).get("datetime")
    try:
        when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise MetadataError(f"datetime is not an ISO 8601 time: {text!r}", source) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def declared_crs(fields: Mapping, source: str) -> CRS | None:
    """The CRS STAC projection fields declare (``proj:code``, ``proj:epsg``, ``proj:wkt2``), or None.

    Raises
    ------
    MetadataError
        A CRS pyproj does not know.
    """
    code = fields.get("proj:code") or (f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None)
    if code is None and fields.get("proj:wkt2"):
        code = fields["proj:wkt2"]
    if code is None:
        return None
    try:
        return CRS.from_user_input(code)
    except CRSError:
        raise MetadataError(f"unknown CRS {code!r}", source) from None


def declared_grid(asset: Mapping, crs: CRS | None, source: str, key: str) -> Grid | None:
    """The grid ``proj:shape`` and ``proj:transform`` declare (in ``crs``), or None when either is absent.

    Raises
    ------
    MetadataError
        Fields that are not a shape and an affine transform (naming the asset ``key``).
    """
    shape, transform = asset.get("proj:shape"), asset.get("proj:transform")
    if shape is None or transform is None:
        return None
    try:
        rows, cols = (int(v) for v in shape)
        a, b, c, d, e, f = (float(v) for v in list(transform)[:6])
    except (TypeError, ValueError):
        raise MetadataError(f"asset {key}: proj:shape {shape!r} / proj:transform {transform!r} are not a grid",
                            source) from None
    return Grid(Affine(a, b, c, d, e, f), rows, cols, crs)


def asset_path(key: str, asset: Mapping, base: str | None, source: str) -> str:
    """GDAL path of an asset (through the href hook when one is set; relative hrefs against ``base``).

    Raises
    ------
    MetadataError
        The asset has no href.
    """
    href = asset.get("href") if isinstance(asset, Mapping) else None
    if not isinstance(href, str) or not href:
        raise MetadataError(f"asset {key} has no href", source)
    hook = href_hook()
    if hook is not None:
        href = str(hook(href))
    return gdal_path(href, base)


def check_grid(key: str, declared: Grid | None, actual: Grid, source: str) -> None:
    """Refuse an asset whose raster is not on the grid its item declares (shape, transform to 1e-6 CRS units, and
    CRS when both have one); nothing to check when the item declares none.

    Raises
    ------
    GridMismatchError
        Naming the asset ``key`` and the item (``source``).
    """
    if declared is None:
        return
    if declared.shape != actual.shape or not declared.transform.almost_equals(actual.transform, 1e-6):
        raise GridMismatchError(f"asset {key}: the item declares a {declared.height} x {declared.width} grid at "
                                f"{_rounded(declared.transform)}, the raster is {actual.height} x {actual.width} at "
                                f"{_rounded(actual.transform)}", source)
    if declared.crs is not None and actual.crs is not None and declared.crs != actual.crs:
        raise GridMismatchError(f"asset {key}: the item declares {declared.crs.to_string()}, the raster is in "
                                f"{actual.crs.to_string()}", source)


def _rounded(transform) -> tuple[float, ...]:
    return tuple(round(v, 3) for v in list(transform)[:6])


def _raster(key: str, asset: Mapping, item_fields: Mapping, base: str | None, source: str) -> AssetRaster:
    path = asset_path(key, asset, base, source)
    crs = declared_crs(asset, source) or declared_crs(item_fields, source)
    fields = dict(item_fields)
    fields.update({k: v for k, v in asset.items() if k.startswith("proj:")})
    grid = declared_grid(fields, crs, source, key) if crs is not None else None
    bands = asset.get("raster:bands") or [{}]
    info = bands[0] if isinstance(bands, list) and bands and isinstance(bands[0], dict) else {}
    scale, offset = info.get("scale"), info.get("offset")
    return AssetRaster(key, path, grid, None if scale is None else float(scale),
                       None if offset is None else float(offset))


def asset_file_name(href: str) -> str:
    """The file name an href ends with (query string and fragment dropped: signed URLs)."""
    from urllib.parse import unquote

    return unquote(href.split("?", 1)[0].split("#", 1)[0].rstrip("/").rpartition("/")[2])


def _theia_assets(assets: Mapping) -> dict[str, str]:
    """Assets that are files of a Theia product, by their file names (``<ID>_FRE_B4.tif``, ``<ID>_CLM_R1.tif``,
    ``<ID>_ATB_R1.tif``, ``<ID>_MTD_ALL.xml``...): file name -> asset key; empty unless a reflectance file is among
    them. Whatever the archive calls its keys (``B04``, ``FRE_B4``), Theia's file names say each file's role."""
    names = {}
    for key, asset in assets.items():
        href = asset.get("href") if isinstance(asset, Mapping) else None
        if isinstance(href, str) and href:
            names.setdefault(asset_file_name(href), key)
    files = classify_members(names)
    if not (files.bands["FRE"] or files.bands["SRE"] or files.stacks):
        return {}
    roles = [*files.bands["FRE"].values(), *files.bands["SRE"].values(), *files.stacks.values(),
             *files.masks.values(), *files.atb.values(), *([files.mtd] if files.mtd else [])]
    return {name: names[name] for name in roles}


def _find_asset(assets: Mapping, keys: tuple[str, ...], esa_id: str | None = None) -> str | None:
    for key in keys:
        if key in assets:
            return key
    if esa_id is not None:  # any asset whose eo:bands name is the band's ESA id (JPEG 2000 variants excluded)
        for key, asset in assets.items():
            names = [b.get("name") for b in asset.get("eo:bands", []) if isinstance(b, dict)]
            if names == [esa_id] and not key.endswith("-jp2"):
                return key
    return None


def item_facts(doc: dict, source: str, base: str | None = None) -> ItemFacts:
    """Read the facts of one Sentinel-2 L2A STAC item.

    Parameters
    ----------
    doc : dict
        The item document (GeoJSON Feature, ``type`` "Feature").
    source : str
        Where it comes from (file, URL or search), named in messages.
    base : str, optional
        Folder or URL against which relative asset hrefs are resolved (the document's own folder).

    Raises
    ------
    NotAProductError
        Not an item, or an item of Level-1C.
    MetadataError
        No tile, time, platform or CRS, an asset without href, unreadable projection fields.
    ProductFormatError
        No band asset at all.
    """
    if not isinstance(doc, dict) or doc.get("type") != "Feature":
        raise NotAProductError("is not a STAC item (a GeoJSON Feature)", source)
    item_id = str(doc.get("id") or "")
    if not item_id:
        raise MetadataError("item has no id", source)
    source = f"{source} (item {item_id})" if item_id not in source else source
    _level_check(doc, source)
    props = doc.get("properties")
    assets = doc.get("assets")
    if not isinstance(props, dict) or not isinstance(assets, dict):
        raise MetadataError("item has no properties or no assets", source)
    theia = _theia_assets(assets)
    platform = _platform(props.get("platform"), venus=bool(theia))
    if platform is None:
        raise MetadataError(f"platform {props.get('platform')!r} is not a Sentinel-2 satellite"
                            f"{' (nor VENUS)' if theia else ''}", source)
    if theia:   # Theia layout (MUSCATE, the toolkit's own l2a process): its reader takes the files by name
        classified = classify_members(theia)
        band_names = classified.bands["FRE"] or classified.bands["SRE"]
        band_keys = {b: theia[name] for b, name in band_names.items()}
    else:
        band_keys = {b: _find_asset(assets, keys, _ESA_ID[b]) for b, keys in BAND_ASSETS.items()}
    # an item's own proj:shape / proj:transform describe one grid: its finest bands' (R1 when it has 10 m bands)
    item_group = "R1" if any(band_resolution(b) == "R1" for b, k in band_keys.items() if k is not None) else "R2"
    on_other_grid = {k: v for k, v in props.items() if k not in ("proj:shape", "proj:transform")}
    bands = {b: _raster(k, assets[k], props if band_resolution(b) == item_group else on_other_grid, base, source)
             for b, k in band_keys.items() if k is not None}
    if not bands and not theia:
        raise ProductFormatError(f"no band asset ({', '.join(k for keys in BAND_ASSETS.values() for k in keys[:1])} "
                                 "...)", source)
    crs = next((r.grid.crs for r in bands.values() if r.grid is not None), None) or declared_crs(props, source)
    if crs is None and not theia:
        raise MetadataError("no CRS (proj:epsg or proj:code on the item or its assets)", source)
    theia_files = {name: asset_path(key, assets[key], base, source) for name, key in theia.items()} or None
    scl_key, aot_key = (None, None) if theia else (_find_asset(assets, SCL_ASSETS), _find_asset(assets, AOT_ASSETS))
    granule = _find_asset(assets, GRANULE_METADATA_ASSETS)
    product = _find_asset(assets, PRODUCT_METADATA_ASSETS)
    mean_sun = None
    if "view:sun_elevation" in props and "view:sun_azimuth" in props:
        mean_sun = (90.0 - float(props["view:sun_elevation"]), float(props["view:sun_azimuth"]))
    elif "s2:mean_solar_zenith" in props and "s2:mean_solar_azimuth" in props:
        mean_sun = (float(props["s2:mean_solar_zenith"]), float(props["s2:mean_solar_azimuth"]))
    mean_view = None
    if "view:incidence_angle" in props and "view:azimuth" in props:
        mean_view = (float(props["view:incidence_angle"]), float(props["view:azimuth"]))
    applied = props.get("earthsearch:boa_offset_applied")
    cloud = props.get("eo:cloud_cover")
    return ItemFacts(
        item_id, source, _tile(doc, source), item_datetime(doc, source), platform, crs, bands,
        _raster(scl_key, assets[scl_key], props if item_group == "R2" else on_other_grid, base, source)
        if scl_key else None,
        _raster(aot_key, assets[aot_key], props if item_group == "R2" else on_other_grid, base, source)
        if aot_key else None,
        None if props.get("s2:processing_baseline") is None else str(props["s2:processing_baseline"]),
        None if applied is None else bool(applied), None if cloud is None else float(cloud),
        gdal_path(assets[granule]["href"], base) if granule and assets[granule].get("href") else None,
        gdal_path(assets[product]["href"], base) if product and assets[product].get("href") else None,
        mean_sun, mean_view, dict(props), theia_files)


def item_base(location: str | os.PathLike) -> str:
    """The folder (or URL folder) of an item document, against which its relative hrefs resolve."""
    text = os.fspath(location)
    if text.startswith(("http://", "https://")):
        return text.rsplit("/", 1)[0]
    return str(Path(text).absolute().parent)
