"""Accuracy of `l3a compose` against the simulator's ground truth, for the default and the WASP profiles.

Simulates the tiles over the windows of the requested months (cached under ``--out``, keyed by the simulator's source
and the mask quality, so that a changed simulator is never mixed with old products), composes each month of each
tile with both profiles, runs :func:`l3a.validate_synthesis` on each synthesis and prints one JSON line:

    {"size": ..., "tiles": [...], "months": [...], "mask_quality": "maja",
     "runs": {"T31TCJ 2018-07": {"default": {...}, "wasp": {...}}},
     "worst": {"default": {...}, "wasp": {...}}, "targets": {...}, "targets_met": {"default": {...}, "wasp": {...}},
     "seconds": {...}}

Per run (the figures of :mod:`l3a.validate`, worst over bands, edges and resolutions): slow-pixel median and 99th
percentile of ``|FRC - truth|``; the same for fast pixels with their count; the cloud/shadow leak rate with its
breakdown (opaque, thin, shadow) and ``wgt_match`` (1 when the recomputed weights reproduce WGT); the seam of every
swath edge in every band with its standard error; flag agreement per class; the notes (fallbacks). ``worst`` is
the worst of each figure over all runs of a profile, and ``targets_met`` compares it with :data:`l3a.validate.TARGETS`.

Usage::

    python scripts/eval_l3a_truth.py --size 1098 --tiles T31TCJ --months 2018-07,2018-08 --mask-quality maja
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from l2a.simulate import SimulationConfig, simulate  # noqa: E402
from l2a.simulate.driver import parse_window  # noqa: E402
from l2a.simulate.masks import DEFAULT_MASK_QUALITY, mask_quality  # noqa: E402
from l3a import CompositeParams, compose, validate_synthesis  # noqa: E402
from l3a.dates import month_central_date  # noqa: E402
from l3a.validate import FLAG_CLASSES, TARGETS  # noqa: E402

PROFILES = (("default", CompositeParams()), ("wasp", CompositeParams.wasp()))
#: With --both-suns: the default profile with the other sun choice as well (each date's own sun zenith, not the
#: central date's), to compare the two.
OTHER_SUN = ("default_sun_observed", dataclasses.replace(CompositeParams(), sun="observed"))


def _simulator_hash() -> str:
    h = hashlib.sha256()
    # the simulator's package and the BRDF model it renders with
    for path in sorted((ROOT / "l2a" / "simulate").glob("*.py")) + [ROOT / "l2a" / "brdf.py"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def _run_figures(result: dict) -> dict:
    """The figures of one validation: the summary's worst ones, the leak breakdown and every edge's seams."""
    resolutions = result["resolutions"]
    leaks = {res: {k: r["leaks"][k] for k in ("rate", "leak_pixels", "land_pixels", "by_kind", "max_share",
                                                "wgt_match")}
             for res, r in resolutions.items() if r["leaks"] is not None}
    seams = {f"{res} {edge}": {b: {"seam": s["seam"], "se": s["se"]} for b, s in e["bands"].items()}
             for res, r in resolutions.items() for edge, e in r["seams"].items()}
    flags = {res: {name: r["flags"]["classes"][name]["agreement"] for name in FLAG_CLASSES}
             for res, r in resolutions.items()}
    return {"dates": result["dates"], "per_date_truth": result["per_date_truth"], "notes": result["notes"],
            "worst": result["summary"]["worst"], "met": result["summary"]["met"], "leaks": leaks, "seams": seams,
            "flags": flags}


def _worst(runs: list[dict]) -> dict:
    """The worst of each figure over several runs' ``worst`` figures."""
    def pick(key, fn=max, magnitude=False):
        values = [r["worst"][key] for r in runs if r["worst"][key] is not None]
        if not values:
            return None
        return max(values, key=abs) if magnitude else fn(values)

    out = {k: pick(k) for k in ("median", "p99", "fast_median", "fast_p99", "fast_pixels", "leak_rate")}
    out["seam"] = pick("seam", magnitude=True)
    for name in FLAG_CLASSES:
        out[f"flag_{name}"] = pick(f"flag_{name}", min)
    return out


