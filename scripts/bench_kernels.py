"""Benchmark of the fused synthesis kernel (l3a.kernels.compose_block) against its numpy twin.

Prints one JSON line: Mpixel/s (output pixels per second, all dates and bands included) of the numba kernel on blocks
of ``--rows`` x ``--cols`` pixels with ``--dates`` dates of ``--bands`` bands, of the pure-numpy reference on the
first ``--ref-rows`` rows of the same block (the reference needs ~10 float64 temporaries of the block's size), and
their ratio. Synthetic inputs with a plausible class mix: 60 % land, 25 % cloud, 5 % each water, snow and nodata,
5 % of band values nodata. The first kernel call (compilation or cache load) is not timed.

    python scripts/bench_kernels.py [--dates 10] [--bands 10] [--rows 1024] [--cols 10980] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numba
import numpy as np

from l2a.constants import REFLECTANCE_NODATA
from l3a.flags import FLG_CLOUD, FLG_LAND, FLG_NODATA, FLG_SNOW, FLG_WATER
from l3a.kernels import compose_block, compose_block_ref


def make_inputs(dates: int, bands: int, rows: int, cols: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    refl = rng.integers(0, 6000, size=(dates, bands, rows, cols), dtype=np.int16)
    refl[rng.random((dates, bands, rows, cols), dtype=np.float32) < 0.05] = REFLECTANCE_NODATA
    weight = rng.random((dates, rows, cols), dtype=np.float32)
    draw = rng.random((dates, rows, cols), dtype=np.float32)
    obs_class = np.select([draw < 0.05, draw < 0.30, draw < 0.35, draw < 0.40],
                          [FLG_NODATA, FLG_CLOUD, FLG_SNOW, FLG_WATER], FLG_LAND).astype(np.uint8)
    day_number = 17700.0 + np.arange(dates, dtype=np.float64) * 5.0
    latest_rank = np.arange(dates, dtype=np.int32)
    return refl, weight, obs_class, day_number, latest_rank


def outputs(bands: int, rows: int, cols: int):
    return (np.empty((bands, rows, cols), np.int16), np.empty((rows, cols), np.int16),
            np.empty((rows, cols), np.float64), np.empty((rows, cols), np.uint8), np.empty((rows, cols), np.uint8))


def best_time(function, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", type=int, default=10)
    parser.add_argument("--bands", type=int, default=10)
    parser.add_argument("--rows", type=int, default=1024, help="rows per block (pixels)")
    parser.add_argument("--cols", type=int, default=10980, help="columns per block (pixels)")
    parser.add_argument("--ref-rows", type=int, default=64, help="rows given to the numpy reference (pixels)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (the best is kept)")
    args = parser.parse_args()

    inputs = make_inputs(args.dates, args.bands, args.rows, args.cols)
    out = outputs(args.bands, args.rows, args.cols)
    # compile or load from cache on a small slice, untimed
    small = tuple(a[..., :2, :8] if a.ndim > 1 else a for a in inputs)
    compose_block(*small, 0, 0, *outputs(args.bands, 2, 8))
    kernel_s = best_time(lambda: compose_block(*inputs, 0, 0, *out), args.repeat)

    ref_rows = min(args.ref_rows, args.rows)
    ref_inputs = tuple(np.ascontiguousarray(a[..., :ref_rows, :]) if a.ndim > 1 else a for a in inputs)
    ref_out = outputs(args.bands, ref_rows, args.cols)
    ref_s = best_time(lambda: compose_block_ref(*ref_inputs, 0, 0, *ref_out), 1)
    same = all(np.array_equal(a[..., :ref_rows, :], b, equal_nan=True) for a, b in zip(out, ref_out))

    kernel_mpx = args.rows * args.cols / kernel_s / 1e6
    ref_mpx = ref_rows * args.cols / ref_s / 1e6
    print(json.dumps({
        "benchmark": "l3a.kernels.compose_block",
        "dates": args.dates, "bands": args.bands, "block_rows": args.rows, "cols": args.cols,
        "threads": numba.get_num_threads(), "cpus": os.cpu_count(),
        "kernel_s": round(kernel_s, 4), "kernel_mpixel_s": round(kernel_mpx, 2),
        "ref_rows": ref_rows, "ref_s": round(ref_s, 4), "ref_mpixel_s": round(ref_mpx, 3),
        "speedup_vs_numpy_ref": round(kernel_mpx / ref_mpx, 1),
        "input_mb_per_s": round(sum(a.nbytes for a in inputs) / kernel_s / 1e6, 1),
        "identical_to_ref": bool(same),
    }))


if __name__ == "__main__":
    main()
