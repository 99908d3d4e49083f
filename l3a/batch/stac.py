"""STAC items as batch inputs: ``l3a batch --stac SOURCE [--collection ID]``.

:func:`stage_items` gathers the items of the sources (Item, ItemCollection, static catalogue files or URLs, or a STAC
API searched over the tiles' or the area's bounding box and the months' windows) and writes each as one JSON file
into ``OUT/stac-items/``, its hrefs made absolute (URLs stay URLs). That folder is then one more input root: the
discovery reads the tile and time of each item from its document alone (:func:`l3a.batch.discover.product_facts`),
and each task opens its items (:func:`l2a.open_l2a` reads an item file), so the assets are fetched by the workers,
as windows, where they are.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Sequence

from l2a.errors import SyntheoError
from l2a.io.atomic import atomic_write_bytes

from ..dates import month_central_date

__all__ = ["STAC_ITEMS_DIR", "stage_items"]

logger = logging.getLogger(__name__)

#: Folder of the staged item files, in the batch's output folder.
STAC_ITEMS_DIR = "stac-items"


def stage_items(sources: Sequence[str], out_dir: str | os.PathLike, months: Sequence[str], half_window_days: int, *,
                collection: str | None = None, tiles: Sequence[str] | None = None, area=None,
                max_cloud: float | None = None) -> Path:
    """Write the items of STAC sources into ``OUT/stac-items/`` (one JSON file each); returns that folder.

    Parameters
    ----------
    sources : sequence of str
        Item / ItemCollection / catalogue files or URLs; with ``collection``, STAC API root URLs.
    out_dir : path-like
        The batch's output folder.
    months : sequence of ``YYYY-MM``
        The months composed: items outside every month's window (central date +- ``half_window_days`` + 1 day)
        are left out.
    collection : str, optional
        Collection searched in each API.
    tiles : sequence of str, optional
        Tiles composed: the search's bounding box, and items of other tiles are left out.
    area : shapely geometry, optional
        Longitude/latitude area (``--aoi``): the search's bounding box when no tiles are given.
    max_cloud : float, optional
        Items with ``eo:cloud_cover`` above it are left out, %.

    An item that cannot be read (no tile, no time, a bad platform...) is staged as it is: the discovery reports it
    unreadable, naming it, and the batch exits 1 once the other tasks have run.

    Raises
    ------
    the one-line errors of :mod:`l2a.formats.stac` for a source that cannot be read, or an API that does not answer.
    """
    from l2a.formats.stac import read_items
    from l2a.formats.stac.item import absolute_href, item_facts
    from l2a.formats.stac.search import search_items, tiles_bbox

    margin = dt.timedelta(days=half_window_days + 1)
    centrals = [month_central_date(m) for m in months]
    start = dt.datetime.combine(min(centrals) - margin, dt.time(), dt.timezone.utc)
    end = dt.datetime.combine(max(centrals) + margin, dt.time(), dt.timezone.utc)
    wanted = {t if t.startswith("T") else "T" + t for t in tiles} if tiles else None
    folder = Path(out_dir) / STAC_ITEMS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    kept = skipped = bad = 0
    for source in sources:
        if collection is not None:
            bbox = tiles_bbox(sorted(wanted)) if wanted else (area.bounds if area is not None else None)
            found = search_items(source, collection, bbox=bbox, start=start, end=end)
        else:
            found = read_items(source)
        for number, (doc, base) in enumerate(found):
            try:
                facts = item_facts(doc, str(source), base)  # checks the item before it is staged
            except SyntheoError as exc:
                # staged as it is: the discovery reports it unreadable (exit code 1), the other items go on
                name = str(doc.get("id") or f"item-{number}") if isinstance(doc, dict) else f"item-{number}"
                logger.warning("%s", " ".join(str(exc).split()))
                atomic_write_bytes(folder / f"{Path(name).name}.json", json.dumps(doc).encode("utf-8"), fsync=False)
                bad += 1
                continue
            in_window = any(abs(facts.datetime.date() - c) <= margin for c in centrals)
            cloudy = max_cloud is not None and facts.cloud_cover is not None and facts.cloud_cover > max_cloud
            if not in_window or cloudy or (wanted is not None and facts.tile not in wanted):
                skipped += 1
                continue
            doc = json.loads(json.dumps(doc))
            for asset in doc.get("assets", {}).values():
                if isinstance(asset.get("href"), str):
                    asset["href"] = absolute_href(asset["href"], base)
            data = json.dumps(doc, indent=1, sort_keys=True).encode("utf-8")
            path = folder / f"{facts.item_id}.json"
            if not (path.exists() and path.read_bytes() == data):
                atomic_write_bytes(path, data, fsync=False)
            kept += 1
    logger.info("%d STAC items staged in %s (%d outside the tiles, months or cloud limit, %d unreadable)", kept,
                folder, skipped, bad)
    return folder
