"""Accuracy of an L3A synthesis against the ground truth written by ``l2a simulate``.

Three measures, each at the product's own resolutions (R1 = B2 B3 B4 B8, R2 = B5 B6 B7 B8A B11 B12):

* **Reflectance**: over FLG = 4 (land) pixels, ``|FRC - true nadir reflectance on the central date|`` (the simulator's
  monthly truth), split into *slow* pixels, whose true per-date reflectance of that band varies by less than
  ``ValidationParams.slow_change_max`` over the acquisitions the synthesis used, and *fast* ones (harvest, mowing,
  snow melt). Both images are int16 x 10000, so the absolute differences are whole numbers of 1e-4: they are
  counted in an exact histogram, and the median and 99th percentile are exact (nearest rank) whatever the tile size.
* **Flags**: the FLG that SPEC section 4's rules give on the *true* classes of the acquisitions the synthesis used
  (an observation is clear when the truth has neither cloud, thin cloud included, nor cloud shadow; land if any clear
  land observation; otherwise water or snow by the larger summed weight, or the latest one in the ``wasp`` profile;
  always cloudy -> 1; never observed -> 0), compared with the product's FLG pixel by pixel. The weights of the
  water/snow rule are computed from the truth with the same functions as the synthesis (:mod:`l3a.weights`). Pixels
  cloudy in every truth date are reported separately: they must be FLG 1, never 4 (no cloud leak).
* **Swath-edge seams**: each relative orbit whose footprint ends inside the tile draws a swath edge. For each band,
  the mean ``|FRC[r, c] - FRC[r, c - 1]|`` over pairs of land pixels straddling an edge is divided by the mean of the
  same step between adjacent columns ``seam_inner_m`` (1-3 km) inside either side of the edge, in the same rows.
  A ratio near 1 means the edge cannot be told from the landscape's own texture. With a few thousand pairs per tile
  the ratio carries a few percent of sampling noise from the landscape itself, so the same ratio is also computed on
  the true monthly reflectance (``truth_ratio``) and ``excess = ratio / truth_ratio`` is what the synthesis adds.

Memory is bounded by ``block_rows`` rows of all used dates, plus the per-date coarse weight grids, the footprint of
each orbit (one bool per pixel and orbit) and, for the seam measure, one whole band at a time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import rasterio
from rasterio.windows import Window

from l2a.constants import REFLECTANCE_NODATA
from l2a.errors import InvalidParameterError, MetadataError, MissingFileError
from l2a.io.jsondoc import read_json
from l2a.io.xmldoc import parse_xml
from l2a.sensors import band_resolution
from l2a.simulate.landscape import CLASS_LAND, CLASS_SNOW, CLASS_WATER

from .flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER
from .params import CompositeParams
from .product import L3AProduct, open_l3a
from .weights import (aot_weight, cloud_weight_coarse, coarse_cloud_fraction, date_offset_days, date_weight,
                      edge_weight_coarse, upsample_coarse)

__all__ = ["ValidationParams", "validate_synthesis", "TARGETS"]

#: The figures of the synthesis issue: reflectance median and 99th percentile over slow land pixels (reflectance
#: units), flag agreement (fraction of pixels), seam ratio (edge step / inner step).
TARGETS = {"median": 0.01, "p99": 0.03, "flag_agreement": 0.999, "seam_ratio": 1.1}

# the simulator's true classes (0 outside the swath) -> FLG codes
_TRUTH_CLASS_TO_FLG = np.full(max(CLASS_LAND, CLASS_WATER, CLASS_SNOW) + 1, FLG_NODATA, dtype=np.uint8)
_TRUTH_CLASS_TO_FLG[[CLASS_LAND, CLASS_WATER, CLASS_SNOW]] = FLG_LAND, FLG_WATER, FLG_SNOW


@dataclass(frozen=True)
class ValidationParams:
    """How an L3A product is compared with the simulator's truth.

    Attributes
    ----------
    slow_change_max : float
        A pixel is *slow* in a band when the range (max - min) of its true reflectance over the used acquisitions is
        below this, reflectance units (0.05).
    seam_inner_m : (float, float)
        Distances from a swath edge, m, between which adjacent-column steps make the reference of the seam ratio
        (1000-3000 m).
    block_rows : int
        Rows of the 10 m-band grid read at a time (even; 512).
    """

    slow_change_max: float = 0.05
    seam_inner_m: tuple[float, float] = (1000.0, 3000.0)
    block_rows: int = 512

    def __post_init__(self):
        if not 0.0 < self.slow_change_max <= 2.0:
            raise InvalidParameterError(f"slow_change_max: {self.slow_change_max!r} is not in (0, 2]")
        lo, hi = self.seam_inner_m
        if not 0.0 < lo < hi:
            raise InvalidParameterError(f"seam_inner_m: {self.seam_inner_m!r} must be 0 < inner < outer")
        if self.block_rows < 2 or self.block_rows % 2:
            raise InvalidParameterError(f"block_rows: {self.block_rows!r} must be even and >= 2")


# ------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class _Acquisition:
    product_id: str
    when: dt.datetime
    relative_orbit: int
    files: dict[str, Path]
    date_weight: float


def _synthesis_record(product: L3AProduct) -> tuple[CompositeParams, list[str]]:
    """Parameters and used input product ids, from the product's IPP_ALL.xml."""
    path = product.path / "DATA" / f"{product.name}_IPP_ALL.xml"
    if not path.exists():
        raise MissingFileError("IPP_ALL.xml (parameters and inputs of the synthesis) not found", path)
    root = parse_xml(path)
    values: dict[str, Any] = {}
    for el in root.iter("PARAMETER"):
        name, text = el.get("name"), (el.text or "")
        try:
            values[name] = json.loads(text)
        except ValueError:  # a plain string parameter
            values[name] = text
        except RecursionError:
            raise MetadataError(f"IPP_ALL.xml: parameter {name!r} is nested too deeply", path) from None
    used = [el.get("product_id") for el in root.iter("INPUT") if el.get("used", "True") == "True"]
    if not used or None in used:
        raise MetadataError("IPP_ALL.xml lists no used input product", path)
    return CompositeParams.from_dict(values), used


