"""The tasks of a batch: one per (tile, month), holding the products inside that month's synthesis window.

A month's synthesis is centred on its 15th (:func:`l3a.dates.month_central_date`) and takes the products within
``half_window_days`` of it, counted as :func:`l3a.compose` counts them (:func:`l3a.weights.date_offset_days`, UTC
calendar days): a product belongs to every month whose window holds it (with the default 23 days, most products
feed two months). A (tile, month) whose window holds no product is planned too, without inputs: it is reported as
"no-data" and never submitted. The tiles come from a list, from an area of interest (:mod:`l3a.batch.area`) or
from the products found (:func:`select_tiles`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

from l2a.errors import InvalidParameterError
from l2a.tiles import normalize_tile

from ..dates import month_central_date
from ..weights import date_offset_days
from .discover import Discovery, ProductFacts

__all__ = ["TaskSpec", "plan_tasks", "select_tiles"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskSpec:
    """One synthesis of a batch.

    Attributes
    ----------
    tile : str
        Tile code with its ``T``.
    month : str
        ``YYYY-MM``.
    central_date : datetime.date
        The 15th of ``month``.
    inputs : tuple of str
        Paths of the products of ``tile`` within the window, sorted (empty: no data).
    platforms : tuple of str
        Their distinct platforms, sorted (they name the product: ``SENTINEL2X`` for several).
    """

    tile: str
    month: str
    central_date: dt.date
    inputs: tuple[str, ...]
    platforms: tuple[str, ...]

    @property
    def key(self) -> str:
        """The dask key of the task, unique in a batch: ``compose-T31TCJ-2018-07``."""
        return f"compose-{self.tile}-{self.month}"


def plan_tasks(products: Iterable[ProductFacts], tiles: Sequence[str], months: Sequence[str],
               half_window_days: int) -> list[TaskSpec]:
    """Group products into (tile, month) tasks.

    Parameters
    ----------
    products : iterable of ProductFacts
        Discovered products, in any order (the plan does not depend on it).
    tiles : sequence of str
        Tiles to compose (any spelling :func:`l2a.tiles.normalize_tile` accepts); products of other tiles are left
        out.
    months : sequence of str
        Months ``YYYY-MM``.
    half_window_days : int
        Half-width of the synthesis window, days (:attr:`l3a.params.CompositeParams.half_window_days`).

    Returns
    -------
    list of TaskSpec
        One per (tile, month), sorted by month then tile (the months of an archive come out in order).
    """
    wanted = sorted({normalize_tile(t) for t in tiles})
    by_tile: dict[str, list[ProductFacts]] = {t: [] for t in wanted}
    for p in products:
        if p.tile in by_tile:
            by_tile[p.tile].append(p)
    tasks = []
    for month in sorted(set(months)):
        central = month_central_date(month)
        for tile in wanted:
            inside = sorted((p for p in by_tile[tile]
                             if abs(date_offset_days(p.datetime, central)) <= half_window_days), key=lambda p: p.path)
            tasks.append(TaskSpec(tile, month, central, tuple(p.path for p in inside),
                                  tuple(sorted({p.platform for p in inside}))))
    return tasks


def select_tiles(discovery: Discovery, tiles: Sequence[str] | None = None,
                 area: str | os.PathLike | None = None) -> tuple[str, ...]:
    """The tiles of a batch: those named, those of the discovered products whose footprint intersects an area of
    interest, or (neither given) every discovered tile.

    Parameters
    ----------
    discovery : Discovery
        The products found.
    tiles : sequence of str, optional
        Tile codes (any spelling :func:`l2a.tiles.normalize_tile` accepts); a tile without products is kept (its
        tasks are "no-data") and logged.
    area : path-like, optional
        GeoJSON file of the area of interest (:func:`l3a.batch.area.read_area`).

    Returns
    -------
    tuple of str
        Sorted tile codes.

    Raises
    ------
    InvalidParameterError
        If both ``tiles`` and ``area`` are given, or ``tiles`` is empty.
    AreaOfInterestError
        If the area is unreadable or intersects none of the discovered tiles.
    """
    if tiles is not None and area is not None:
        raise InvalidParameterError("give tiles or an area of interest, not both")
    if tiles is not None:
        chosen = tuple(sorted({normalize_tile(t) for t in tiles if str(t).strip()}))
        if not chosen:
            raise InvalidParameterError("tiles: no tile given")
        for tile in sorted(set(chosen) - set(discovery.tiles)):
            logger.warning("no product of tile %s was found: its tasks have no data", tile)
        return chosen
    if area is not None:
        from .area import read_area, tiles_in_area

        grids = {p.tile: (p.crs, p.bounds) for p in discovery.products if p.crs is not None}
        return tiles_in_area(read_area(area), discovery.tiles, grids, source=area)
    return discovery.tiles
