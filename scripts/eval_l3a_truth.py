"""Accuracy of `l3a compose` against the simulator's ground truth, for the default and the WASP profiles.

Simulates the tiles over the windows of the requested months (cached under ``--out``, keyed by the simulator's source
so a changed simulator is never mixed with old products), composes each month of each tile with both profiles, runs
:func:`l3a.validate_synthesis` on each synthesis and prints one JSON line:

    {"size": ..., "tiles": [...], "months": [...], "runs": {"T31TCJ 2018-07": {"default": {...}, "wasp": {...}}},
     "pooled_seams": {"2018-07": {"default": {...}, "wasp": {...}}}, "worst_default": {...},
     "targets_met_default": {...}, "seconds": {...}}

Per run: the worst slow-pixel median and 99th percentile over bands, the worst flag agreement, the cloud leaks, and
per band the swath-edge seam ratio, the same ratio on the truth, and their quotient (``excess``). ``pooled_seams``
gives the same per month over the swath edges of all tiles together (the mean step of all edge pairs over the mean
step of all inner pairs), which halves the landscape's sampling noise with the four default tiles.

Usage::

    python scripts/eval_l3a_truth.py --size 1098 --tiles T31TCJ --months 2018-07,2018-08
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from l2a.simulate import SimulationConfig, simulate  # noqa: E402
from l3a import CompositeParams, compose, validate_synthesis  # noqa: E402
from l3a.dates import month_central_date  # noqa: E402
from l3a.validate import TARGETS  # noqa: E402


def _simulator_hash() -> str:
    h = hashlib.sha256()
    # the simulator's package and the BRDF model it renders with
    for path in sorted((ROOT / "l2a" / "simulate").glob("*.py")) + [ROOT / "l2a" / "brdf.py"]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:10]


def _run_figures(result: dict) -> dict:
    worst = result["summary"]["worst"]
    seams = {b: dict(s) for r in result["resolutions"].values() for b, s in r["seams"].items()}
    return {"dates": result["dates"], "median": worst["median"], "p99": worst["p99"],
            "fast_p99": max((v["fast"]["p99"] for r in result["resolutions"].values()
                             for v in r["reflectance"].values() if v["fast"]["p99"] is not None), default=None),
            "flag_agreement": worst["flag_agreement"], "cloud_leaks": worst["cloud_leaks"],
            "seam_ratio": worst["seam_ratio"], "seam_excess": worst["seam_excess"], "seams": seams}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1098)
    ap.add_argument("--tiles", default="T31TCJ")
    ap.add_argument("--months", default="2018-07,2018-08")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench-out" / "l3a-truth")
    args = ap.parse_args(argv)

    tiles = tuple(t.strip() for t in args.tiles.split(",") if t.strip())
    centrals = [month_central_date(m) for m in args.months.split(",")]
    half = CompositeParams().half_window_days
    start = min(centrals) - dt.timedelta(days=half)
    end = max(centrals) + dt.timedelta(days=half)
    sim = args.out / f"sim-{'-'.join(tiles)}-{args.size}-s{args.seed}-{start:%Y%m%d}-{end:%Y%m%d}-{_simulator_hash()}"
    seconds = {}
    t0 = time.perf_counter()
    simulate(SimulationConfig(sim, start=start, end=end, tiles=tiles, size=args.size, seed=args.seed,
                              workers=args.workers))
    seconds["simulate_or_cached"] = round(time.perf_counter() - t0, 1)
    products = sorted(p for p in sim.iterdir() if p.name.startswith("SENTINEL2"))

    runs: dict = {}
    compose_s = validate_s = 0.0
    for tile in tiles:
        for central in centrals:
            key = f"{tile} {central:%Y-%m}"
            runs[key] = {}
            for profile, params in (("default", CompositeParams()), ("wasp", CompositeParams.wasp())):
                t0 = time.perf_counter()
                path = compose(products, central, params, args.out / "l3a" / sim.name / profile, tile=tile,
                               threads=args.workers, overwrite=True)
                t1 = time.perf_counter()
                runs[key][profile] = _run_figures(validate_synthesis(path, sim))
                compose_s += t1 - t0
                validate_s += time.perf_counter() - t1
    seconds.update(compose=round(compose_s, 1), validate=round(validate_s, 1))

    # swath edges of all tiles pooled per month and band: more pairs, less of the landscape's own sampling noise
    pooled: dict = {}
    for central in centrals:
        month = f"{central:%Y-%m}"
        pooled[month] = {}
        for profile in ("default", "wasp"):
            sums: dict = {}
            for tile in tiles:
                for b, st in runs[f"{tile} {month}"][profile]["seams"].items():
                    acc = sums.setdefault(b, [0.0, 0, 0.0, 0, 0.0, 0.0])
                    acc[0] += st["edge_step"] * st["edge_pairs"]
                    acc[1] += st["edge_pairs"]
                    acc[2] += st["inner_step"] * st["inner_pairs"]
                    acc[3] += st["inner_pairs"]
                    acc[4] += st["truth_edge_step"] * st["edge_pairs"]
                    acc[5] += st["truth_inner_step"] * st["inner_pairs"]
            bands = {}
            for b, (e, ne, i, ni, te, ti) in sums.items():
                ratio, truth_ratio = (e / ne) / (i / ni), (te / ne) / (ti / ni)
                bands[b] = {"edge_pairs": ne, "ratio": round(ratio, 4), "truth_ratio": round(truth_ratio, 4),
                            "excess": round(ratio / truth_ratio, 4)}
            pooled[month][profile] = {
                "bands": bands,
                "worst_ratio": max((v["ratio"] for v in bands.values()), default=None),
                "worst_excess": max((v["excess"] for v in bands.values()), default=None)}
        for tile in tiles:  # per-run seam details are in the pooled figures; keep the lines readable
            for profile in ("default", "wasp"):
                run = runs[f"{tile} {month}"][profile]
                run["seams"] = {b: {k: st[k] for k in ("ratio", "truth_ratio", "excess", "edge_pairs")}
                                for b, st in run["seams"].items()}

    defaults = [r["default"] for r in runs.values()]
    worst = {
        "median": max(r["median"] for r in defaults), "p99": max(r["p99"] for r in defaults),
        "flag_agreement": min(r["flag_agreement"] for r in defaults),
        "cloud_leaks": sum(r["cloud_leaks"] for r in defaults),
        "seam_ratio": max((r["seam_ratio"] for r in defaults if r["seam_ratio"] is not None), default=None),
        "seam_excess": max((r["seam_excess"] for r in defaults if r["seam_excess"] is not None), default=None),
    }
    met = {"median": bool(worst["median"] <= TARGETS["median"]), "p99": bool(worst["p99"] <= TARGETS["p99"]),
           "flag_agreement": bool(worst["flag_agreement"] >= TARGETS["flag_agreement"]),
           "no_cloud_leak": worst["cloud_leaks"] == 0,
           "seam_ratio": None if worst["seam_ratio"] is None else bool(worst["seam_ratio"] <= TARGETS["seam_ratio"])}
    pooled_worst = [p["default"]["worst_ratio"] for p in pooled.values() if p["default"]["worst_ratio"] is not None]
    if pooled_worst:
        met["seam_ratio_pooled"] = bool(max(pooled_worst) <= TARGETS["seam_ratio"])
    print(json.dumps({"size": args.size, "tiles": list(tiles), "months": [f"{c:%Y-%m}" for c in centrals],
                      "seed": args.seed, "simulation": sim.name, "runs": runs, "pooled_seams": pooled,
                      "worst_default": worst,
                      "targets": TARGETS, "targets_met_default": met, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