def _read_truth_index(truth_dir: Path) -> tuple[Path, dict]:
    """The simulator's ``index.json`` in ``truth_dir``, read within :mod:`l2a.io.jsondoc`'s limits (size, depth)."""
    index_path = truth_dir / "index.json"
    if not index_path.exists():
        raise MissingFileError("truth index.json not found (a folder written by `l2a simulate`, or its truth/)",
                               index_path)
    index = read_json(index_path, "truth index")
    if not isinstance(index, dict):
        raise MetadataError(f"truth index is {_json_type(index)}, expected an object", index_path)
    return index_path, index


# JSON type names for messages, by the Python type json.loads gives
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "an integer", float: "a number",
               bool: "a boolean", type(None): "null"}


def _json_type(value) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _get(obj: dict, key: str, kind: type, where: str, source: Path, default=None):
    """``obj[key]`` checked to be a JSON value of ``kind`` (``dict``, ``list``, ``str`` or ``int``); ``default`` when
    absent and a default is given. ``where`` is the place of ``obj`` in the document (``tiles.T31TCJ``; ``""`` for
    the top level).

    Raises
    ------
    MetadataError
        One line naming ``source`` and where in the document the value is missing or of another type.
    """
    if key not in obj:
        if default is not None:
            return default
        raise MetadataError(f"truth index: {where or 'the document'} has no {key!r}", source)
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        at = f"{where}.{key}" if where else key
        raise MetadataError(f"truth index: {at} is {_json_type(value)}, expected {_JSON_TYPES[kind]}", source)
    return value


def _files(entry: dict, required: Sequence[str], truth_dir: Path, where: str, source: Path) -> dict[str, Path]:
    """The ``files`` of an acquisition or a month: name -> path under ``truth_dir``, with the ``required`` names."""
    files = _get(entry, "files", dict, where, source)
    for name, value in files.items():
        if not isinstance(value, str):
            raise MetadataError(f"truth index: {where}.files.{name} is {_json_type(value)}, expected a string",
                                source)
    for name in required:
        if name not in files:
            raise MetadataError(f"truth index: {where}.files has no {name!r}", source)
    return {k: truth_dir / v for k, v in files.items()}


