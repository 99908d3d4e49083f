"""Peak memory of ``mosaic build`` against the output's size, single and tiled layouts, side by side in one run.

Prints one JSON line: for each output pixel size (the same four synthetic L3A tiles in two UTM zones, 3 bands), the
output's pixels, the wall time and the peak resident memory (``ru_maxrss`` of the child process) of

* ``single``: one ``mosaic.tif`` + ``flags.tif`` (GDAL's block cache bounded by ``mosaic.sources.GDAL_CACHE_BYTES``);
* ``tiled``: COG tiles of ``--grid-tile`` pixels + VRTs + STAC collection (``mosaic.national``);

and the slope of peak memory over output pixels (bytes per output pixel, least squares over the sizes): flat
memory is a slope near 0. The issue's baseline before the cache bound: 1.0 GB at 41 Mpx, 1.3 GB at 73 Mpx and
2.2 GB at 165 Mpx (~9 bytes per output pixel over a fixed 0.65 GB).

    python scripts/bench_mosaic_memory.py [--pixel 20] [--res 40,20,15] [--grid-tile 2048] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str]) -> tuple[float, int]:
    """Wall time (s) and peak RSS (bytes) of a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {err.strip()[-400:]}")
    return seconds, usage.ru_maxrss * 1024  # Linux: kilobytes


def _pixels(path: Path) -> int:
    """Pixels of a raster, read by a child process (rasterio would grow this one)."""
    code = "import sys, rasterio; d = rasterio.open(sys.argv[1]); print(d.width * d.height)"
    return int(subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True,
                              text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixel", type=float, default=20.0, help="R1 pixel of the synthetic tiles, m")
    parser.add_argument("--res", default="40,20,15", help="output pixel sizes, m")
    parser.add_argument("--grid-tile", type=int, default=2048, help="COG tile side of the tiled layout, pixels")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", default=str(ROOT / "bench-out" / "mosaic-memory"))
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    start = time.perf_counter()
    py = sys.executable
    # the country is made by a child process: a child's ru_maxrss starts from its parent's RSS at fork (Linux keeps
    # the high-water mark across fork and exec), so this process must stay small for the builds' peaks to be theirs
    make = ("import sys; from pathlib import Path; from l3a import synthetic; "
            "c = synthetic.Country(pixel_m=float(sys.argv[1]), bands=('B4', 'B3', 'B2')); "
            "print('\\n'.join(str(p) for p in synthetic.make_country(Path(sys.argv[2]), c)))")
    inputs = subprocess.run([py, "-c", make, str(args.pixel), str(work / "l3a")], check=True, capture_output=True,
                            text=True).stdout.split()
    result: dict = {"pixel_m": args.pixel, "bands": 3, "tiles": len(inputs), "workers": args.workers,
                    "grid_tile_px": args.grid_tile, "seconds_to_make": round(time.perf_counter() - start, 1)}
    common = ["--crs", "EPSG:2154", "--workers", str(args.workers)]
    _run([py, "-m", "mosaic", "-q", "build", *inputs, *common, "--res", "2000", "--out", str(work / "warm")])
    runs = {"single": [], "tiled": []}
    for res in (float(r) for r in args.res.split(",")):
        for layout in runs:
            out = work / f"{layout}-{res:g}"
            extra = ["--layout", layout] + (["--grid-tile", str(args.grid_tile)] if layout == "tiled" else [])
            seconds, peak = _run([py, "-m", "mosaic", "-q", "build", *inputs, *common, "--res", str(res),
                                  "--out", str(out), *extra])
            name = "mosaic.tif" if layout == "single" else "mosaic.vrt"
            pixels = _pixels(out / name)
            runs[layout].append({"res_m": res, "mpx": round(pixels / 1e6, 1), "seconds": round(seconds, 1),
                                 "peak_rss_gb": round(peak / 1e9, 3)})
            shutil.rmtree(out, ignore_errors=True)
    for layout, rows in runs.items():
        mpx = np.array([r["mpx"] for r in rows]) * 1e6
        peak = np.array([r["peak_rss_gb"] for r in rows]) * 1e9
        slope = float(np.polyfit(mpx, peak, 1)[0]) if len(rows) > 1 else float("nan")
        result[layout] = {"runs": rows, "bytes_per_output_pixel": round(slope, 3),
                          "peak_range_gb": [round(float(peak.min()) / 1e9, 3), round(float(peak.max()) / 1e9, 3)]}
    result["baseline_issue_14"] = {"41_mpx_gb": 1.0, "73_mpx_gb": 1.3, "165_mpx_gb": 2.2, "bytes_per_output_pixel": 9}
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
