"""Sentinel-2 L2A from STAC: item documents in, L2A products out.

* :func:`read_items` gathers item documents from a source: an Item JSON file, an ItemCollection (GeoJSON
  FeatureCollection) file, a static catalogue or collection (``catalog.json``/``collection.json``, walked with
  pystac), or the URL of any of them;
* :func:`open_stac` opens the products of a source (:func:`l2a.formats.stac.reader.open_stac_item`), optionally only
  the items under a cloud cover (``eo:cloud_cover``), of some tiles, or between two times.

Sen2Cor-layout items (Earth Search, Planetary Computer) become :class:`StacL2A` products; Theia-layout items
(MUSCATE's, and the ``<ID>_STAC.json`` the toolkit writes in every L2A product) become Theia products read over their
assets (:mod:`l2a.formats.stac.reader`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from pathlib import Path
from typing import Iterable

from l2a.errors import MetadataError, NotAProductError, TileMismatchError
from l2a.io.jsondoc import parse_json, read_json
from l2a.product import L2AProduct

from .item import ItemFacts, gdal_path, item_base, item_facts
from .reader import StacL2A, open_stac_item, read_bytes

__all__ = ["read_items", "open_stac", "item_facts", "open_stac_item", "StacL2A", "ItemFacts", "gdal_path"]

logger = logging.getLogger(__name__)

#: Items opened at once (their assets' headers are read over the network: latency-bound, not CPU-bound).
OPEN_THREADS = 8
#: Largest STAC document read, bytes (an ItemCollection of a few thousand items).
_MAX_DOCUMENT_BYTES = 64 * 2**20


def _document(location: str) -> str:
    """The document of a source: a folder's ``catalog.json`` or ``collection.json``, else the location itself."""
    p = Path(location)
    if location.startswith(("http://", "https://")) or not p.is_dir():
        return location
    for name in ("catalog.json", "collection.json"):
        if (p / name).is_file():
            return str(p / name)
    raise NotAProductError("is a folder without catalog.json or collection.json", p)


def _load(location: str) -> dict:
    """A JSON document from a file or an http(s) URL."""
    if location.startswith(("http://", "https://")):
        doc = parse_json(read_bytes("/vsicurl/" + location, "STAC document", location), "STAC document", location)
    else:
        doc = read_json(location, "STAC document", max_bytes=_MAX_DOCUMENT_BYTES)
    if not isinstance(doc, dict):
        raise NotAProductError("is not a STAC document (a JSON object)", location)
    return doc


def read_items(source: str | os.PathLike) -> list[tuple[dict, str]]:
    """Item documents of a STAC source, each with the location its relative hrefs resolve against.

    Parameters
    ----------
    source : path-like or URL
        Item, ItemCollection, static catalogue or collection (file or folder holding ``catalog.json`` /
        ``collection.json``), or the http(s) URL of one.

    Returns
    -------
    list of (item document, base location)

    Raises
    ------
    MissingFileError, NotAProductError, MetadataError
        Not found, not a STAC document, malformed JSON.
    """
    return _read_source(source)[1]


def _read_source(source: str | os.PathLike) -> tuple[str, list[tuple[dict, str]]]:
    """The type of a source's document (``Feature``, ``FeatureCollection``, ``Catalog``, ``Collection``) and its
    items (:func:`read_items`)."""
    location = _document(os.fspath(source))
    doc = _load(location)
    kind = doc.get("type")
    if kind == "Feature":
        return kind, [(doc, item_base(location))]
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise MetadataError("ItemCollection has no features list", location)
        return kind, [(f, item_base(location)) for f in features]
    if kind in ("Catalog", "Collection"):
        return kind, _walk_catalog(location)
    raise NotAProductError(f"is not a STAC item, ItemCollection, catalogue or collection (type {kind!r})", location)


