"""Sentinel-2 L2A STAC items as L2A products: :class:`StacL2A` and :func:`open_stac_item`.

An Earth Search (or Planetary Computer) item is a Sen2Cor product whose rasters are separate COGs anywhere a GDAL path
reaches (a local file, ``/vsicurl/`` over HTTP range requests, ``/vsis3/``): :class:`StacL2A` is the Sen2Cor reader
(:class:`~l2a.formats.safe.sen2cor.Sen2CorL2A`: radiometry, SCL mapping, AOT, 10/20 m resampling) over the item's
assets, so the rest of the toolkit sees the one product model and ``l3a`` has no second code path.

At open, every raster asset used is opened (its header: one or two range requests for a remote COG), its kind
checked (one uint16 band for bands and AOT, one uint8 band for SCL) and its grid checked against the ``proj:`` grid the
item declares; the 10 m bands are group R1, the 20 m bands R2, each group on one grid, R2's pixel twice R1's
(simulated products may have larger pixels than 10 and 20 m).

Radiometry: reflectance = (DN + offset) / 10000 with, per band, the offset of ``MTD_MSIL2A.xml`` when the item links
it (``product_metadata``); else, when the item has Earth Search's ``earthsearch:boa_offset_applied``, 0 if true and
-1000 if false from processing baseline 04.00 (Earth Search puts ``raster:bands`` offset -0.1 on its items either way,
and its maintainers name the flag as the truth); else the ``raster:bands`` offset of the asset; else -1000 from
baseline 04.00 (the BOA_ADD_OFFSET Sen2Cor writes since January 2022; Planetary Computer's items, which do not
harmonise, have neither flag nor offset), 0 before. AOT = DN x the asset's ``raster:bands`` scale (0.001 by default).

Angles: from the granule's ``MTD_TL.xml`` when the item links it (``granule_metadata``: per-pixel sun and viewing
angle grids, as a SAFE product); otherwise the item's scene means (``view:sun_elevation``/``view:sun_azimuth``,
``view:incidence_angle``/``view:azimuth``, or Planetary Computer's ``s2:mean_solar_*``) for every pixel and band, and
the BRDF normalisation uses those constants. Measured on the simulator's angle grids of T31TCJ in July 2018 (5 km
cells, two relative orbits): the c-factor from the scene means differs from the per-pixel one by 1.9-2.3 % (95th
percentile; at most 2.6 %) for the orbit whose swath centre crosses the tile (viewing zenith 1-11 degrees), and by
2.7-3.8 % (at most 4.7 %, B4 and B11 worst) for the orbit that sees it from the swath edge (5-18 degrees). Earth
Search items link ``granule_metadata``, so they get the grids.

A Theia-layout item (MUSCATE's, or the ``<ID>_STAC.json`` of the toolkit's own products, whose asset files are named
``<ID>_FRE_B4.tif``, ``<ID>_CLM_R1.tif``, ``<ID>_ATB_R1.tif``, ``<ID>_MTD_ALL.xml``) is opened by the Theia reader
over its assets (:func:`~l2a.formats.theia.reader.open_theia_files`): FRE bands, CLM/MG2/EDG/SAT masks, AOT from the
ATB, angles from MTD_ALL.xml; the grids and the tile the item declares are checked against its files.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import replace
from pathlib import Path

from l2a.angles import Angles
from l2a.errors import GridMismatchError, MetadataError, ProductFormatError, SyntheoError
from l2a.formats.safe.metadata import ProductMetadata, parse_product_metadata, parse_tile_metadata
from l2a.formats.safe.sen2cor import Sen2CorL2A
from l2a.grid import Grid
from l2a.io.raster import open_raster
from l2a.io.xmldoc import parse_xml_bytes, strip_namespaces
from l2a.product import L2AProduct
from l2a.sensors import L2A_BANDS, band_resolution

from .item import AssetRaster, ItemFacts, check_grid

__all__ = ["StacL2A", "open_stac_item", "probe_asset", "BOA_OFFSET_BASELINE", "BOA_OFFSET_DN"]

logger = logging.getLogger(__name__)

#: First processing baseline whose L2A DN carry the BOA_ADD_OFFSET, and that offset, DN.
BOA_OFFSET_BASELINE = "04.00"
BOA_OFFSET_DN = -1000.0
#: Sen2Cor's quantifications: reflectance x 10000, AOT x 1000.
_REFLECTANCE_QUANTIFICATION = 10000.0
_AOT_QUANTIFICATION = 1000.0
#: Largest metadata document fetched, bytes (an MTD_TL.xml is ~0.5-1 MB).
_MAX_METADATA_BYTES = 32 * 2**20


class _AssetLocations:
    """What :class:`Sen2CorL2A` asks of its files: a product path, and a GDAL path per raster (here the asset's)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    @staticmethod
    def location(gdal_path: str) -> str:
        return gdal_path

    display = location


class StacL2A(Sen2CorL2A):
    """A Sentinel-2 L2A STAC item read as a product (see the module docstring); create with
    :func:`open_stac_item`. Attributes of :class:`~l2a.formats.safe.sen2cor.Sen2CorL2A`, and:

    Attributes
    ----------
    item_id : str
    facts : ItemFacts
        What the item says (assets, properties, source).
    """

    format = "stac"

    def __init__(self, facts: ItemFacts, **kwargs):
        super().__init__(**kwargs)
        self.item_id = facts.item_id
        self.facts = facts

    def __repr__(self) -> str:
        return f"StacL2A({self.item_id!r}, {self.tile}, {self.datetime:%Y-%m-%dT%H:%M:%SZ}, {self.platform})"


def read_bytes(path: str, what: str, source: str) -> bytes:
    """A small document (metadata) at a GDAL path: a local file, or over HTTP(S) for ``/vsicurl/`` paths."""
    try:
        if path.startswith("/vsicurl/"):
            from .remote import fetch

            data = fetch(path[len("/vsicurl/"):], _MAX_METADATA_BYTES)
        else:
            with open(path, "rb") as f:
                data = f.read(_MAX_METADATA_BYTES + 1)
    except OSError as exc:
        shown = path.removeprefix("/vsicurl/")
        raise MetadataError(f"cannot read the {what} {shown} ({' '.join(str(exc).split())})", source) from None
    if len(data) > _MAX_METADATA_BYTES:
        raise MetadataError(f"the {what} {path} is larger than {_MAX_METADATA_BYTES} bytes", source)
    return data


def probe_asset(path: str | os.PathLike, key: str, declared: Grid | None, what: str, dtypes: tuple[str, ...],
                source: str) -> Grid:
    """Open an asset's header: its kind checked (one band of ``dtypes``) and its actual grid (with its CRS), checked
    against the grid the item declares (:func:`~l2a.formats.stac.item.check_grid`).

    Raises
    ------
    MissingFileError, CorruptRasterError, RasterKindError, GridMismatchError
        Naming the asset ``key`` and the item ``source``.
    """
    with open_raster(path, f"{what} (asset {key} of {source})", dtypes=dtypes, count=1) as ds:
        actual = Grid(ds.transform, ds.height, ds.width, ds.crs)
    check_grid(key, declared, actual, source)
    return actual


def _probe(raster: AssetRaster, what: str, dtypes: tuple[str, ...], source: str) -> Grid:
    return probe_asset(raster.path, raster.key, raster.grid, what, dtypes, source)


def _offsets(facts: ItemFacts, metadata: ProductMetadata | None) -> dict[str, float]:
    """BOA offset of each band, DN (see the module docstring for the order of the sources)."""
    if metadata is not None:
        return {b: metadata.offset(b) for b in facts.bands}
    out = {}
    for band, raster in facts.bands.items():
        if facts.boa_offset_applied is not None:
            # Earth Search writes raster:bands offset -0.1 whether or not it applied the offset: its flag decides
            applied = facts.boa_offset_applied
            out[band] = 0.0 if applied or not _offset_baseline(facts) else BOA_OFFSET_DN
        elif raster.offset is not None:
            scale = raster.scale if raster.scale else 1.0 / _REFLECTANCE_QUANTIFICATION
            out[band] = raster.offset / scale
        else:
            out[band] = BOA_OFFSET_DN if _offset_baseline(facts) else 0.0
    return out


def _offset_baseline(facts: ItemFacts) -> bool:
    """Whether the item's processing baseline writes the BOA offset (04.00 on); an item without one is taken as
    recent (every product in the archives since the 2022 reprocessing)."""
    return facts.processing_baseline is None or facts.processing_baseline >= BOA_OFFSET_BASELINE


def _open_theia_item(facts: ItemFacts, path, reflectance: str | None) -> L2AProduct:
    """A Theia-layout item: the Theia reader over the item's files of the reflectance asked for (FRE by default,
    SRE when the item has no FRE), then the item's declarations checked against what the files say (grids, tile).
    Errors name the item."""
    from l2a.formats.theia.names import classify_members
    from l2a.formats.theia.reader import open_theia_files

    source = facts.source
    files = classify_members(facts.theia_files)
    kind = (reflectance or ("FRE" if files.bands["FRE"] or "FRE" in files.stacks else "SRE")).upper()
    other = {"FRE": "SRE", "SRE": "FRE"}.get(kind)
    if other and (files.bands[kind] or kind in files.stacks):  # the other kind's headers need not be read
        unused = set(files.bands[other].values()) | ({files.stacks[other]} if other in files.stacks else set())
        locations = {name: path_ for name, path_ in facts.theia_files.items() if name not in unused}
    else:
        locations = dict(facts.theia_files)
    try:
        product = open_theia_files(path if path is not None else facts.item_id, locations,
                                   product_dir=facts.item_id, reflectance=kind,
                                   read_bytes=lambda location: read_bytes(location, "product metadata", source))
    except SyntheoError as exc:
        where = f"{exc.path}: " if exc.path and exc.path not in source else ""
        raise type(exc)(f"{where}{exc.problem}", source) from exc
    for band, raster in facts.bands.items():
        if band in product.bands:
            check_grid(raster.key, raster.grid, replace(product.band_grid(band), crs=product.crs), source)
    if product.tile != facts.tile:
        raise MetadataError(f"the item says tile {facts.tile}, its files tile {product.tile}", source)
    return product


def open_stac_item(facts: ItemFacts, *, path: str | os.PathLike | None = None,
                   reflectance: str | None = None) -> L2AProduct:
    """Open the product of one STAC item.

    Parameters
    ----------
    facts : ItemFacts
        From :func:`l2a.formats.stac.item.item_facts`.
    path : path-like, optional
        The item document's file, the product's ``path`` (default: the item id).
    reflectance : {"FRE", "SRE"}, optional
        Theia-layout items: the files read (default FRE, SRE for an item without FRE).

    Raises
    ------
    MissingFileError, CorruptRasterError, RasterKindError
        An asset that does not open or is not of the kind Sen2Cor writes (naming it and the item).
    GridMismatchError
        An asset whose raster disagrees with the grid the item declares, bands of one resolution on different
        grids, an SCL not on the 20 m grid.
    ProductFormatError, MetadataError
        A band asset at another resolution than the band's, a metadata asset that cannot be read.
    """
    source = facts.source
    if facts.theia_files:
        return _open_theia_item(facts, path, reflectance)
    grids: dict[str, object] = {}
    for band in L2A_BANDS:
        raster = facts.bands.get(band)
        if raster is None:
            continue
        grid = _probe(raster, f"band {band}", ("uint16",), source)
        group = band_resolution(band)
        if group in grids and not grids[group].same_as(grid):
            raise GridMismatchError(f"asset {raster.key} (band {band}) is not on the grid of the other "
                                    f"{'10' if group == 'R1' else '20'} m bands", source)
        grids.setdefault(group, grid)
    if "R1" in grids and "R2" in grids and not math.isclose(grids["R2"].resolution, 2 * grids["R1"].resolution,
                                                              rel_tol=1e-6):
        raise ProductFormatError(f"the 20 m bands' pixel ({grids['R2'].resolution:g}) is not twice the 10 m bands' "
                                 f"({grids['R1'].resolution:g})", source)
    scl_file = None
    if facts.scl is not None:
        grid = _probe(facts.scl, "scene classification", ("uint8",), source)
        if "R2" in grids and not grids["R2"].same_as(grid):
            raise GridMismatchError(f"asset {facts.scl.key} (SCL) is not on the 20 m grid", source)
        grids.setdefault("R2", grid)
        scl_file = facts.scl.path
    else:
        logger.warning("%s: no SCL asset; masks read as clear", source)
    aot_files, aot_q = {}, _AOT_QUANTIFICATION
    if facts.aot is not None:
        grid = _probe(facts.aot, "AOT", ("uint16",), source)
        group = next((g for g in ("R2", "R1") if g in grids and grids[g].same_as(grid)), None)
        if group is None:
            raise GridMismatchError(f"asset {facts.aot.key} (AOT) is on neither the 10 m nor the 20 m bands' grid",
                                    source)
        aot_files[group] = facts.aot.path
        if facts.aot.scale:
            aot_q = 1.0 / facts.aot.scale
    metadata = None
    if facts.product_metadata is not None:
        root = strip_namespaces(parse_xml_bytes(read_bytes(facts.product_metadata, "product metadata", source),
                                                facts.product_metadata))
        metadata = parse_product_metadata(root, "L2A", facts.product_metadata)
    offsets = _offsets(facts, metadata)
    tile_metadata, angles = None, None
    if facts.granule_metadata is not None:
        root = strip_namespaces(parse_xml_bytes(read_bytes(facts.granule_metadata, "granule metadata", source),
                                                facts.granule_metadata))
        tile_metadata = parse_tile_metadata(root, facts.granule_metadata)
        angles = tile_metadata.angles
    if angles is None or angles.is_empty:
        angles = Angles(mean_sun=facts.mean_sun,
                        mean_view={b: facts.mean_view for b in facts.bands} if facts.mean_view else {})
        if facts.mean_sun is None:
            logger.info("%s: no angles (no granule metadata, no view: properties)", source)
    product_metadata = ProductMetadata(
        level="L2A", source=source, product_uri=facts.item_id, processing_baseline=facts.processing_baseline,
        platform=facts.platform, start_time=facts.datetime, quantification=_REFLECTANCE_QUANTIFICATION,
        offsets=offsets, aot_quantification=aot_q, wvp_quantification=None, u=None, solar_irradiance={},
        nodata_dn=0 if metadata is None else metadata.nodata_dn)
    product = StacL2A(
        facts, files=_AssetLocations(path if path is not None else facts.item_id),
        band_files={b: r.path for b, r in facts.bands.items()}, scl_file=scl_file, aot_files=aot_files,
        metadata=product_metadata, tile_metadata=tile_metadata, platform=facts.platform, tile=facts.tile,
        datetime=facts.datetime, crs=facts.crs, grids=grids, bands=tuple(b for b in L2A_BANDS if b in facts.bands),
        angles=angles, reflectance_quantification=_REFLECTANCE_QUANTIFICATION, aot_quantification=aot_q,
        product_id=facts.item_id)
    logger.debug("opened %r", product)
    return product
