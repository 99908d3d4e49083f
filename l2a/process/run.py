"""Several L1C inputs in one call: open and check them all first, then process them in (tile, date) order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import InvalidParameterError
from .driver import ProcessResult, process_source
from .params import ProcessParams

__all__ = ["open_inputs", "process_l1c"]


def open_inputs(paths: Iterable[str | os.PathLike]) -> list:
    """Open every L1C input (SAFE folders or zips, or folders holding them), sorted by tile then date.

    Raises
    ------
    InvalidParameterError
        No input, or two inputs of the same tile and date (naming both).
    ProductFormatError, MissingFileError, ...
        An input that is not a readable L1C product (naming it), before anything is processed.
    """
    from ..detect import find_products, open_l1c

    found = find_products(list(paths), kinds=("l1c",))
    if not found:
        raise InvalidParameterError("no Level-1C product among the inputs")
    products = [open_l1c(p) for p in found]
    products.sort(key=lambda p: (p.tile, p.datetime, str(p.path)))
    seen: dict = {}
    for p in products:
        key = (p.tile, p.datetime.replace(microsecond=0))
        if key in seen:
            raise InvalidParameterError(f"{seen[key].path} and {p.path} are both {p.tile} of "
                                        f"{p.datetime:%Y-%m-%dT%H:%M:%SZ}: give one")
        seen[key] = p
    return products


def process_l1c(paths: Sequence[str | os.PathLike], out_dir: str | os.PathLike,
                params: ProcessParams = ProcessParams(), *, overwrite: bool = False, threads: int = 2,
                dem: Sequence[str | os.PathLike] | str | os.PathLike | None = None,
                on_result: Callable[[ProcessResult], None] | None = None) -> list[ProcessResult]:
    """Process L1C products into Theia L2A products in ``out_dir`` (see :func:`l2a.process.process_source`).

    Every input is opened and checked before the first is processed; products are then written one by one, each
    atomically. ``dem``: DEM files, each tile taking the one that covers most of it. ``on_result`` is called after
    each input.
    """
    products = open_inputs(paths)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    results = []
    for product in products:
        result = process_source(product, out_dir, params, overwrite=overwrite, threads=threads, dem=dem or None)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
