"""Discovery of a batch's inputs: every L2A product under the input folders, with its tile, acquisition time and
platform.

Each product is opened with :func:`l2a.open_l2a` (the facts :func:`l3a.compose` itself will use, so the planner's
windows and the synthesis's agree to the day), in a pool of threads: opening reads about twenty small files per
product, which is latency-bound on a network file system. A product that does not open keeps its place when its
folder or archive name is a Theia or ESA product name (tile and time from the name): the tasks whose window holds it
fail naming the file, while the others go on. A product with neither readable metadata nor a product name is
listed as unreadable.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from l2a.detect import find_products, open_l1c, open_l2a
from l2a.errors import SyntheoError
from l2a.formats.safe.names import parse_product_name as parse_safe_name
from l2a.formats.theia.names import parse_product_name as parse_theia_name
from l2a.tiles import normalize_tile

from ..errors import NoProductError

__all__ = ["ProductFacts", "Discovery", "discover", "product_facts"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProductFacts:
    """What the planner needs to know of one L2A product.

    Attributes
    ----------
    path : str
        Absolute path of the product (folder or .zip).
    tile : str
        Tile code with its ``T`` (``T31TCJ``).
    datetime : datetime.datetime
        Acquisition time, UTC.
    platform : str
        ``S2A``, ``S2B``, ``S2C`` or ``VENUS``.
    crs : str or None
        CRS of the product's grids (``EPSG:32631``); None when the product did not open.
    bounds : tuple of float or None
        (left, bottom, right, top) of its first grid, CRS units; None when the product did not open.
    error : str or None
        Why the product did not open (its facts then come from its name).
    """

    path: str
    tile: str
    datetime: dt.datetime
    platform: str
    crs: str | None = None
    bounds: tuple[float, float, float, float] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Discovery:
    """The products found under a batch's input folders.

    Attributes
    ----------
    products : tuple of ProductFacts
        Sorted by path.
    unreadable : tuple of (str, str)
        (path, error) of products that neither open nor carry a product name: they belong to no task.
    """

    products: tuple[ProductFacts, ...]
    unreadable: tuple[tuple[str, str], ...] = ()

    @property
    def tiles(self) -> tuple[str, ...]:
        """Distinct tiles of the products, sorted."""
        return tuple(sorted({p.tile for p in self.products}))


def product_facts(path: str | os.PathLike, level: str = "l2a") -> ProductFacts | tuple[str, str]:
    """Facts of one product (``level`` "l2a", or "l1c" for a Level-1C SAFE): from its metadata, or from its name
    when it does not open.

    Returns
    -------
    ProductFacts, or (path, error) when the product neither opens nor has a product name.
    """
    path = str(Path(path).absolute())
    try:
        if level == "l2a" and path.lower().endswith(".json"):
            return _item_facts(path)
        if level == "l1c":
            product = open_l1c(path)
            grid = product.band_grid("B2")
        else:
            with open_l2a(path) as product:
                grid = product.grid(next(iter(product.grids)))
        return ProductFacts(path, normalize_tile(product.tile), product.datetime, product.platform,
                            crs=product.crs.to_string(), bounds=tuple(float(v) for v in grid.bounds))
    except (SyntheoError, OSError) as exc:  # OSError: rasterio's I/O errors, which name the file
        error = " ".join(str(exc).split())
    name = Path(path).name
    parsed = parse_theia_name(name) or parse_safe_name(name.removesuffix(".zip"))
    if parsed is None:
        return path, error
    logger.warning("%s does not open (%s); placed by its name", name, error)
    when = parsed.datetime if parsed.datetime.tzinfo else parsed.datetime.replace(tzinfo=dt.timezone.utc)
    return ProductFacts(path, normalize_tile(parsed.tile), when, parsed.platform, error=error)


def _item_facts(path: str) -> ProductFacts:
    """Facts of a STAC item file from the document alone: its assets are opened by the task that composes it (over a
    network, opening every asset of every item here would cost a few requests each, one item after the other)."""
    from l2a.errors import NotAProductError
    from l2a.formats.stac import read_items
    from l2a.formats.stac.item import item_facts

    docs = read_items(path)
    if len(docs) != 1:
        raise NotAProductError(f"holds {len(docs)} STAC items; give one item per file", path)
    (doc, base), = docs
    facts = item_facts(doc, path, base)
    grid = next((r.grid for r in facts.bands.values() if r.grid is not None), None)
    return ProductFacts(path, normalize_tile(facts.tile), facts.datetime, facts.platform, crs=facts.crs.to_string() if facts.crs else None,
                        bounds=tuple(float(v) for v in grid.bounds) if grid is not None else None)


def discover(roots: Sequence[str | os.PathLike] | Iterable[str | os.PathLike], threads: int = 8) -> Discovery:
    """Find and describe every L2A product under the input folders.

    Parameters
    ----------
    roots : sequence of path-like
        Products, or folders whose direct entries are products (:func:`l2a.detect.find_products`; any format
        :func:`l2a.open_l2a` reads).
    threads : int
        Threads opening the products.

    Returns
    -------
    Discovery

    Raises
    ------
    NoProductError
        If the folders hold no L2A product.
    MissingFileError
        If a folder does not exist.
    """
    roots = [str(r) for r in roots]
    paths = find_products(roots)
    if not paths:
        raise NoProductError(f"no L2A product under {', '.join(roots)}")
    with ThreadPoolExecutor(max(1, min(threads, len(paths)))) as pool:
        found = list(pool.map(product_facts, paths))
    products = tuple(sorted((f for f in found if isinstance(f, ProductFacts)), key=lambda f: f.path))
    unreadable = tuple(sorted(f for f in found if not isinstance(f, ProductFacts)))
    for path, error in unreadable:
        logger.warning("%s: unreadable and no product name: belongs to no task (%s)", path, error)
    return Discovery(products, unreadable)
