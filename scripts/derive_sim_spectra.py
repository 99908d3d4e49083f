"""Per-cover surface reflectance spectra measured on real Sentinel-2 L2A samples, to derive the ENDMEMBERS of
:mod:`l2a.simulate.landscape`.

Why: the aerosol retrieval by dark dense vegetation (Kaufman / MODIS / Sen2Cor / MAJA) relies on the surface
relations of dense vegetation, roughly red (B4) ~ 0.5 x B12 and blue (B2) ~ 0.5 x red. Simulated scenes are only a
fair test of that retrieval if the simulator's vegetation follows them, so its endmembers should come from measured
spectra rather than from hand-typed values. This script prints those measurements; it changes nothing.

Sources (read in place from ``../shared/data/real``, see its README.md; nothing is copied):

* ``iota2_theia_V1-4_obia_2dates_2tiles``: four Theia/MAJA L2A products (T38KPD, T38KPE, 13 and 23 June 2017),
  one ``*_FRE_B*.tif`` per band (B2 B3 B4 B8 at 10 m, B5 B6 B7 B8A B11 B12 at 20 m). The 10 m bands are averaged
  2x2 onto the 20 m grid (both grids share their origin), so that B11/B12 keep their native sampling; a 20 m pixel is
  valid when its four 10 m pixels are clear in CLM/EDG/SAT.
* ``iota2_theia_V1-0_coreg_FRE_STACK``: Theia FRE stacks (Feb 2017), all bands at 10 m in the order of
  :data:`l2a.formats.theia.rasters.STACK_BANDS`. Only stacks holding every band are used (most crops here keep one
  band, which cannot be classified). No masks ship with them: the stack nodata alone is applied.
* ``openeo_gfmap_s2l2a_cubes``: netCDF L2A time series over Belgium (2022-2023, 10 m, DN without offset), read
  through GDAL's netCDF driver. Only pixels whose SCL says vegetation (4), bare soil (5) or water (6) are kept.
  Cubes without B8 (``polygons_s2_cdse``, ``bap_composited``) cannot be classified and are skipped.

Classes (per pixel, on surface reflectance; NDVI from B4 and B8):

* ``dense_veg``: NDVI > 0.75 (and SCL 4 where present): the dark dense vegetation of aerosol retrievals;
* ``moderate_veg``: 0.5 < NDVI <= 0.75 (and SCL 4 where present);
* ``bare_dry``: 0.1 <= NDVI <= 0.3 and B11 > B8 (dry soil and dry vegetation are brighter in SWIR than in NIR);
  where B11 is missing, SCL = 5 stands for that test;

and in every class blue (B2, else B1) < 0.15, to reject snow and haze that SCL labels clear (see :func:`classify`).
* ``water``: NDVI < 0 and B8 < 0.05 (and SCL 6 where present).

Printed, per class and source: the pixel count, the median reflectance of each available band, and for the
vegetation classes the medians of the per-pixel ratios B2/B4, B4/B12, B2/B12 plus the fraction of pixels with
0.3 < B4/B12 < 0.7 (the band inside which a DDV retrieval accepts a pixel's red/SWIR relation). The last line is
one JSON object with the per-class median spectra per source and pooled. The pool takes only the sources with a
full spectrum (the Theia ones), so that its bands are medians over the same pixels and form a consistent spectrum;
the Belgian cubes (four or five bands each) are there to cross-check the visible and NIR levels and B2/B4.

Usage (from the project root)::

    .venv/bin/python scripts/derive_sim_spectra.py [--data ../shared/data/real]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import NotGeoreferencedWarning

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from l2a.formats.theia.rasters import STACK_BANDS
from l2a.simulate.landscape import ALL_BANDS

# GDAL's netCDF driver does not see the CF grid of these cubes; irrelevant here (all bands share one grid).
warnings.filterwarnings("ignore", category=NotGeoreferencedWarning)

CLASSES = ("dense_veg", "moderate_veg", "bare_dry", "water")
VEG_CLASSES = ("dense_veg", "moderate_veg")
DN_SCALE = 10000.0   # L2A reflectance is stored as reflectance x 10000 in every source used here
SCL_CLEAR = (4, 5, 6)
MAX_BLUE = 0.15      # brighter blue = snow, cloud or haze left by the cloud mask (see classify)


def _read(path):
    """One band as float reflectance with NaN where the file says nodata."""
    with rasterio.open(path) as ds:
        return ds.read(1, masked=True).astype("float64").filled(np.nan) / DN_SCALE


def _block_mean(a, k=2):
    """k x k block mean, cropping the odd edge row/column that has no complete 20 m pixel."""
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def theia_v14(root):
    """Each product's bands on the 20 m grid, as (source, {band: 1-D array}) with only clear pixels."""
    for product in sorted(root.glob("T*/SENTINEL2*_L2A_*")):
        bands = {}
        for f in product.glob("*_FRE_B*.tif"):
            name = f.stem.rsplit("_", 1)[1]
            bands[name] = _read(f)
        # Any nonzero mask bit (cloud, edge, saturation) rejects the pixel; averaging a 0/1 mask keeps only blocks
        # that are clear everywhere.
        bad = np.zeros(bands["B2"].shape)
        for kind in ("CLM", "EDG", "SAT"):
            with rasterio.open(next(product.glob(f"MASKS/*_{kind}_R1.tif"))) as ds:
                bad += ds.read(1) != 0
        clear = _block_mean(bad) == 0
        # The 10 m crops may have an odd size and the 20 m ones an extra half-covered row: keep the common part.
        out = {b: _block_mean(a) if a.shape == bad.shape else a for b, a in bands.items()}
        h = min(a.shape[0] for a in out.values())
        w = min(a.shape[1] for a in out.values())
        keep = clear[:h, :w]
        tag = product.name.split("_")
        yield f"theia_V1-4 {tag[1][:8]} {tag[3]}", {b: a[:h, :w][keep] for b, a in out.items()}, None