def _truth_acquisitions(truth_dir: Path, index_path: Path, index: dict, product: L3AProduct, params: CompositeParams,
                        used: Sequence[str]) -> tuple[list[_Acquisition], dict]:
    """The used acquisitions (in date order) and the monthly truth files of the product's tile and central date,
    from the truth index; every value read is checked for its JSON type (:class:`MetadataError` naming the file)."""
    tile = _get(index, "tiles", dict, "", index_path, default={}).get(product.tile)
    if tile is None:
        raise MetadataError(f"the truth has no tile {product.tile}", index_path)
    where = f"tiles.{product.tile}"
    if not isinstance(tile, dict):
        raise MetadataError(f"truth index: {where} is {_json_type(tile)}, expected an object", index_path)
    entries = _get(tile, "acquisitions", list, where, index_path)
    by_product = {}
    for k, a in enumerate(entries):
        if not isinstance(a, dict):
            raise MetadataError(f"truth index: {where}.acquisitions[{k}] is {_json_type(a)}, expected an object",
                                index_path)
        by_product[_get(a, "product", str, f"{where}.acquisitions[{k}]", index_path)] = (k, a)
    missing = [p for p in used if p not in by_product]
    if missing:
        raise MetadataError(f"input {missing[0]} of the synthesis is not in this truth", index_path)
    required = [f"{kind}_{res}" for res in product.grids for kind in ("MASKS", "REFL")]
    dated = []
    for pid in used:
        k, a = by_product[pid]
        at = f"{where}.acquisitions[{k}]"
        text = _get(a, "datetime", str, at, index_path)
        try:
            when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise MetadataError(f"truth index: {at}.datetime {text[:40]!r} is not an ISO date and time",
                                index_path) from None
        dated.append((text, pid, when, _get(a, "relative_orbit", int, at, index_path),
                      _files(a, required, truth_dir, at, index_path)))
    acquisitions = []
    for _, pid, when, orbit, files in sorted(dated, key=lambda d: (d[0], d[1])):
        offset = date_offset_days(when, product.central_date)
        acquisitions.append(_Acquisition(pid, when, orbit, files, date_weight(offset, params)))
    central = f"{product.central_date:%Y-%m-%d}"
    month = None
    for k, m in enumerate(_get(tile, "monthly", list, where, index_path, default=[])):
        if not isinstance(m, dict):
            raise MetadataError(f"truth index: {where}.monthly[{k}] is {_json_type(m)}, expected an object",
                                index_path)
        if _get(m, "central_date", str, f"{where}.monthly[{k}]", index_path) == central:
            month = (k, m)
            break
    if month is None:
        raise MetadataError(f"the truth has no monthly reflectance for {product.central_date}", index_path)
    k, m = month
    return acquisitions, _files(m, [f"REFL_{res}" for res in product.grids], truth_dir, f"{where}.monthly[{k}]",
                                index_path)


def _read(path: Path, window: Window, indexes=None) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(indexes, window=window)


# ------------------------------------------------------------------------------------------------ per resolution


def _coarse_weights(acq: _Acquisition, res: str, pixel: float, params: CompositeParams):
    """Coarse W_cloud and W_edge grids of one truth date at one resolution (cell sizes returned with them)."""
    with rasterio.open(acq.files[f"MASKS_{res}"]) as ds:
        cls, cloud, shadow = ds.read((1, 2, 3))
    cloud_grid = cloud_weight_coarse(
        coarse_cloud_fraction((cloud > 0) | (shadow > 0), pixel, params.coarse_resolution_m), params,
        cell_size_m=_cell(pixel, params.coarse_resolution_m))
    edge_grid = None
    if params.edge_weight:
        edge_grid = edge_weight_coarse(cls == 0, pixel, params)
    return cloud_grid, edge_grid, cls != 0


