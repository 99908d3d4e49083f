"""STAC API item search (pystac-client): the items of a collection over tiles and a time interval.

:func:`search_items` asks a STAC API (``/search``, paged by the server's ``next`` links, which pystac-client
follows) for the items of ``collection`` whose footprint meets the lon/lat bounding box of the MGRS tiles asked for
and whose time is in ``[start, end)``; the caller keeps the items of those very tiles (a box also meets the
neighbours). An API that does not answer, or answers with something that is not a STAC API, is a one-line
:class:`~l2a.errors.StacApiError` naming the URL.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Iterable

from l2a.errors import StacApiError

__all__ = ["search_items", "tiles_bbox", "MAX_ITEMS"]

logger = logging.getLogger(__name__)

#: Most items one search returns (a tile has ~ 6 passes a month per platform, 2-3 platforms, overlapping orbits).
MAX_ITEMS = 10_000
#: Items per page asked of the server.
PAGE_LIMIT = 100
#: Seconds to wait for each HTTP answer of the API.
TIMEOUT_S = 30


def tiles_bbox(tiles: Iterable[str]) -> tuple[float, float, float, float]:
    """Longitude/latitude bounding box of MGRS tiles (their 109.8 km squares)."""
    from rasterio.warp import transform_bounds

    from l2a.simulate.mgrs import tile_footprint

    boxes = []
    for tile in tiles:
        square = tile_footprint(tile)
        boxes.append(transform_bounds(f"EPSG:{square.epsg}", "EPSG:4326", *square.bounds, densify_pts=21))
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def search_items(api: str, collection: str, *, tiles: Iterable[str] | None = None, start: dt.datetime | None = None,
                 end: dt.datetime | None = None, max_items: int = MAX_ITEMS,
                 bbox: tuple[float, float, float, float] | None = None) -> list[tuple[dict, str]]:
    """Item documents of a STAC API search, each with the location its relative hrefs resolve against.

    Parameters
    ----------
    api : str
        Root URL of the STAC API (``https://earth-search.aws.element84.com/v1``).
    collection : str
        Collection id (``sentinel-2-l2a``).
    tiles : iterable of str, optional
        MGRS tiles: the search's bounding box.
    bbox : (west, south, east, north), optional
        Longitude/latitude bounding box, when no tiles are given.
    start, end : datetime, optional
        Time interval ``[start, end)``, UTC.
    max_items : int
        Most items returned.

    Raises
    ------
    StacApiError
        No answer, an HTTP error, not a STAC API, an unknown collection.
    """
    from pystac_client import Client
    from pystac_client.exceptions import APIError

    try:
        client = Client.open(api, timeout=TIMEOUT_S)
        interval = None
        if start is not None or end is not None:
            interval = [start.isoformat() if start else "..",
                        (end - dt.timedelta(microseconds=1)).isoformat() if end else ".."]
        search = client.search(collections=[collection], bbox=tiles_bbox(tiles) if tiles else bbox,
                               datetime=interval, limit=PAGE_LIMIT, max_items=max_items)
        docs = list(search.items_as_dicts())
    except APIError as exc:
        raise StacApiError(f"the STAC API refused the search ({_one_line(exc)})", api) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:  # requests' errors are OSErrors; bad JSON ValueError
        raise StacApiError(f"no STAC API answered ({type(exc).__name__}: {_one_line(exc)})", api) from None
    except Exception as exc:  # pystac-client raises plain exceptions for documents that are not a STAC API
        if type(exc).__module__.startswith(("pystac", "requests", "urllib3")):
            raise StacApiError(f"not a STAC API ({type(exc).__name__}: {_one_line(exc)})", api) from None
        raise
    logger.info("%s: %d items of %s", api, len(docs), collection)
    base = api.rstrip("/")
    out = []
    for doc in docs:
        self_href = next((link.get("href") for link in doc.get("links", []) if link.get("rel") == "self"), None)
        out.append((doc, self_href.rsplit("/", 1)[0] if self_href else base))
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]