def _walk_catalog(location: str) -> list[tuple[dict, str]]:
    import pystac

    try:
        catalog = pystac.read_file(location)
        items = list(catalog.get_items(recursive=True))
    except (pystac.STACError, OSError, ValueError, KeyError) as exc:
        raise MetadataError(f"cannot walk the catalogue ({' '.join(str(exc).split())})", location) from None
    out = []
    for item in items:
        href = item.get_self_href() or location
        out.append((item.to_dict(include_self_link=False, transform_hrefs=False), item_base(href)))
    return out


def open_stac(sources: Iterable[str | os.PathLike], *, max_cloud: float | None = None,
              tiles: Iterable[str] | None = None, start: dt.datetime | None = None,
              end: dt.datetime | None = None, collection: str | None = None,
              reflectance: str | None = None) -> list[L2AProduct]:
    """Open the L2A products of STAC sources, keeping the items with ``eo:cloud_cover <= max_cloud``, of ``tiles``
    and acquired in ``[start, end)`` (each filter only when given); logs the items set aside. With ``collection``,
    every source is the root URL of a STAC API searched for that collection's items over the tiles and interval
    (:func:`l2a.formats.stac.search.search_items`). ``reflectance`` (``FRE`` or ``SRE``) chooses the files of
    Theia-layout items (default: FRE when the item has them); Sen2Cor items have one kind.

    Items of other tiles are set aside with a log line, except an Item document given by itself, which is a
    :class:`~l2a.errors.TileMismatchError`, as are sources holding no item of ``tiles`` at all.

    Raises
    ------
    the errors of :func:`read_items`, :func:`~l2a.formats.stac.search.search_items`,
    :func:`~l2a.formats.stac.item.item_facts` and :func:`~l2a.formats.stac.reader.open_stac_item`, naming the item.
    """
    from .remote import remote_env

    with remote_env():
        return _open_stac(list(sources), max_cloud, tiles, start, end, collection, reflectance)


def _open_stac(sources, max_cloud, tiles, start, end, collection, reflectance) -> list[L2AProduct]:
    from l2a.io.threads import env_thread_pool, map_or_cancel

    tiles = [t if t.startswith("T") else "T" + t for t in tiles] if tiles else None
    wanted = set(tiles) if tiles else None
    chosen, other_tiles, of_tile = [], Counter(), 0
    for source in sources:
        if collection is not None:
            from .search import search_items

            kind, found = "search", search_items(os.fspath(source), collection, tiles=tiles, start=start, end=end)
        else:
            kind, found = _read_source(source)
        for doc, base in found:
            where = f"{os.fspath(source)}"
            facts = item_facts(doc, where, base)
            if wanted is not None and facts.tile not in wanted:
                if kind == "Feature":
                    # an item given by itself is meant: a wrong tile is a mistake, not a neighbour
                    raise TileMismatchError(f"is an item of {facts.tile}, not of {', '.join(sorted(wanted))}",
                                            facts.source)
                other_tiles[facts.tile] += 1   # a search by bounding box, a catalogue: neighbours are expected
                continue
            of_tile += 1
            if max_cloud is not None and facts.cloud_cover is not None and facts.cloud_cover > max_cloud:
                logger.info("%s: %.1f %% cloud, above %g %%: skipped", facts.item_id, facts.cloud_cover, max_cloud)
                continue
            if (start is not None and facts.datetime < start) or (end is not None and facts.datetime >= end):
                continue
            path = os.fspath(source) if not str(source).startswith(("http://", "https://")) else None
            chosen.append((facts, Path(path).parent / facts.item_id if path else None))
    if other_tiles:
        found_tiles = ", ".join(f"{t} ({n})" for t, n in sorted(other_tiles.items()))
        logger.info("items of other tiles set aside: %s", found_tiles)
        if not of_tile:
            raise TileMismatchError(f"no item of {', '.join(sorted(wanted))}; the items are of {found_tiles}",
                                    " ".join(os.fspath(source) for source in sources))
    # opening checks every asset's header: a few requests each, latency-bound over a network, so items in parallel
    with env_thread_pool(min(OPEN_THREADS, len(chosen))) as pool:
        return map_or_cancel(pool, lambda fp: open_stac_item(fp[0], path=fp[1], reflectance=reflectance), chosen)