def _cell(pixel: float, resolution: float) -> float:
    return max(1, int(round(resolution / pixel))) * pixel


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


def _quantiles(hist: np.ndarray) -> dict:
    n = int(hist.sum())
    if n == 0:
        return {"pixels": 0, "median": None, "p99": None, "mean": None}
    cum = np.cumsum(hist)
    # nearest rank: the smallest value whose cumulative count reaches q * n
    med = int(np.searchsorted(cum, math.ceil(0.5 * n)))
    p99 = int(np.searchsorted(cum, math.ceil(0.99 * n)))
    mean = float((hist * np.arange(hist.size)).sum() / n)
    return {"pixels": n, "median": med * 1e-4, "p99": p99 * 1e-4, "mean": round(mean * 1e-4, 6)}


def _validate_resolution(product: L3AProduct, res: str, acquisitions: Sequence[_Acquisition], monthly: dict,
                         params: CompositeParams, vparams: ValidationParams) -> dict:
    grid = product.grids[res]
    bands = [b for b in product.bands if band_resolution(b) == res]
    pixel = abs(grid.transform.a)
    rows, cols = grid.height, grid.width
    with rasterio.open(monthly[f"REFL_{res}"]) as ds:
        truth_bands = list(ds.descriptions)
        if (ds.height, ds.width) != (rows, cols):
            raise MetadataError(f"truth {res} grid {ds.height}x{ds.width} is not the product's {rows}x{cols}",
                                monthly[f"REFL_{res}"])
    band_index = {b: truth_bands.index(b) + 1 for b in bands}

    coarse = [_coarse_weights(a, res, pixel, params) for a in acquisitions]
    orbits = sorted({a.relative_orbit for a in acquisitions})
    footprint = {o: np.zeros((rows, cols), dtype=bool) for o in orbits}
    for a, (_, _, valid) in zip(acquisitions, coarse):
        footprint[a.relative_orbit] |= valid
    coarse = [(c, e) for c, e, _ in coarse]

    slow_max = int(round(vparams.slow_change_max * 1e4))
    hist = {b: {"slow": np.zeros(20001, np.int64), "fast": np.zeros(20001, np.int64)} for b in bands}
    flag_total = flag_agree = 0
    confusion: dict[str, int] = {}
    cloudy_total = 0
    cloudy_flags = np.zeros(5, np.int64)
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
        weight = np.empty(cls.shape, dtype=np.float64)
        for k, (a, (cloud_grid, edge)) in enumerate(zip(acquisitions, coarse)):
            w = upsample_coarse(cloud_grid, _cell(pixel, params.coarse_resolution_m), pixel, rows=(r0, r1),
                                cols=(0, cols)).astype(np.float64) * a.date_weight
            if edge is not None:
                w *= upsample_coarse(edge[0], edge[1], pixel, rows=(r0, r1), cols=(0, cols))
            w *= _truth_aot_weight(a, res, r0, r1, cols, params)
            weight[k] = w
        expected = _expected_flags(cls, cloudy, weight, params.snow_water_rule)
        flag_total += expected.size
        agree = expected == flg
        flag_agree += int(agree.sum())
        bins = np.bincount((expected[~agree].astype(np.int64) * 5 + flg[~agree]).ravel(), minlength=25)
        for code in np.nonzero(bins)[0]:
            key = f"{code // 5}->{code % 5}"
            confusion[key] = confusion.get(key, 0) + int(bins[code])
        always_cloudy = (cls != FLG_NODATA).any(axis=0) & ~((cls != FLG_NODATA) & ~cloudy).any(axis=0)
        cloudy_total += int(always_cloudy.sum())
        cloudy_flags += np.bincount(flg[always_cloudy], minlength=5)[:5]

        land = flg == FLG_LAND
        truth_month = _read(monthly[f"REFL_{res}"], win)
        for b in bands:
            frc = product.read_frc(b, win).astype(np.int32)
            per_date = np.stack([_read(a.files[f"REFL_{res}"], win, band_index[b]) for a in acquisitions])
            seen = per_date != REFLECTANCE_NODATA
            hi = np.where(seen, per_date, np.int16(-32768)).max(axis=0).astype(np.int32)
            lo = np.where(seen, per_date, np.int16(32767)).min(axis=0).astype(np.int32)
            slow = seen.any(axis=0) & (hi - lo < slow_max)
            diff = np.minimum(np.abs(frc - truth_month[band_index[b] - 1].astype(np.int32)), 20000)
            hist[b]["slow"] += np.bincount(diff[land & slow], minlength=20001)
            hist[b]["fast"] += np.bincount(diff[land & ~slow], minlength=20001)

    reflectance = {b: {k: _quantiles(h) for k, h in hist[b].items()} for b in bands}
    seams = _seams(product, bands, flg_full, footprint, pixel, vparams, monthly[f"REFL_{res}"], band_index)
    return {
        "reflectance": reflectance,
        "flags": {"pixels": flag_total, "agreement": flag_agree / flag_total if flag_total else None,
                  "disagreements": dict(sorted(confusion.items()))},
        "always_cloudy": {"pixels": cloudy_total, "flg": {str(k): int(v) for k, v in enumerate(cloudy_flags) if v}},
        "seams": seams,
    }


