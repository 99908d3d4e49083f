"""``l2a validate``: an L2A product made from a simulated L1C, judged against the simulator's truth.

Everything is compared on the 20 m grid (R2; the truth's AOT is there):

* **surface reflectance** per band, over *clear land*: truly land, no true cloud (thin included) or shadow, and
  not flagged by the product (the pixels a user keeps); against the truth's ``REFL`` (the directional reflectance
  the pass sees, what a perfect L2A processor returns); RMSE, bias and median absolute error. A 10 m band is judged
  as 2 x 2 means where its four 10 m pixels are clear land too, by the 10 m truth and the product's 10 m masks (a
  20 m pixel clear at its centre may hold a shadowed 10 m pixel);
* **AOT** at 550 nm over the same pixels: where the product estimated it (IAB bit 1 = 0, dark pixels in its pool)
  and everywhere (interpolated included);
* **masks**: the confusion matrix of cloud-or-shadow (the union any user masks), counting as don't-care the pixels
  within one coarse cell (240 m) of a true cloud or shadow edge (clouds thinner than 0.05 are clear in the truth);
  and per class (cloud, shadow, snow, water) the recall, precision and F1 of the product's flags against the truth;
  the recall of water on lakes and on rivers apart.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import numpy as np

from .constants import REFLECTANCE_NODATA, REFLECTANCE_QUANTIFICATION
from .errors import MetadataError, MissingFileError
from .io.raster import open_raster
from .simulate.landscape import LAKE, RIVER

__all__ = ["validate_l2a", "FRINGE_M"]

#: Width of the don't-care fringe around true cloud and shadow edges (one coarse cell), m.
FRINGE_M = 240.0


def _find_acquisition(truth: Path, tile: str, when: dt.datetime, platform: str) -> dict:
    index_path = truth / "index.json"
    if not index_path.is_file():
        index_path = truth / "truth" / "index.json"
        if not index_path.is_file():
            raise MissingFileError("no truth/index.json (give the simulation folder or its truth/)", truth)
    index = json.loads(index_path.read_text())
    tiles = index.get("tiles", {})
    if tile not in tiles:
        raise MetadataError(f"the truth has no tile {tile} (tiles: {', '.join(tiles)})", index_path)
    for acq in tiles[tile]["acquisitions"]:
        t = dt.datetime.fromisoformat(acq["datetime"].replace("Z", "+00:00"))
        if abs((t - when).total_seconds()) < 1.0 and acq["platform"] == platform:
            return {"root": index_path.parent, **acq}
    raise MetadataError(f"the truth has no {platform} acquisition of {tile} at {when:%Y-%m-%dT%H:%M:%SZ}",
                        index_path)


def _read(path: Path, what: str) -> np.ndarray:
    with open_raster(path, what) as ds:
        return ds.read()


def _rates(truth: np.ndarray, flag: np.ndarray) -> dict:
    tp = int((truth & flag).sum())
    fp = int((~truth & flag).sum())
    fn = int((truth & ~flag).sum())
    tn = int((~truth & ~flag).sum())
    recall = tp / (tp + fn) if tp + fn else None
    precision = tp / (tp + fp) if tp + fp else None
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None
    return {"true_pixels": tp + fn, "flagged_pixels": tp + fp, "recall": _r(recall), "precision": _r(precision),
            "f1": _r(f1), "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}


def _r(x, n=4):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), n)


def validate_l2a(product_path: str | os.PathLike, truth: str | os.PathLike) -> dict:
    """Figures of one L2A product against the simulator's truth (see the module docstring); JSON-ready.

    Raises
    ------
    MissingFileError, MetadataError
        No truth index, or no truth for this product's tile, platform and time.
    """
    from scipy import ndimage

    from .detect import open_l2a

    with open_l2a(product_path) as product:
        acq = _find_acquisition(Path(truth), product.tile, product.datetime, product.platform)
        root = acq["root"]
        grid = product.grid("R2")
        bands = [b for b in ("B5", "B6", "B7", "B8A", "B11", "B12") if b in product.bands]
        r1_bands = [b for b in ("B2", "B3", "B4", "B8") if b in product.bands]
        masks = product.read_masks("R2")
        masks_r1 = product.read_masks("R1") if r1_bands else None
        refl = {b: product.read_band(b) for b in bands}
        aot = product.read_aot(res="R2") if product.has_aot else None
        r1 = {b: product.read_band(b) for b in r1_bands}
        iab_files = sorted(Path(product.path).glob("MASKS/*_IAB_R2.tif"))
        iab = _read(iab_files[0], "IAB")[0] if iab_files else None
        pid = product.product_id
    true_r2 = _read(root / acq["files"]["REFL_R2"], "truth REFL_R2")
    true_r1 = _read(root / acq["files"]["REFL_R1"], "truth REFL_R1")
    tmask = _read(root / acq["files"]["MASKS_R2"], "truth MASKS_R2")
    tmask_r1 = _read(root / acq["files"]["MASKS_R1"], "truth MASKS_R1") if r1_bands else None
    atmo = _read(root / acq["files"]["ATMO_R2"], "truth ATMO_R2")
    if true_r2.shape[1:] != grid.shape:
        raise MetadataError(f"truth grid {true_r2.shape[1:]} is not the product's R2 grid {grid.shape}", truth)
    cls, cloud, shadow = tmask[0], tmask[1], tmask[2]
    inside = (cls > 0) & ~masks["nodata"]
    flagged = masks["cloud"] | masks["shadow"]
    clear_land = inside & (cls == 1) & (cloud == 0) & (shadow == 0) & ~flagged & ~masks["snow"] & ~masks["water"]
    if r1_bands:
        m1 = masks_r1
        clear_r1 = ((tmask_r1[0] == 1) & (tmask_r1[1] == 0) & (tmask_r1[2] == 0) & ~m1["nodata"] & ~m1["cloud"]
                    & ~m1["shadow"] & ~m1["snow"] & ~m1["water"])
        clear_land_r1 = clear_land & (_mean2(clear_r1.astype(np.float64), *grid.shape) == 1.0)

    out: dict = {"product": pid, "truth_acquisition": Path(acq["files"]["REFL_R2"]).name[:-12],
                 "clear_land_pixels": int(clear_land.sum()), "reflectance": {}}
    truth_bands = {"R1": ["B2", "B3", "B4", "B8"], "R2": ["B5", "B6", "B7", "B8A", "B11", "B12"]}
    for b in r1_bands + bands:
        if b in r1:
            # 10 m product band vs 10 m truth, judged on the 20 m clear-land pixels (2 x 2 means of both)
            p = r1[b].astype(np.float64)
            t = true_r1[truth_bands["R1"].index(b)].astype(np.float64)
            bad = (p == REFLECTANCE_NODATA) | (t == REFLECTANCE_NODATA)
            p, t = np.where(bad, np.nan, p), np.where(bad, np.nan, t)
            rows, cols = grid.shape
            p = _mean2(p, rows, cols)
            t = _mean2(t, rows, cols)
        else:
            p = refl[b].astype(np.float64)
            t = true_r2[truth_bands["R2"].index(b)].astype(np.float64)
            p[p == REFLECTANCE_NODATA] = np.nan
            t[t == REFLECTANCE_NODATA] = np.nan
        err = (p - t)[clear_land_r1 if b in r1 else clear_land] / REFLECTANCE_QUANTIFICATION
        err = err[np.isfinite(err)]
        out["reflectance"][b] = ({"n": int(err.size), "rmse": _r(np.sqrt(np.mean(err ** 2)), 5),
                                  "bias": _r(err.mean(), 5), "median_abs": _r(np.median(np.abs(err)), 5)}
                                 if err.size else {"n": 0})
    rmses = {b: v["rmse"] for b, v in out["reflectance"].items() if v.get("rmse") is not None}
    out["worst_reflectance_rmse"] = {"band": max(rmses, key=rmses.get), "rmse": max(rmses.values())} if rmses else None

    if aot is not None:
        true_aot = atmo[0]
        ok = clear_land & np.isfinite(aot) & np.isfinite(true_aot)
        estimated = ok & ((iab & 2) == 0) if iab is not None else ok
        out["aot"] = {}
        for name, where in (("estimated", estimated), ("all", ok)):
            e = (aot - true_aot)[where].astype(np.float64)
            out["aot"][name] = ({"n": int(e.size), "rmse": _r(np.sqrt(np.mean(e ** 2))), "bias": _r(e.mean()),
                                 "true_mean": _r(float(true_aot[where].mean()))} if e.size else {"n": 0})

    # masks: cloud-or-shadow with a don't-care fringe, then per class
    r = max(1, int(round(FRINGE_M / grid.resolution)))
    true_cs = (cloud > 0) | (shadow > 0)
    structure = np.ones((3, 3), bool)
    fringe = (ndimage.binary_dilation(true_cs, structure, iterations=r)
              & ~ndimage.binary_erosion(true_cs, structure, iterations=r, border_value=1))
    judged = inside & ~fringe
    cs = _rates(true_cs[judged], flagged[judged])
    c = cs["confusion"]
    cs["overall_accuracy"] = _r((c["tp"] + c["tn"]) / max(sum(c.values()), 1))
    cs["dont_care_pixels"] = int((inside & fringe).sum())
    out["masks"] = {"cloud_or_shadow": cs,
                    "cloud": _rates((cloud > 0)[inside], masks["cloud"][inside]),
                    "shadow": _rates(((shadow > 0) & (cloud == 0))[inside], masks["shadow"][inside]),
                    "snow": _rates(((cls == 3) & ~true_cs)[inside], masks["snow"][inside]),
                    "water": _rates(((cls == 2) & ~true_cs)[inside], masks["water"][inside])}
    # lakes are wide, rivers 60-160 m: at coarse simulated pixels most river pixels are mixed with their banks
    landcover = tmask[3]
    for name, code in (("lake", LAKE), ("river", RIVER)):
        true = (cls == 2) & ~true_cs & inside & (landcover == code)
        n = int(true.sum())
        out["masks"]["water"][f"{name}_recall"] = _r(float(masks["water"][true].mean())) if n else None
        out["masks"]["water"][f"{name}_pixels"] = n
    return out


def _mean2(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """2 x 2 means of a 10 m array on the 20 m grid (NaN when any of the four is NaN)."""
    padded = np.full((2 * rows, 2 * cols), np.nan)
    padded[:a.shape[0], :a.shape[1]] = a
    return padded.reshape(rows, 2, cols, 2).mean(axis=(1, 3))
