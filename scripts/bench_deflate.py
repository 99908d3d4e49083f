#!/usr/bin/env python
"""DEFLATE levels side by side on the rasters of an L3A product: bytes and CPU seconds of each level, per raster kind.

Prints ONE JSON line. Every raster of the product (FRC bands, WGT, DTS, FLG, NOB) is read once, then written again
through :class:`l2a.io.cog.CogWriter` (COG, DEFLATE with predictor, overviews, as ``l3a compose`` writes it) at each
``--levels`` value; the figures are summed per kind, with the ratios to the first level. CPU seconds are those of
this process (all threads), steadier than wall time on a shared machine. This is how
:data:`l3a.product.DEFAULT_DEFLATE_LEVELS` was chosen: on noisy 16-bit reflectance libdeflate's level 1 is both
smaller and about twice as fast as level 6, while the smoother masks are markedly smaller at level 6.

Usage::

    python scripts/bench_deflate.py demo-out/l3a/SENTINEL2X_20180715-000000-000_L3A_T31TCJ_C_V1-0
    python scripts/bench_deflate.py PRODUCT --levels 1,6,9 --threads 1
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("product", type=Path, help="an L3A product folder")
    ap.add_argument("--levels", default="1,6", help="comma-separated DEFLATE levels (default 1,6)")
    ap.add_argument("--threads", type=int, default=1, help="compression threads (default 1: steadiest CPU figures)")
    a = ap.parse_args()

    import rasterio

    from l2a.io.cog import CogWriter, check_deflate_level
    from l3a.product import open_l3a

    levels = [check_deflate_level(int(v)) for v in a.levels.split(",")]
    product = open_l3a(a.product)
    rasters = [("FRC", product.frc_path(b)) for b in product.bands]
    rasters += [(kind, product.mask_path(kind, res)) for res in product.grids for kind in ("WGT", "DTS", "FLG", "NOB")
                if product.has_mask(kind, res)]
    figures: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for kind, path in rasters:
            with rasterio.open(path) as ds:
                data = ds.read(1)
                profile = dict(crs=ds.crs, transform=ds.transform, nodata=ds.nodata, threads=a.threads,
                               resampling="nearest" if kind in ("DTS", "FLG", "NOB") else "average")
            for level in levels:
                out = Path(scratch) / f"{level}.tif"
                start = _cpu_s()
                with CogWriter(out, height=data.shape[0], width=data.shape[1], dtype=data.dtype,
                               deflate_level=level, **profile) as w:
                    w.write(data)
                cpu = _cpu_s() - start
                entry = figures.setdefault(kind, {}).setdefault(str(level), {"bytes": 0, "cpu_s": 0.0})
                entry["bytes"] += out.stat().st_size
                entry["cpu_s"] += cpu
    first = str(levels[0])
    result = {"bench": "deflate_levels", "product": product.name, "levels": levels, "threads": a.threads,
              "per_kind": {}}
    for kind, by_level in figures.items():
        row = {}
        for level, entry in by_level.items():
            row[level] = {"mb": round(entry["bytes"] / 1e6, 3), "cpu_s": round(entry["cpu_s"], 2),
                          "size_ratio": round(entry["bytes"] / by_level[first]["bytes"], 3),
                          "cpu_ratio": round(entry["cpu_s"] / max(by_level[first]["cpu_s"], 1e-9), 2)}
        result["per_kind"][kind] = row
    print(json.dumps(result))


if __name__ == "__main__":
    main()