def _truth_aot_weight(a: _Acquisition, res: str, r0: int, r1: int, cols: int, params: CompositeParams) -> np.ndarray:
    """W_aot of the true AOT (stored on the R2 grid; repeated 2 x 2 onto R1)."""
    path = a.files.get("ATMO_R2")
    if path is None:
        return np.ones((r1 - r0, cols), dtype=np.float32)
    if res == "R2":
        aot = _read(path, Window(0, r0, cols, r1 - r0), 1)
    else:
        aot = _read(path, Window(0, r0 // 2, (cols + 1) // 2, (r1 + 1) // 2 - r0 // 2), 1)
        aot = np.repeat(np.repeat(aot, 2, axis=0), 2, axis=1)[r0 % 2:r0 % 2 + r1 - r0, :cols]
    return aot_weight(aot, params)


def _seams(product: L3AProduct, bands: Sequence[str], flg: np.ndarray, footprint: dict, pixel: float,
           vparams: ValidationParams, truth_path: Path, truth_index: dict) -> dict:
    """Seam ratio per band (see the module docstring); empty when no swath edge crosses the tile.

    The same ratio computed on the true monthly reflectance (``truth_ratio``) tells how much of it is the landscape's
    own texture along the sampled pairs (a few thousand pairs: a few percent of sampling noise); ``excess`` is the
    ratio of the two.
    """
    rows, cols = flg.shape
    edges = np.zeros((rows, cols), dtype=bool)  # edges[r, c]: an edge between columns c - 1 and c
    for fp in footprint.values():
        if fp.all() or not fp.any():
            continue
        edges[:, 1:] |= fp[:, 1:] != fp[:, :-1]
    er, ec = np.nonzero(edges)
    if er.size == 0:
        return {}
    land = flg == FLG_LAND
    k_lo = max(1, int(math.ceil(vparams.seam_inner_m[0] / pixel)))
    k_hi = max(k_lo, int(math.floor(vparams.seam_inner_m[1] / pixel)))
    ks = np.concatenate([np.arange(k_lo, k_hi + 1), -np.arange(k_lo, k_hi + 1)])
    # reference pairs (r, c + k - 1 | c + k), for every edge pair and offset k, inside the tile
    ref_r = np.repeat(er, ks.size)
    ref_c = (ec[:, None] + ks[None, :]).ravel()
    inside = (ref_c >= 1) & (ref_c < cols)
    ref_r, ref_c = ref_r[inside], ref_c[inside]
    edge_ok = land[er, ec] & land[er, ec - 1]
    ref_ok = land[ref_r, ref_c] & land[ref_r, ref_c - 1] & ~edges[ref_r, ref_c]

    def steps(image):
        e = np.abs(image[er, ec] - image[er, ec - 1])[edge_ok]
        r = np.abs(image[ref_r, ref_c] - image[ref_r, ref_c - 1])[ref_ok]
        return e, r

    out = {}
    for b in bands:
        e, r = steps(product.read_frc(b).astype(np.float64))
        if e.size == 0 or r.size == 0 or r.mean() == 0:
            continue
        te, tr = steps(_read(truth_path, None, truth_index[b]).astype(np.float64))
        ratio = float(e.mean() / r.mean())
        truth_ratio = float(te.mean() / tr.mean()) if tr.mean() > 0 else None
        out[b] = {"edge_pairs": int(e.size), "edge_step": round(e.mean() * 1e-4, 6), "inner_pairs": int(r.size),
                  "inner_step": round(r.mean() * 1e-4, 6), "ratio": round(ratio, 4),
                  "truth_edge_step": round(te.mean() * 1e-4, 6), "truth_inner_step": round(tr.mean() * 1e-4, 6),
                  "truth_ratio": None if truth_ratio is None else round(truth_ratio, 4),
                  "excess": None if not truth_ratio else round(ratio / truth_ratio, 4)}
    return out


# ------------------------------------------------------------------------------------------------ public


def validate_synthesis(l3a_path, truth_dir, params: ValidationParams = ValidationParams()) -> dict:
    """Compare an L3A product with the simulator's truth (see the module docstring).

    Parameters
    ----------
    l3a_path : path-like
        L3A product folder written by :func:`l3a.compose` from simulated products.
    truth_dir : path-like
        The simulation folder (holding ``truth/``) or its ``truth/`` folder.
    params : ValidationParams

    Returns
    -------
    dict
        JSON-ready: ``product``, ``tile``, ``central_date``, ``dates`` (used acquisitions), ``profile``;
        ``resolutions`` -> ``R1``/``R2`` -> ``reflectance`` (band -> ``slow``/``fast`` -> pixels, median, p99, mean,
        reflectance units), ``flags`` (pixels, agreement fraction, disagreements ``"expected->got"`` counts),
        ``always_cloudy`` (pixels, their FLG counts), ``seams`` (band -> edge_pairs, edge_step, inner_step, ratio);
        ``summary``: the worst figures over bands and resolutions and whether each meets :data:`TARGETS`.

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
    index_path, index = _read_truth_index(truth_dir)
    synthesis, used = _synthesis_record(product)
    acquisitions, monthly = _truth_acquisitions(truth_dir, index_path, index, product, synthesis, used)
    result: dict[str, Any] = {
        "product": product.name, "tile": product.tile, "central_date": f"{product.central_date:%Y-%m-%d}",
        "profile": synthesis.profile, "dates": len(acquisitions), "validation": dataclasses.asdict(params),
        "resolutions": {},
    }
    for res in ("R1", "R2"):
        if res in product.grids:
            result["resolutions"][res] = _validate_resolution(product, res, acquisitions, monthly, synthesis, params)
    result["summary"] = _summary(result["resolutions"])
    return result


def _summary(resolutions: dict) -> dict:
    medians = [v["slow"]["median"] for r in resolutions.values() for v in r["reflectance"].values()
               if v["slow"]["median"] is not None]
    p99s = [v["slow"]["p99"] for r in resolutions.values() for v in r["reflectance"].values()
            if v["slow"]["p99"] is not None]
    agreements = [r["flags"]["agreement"] for r in resolutions.values() if r["flags"]["agreement"] is not None]
    ratios = [s["ratio"] for r in resolutions.values() for s in r["seams"].values()]
    excess = [s["excess"] for r in resolutions.values() for s in r["seams"].values() if s["excess"] is not None]
    leaks = sum(r["always_cloudy"]["flg"].get(str(FLG_LAND), 0) for r in resolutions.values())
    worst = {
        "median": max(medians, default=None), "p99": max(p99s, default=None),
        "flag_agreement": min(agreements, default=None), "seam_ratio": max(ratios, default=None),
        "seam_excess": max(excess, default=None), "cloud_leaks": leaks,
    }
    met = {k: (None if worst[k] is None else (worst[k] >= t if k == "flag_agreement" else worst[k] <= t))
           for k, t in TARGETS.items()}
    met["no_cloud_leak"] = leaks == 0
    return {"worst": worst, "targets": TARGETS, "met": met}
