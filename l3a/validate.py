"""Accuracy of an L3A synthesis against the ground truth written by ``l2a simulate``.

Every figure is computed at the product's own resolutions (R1 = B2 B3 B4 B8, R2 = B5 B6 B7 B8A B11 B12); the
targets (:data:`TARGETS`) hold for each band and each resolution, and ``summary`` gives the worst of each.

* **Reflectance** (targets: median <= 0.01 and 99th percentile <= 0.03 over slow pixels, every band): over FLG = 4
  (land) pixels, ``|FRC - monthly truth|``, the monthly truth being the nadir-view reflectance of the ground on the
  central date at that day's sun zenith (:mod:`l2a.simulate.truth`). Pixels are split, per band, into *slow* ones,
  whose per-date **nadir** truth (``NADIR_R*``: view zenith 0 at each pass's own sun) varies by less than
  ``ValidationParams.slow_change_max`` over the used acquisitions, and *fast* ones (mowing, harvest, snow melt),
  reported apart (count, median, 99th percentile; no target). The split is on the nadir truth because the
  directional truth as each orbit sees it (``REFL_R*``) also varies with the viewing angle: splitting on it would
  call "fast" exactly the pixels where directional errors show, and drop them. An old truth without NADIR files
  falls back to REFL, with a note. Both images are int16 x 10000, so absolute differences are whole numbers of
  1e-4 counted in an exact histogram: median and 99th percentile are exact (nearest rank) whatever the tile size.
* **Cloud and shadow leak rate** (target <= 0.001): the fraction of land pixels whose FRC averages, with a weight
  share above ``leak_share_min`` (5 %), an observation the truth has cloudy (thin cloud included: ``cloud >= 1``)
  or shadowed. The weights are those the synthesis gave, recomputed from the L2A products' own detected masks
  (:mod:`l3a.validation_leaks`; they must reproduce the product's WGT, ``wgt_match``). The L2A products are looked
  for where IPP_ALL.xml says the synthesis read them, then in the simulation folder (the parent of ``truth/``);
  without them the rate is None, with a note.
* **Swath-edge seams** (target ``|seam| <= 0.003`` reflectance, every band and edge): at each swath edge inside the
  tile, the signed step of FRC across it (inside the swath minus outside, ``seam_strip_m`` on each side) minus the
  same step on the monthly truth, averaged along the edge, with its standard error (:mod:`l3a.validation_seams`).
* **Flags** (target: agreement >= 0.98 for each of land, snow, water and cloud): the FLG that SPEC section 4's rules
  give on the *true* classes of the used acquisitions (an observation is clear when the truth has neither cloud,
  thin cloud included, nor cloud shadow; land if any clear land observation; otherwise water or snow by the larger
  summed weight, or the latest one in the ``wasp`` profile; always cloudy -> 1; never observed -> 0), compared with
  the product's FLG pixel by pixel. Per class, ``recall`` is the fraction of the pixels expected in the class that
  the product flags so and ``precision`` the fraction of the pixels flagged so that are expected so; the class's
  ``agreement`` is the smaller of the two (None for a class neither expected nor flagged anywhere), so a class
  confused with another fails whichever way the confusion goes. The weights of the water/snow rule are computed
  from the truth with the synthesis' functions (:mod:`l3a.weights`). Pixels cloudy in every truth date are also
  reported with the FLG they got (``always_cloudy``).

Memory is bounded by ``block_rows`` rows of all used dates, plus the per-date coarse weight grids, the footprint of
each orbit (one bool per pixel and orbit), the FLG of the resolution and, for the seams, one whole band at a time.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA
from l2a.errors import InvalidParameterError, MetadataError
from l2a.sensors import band_resolution
from l2a.simulate.landscape import CLASS_LAND, CLASS_SNOW, CLASS_WATER

from .flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER
from .params import CompositeParams
from .product import L3AProduct, open_l3a
from .validation_leaks import LeakCounter, SynthesisWeights
from .validation_seams import edge_seams, swath_edges
from .validation_truth import TruthAcquisition, locate_inputs, read_truth_index, synthesis_record, truth_acquisitions
from .weights import aot_weight, cloud_weight_coarse, coarse_cloud_fraction, edge_weight_coarse, upsample_coarse

__all__ = ["ValidationParams", "validate_synthesis", "TARGETS", "FLAG_CLASSES"]

#: The figures of the synthesis issue (12, point 3): reflectance median and 99th percentile of ``|FRC - truth|`` over
#: slow land pixels in every band (reflectance units); cloud/shadow leak rate (fraction of land pixels); ``|seam|``
#: at every swath edge in every band (reflectance units); flag agreement of each class of :data:`FLAG_CLASSES`.
TARGETS = {"median": 0.01, "p99": 0.03, "leak_rate": 0.001, "seam": 0.003, "flag_agreement": 0.98}

#: Least fraction of land pixels whose recomputed weights must reproduce the product's WGT for the leak rate to be
#: scored (1.0 when the validation sees the inputs and the code that made the product).
WGT_MATCH_MIN = 0.999

#: Least number of pixels (expected or flagged) for a class's flag agreement to be scored: below it the figure is one
#: of a few pixels, noise rather than a rule broken.
FLAG_CLASS_MIN_PIXELS = 20

#: The classes whose flag agreement is measured, by name.
FLAG_CLASSES = {"land": FLG_LAND, "snow": FLG_SNOW, "water": FLG_WATER, "cloud": FLG_CLOUD}

# the simulator's true classes (0 outside the swath) -> FLG codes
_TRUTH_CLASS_TO_FLG = np.full(max(CLASS_LAND, CLASS_WATER, CLASS_SNOW) + 1, FLG_NODATA, dtype=np.uint8)
_TRUTH_CLASS_TO_FLG[[CLASS_LAND, CLASS_WATER, CLASS_SNOW]] = FLG_LAND, FLG_WATER, FLG_SNOW

# exact histogram of |difference| x 10000, clipped here
_HIST_MAX = 20000


@dataclass(frozen=True)
class ValidationParams:
    """How an L3A product is compared with the simulator's truth.

    Attributes
    ----------
    slow_change_max : float
        A pixel is *slow* in a band when the range (max - min) of its per-date nadir truth over the used acquisitions
        is below this, reflectance units (0.05).
    leak_share_min : float
        Weight share (0-1) above which a truly cloudy or shadowed observation averaged into a land pixel is a leak
        (0.05).
    seam_strip_m : float
        Width of the strip compared on each side of a swath edge, m (100; at least one pixel).
    seam_batch_m : float
        Length along an edge of the batches whose means give the seam's standard error, m (2400, the scale of the
        large cloud-weight blur).
    block_rows : int
        Rows of the 10 m-band grid read at a time (even; 512).
    """

    slow_change_max: float = 0.05
    leak_share_min: float = 0.05
    seam_strip_m: float = 100.0
    seam_batch_m: float = 2400.0
    block_rows: int = 512

    def __post_init__(self):
        if not 0.0 < self.slow_change_max <= 2.0:
            raise InvalidParameterError(f"slow_change_max: {self.slow_change_max!r} is not in (0, 2]")
        if not 0.0 <= self.leak_share_min < 1.0:
            raise InvalidParameterError(f"leak_share_min: {self.leak_share_min!r} is not in [0, 1)")
        for name in ("seam_strip_m", "seam_batch_m"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidParameterError(f"{name}: {value!r} must be a distance > 0 m")
        if self.block_rows < 2 or self.block_rows % 2:
            raise InvalidParameterError(f"block_rows: {self.block_rows!r} must be even and >= 2")


def _read(path: Path, window: Window | None, indexes=None) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(indexes, window=window)


# ------------------------------------------------------------------------------------------------ reference rules


def _cell(pixel: float, resolution: float) -> float:
    return max(1, int(round(resolution / pixel))) * pixel


def _truth_coarse_weights(acq: TruthAcquisition, res: str, pixel: float, params: CompositeParams):
    """Coarse W_cloud and (W_edge grid, cell size) or None of one truth date at one resolution, from the true
    masks (the weights of the reference water/snow rule)."""
    with rasterio.open(acq.files[f"MASKS_{res}"]) as ds:
        cls, cloud, shadow = ds.read((1, 2, 3))
    cloud_grid = cloud_weight_coarse(
        coarse_cloud_fraction((cloud > 0) | (shadow > 0), pixel, params.coarse_resolution_m), params,
        cell_size_m=_cell(pixel, params.coarse_resolution_m))
    edge_grid = edge_weight_coarse(cls == 0, pixel, params) if params.edge_weight else None
    return cloud_grid, edge_grid


def _truth_aot_weight(acq: TruthAcquisition, res: str, r0: int, r1: int, cols: int,
                      params: CompositeParams) -> np.ndarray:
    """float32 (r1 - r0, cols) W_aot of the true AOT (stored on the R2 grid; repeated 2 x 2 onto R1)."""
    path = acq.files.get("ATMO_R2")
    if path is None:
        return np.ones((r1 - r0, cols), dtype=np.float32)
    if res == "R2":
        aot = _read(path, Window(0, r0, cols, r1 - r0), 1)
    else:
        aot = _read(path, Window(0, r0 // 2, (cols + 1) // 2, (r1 + 1) // 2 - r0 // 2), 1)
        aot = np.repeat(np.repeat(aot, 2, axis=0), 2, axis=1)[r0 % 2:r0 % 2 + r1 - r0, :cols]
    return aot_weight(aot, params)


def _expected_flags(cls: np.ndarray, cloudy: np.ndarray, weight: np.ndarray, rule: str) -> np.ndarray:
    """SPEC section 4's class of each pixel from per-date true classes (dates in acquisition order).

    cls: uint8 (dates, rows, cols) FLG-coded true class (0 outside the swath); cloudy: bool, same shape;
    weight: float64, same shape (weights of the water/snow rule). Returns uint8 (rows, cols) FLG.
    """
    clear = (cls != FLG_NODATA) & ~cloudy
    observed = (cls != FLG_NODATA).any(axis=0)
    n_land = (clear & (cls == FLG_LAND)).sum(axis=0)
    is_snow = clear & (cls == FLG_SNOW)
    is_water = clear & (cls == FLG_WATER)
    n_snow, n_water = is_snow.sum(axis=0), is_water.sum(axis=0)
    idx = np.arange(cls.shape[0])[:, None, None]
    latest = np.where(is_snow | is_water, idx, -1).max(axis=0)
    latest_cls = np.take_along_axis(cls, np.maximum(latest, 0)[None], axis=0)[0].astype(np.int64)
    if rule == "latest":
        snow_water = latest_cls
    else:
        w_snow = np.where(is_snow, weight, 0.0).sum(axis=0)
        w_water = np.where(is_water, weight, 0.0).sum(axis=0)
        snow_water = np.select([w_snow > w_water, w_water > w_snow, n_snow > n_water, n_water > n_snow],
                               [FLG_SNOW, FLG_WATER, FLG_SNOW, FLG_WATER], default=latest_cls)
    return np.select([n_land > 0, n_snow + n_water > 0, observed], [FLG_LAND, snow_water, FLG_CLOUD],
                     default=FLG_NODATA).astype(np.uint8)


# ------------------------------------------------------------------------------------------------ figures


def _quantiles(hist: np.ndarray) -> dict:
    """Count, exact nearest-rank median and 99th percentile, and mean of a histogram of |difference| x 10000
    (bin k = k x 1e-4), in reflectance units; None figures for an empty histogram."""
    n = int(hist.sum())
    if n == 0:
        return {"pixels": 0, "median": None, "p99": None, "mean": None}
    cum = np.cumsum(hist)
    # nearest rank: the smallest value whose cumulative count reaches q * n
    med = int(np.searchsorted(cum, math.ceil(0.5 * n)))
    p99 = int(np.searchsorted(cum, math.ceil(0.99 * n)))
    mean = float((hist * np.arange(hist.size)).sum() / n)
    return {"pixels": n, "median": med * 1e-4, "p99": p99 * 1e-4, "mean": round(mean * 1e-4, 6)}


def _flag_agreement(confusion: np.ndarray) -> dict:
    """Flag figures from the 5 x 5 confusion matrix ``confusion[expected, flagged]`` (FLG codes 0-4).

    Returns ``pixels``, ``agreement`` (overall fraction), ``classes`` -> name -> ``expected``, ``flagged`` (pixel
    counts), ``recall``, ``precision``, ``agreement`` (the smaller of the two; None when the class is neither
    expected nor flagged), and ``disagreements`` (``"expected->flagged"`` counts).
    """
    total = int(confusion.sum())
    classes = {}
    for name, k in FLAG_CLASSES.items():
        hit, expected, flagged = int(confusion[k, k]), int(confusion[k].sum()), int(confusion[:, k].sum())
        recall = hit / expected if expected else None
        precision = hit / flagged if flagged else None
        defined = [v for v in (recall, precision) if v is not None]
        classes[name] = {"expected": expected, "flagged": flagged, "recall": recall, "precision": precision,
                         "agreement": min(defined) if defined else None}
    off = {f"{e}->{g}": int(confusion[e, g]) for e in range(5) for g in range(5) if e != g and confusion[e, g]}
    return {"pixels": total, "agreement": int(np.trace(confusion)) / total if total else None, "classes": classes,
            "disagreements": off}


def _validate_resolution(product: L3AProduct, res: str, acquisitions: Sequence[TruthAcquisition], monthly: dict,
                         params: CompositeParams, vparams: ValidationParams,
                         synthesis_weights: SynthesisWeights | None, per_date_kind: str) -> dict:
    grid = product.grids[res]
    bands = [b for b in product.bands if band_resolution(b) == res]
    pixel = abs(grid.transform.a)
    rows, cols = grid.height, grid.width
    with rasterio.open(monthly[f"REFL_{res}"]) as ds:
        truth_bands = list(ds.descriptions)
        if (ds.height, ds.width) != (rows, cols):
            raise MetadataError(f"truth {res} grid {ds.height}x{ds.width} is not the product's {rows}x{cols}",
                                monthly[f"REFL_{res}"])
    missing = [b for b in bands if b not in truth_bands]
    if missing:
        raise MetadataError(f"the monthly truth has no band {missing[0]}", monthly[f"REFL_{res}"])
    band_index = {b: truth_bands.index(b) + 1 for b in bands}

    coarse = [_truth_coarse_weights(a, res, pixel, params) for a in acquisitions]
    footprint = {o: np.zeros((rows, cols), dtype=bool) for o in sorted({a.relative_orbit for a in acquisitions})}
    slow_max = int(round(vparams.slow_change_max * 1e4))
    hist = {b: {"slow": np.zeros(_HIST_MAX + 1, np.int64), "fast": np.zeros(_HIST_MAX + 1, np.int64)}
            for b in bands}
    confusion = np.zeros((5, 5), np.int64)
    cloudy_total = 0
    cloudy_flags = np.zeros(5, np.int64)
    leaks = LeakCounter(vparams.leak_share_min) if synthesis_weights is not None else None
    flg_full = np.empty((rows, cols), dtype=np.uint8)
    step = vparams.block_rows if res == "R1" else vparams.block_rows // 2
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        win = Window(0, r0, cols, r1 - r0)
        flg = product.read_mask("FLG", res, win)
        flg_full[r0:r1] = flg
        masks = np.stack([_read(a.files[f"MASKS_{res}"], win, (1, 2, 3)) for a in acquisitions])
        cls = _TRUTH_CLASS_TO_FLG[np.minimum(masks[:, 0], _TRUTH_CLASS_TO_FLG.size - 1)]
        cloudy = (masks[:, 1] > 0) | (masks[:, 2] > 0)
        for a, c in zip(acquisitions, cls):
            footprint[a.relative_orbit][r0:r1] |= c != FLG_NODATA

        # flags against the reference rules on the true classes
        weight = np.empty(cls.shape, dtype=np.float64)
        for k, (a, (cloud_grid, edge)) in enumerate(zip(acquisitions, coarse)):
            w = upsample_coarse(cloud_grid, _cell(pixel, params.coarse_resolution_m), pixel, rows=(r0, r1),
                                cols=(0, cols)).astype(np.float64) * a.date_weight
            if edge is not None:
                w *= upsample_coarse(edge[0], edge[1], pixel, rows=(r0, r1), cols=(0, cols))
            w *= _truth_aot_weight(a, res, r0, r1, cols, params)
            weight[k] = w
        expected = _expected_flags(cls, cloudy, weight, params.snow_water_rule)
        confusion += np.bincount((expected.astype(np.int64) * 5 + flg).ravel(), minlength=25)[:25].reshape(5, 5)
        always_cloudy = (cls != FLG_NODATA).any(axis=0) & ~((cls != FLG_NODATA) & ~cloudy).any(axis=0)
        cloudy_total += int(always_cloudy.sum())
        cloudy_flags += np.bincount(flg[always_cloudy], minlength=5)[:5]

        # leaks, with the weights the synthesis gave
        if leaks is not None:
            w_used, class_used = synthesis_weights.block(res, win)
            leaks.add(w_used, class_used, synthesis_weights.position, masks[:, 1], masks[:, 2], flg,
                      product.read_mask("WGT", res, win))

        # reflectance, split slow / fast on the per-date (nadir) truth
        land = flg == FLG_LAND
        truth_month = _read(monthly[f"REFL_{res}"], win)
        indexes = [band_index[b] for b in bands]
        hi = np.full((len(bands), r1 - r0, cols), -32768, np.int32)  # range of the per-date truth, date by date
        lo = np.full((len(bands), r1 - r0, cols), 32767, np.int32)
        for a in acquisitions:
            per_date = _read(a.files[f"{per_date_kind}_{res}"], win, indexes)
            seen = per_date != REFLECTANCE_NODATA
            np.maximum(hi, np.where(seen, per_date, -32768), out=hi)
            np.minimum(lo, np.where(seen, per_date, 32767), out=lo)
        for k, b in enumerate(bands):
            frc = product.read_frc(b, win).astype(np.int32)
            slow = (hi[k] >= lo[k]) & (hi[k] - lo[k] < slow_max)  # seen at least once, and changing little
            diff = np.minimum(np.abs(frc - truth_month[band_index[b] - 1].astype(np.int32)), _HIST_MAX)
            hist[b]["slow"] += np.bincount(diff[land & slow], minlength=_HIST_MAX + 1)
            hist[b]["fast"] += np.bincount(diff[land & ~slow], minlength=_HIST_MAX + 1)

    edges = swath_edges(footprint, flg_full, pixel, vparams.seam_strip_m)
    seams = edge_seams(edges, bands, product.read_frc, lambda b: _read(monthly[f"REFL_{res}"], None, band_index[b]),
                       pixel, vparams.seam_batch_m)
    return {
        "reflectance": {b: {k: _quantiles(h) for k, h in hist[b].items()} for b in bands},
        "leaks": None if leaks is None else leaks.result(),
        "flags": _flag_agreement(confusion),
        "always_cloudy": {"pixels": cloudy_total, "flg": {str(k): int(v) for k, v in enumerate(cloudy_flags) if v}},
        "seams": seams,
    }


# ------------------------------------------------------------------------------------------------ public


def validate_synthesis(l3a_path, truth_dir, params: ValidationParams = ValidationParams()) -> dict:
    """Compare an L3A product with the simulator's truth (the figures are defined in the module docstring).

    Parameters
    ----------
    l3a_path : path-like
        L3A product folder written by :func:`l3a.compose` from simulated products.
    truth_dir : path-like
        The simulation folder (holding ``truth/`` and, for the leak rate, the L2A products) or its ``truth/``.
    params : ValidationParams

    Returns
    -------
    dict
        JSON-ready: ``product``, ``tile``, ``central_date``, ``profile``, ``dates`` (used acquisitions),
        ``validation`` (the parameters), ``per_date_truth`` (``NADIR`` or ``REFL``: what the slow/fast split used),
        ``notes`` (list of str: fallbacks, figures not computed); ``resolutions`` -> ``R1``/``R2`` ->
        ``reflectance`` (band -> ``slow``/``fast`` -> pixels, median, p99, mean, reflectance units), ``leaks``
        (land_pixels, leak_pixels, rate, by_kind, max_share, wgt_match; None without the L2A products), ``flags``
        (pixels, overall agreement, ``classes`` -> land/snow/water/cloud -> expected, flagged, recall, precision,
        agreement; disagreements ``"expected->flagged"``), ``always_cloudy`` (pixels, their FLG counts), ``seams``
        (edge -> orbit, side, rows, bands -> band -> seam, se, step, truth_step); ``summary``: see
        :func:`_summary`.

    Raises
    ------
    MissingFileError
        No ``index.json`` in ``truth_dir`` (nor in its ``truth/``), or no IPP_ALL.xml in the product.
    MetadataError
        A truth index beyond :mod:`l2a.io.jsondoc`'s limits (size, nesting), not JSON, lacking a value the
        comparison needs or holding one of another JSON type, or a truth of another simulation; one line naming
        the file (and the place in the document).
    """
    truth_dir = Path(truth_dir)
    if (truth_dir / "truth" / "index.json").exists():
        truth_dir = truth_dir / "truth"
    product = open_l3a(l3a_path)
    index_path, index = read_truth_index(truth_dir)
    synthesis, used = synthesis_record(product)
    acquisitions, monthly = truth_acquisitions(truth_dir, index_path, index, product, synthesis,
                                               [u.product_id for u in used])
    notes = []
    nadir = all(f"NADIR_{res}" in a.files for a in acquisitions for res in product.grids)
    if not nadir:
        notes.append("truth without per-date NADIR files (an older simulator): slow and fast pixels are split on "
                     "the directional REFL truth, which also calls 'fast' pixels whose view angle changes")
    paths, reason = locate_inputs(used, truth_dir.parent)
    synthesis_weights = None
    if paths is None:
        notes.append(f"leak rate not computed: {reason}")
    else:
        synthesis_weights = SynthesisWeights(paths, product, synthesis, [a.product_id for a in acquisitions])
    result: dict[str, Any] = {
        "product": product.name, "tile": product.tile, "central_date": f"{product.central_date:%Y-%m-%d}",
        "profile": synthesis.profile, "dates": len(acquisitions), "validation": dataclasses.asdict(params),
        "per_date_truth": "NADIR" if nadir else "REFL", "notes": notes, "resolutions": {},
    }
    try:
        for res in ("R1", "R2"):
            if res in product.grids:
                result["resolutions"][res] = _validate_resolution(product, res, acquisitions, monthly, synthesis,
                                                                  params, synthesis_weights,
                                                                  "NADIR" if nadir else "REFL")
    finally:
        if synthesis_weights is not None:
            synthesis_weights.close()
    result["summary"] = _summary(result["resolutions"], notes)
    return result


def _summary(resolutions: dict, notes: Sequence[str] = ()) -> dict:
    """The worst of each figure over bands, edges and resolutions, the targets and which are met.

    ``worst``: ``median``, ``p99`` (slow land pixels, max over bands), ``fast_median``, ``fast_p99`` (max over
    bands), ``fast_pixels`` (the largest fast count of a band), ``leak_rate`` (max over resolutions),
    ``seam`` (the signed seam of largest magnitude) with ``seam_se`` and ``seam_at`` (``"R1 B4 R051 east"``),
    ``flag_land``, ``flag_snow``, ``flag_water``, ``flag_cloud`` (min over resolutions), ``flag_agreement`` (the
    overall fraction, min), ``always_cloudy_land`` (always-cloudy truth pixels flagged land). ``met``: per target
    figure, True/False, or None when the figure could not be computed (no swath edge, no such class, no L2A
    products); ``notes`` repeated.
    """
    refl = [v for r in resolutions.values() for v in r["reflectance"].values()]

    def worst(values, pick=max):
        values = [v for v in values if v is not None]
        return pick(values) if values else None

    notes = list(notes)
    # an edge too short for a standard error (fewer than two batches of rows: a corner clipped) is listed, not scored
    seams = [(s["seam"], s["se"], f"{res} {b} {key}") for res, r in resolutions.items()
             for key, e in r["seams"].items() for b, s in e["bands"].items() if s["seam"] is not None]
    scored = [s for s in seams if s[1] is not None]
    if len(scored) < len(seams):
        notes.append(f"{len(seams) - len(scored)} seam figure(s) of edges too short for a standard error not scored")
    seam = max(scored, key=lambda s: abs(s[0]), default=(None, None, None))
    # the leak rate stands only when the recomputed weights are those of the product
    leaks = [r["leaks"] for r in resolutions.values() if r["leaks"]]
    weights_ok = all(lk.get("wgt_match") is None or lk["wgt_match"] >= WGT_MATCH_MIN for lk in leaks)
    if not weights_ok:
        notes.append(f"leak rate not scored: the recomputed weights reproduce WGT on fewer than {WGT_MATCH_MIN:.1%} "
                     f"of land pixels (not the inputs or code that made the product?)")
    out = {
        "median": worst(v["slow"]["median"] for v in refl), "p99": worst(v["slow"]["p99"] for v in refl),
        "fast_median": worst(v["fast"]["median"] for v in refl), "fast_p99": worst(v["fast"]["p99"] for v in refl),
        "fast_pixels": worst(v["fast"]["pixels"] for v in refl),
        "leak_rate": worst(lk["rate"] for lk in leaks) if weights_ok else None,
        "seam": seam[0], "seam_se": seam[1], "seam_at": seam[2],
    }
    for name in FLAG_CLASSES:
        # a class a handful of pixels carry (e.g. 8 pixels flagged cloud where none is expected) is listed, not scored
        classes = [r["flags"]["classes"][name] for r in resolutions.values()]
        scored = [c for c in classes if max(c.get("expected", 0), c.get("flagged", 0)) >= FLAG_CLASS_MIN_PIXELS]
        if len(scored) < len(classes) and any(c["agreement"] is not None for c in classes):
            notes.append(f"{name} flags of fewer than {FLAG_CLASS_MIN_PIXELS} pixels (expected and flagged) not "
                         f"scored")
        out[f"flag_{name}"] = worst((c["agreement"] for c in scored), min)
    out["flag_agreement"] = worst((r["flags"]["agreement"] for r in resolutions.values()), min)
    out["always_cloudy_land"] = sum(r["always_cloudy"]["flg"].get(str(FLG_LAND), 0) for r in resolutions.values())

    def at_most(value, target):
        return None if value is None else bool(value <= target)

    met = {"median": at_most(out["median"], TARGETS["median"]), "p99": at_most(out["p99"], TARGETS["p99"]),
           "leak_rate": at_most(out["leak_rate"], TARGETS["leak_rate"]),
           "seam": at_most(None if out["seam"] is None else abs(out["seam"]), TARGETS["seam"])}
    for name in FLAG_CLASSES:
        value = out[f"flag_{name}"]
        met[f"flag_{name}"] = None if value is None else bool(value >= TARGETS["flag_agreement"])
    return {"worst": out, "targets": TARGETS, "met": met, "notes": notes}