def theia_v10_stacks(root):
    """Full 10-band FRE stacks (10 m), skipping the single-band crops."""
    for f in sorted(root.glob("T*/*/*_FRE_STACK.tif")):
        with rasterio.open(f) as ds:
            if ds.count != len(STACK_BANDS):
                print(f"# skipped {f.name}: {ds.count} band(s), not a full stack", file=sys.stderr)
                continue
            a = ds.read(masked=True).astype("float64").filled(np.nan) / DN_SCALE
        tag = f.name.split("_")
        yield f"theia_V1-0 {tag[1][:8]} {tag[3]}", {b: a[i].ravel() for i, b in enumerate(STACK_BANDS)}, None


def openeo_cubes(root):
    """netCDF cubes with B4, B8 and SCL; every date stacked, only SCL-clear pixels kept."""
    for f in sorted(root.glob("*.nc")):
        with rasterio.open(f) as ds:
            subs = ds.subdatasets
        bands = {}
        for s in subs:
            m = re.search(r"S2-L2A-(B\d\dA?|SCL)$", s)
            if not m:
                continue
            name = m.group(1) if m.group(1) == "SCL" else "B" + m.group(1)[1:].lstrip("0")
            with rasterio.open(s) as ds:
                bands[name] = ds.read(masked=True).astype("float64").filled(np.nan).ravel()
        if not {"B4", "B8", "SCL"} <= bands.keys():
            print(f"# skipped {f.name}: no B4/B8/SCL", file=sys.stderr)
            continue
        scl = bands.pop("SCL")
        keep = np.isin(scl, SCL_CLEAR)
        yield f"openeo {f.stem}", {b: a[keep] / DN_SCALE for b, a in bands.items()}, scl[keep]


