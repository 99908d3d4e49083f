"""Which bands a run works on: those asked for (checked in every product) or every band the products share.

The one rule behind ``l3a compose --bands`` (L2A inputs) and ``mosaic build --bands`` (L3A inputs).
"""

from __future__ import annotations

import logging
from typing import Sequence

from l2a.errors import BandNotFoundError
from l2a.sensors import L2A_BANDS, band_resolution, normalize_band

__all__ = ["select_bands"]

logger = logging.getLogger(__name__)


def select_bands(products: Sequence, requested: Sequence[str] | None, *,
                 keep_request_order: bool = False) -> tuple[str, ...]:
    """The bands to work on.

    Parameters
    ----------
    products : sequence
        Products with ``bands`` (Theia names) and ``path`` (L2A or L3A products); at least one.
    requested : sequence of str or None
        Bands asked for, in any spelling :func:`l2a.sensors.normalize_band` accepts (``B04``, ``b8a``); None or
        empty: every L2A band all the products have (those some products lack are left out, with a warning).
    keep_request_order : bool
        Return the requested bands in the order asked (repeats dropped); otherwise in L2A order.

    Returns
    -------
    tuple of str
        Theia band names.

    Raises
    ------
    BandNotFoundError
        A band asked for is not a Sentinel-2 L2A band or is missing from a product (the message names the product),
        or the products have no band in common.
    """
    if not requested:
        common = set.intersection(*(set(p.bands) for p in products))
        wanted = tuple(b for b in L2A_BANDS if b in common)
        if not wanted:
            raise BandNotFoundError("the input products have no band in common")
        dropped = sorted(set().union(*(set(p.bands) for p in products)) - common)
        if dropped:
            logger.warning("bands %s are not in every product: left out", ", ".join(dropped))
        return wanted
    wanted = tuple(dict.fromkeys(normalize_band(b) for b in requested))
    for b in wanted:
        band_resolution(b)
        for p in products:
            if b not in p.bands:
                raise BandNotFoundError(f"band {b} is not in this product (it has {', '.join(p.bands)})", p.path)
    return wanted if keep_request_order else tuple(b for b in L2A_BANDS if b in wanted)
