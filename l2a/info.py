"""Summary of a product for ``l2a info``: identity, grids, bands and mask percentages read from the masks."""

from __future__ import annotations

from rasterio.windows import Window

from .product import L2AProduct

__all__ = ["product_summary"]

#: Rows per read when counting mask pixels (bounds memory on full-size tiles).
_BLOCK_ROWS = 1024


def _mask_percentages(product: L2AProduct) -> dict[str, float]:
    """Cloud (cloud or shadow), snow, water and nodata percentages; cloud/snow/water relative to observed pixels
    (nodata excluded, as MAJA's CloudPercent), nodata relative to all pixels."""
    res = "R2" if "R2" in product.grids else "R1"
    grid = product.grid(res)
    counts = dict(cloud=0, snow=0, water=0, nodata=0)
    for row in range(0, grid.height, _BLOCK_ROWS):
        win = Window(0, row, grid.width, min(_BLOCK_ROWS, grid.height - row))
        m = product.read_masks(res, win)
        valid = ~m["nodata"]
        counts["nodata"] += int(m["nodata"].sum())
        counts["cloud"] += int(((m["cloud"] | m["shadow"]) & valid).sum())
        counts["snow"] += int((m["snow"] & valid).sum())
        counts["water"] += int((m["water"] & valid).sum())
    total = grid.height * grid.width
    observed = total - counts["nodata"]
    out = {"nodata_percent": round(100.0 * counts["nodata"] / total, 3)}
    for k in ("cloud", "snow", "water"):
        out[f"{k}_percent"] = round(100.0 * counts[k] / observed, 3) if observed else 0.0
    return out


def product_summary(product: L2AProduct) -> dict:
    """JSON-ready summary of an L2A product.

    Returns
    -------
    dict
        ``format``, ``product_id``, ``platform``, ``tile``, ``datetime`` (ISO 8601 UTC), ``crs``, ``bands`` (name ->
        resolution group and shape), ``grids``, ``has_aot``, angle availability, and ``cloud_percent``,
        ``snow_percent``, ``water_percent``, ``nodata_percent``.
    """
    from .sensors import band_resolution

    bands = {}
    for b in product.bands:
        res = band_resolution(b)
        bands[b] = {"res": res, "shape": list(product.grid(res).shape)}
    grids = {res: {"shape": list(g.shape), "transform": list(g.transform)[:6], "resolution_m": g.resolution}
             for res, g in sorted(product.grids.items())}
    summary = {
        "format": product.format,
        "product_id": product.product_id,
        "path": str(product.path),
        "platform": product.platform,
        "tile": product.tile,
        "datetime": product.datetime.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "crs": product.crs.to_string() if product.crs else None,
        "bands": bands,
        "grids": grids,
        "has_aot": product.has_aot,
        "angles": {"sun_grid": product.angles.sun is not None, "view_grids": sorted(product.angles.view),
                   "mean_sun": None if product.angles.mean_sun is None else
                   [round(v, 4) for v in product.angles.mean_sun]},
        "calibration_version": product.calibration_version,
    }
    summary.update(_mask_percentages(product))
    return summary
