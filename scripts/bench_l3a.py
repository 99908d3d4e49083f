#!/usr/bin/env python
"""Benchmark of ``l3a compose`` against its I/O floor and against an xarray + dask masked median.

Prints ONE JSON line. Everything is measured in the same run, each part in its own subprocess (so that its peak
resident memory is its own, read with ``os.wait4``):

* ``compose_s``: :func:`l3a.compose` (what ``l3a compose`` runs) of one full tile from ``--dates`` L2A products,
  all 10 bands, in a child process (numba kernels compiled beforehand, in a warm-up child: compilation is a
  one-time cost, cached on disk);
* ``decode_s``: decoding every input band and mask (CLM, MG2, EDG, SAT, ATB at R1 and R2) once, and nothing else;
* ``encode_s``: encoding rasters of the size of the outputs with the same creation options (``--deflate-level``
  included) and thread count;
* ``io_floor_s = decode_s + encode_s``;
* ``xarray_median_s``: the masked median composite a Python user would write with xarray + dask on the same inputs
  (cloud, shadow and nodata masked, median over time per band, chunked so that it fits in memory);
* ``cpu_s``: CPU seconds of each part (all threads), steadier than wall times when the machine is shared.

Inputs are Theia L2A COGs (DEFLATE with predictor, as the toolkit writes them), made once and cached under
``--cache``: the scene simulator writes the ``--dates`` acquisitions of T31TCJ nearest the central date at
``--size`` itself (about 1 min per product at 5490, 4 at 10980 on 2 cores). ``--enlarge`` makes them instead from a
100 m simulation by nearest-neighbour enlargement plus a deterministic +-1 % texture: much faster to make, but the
replicated pixels compress unlike imagery (the composite of such inputs takes DEFLATE level 6 four times longer to
encode than level 5, against 1.2 times on simulated pixels). Free disk space is checked before anything is
written.

Usage::

    python scripts/bench_l3a.py --size 5490 --dates 10          # routine
    python scripts/bench_l3a.py --size 10980 --dates 10         # the full-size figure
    python scripts/bench_l3a.py --size 5490 --deflate-level 6   # one DEFLATE level for every raster
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2018-07"  # the synthesis month (its central date: l3a.dates.month_central_date)
BASE_SIZE = 1098


def _central() -> dt.date:
    # imported here: the measured children import only what their part needs
    from l3a.dates import month_central_date

    return month_central_date(MONTH)


def _half_window(dates: int) -> int:
    """Days either side of the central date to simulate so that ``dates`` acquisitions fall inside (two relative
    orbits: about 2 acquisitions every 5 days)."""
    return min(23, int(math.ceil(dates * 5 / 4)) + 3)


def _estimate_bytes(size: int, dates: int, inputs_cached: bool) -> int:
    """Disk still needed, bytes: the simulation unless cached (about 16 bytes per 10 m-grid pixel and product,
    products and ground truth, measured at 5490), the outputs of compose and of the encode floor (about 25 bytes
    per pixel each) and 2 GiB of margin."""
    px = size * size
    need = 2 * 25 * px + 2 * 1024**3
    if not inputs_cached:
        need += int(16 * px * math.ceil((2 * _half_window(dates) + 1) * 0.4))
    return need


def _simulate(cache: Path, size: int, dates: int) -> list[Path]:
    """The ``dates`` products of T31TCJ nearest the central date, simulated at ``size`` (cached)."""
    half = _half_window(dates)
    central = _central()
    sim = cache / f"sim-{size}-{half}"
    done = sim / ".complete"
    if not done.exists():
        shutil.rmtree(sim, ignore_errors=True)
        start = central - dt.timedelta(days=half)
        end = central + dt.timedelta(days=half)
        subprocess.run([str(ROOT / ".venv" / "bin" / "l2a"), "-q", "simulate", "--out", str(sim), "--tiles",
                        "T31TCJ", "--start", start.isoformat(), "--end", end.isoformat(), "--size", str(size),
                        "--seed", "7"], check=True)
        done.write_text("ok")
    products = sorted(p for p in sim.iterdir() if p.is_dir() and "_L2A_" in p.name)
    products.sort(key=lambda p: abs((dt.date(int(p.name[11:15]), int(p.name[15:17]), int(p.name[17:19]))
                                     - central).days))
    if len(products) < dates:
        raise SystemExit(f"the simulation holds {len(products)} products, fewer than --dates {dates}")
    return sorted(products[:dates])


def _enlarge(src: Path, out_dir: Path, factor: int, threads: int) -> Path:
    """Write ``src`` enlarged ``factor`` times (nearest neighbour + deterministic texture) with the L2A writer."""
    import numpy as np
    from rasterio.windows import Window

    from l2a import open_l2a
    from l2a.constants import REFLECTANCE_NODATA
    from l2a.formats.theia.bits import encode_clm, encode_mg2
    from l2a.formats.theia.values import AOT_NODATA, AOT_QUANTIFICATION
    from l2a.formats.theia.writer import L2AMetadata, TheiaL2AWriter
    from l2a.grid import Grid
    from l2a.sensors import band_resolution

    with open_l2a(src) as p:
        grids = {res: Grid(g.transform @ __import__("affine").Affine.scale(1 / factor), g.height * factor,
                           g.width * factor) for res, g in p.grids.items()}
        meta = L2AMetadata(platform=p.platform, tile=p.tile, datetime=p.datetime, crs=p.crs, grids=grids,
                           bands=p.bands, angles=p.angles, extra={"bench_source": p.product_id,
                                                                  "bench_factor": str(factor)})
        rng_seed = int(p.datetime.timestamp())
        with TheiaL2AWriter(out_dir, meta, threads=threads) as w:
            for res, g in p.grids.items():
                block = max(1, 1024 // factor)
                for row in range(0, g.height, block):
                    win = Window(0, row, g.width, min(block, g.height - row))
                    big = Window(0, row * factor, g.width * factor, int(win.height) * factor)
                    up = lambda a: np.repeat(np.repeat(a, factor, axis=-2), factor, axis=-1)  # noqa: E731
                    rng = np.random.default_rng([rng_seed, row, 0 if res == "R1" else 1])
                    for b in p.bands:
                        if band_resolution(b) != res:
                            continue
                        data = up(p.read_band(b, win)).astype(np.int32)
                        texture = rng.integers(-100, 101, data.shape, dtype=np.int32)
                        valid = data != REFLECTANCE_NODATA
                        data[valid] = np.clip(data[valid] + data[valid] * texture[valid] // 10000, -9999, 32767)
                        w.write_band(b, data.astype(np.int16), big)
                    m = p.read_masks(res, win)
                    w.write_mask("CLM", res, up(encode_clm(m["cloud"], m["shadow"])), big)
                    w.write_mask("MG2", res, up(encode_mg2(m["water"], m["snow"], m["cloud"], m["shadow"])), big)
                    w.write_mask("EDG", res, up(m["nodata"].astype(np.uint8)), big)
                    w.write_mask("SAT", res, up(m["saturated"].astype(np.uint8)), big)
                    if p.has_aot:
                        aot = p.read_aot(win, res)
                        atb = np.stack([np.zeros(aot.shape, np.uint8),
                                        np.where(np.isnan(aot), AOT_NODATA,
                                                 np.clip(np.rint(aot * AOT_QUANTIFICATION), 1, 255))
                                        .astype(np.uint8)])
                        w.write_atb(res, up(atb), big)
    return w.path


def make_inputs(cache: Path, size: int, dates: int, threads: int, enlarge: bool) -> list[Path]:
    if not enlarge or size % BASE_SIZE or size == BASE_SIZE:
        return _simulate(cache, size, dates)
    folder = cache / f"inputs-{size}-{dates}"
    done = folder / ".complete"
    if done.exists():
        return sorted(p for p in folder.iterdir() if p.is_dir() and "_L2A_" in p.name)
    base = _simulate(cache, BASE_SIZE, dates)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for src in base:
        _enlarge(src, folder, size // BASE_SIZE, threads)
    done.write_text("ok")
    return sorted(p for p in folder.iterdir() if p.is_dir() and "_L2A_" in p.name)


# --- the measured parts, each run in a child process ------------------------------------------------------------
def part_decode(inputs: list[str], threads: int) -> None:
    """Decode every band and mask raster of every input once (rows of 1024, files in parallel)."""
    from concurrent.futures import ThreadPoolExecutor

    import rasterio
    from rasterio.windows import Window

    files = [f for p in inputs for f in sorted(Path(p).rglob("*.tif")) if "_SRE_" not in f.name]

    def decode(path):
        with rasterio.open(path) as ds:
            for row in range(0, ds.height, 1024):
                ds.read(window=Window(0, row, ds.width, min(1024, ds.height - row)))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(decode, files))


def part_compose(inputs: list[str], threads: int, scratch: str, deflate_level: int | None) -> str:
    """Compose the synthesis of ``inputs`` into ``scratch`` as ``l3a compose`` does (default profile, all bands,
    default block size, no progress); returns the product folder."""
    from l3a.compose import compose
    from l3a.params import CompositeParams

    return str(compose(inputs, _central(), CompositeParams(), scratch, tile="T31TCJ", threads=threads,
                       deflate_level=deflate_level))


def part_encode(product: str, threads: int, scratch: str, deflate_level: int | None) -> float:
    """Re-encode every raster of the composite with the same creation options (the DEFLATE level of each raster
    kind included); returns the encoding time (the reading of the composite, block by block, is not counted)."""
    import rasterio
    from rasterio.windows import Window

    from l2a.io.cog import CogWriter
    from l3a.product import deflate_level_of

    total = 0.0
    for i, path in enumerate(sorted(Path(product).rglob("*.tif"))):
        kind = path.stem.split("_")[-2]  # FRC (..._FRC_B4) or the mask kind (..._WGT_R1)
        with rasterio.open(path) as ds:
            rows = [(Window(0, r, ds.width, min(1024, ds.height - r))) for r in range(0, ds.height, 1024)]
            blocks = [ds.read(1, window=w) for w in rows]
            profile = dict(crs=ds.crs, transform=ds.transform, height=ds.height, width=ds.width, dtype=ds.dtypes[0],
                           nodata=ds.nodata, threads=threads, deflate_level=deflate_level_of(kind, deflate_level),
                           resampling="nearest" if ds.dtypes[0] == "uint8" else "average")
        t0 = time.perf_counter()
        with CogWriter(Path(scratch) / f"{i}.tif", **profile) as w:
            for win, block in zip(rows, blocks):
                w.write(block, win)
        total += time.perf_counter() - t0
        del blocks
    return total


def part_warmup() -> None:
    """Compile (or load from numba's cache) the kernels ``l3a compose`` calls, with its argument types, so that a
    first run after an edit of the l3a/kernels/ package does not count the compilation."""
    import numpy as np

    from l2a.constants import REFLECTANCE_NODATA
    from l2a.formats.theia.values import AOT_NODATA, AOT_QUANTIFICATION
    from l3a.kernels import compose_block, day_of_year_from_day_number, prepare_date_block

    refl = np.zeros((1, 2, 2, 3), np.float32)
    weight, obs_class = np.ones((1, 2, 3), np.float32), np.full((1, 2, 3), 4, np.uint8)
    plane = np.zeros((2, 3), np.uint8)
    index, frac = np.zeros((3, 2, 2), np.intp), np.zeros((3, 2))
    col_index, col_frac = np.zeros((3, 2, 3), np.intp), np.zeros((3, 3))
    for aot in (plane, None):
        prepare_date_block(refl[0], plane, plane, plane, plane, aot, np.ones((1, 1), np.float32),
                           np.ones((1, 1), np.float32), np.ones((2, 1, 1), np.float32), np.ones(2, bool), index,
                           frac, col_index, col_frac, refl_nodata=REFLECTANCE_NODATA, apply_edge=True,
                           aot_scale=float(AOT_QUANTIFICATION), aot_nodata=float(AOT_NODATA), date_weight=1.0,
                           aot_weight_min=0.33, aot_weight_max=1.0, aot_max=0.8, snow_and_water=0,
                           cloud_bits=1, out_weight=weight[0], out_class=obs_class[0])
    out = (np.empty((2, 2, 3), np.int16), np.empty((2, 3), np.int16), np.empty((2, 3)), np.empty((2, 3), np.uint8),
           np.empty((2, 3), np.uint8))
    compose_block(refl, weight, obs_class, np.zeros(1), np.zeros(1, np.int32), 0, 0, *out)
    day_of_year_from_day_number(out[2])


def part_xarray(inputs: list[str], threads: int) -> None:
    """Masked median composite with xarray + dask, written to nothing (computed chunk by chunk)."""
    import dask
    import dask.array as da
    import numpy as np
    import xarray as xr

    from l2a import open_l2a
    from l2a.constants import REFLECTANCE_NODATA
    from l2a.sensors import L2A_BANDS, band_resolution

    products = [open_l2a(p) for p in inputs]
    chunk = 1024

    def load(p, band, row, col, h, w):
        from rasterio.windows import Window
        win = Window(col, row, w, h)
        res = band_resolution(band)
        data = p.read_band(band, win).astype(np.float32)
        m = p.read_masks(res, win)
        bad = m["cloud"] | m["shadow"] | m["nodata"] | (data == REFLECTANCE_NODATA)
        data[bad] = np.nan
        return data

    with dask.config.set(scheduler="threads", num_workers=threads):
        for band in L2A_BANDS:
            g = products[0].grid(band_resolution(band))
            layers = []
            for p in products:
                rows = []
                for row in range(0, g.height, chunk):
                    cols = []
                    for col in range(0, g.width, chunk):
                        h, w = min(chunk, g.height - row), min(chunk, g.width - col)
                        cols.append(da.from_delayed(dask.delayed(load)(p, band, row, col, h, w), (h, w),
                                                    dtype=np.float32))
                    rows.append(cols)
                layers.append(da.block(rows))
            cube = xr.DataArray(da.stack(layers), dims=("time", "y", "x"))
            median = cube.median("time", skipna=True)
            median.data.map_blocks(lambda b: np.zeros((1, 1), np.float32), dtype=np.float32,
                                   chunks=((1,) * len(median.data.chunks[0]),
                                           (1,) * len(median.data.chunks[1]))).compute()


def _warm_cache(inputs: list[str]) -> None:
    """Read every input file once, so that each timed part finds them in the page cache (the machine may reclaim
    pages not used for a while): the parts then measure decoding and computing, not the disk."""
    for p in inputs:
        for f in sorted(Path(p).rglob("*.tif")):
            with open(f, "rb") as fh:
                while fh.read(16 * 2**20):
                    pass


def _cpu_s(usage) -> float:
    """User + system CPU seconds of a finished child (all its threads)."""
    return usage.ru_utime + usage.ru_stime


def _child(args: list[str]) -> tuple[float, float, dict, float]:
    """Run this script's ``--part`` in a child; returns (seconds, peak RSS MB, child's JSON result, CPU seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"part {args[1]} failed")
    result = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {}
    return seconds, usage.ru_maxrss / 1024.0, result, _cpu_s(usage)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=5490, help="pixels per tile side at 10 m (10980 = full tile)")
    ap.add_argument("--dates", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--cache", type=Path, default=ROOT / "bench-out" / "l3a")
    ap.add_argument("--no-xarray", action="store_true", help="skip the xarray median (slowest part)")
    ap.add_argument("--enlarge", action="store_true",
                    help="make the inputs by enlarging a 100 m simulation (minutes instead of about 40 min of "
                         "simulation at 10980; its replicated pixels compress unlike imagery, DEFLATE level 6 "
                         "outputs most of all)")
    ap.add_argument("--deflate-level", type=int, choices=range(1, 13), default=None, metavar="N",
                    help="DEFLATE level of every raster of the composite and of the encode floor, 1 fastest .. 12 "
                         "smallest (default: l3a's, 1 for FRC and WGT, 6 for DTS, FLG and NOB)")
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--inputs", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--product", help=argparse.SUPPRESS)
    ap.add_argument("--scratch", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.part == "decode":
        part_decode(a.inputs, a.threads)
        return
    if a.part == "warmup":
        part_warmup()
        return
    if a.part == "compose":
        print(json.dumps({"product": part_compose(a.inputs, a.threads, a.scratch, a.deflate_level)}))
        return
    if a.part == "encode":
        print(json.dumps({"encode_s": part_encode(a.product, a.threads, a.scratch, a.deflate_level)}))
        return
    if a.part == "xarray":
        part_xarray(a.inputs, a.threads)
        return
    if a.size % 2:
        raise SystemExit("--size must be even")
    sys.path.insert(0, str(ROOT))
    from l3a.product import DEFAULT_DEFLATE_LEVELS, deflate_level_of
    a.cache.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(a.cache).free
    enlarged = a.enlarge and a.size % BASE_SIZE == 0 and a.size != BASE_SIZE
    marker = (a.cache / f"inputs-{a.size}-{a.dates}" if enlarged else
              a.cache / f"sim-{a.size}-{_half_window(a.dates)}") / ".complete"
    need = _estimate_bytes(a.size, a.dates, marker.exists())
    if free < need:
        raise SystemExit(f"not enough free disk in {a.cache}: {free / 1e9:.1f} GB free, about {need / 1e9:.1f} GB "
                         "needed")
    inputs = [str(p) for p in make_inputs(a.cache, a.size, a.dates, a.threads, a.enlarge)]
    level = [] if a.deflate_level is None else ["--deflate-level", str(a.deflate_level)]
    _child(["--part", "warmup"])
    with tempfile.TemporaryDirectory(dir=a.cache) as scratch:
        _warm_cache(inputs)
        compose_s, compose_rss, composed, compose_cpu = _child(["--part", "compose", "--threads", str(a.threads),
                                                                "--scratch", scratch, *level, "--inputs", *inputs])
        product = composed["product"]
        _warm_cache(inputs)
        decode_s, decode_rss, _, decode_cpu = _child(["--part", "decode", "--threads", str(a.threads),
                                                      "--inputs", *inputs])
        enc_dir = Path(scratch) / "encode"
        enc_dir.mkdir()
        _, encode_rss, enc, encode_cpu = _child(["--part", "encode", "--threads", str(a.threads), "--product", product,
                                                 "--scratch", str(enc_dir), *level])
        result = {
            "bench": "l3a_compose", "size": a.size, "dates": a.dates, "bands": 10, "threads": a.threads,
            "deflate_level": a.deflate_level,
            "deflate_levels": {kind: deflate_level_of(kind, a.deflate_level) for kind in DEFAULT_DEFLATE_LEVELS},
            "compose_s": round(compose_s, 2), "decode_s": round(decode_s, 2), "encode_s": round(enc["encode_s"], 2),
            "io_floor_s": round(decode_s + enc["encode_s"], 2),
            "compose_over_io_floor": round(compose_s / (decode_s + enc["encode_s"]), 3),
            "compose_over_decode": round(compose_s / decode_s, 3),
            "peak_rss_mb": {"compose": round(compose_rss), "decode": round(decode_rss),
                            "encode": round(encode_rss)},
            # CPU seconds (all threads): steadier than wall time on a shared machine; encode's includes reading
            # the composite back, which encode_s leaves out
            "cpu_s": {"compose": round(compose_cpu, 1), "decode": round(decode_cpu, 1),
                      "encode": round(encode_cpu, 1)},
        }
        if not a.no_xarray:
            _warm_cache(inputs)
            xr_s, xr_rss, _, xr_cpu = _child(["--part", "xarray", "--threads", str(a.threads),
                                              "--inputs", *inputs])
            result["xarray_median_s"] = round(xr_s, 2)
            result["xarray_over_compose"] = round(xr_s / compose_s, 2)
            result["peak_rss_mb"]["xarray_median"] = round(xr_rss)
            result["cpu_s"]["xarray_median"] = round(xr_cpu, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
