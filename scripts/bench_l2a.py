#!/usr/bin/env python
"""Benchmark of ``l2a process`` on one full-size L1C tile against its decode floor, in the same run.

Prints ONE JSON line:

* ``process_s``: :func:`l2a.process.process_source` of one L1C product (what ``l2a process`` runs: reading, masks,
  aerosols, correction, writing the Theia product), in a child process whose peak resident memory is its own
  (``peak_rss_gb``, from ``os.wait4``); numba kernels are compiled beforehand (a warm-up on a small product), as
  they are cached on disk after the first run;
* ``decode_s``: reading every band of the input once (JPEG 2000 decoding, the floor of any L1C processor), in
  another child;
* ``ratio = process_s / decode_s`` (target <= 2.5) and the CPU seconds of each.

The input is a simulated L1C tile (JPEG 2000 as ESA ships them) written once under ``--cache`` by ``l2a simulate
--level l1c --size SIZE`` (``--atmosphere analytic``: the forward model does not change the processor's work and
is faster to simulate); the first date of ``--start`` with the tile fully in one swath is used.

Usage::

    python scripts/bench_l2a.py                    # full tile, 10980 px (about 10 min the first time)
    python scripts/bench_l2a.py --size 5490        # a quarter of the pixels
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _run_child(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (its stdout's last line is JSON); add its wall time, CPU seconds and
    peak resident memory (its own, from ``os.wait4``)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status):
        raise SystemExit("child failed")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall_s=round(wall, 2), cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
                  peak_rss_gb=round(usage.ru_maxrss / 1024 ** 2, 2))
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10980)
    ap.add_argument("--start", default="2018-07-13")
    ap.add_argument("--tile", default="T31TCJ")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/syntheo-bench-l2a"))
    args = ap.parse_args(argv)

    from l2a.cli import cli
    from l2a.cli_options import run_cli

    def l1c(folder: Path, size: int) -> Path:
        """The cached simulated L1C product of ``size`` pixels, made once."""
        if not any(folder.glob("*.SAFE")):
            code = run_cli(cli, "l2a", ["-q", "simulate", "--out", str(folder), "--tiles", args.tile, "--start",
                                        args.start, "--end", args.start, "--size", str(size), "--level", "l1c",
                                        "--atmosphere", "analytic", "--workers", str(args.threads)])
            if code:
                raise SystemExit(code)
        return sorted(folder.glob("*.SAFE"))[0]

    safe = l1c(args.cache / f"l1c-{args.tile}-{args.size}", args.size)
    warm = l1c(args.cache / "warmup", 120)
    out = args.cache / "l2a"

    process = f"""
import json, time, shutil
from l2a import open_l1c
from l2a.process import ProcessParams, process_source
shutil.rmtree({str(out)!r}, ignore_errors=True)
process_source(open_l1c({str(warm)!r}), {str(out / 'warm')!r}, ProcessParams(max_cloud_pct=100), overwrite=True)
t0 = time.perf_counter()
r = process_source(open_l1c({str(safe)!r}), {str(out)!r}, ProcessParams(max_cloud_pct=100), overwrite=True,
                   threads={args.threads})
print(json.dumps({{"seconds": time.perf_counter() - t0, "status": r.status, "figures": r.figures}}))
"""
    decode = f"""
import json, time
from l2a import open_l1c
p = open_l1c({str(safe)!r})
t0 = time.perf_counter()
n = sum(p.read_dn(b).size for b in p.bands)
print(json.dumps({{"seconds": time.perf_counter() - t0, "pixels": n}}))
"""
    dec = _run_child(decode)
    proc = _run_child(process)
    line = {"bench": "l2a_process", "size": args.size, "product": safe.name, "threads": args.threads,
            "decode_s": round(dec["seconds"], 2), "decode_cpu_s": dec["cpu_s"],
            "process_s": round(proc["seconds"], 2), "process_cpu_s": proc["cpu_s"],
            "ratio": round(proc["seconds"] / dec["seconds"], 2), "target_ratio": 2.5,
            "peak_rss_gb": proc["peak_rss_gb"], "target_rss_gb": 4.0, "cloud_pct": proc["figures"].get("cloud_pct")}
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