def classify(b, scl):
    """Boolean mask per class, following the rules of the module docstring."""
    ndvi = (b["B8"] - b["B4"]) / (b["B8"] + b["B4"])
    ok = np.all([np.isfinite(a) for a in b.values()], axis=0)   # every band valid, so medians share pixels
    # SCL misses snow and haze on some winter dates of the Belgian cubes (whole dates labelled 5 or 6 with a flat
    # visible reflectance near 0.27): no soil, vegetation or water of these samples is that bright in the blue.
    ok &= b["B2" if "B2" in b else "B1"] < MAX_BLUE
    is_scl = (lambda code: scl == code) if scl is not None else (lambda code: True)
    dry_swir = b["B11"] > b["B8"] if "B11" in b else is_scl(5)
    return {
        "dense_veg": ok & (ndvi > 0.75) & is_scl(4),
        "moderate_veg": ok & (ndvi > 0.5) & (ndvi <= 0.75) & is_scl(4),
        "bare_dry": ok & (ndvi >= 0.1) & (ndvi <= 0.3) & dry_swir,
        "water": ok & (ndvi < 0) & (b["B8"] < 0.05) & is_scl(6),
    }


def summarise(b, sel, cls):
    """Count, median per band and (vegetation) ratio statistics of the selected pixels."""
    row = {"n": int(sel.sum())}
    if not row["n"]:
        return row
    row.update({k: float(np.median(b[k][sel])) for k in ALL_BANDS if k in b})
    if cls in VEG_CLASSES:
        # Medians of per-pixel ratios: the DDV relations hold pixel by pixel, not between medians.
        for num, den in (("B2", "B4"), ("B4", "B12"), ("B2", "B12")):
            if num in b and den in b:
                row[f"{num}/{den}"] = float(np.median(b[num][sel] / b[den][sel]))
        if cls == "dense_veg" and "B12" in b:
            r = b["B4"][sel] / b["B12"][sel]
            row["frac_0.3<B4/B12<0.7"] = float(np.mean((r > 0.3) & (r < 0.7)))
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "real")
    args = ap.parse_args()

    samples = [
        *theia_v14(args.data / "iota2_theia_V1-4_obia_2dates_2tiles"),
        *theia_v10_stacks(args.data / "iota2_theia_V1-0_coreg_FRE_STACK"),
        *openeo_cubes(args.data / "openeo_gfmap_s2l2a_cubes"),
    ]
    results = {c: {} for c in CLASSES}
    full = {c: [] for c in CLASSES}       # class -> pixels of the full-spectrum sources, pooled below
    for source, bands, scl in samples:
        for cls, sel in classify(bands, scl).items():
            results[cls][source] = summarise(bands, sel, cls)
            if set(STACK_BANDS) <= bands.keys():
                full[cls].append({b: bands[b][sel] for b in STACK_BANDS})
    for cls in CLASSES:
        pool = {b: np.concatenate([p[b] for p in full[cls]]) for b in STACK_BANDS}
        results[cls]["POOLED full-spectrum (Theia)"] = summarise(pool, np.ones(len(pool["B2"]), bool), cls)

    ratio_cols = ("B2/B4", "B4/B12", "B2/B12", "frac_0.3<B4/B12<0.7")
    head = f"{'source':<34}{'n':>7}" + "".join(f"{b:>7}" for b in ALL_BANDS)
    for cls in CLASSES:
        print(f"\n== {cls}   (median surface reflectance; '-' = band absent in the source)")
        cols = ratio_cols if cls in VEG_CLASSES else ()
        print(head + "".join(f"{c:>9}" for c in cols[:3]) + ("  frac.3-.7" if cls == "dense_veg" else ""))
        for source, r in results[cls].items():
            line = f"{source:<34}{r['n']:>7}" + "".join(
                f"{r[b]:>7.3f}" if b in r else f"{'-':>7}" for b in ALL_BANDS)
            line += "".join(f"{r[c]:>9.2f}" if c in r else f"{'-':>9}" for c in cols[:3])
            if cls == "dense_veg":
                line += f"{r[cols[3]]:>10.2f}" if cols[3] in r else f"{'-':>10}"
            print(line)

    rounded = {c: {s: {k: round(v, 4) for k, v in r.items()} for s, r in d.items()} for c, d in results.items()}
    print("\n" + json.dumps(rounded, separators=(",", ":")))


if __name__ == "__main__":
    main()
