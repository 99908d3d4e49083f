"""Summary of an L3A product for ``l3a info``."""

from __future__ import annotations

import numpy as np
from rasterio.windows import Window

from l2a.io.xmldoc import find_text, parse_xml

from .flags import FLG_CODES
from .product import L3AProduct

__all__ = ["l3a_summary"]

_BLOCK_ROWS = 1024


def l3a_summary(product: L3AProduct) -> dict:
    """JSON-ready summary: name, tile, central date, synthesis period, bands, grids, and the percentage of each FLG
    class (from FLG R2 when present, else R1), counted by row blocks."""
    res = "R2" if product.has_mask("FLG", "R2") else "R1"
    g = product.grids[res]
    counts = np.zeros(256, np.int64)
    for row in range(0, g.height, _BLOCK_ROWS):
        flg = product.read_mask("FLG", res, Window(0, row, g.width, min(_BLOCK_ROWS, g.height - row)))
        counts += np.bincount(flg.ravel(), minlength=256)
    total = max(int(counts.sum()), 1)
    out = {
        "name": product.name, "path": str(product.path), "tile": product.tile,
        "central_date": product.central_date.isoformat(), "platform": product.platform,
        "crs": product.crs.to_string() if product.crs else None, "bands": list(product.bands),
        "grids": {r: {"shape": list(gr.shape), "resolution_m": gr.resolution} for r, gr in product.grids.items()},
        "flg_percent": {k: round(100.0 * counts[v] / total, 3) for k, v in FLG_CODES.items()},
    }
    if product.metadata_path is not None:
        root = parse_xml(product.metadata_path)
        out["period"] = [find_text(root, ".//SYNTHESIS_PERIOD_BEGIN"), find_text(root, ".//SYNTHESIS_PERIOD_END")]
        out["inputs"] = len(root.findall(".//Contributing_Product"))
    return out