def _met(worst: dict) -> dict:
    def at_most(value, target):
        return None if value is None else bool(value <= target)

    met = {"median": at_most(worst["median"], TARGETS["median"]), "p99": at_most(worst["p99"], TARGETS["p99"]),
           "leak_rate": at_most(worst["leak_rate"], TARGETS["leak_rate"]),
           "seam": at_most(None if worst["seam"] is None else abs(worst["seam"]), TARGETS["seam"])}
    for name in FLAG_CLASSES:
        value = worst[f"flag_{name}"]
        met[f"flag_{name}"] = None if value is None else bool(value >= TARGETS["flag_agreement"])
    return met


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1098)
    ap.add_argument("--tiles", default="T31TCJ")
    ap.add_argument("--months", default="2018-07,2018-08")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mask-quality", default=None,
                    help="L2A mask errors of the simulation: perfect, maja or sen2cor (default: the simulator's)")
    ap.add_argument("--window", default=None, metavar="XOFF,YOFF,WIDTH,HEIGHT",
                    help="simulate only this window of each tile at the true 10 m pixels (as l2a simulate --window; "
                         "--size is then 10980)")
    ap.add_argument("--both-suns", action="store_true",
                    help="also compose with the default profile and sun=observed, to compare the two sun choices")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "l3a-truth")
    args = ap.parse_args(argv)
    window = parse_window(args.window)
    size = 10980 if window is not None else args.size
    profiles = PROFILES + ((OTHER_SUN,) if args.both_suns else ())

    tiles = tuple(t.strip() for t in args.tiles.split(",") if t.strip())
    centrals = [month_central_date(m) for m in args.months.split(",")]
    half = CompositeParams().half_window_days
    start = min(centrals) - dt.timedelta(days=half)
    end = max(centrals) + dt.timedelta(days=half)
    quality = mask_quality(args.mask_quality or DEFAULT_MASK_QUALITY)
    where = f"w{'_'.join(map(str, window))}" if window is not None else str(size)
    sim = args.out / (f"sim-{'-'.join(tiles)}-{where}-s{args.seed}-{start:%Y%m%d}-{end:%Y%m%d}-{quality.name}-"
                      f"{_simulator_hash()}")
    seconds = {}
    t0 = time.perf_counter()
    simulate(SimulationConfig(sim, start=start, end=end, tiles=tiles, size=size, seed=args.seed,
                              workers=args.workers, mask_quality=quality, window=window))
    seconds["simulate_or_cached"] = round(time.perf_counter() - t0, 1)
    products = sorted(p for p in sim.iterdir() if p.name.startswith("SENTINEL2"))

    runs: dict = {}
    compose_s = validate_s = 0.0
    for tile in tiles:
        for central in centrals:
            key = f"{tile} {central:%Y-%m}"
            runs[key] = {}
            for profile, params in profiles:
                t0 = time.perf_counter()
                path = compose(products, central, params, args.out / "l3a" / sim.name / profile, tile=tile,
                               threads=args.workers, overwrite=True)
                t1 = time.perf_counter()
                runs[key][profile] = _run_figures(validate_synthesis(path, sim))
                compose_s += t1 - t0
                validate_s += time.perf_counter() - t1
    seconds.update(compose=round(compose_s, 1), validate=round(validate_s, 1))

    worst = {profile: _worst([r[profile] for r in runs.values()]) for profile, _ in profiles}
    print(json.dumps({"size": size, "window": window, "tiles": list(tiles), "months": [f"{c:%Y-%m}" for c in centrals],
                      "seed": args.seed, "mask_quality": quality.name, "simulation": sim.name, "runs": runs,
                      "worst": worst, "targets": TARGETS,
                      "targets_met": {profile: _met(w) for profile, w in worst.items()}, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
