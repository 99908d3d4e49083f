#!/usr/bin/env python
"""Benchmark of ``l3a compose --stac`` over HTTP against the same STAC items read from disk, in one run.

Prints ONE JSON line. The inputs are the L2A products of T31TCJ simulated at ``--size`` over the whole window of
``--month`` (its central date, the 15th, +- 23 days: the default profile's half-window), written once under
``--cache`` as Earth Search-like STAC items (item JSON + one uint16 COG per band, SCL and AOT, relative hrefs:
``tests/l2a/stac_fixture.py``). The loopback server of the tests (``tests/l2a/stac_server.py``: its own process,
HTTP/1.1 keep-alive, byte ranges, a request log) serves the item folder; each compose is ``l3a compose`` in a child
process, ``--stac`` given every item of the window, either as its file or as its URL, so both read the very same
COG bytes (GDAL's ``/vsicurl/`` with HTTP range requests for the URLs). A compose from disk runs first, untimed,
so that the numba kernels are compiled (cached on disk) and the files are in the page cache.

Figures (seconds are wall times, the median of ``--repeat`` runs alternating disk and HTTP; compare ratios, not
seconds, on a shared machine):

* ``local_s`` / ``remote_s``: the compose from the item files / from the item URLs; ``remote_over_local`` their
  ratio: what the HTTP path costs on a loopback (no latency, no bandwidth limit: the server's and curl's per-request
  work, the item documents fetched with urllib, the ranges GDAL asks for); ``*_cpu_s``: CPU seconds of the compose
  processes (the server's apart);
* ``all_bands`` and ``subset`` (``--bands``, default ``B4,B8``), for the HTTP compose: ``bytes_fetched`` (body bytes
  of the asset answers, from the server's log), ``fetched_over_assets`` = that / ``asset_bytes``, the total size of
  every raster asset of the items composed (what downloading the items whole would cost; 1.0 means every byte once:
  small COGs are read whole), ``requests`` (every HTTP request of the compose: item documents, ``HEAD`` and ranged
  ``GET`` of the assets; ``requests_by_kind`` splits them) and ``remote_s``. A band subset still opens every band
  asset of an item (its header: GDAL's first 16 KB read, and a ``HEAD``) since the items are opened before the
  bands are chosen;
* ``latency``: the HTTP compose again with every answer delayed by ``--latency-ms`` by the server (a fault rule on
  every path), a stand-in for the round trip to a remote object store: ``remote_s`` and its ratio to the loopback
  ``remote_s``; ``--latency-ms 0`` skips it. Requests made one after the other (an item's assets are opened in
  turn) each pay it;
* ``identical``: the HTTP compose wrote rasters byte-identical to the compose from disk;
* ``theia_items``: the same for the toolkit's own items (``<ID>_STAC.json`` of each simulated Theia product: FRE
  bands, CLM/MG2/EDG/SAT masks, ATB, MTD_ALL.xml) from their files and their URLs, ``fetched_over_assets`` over
  every raster of the products, and ``identical_to_folders``: both wrote the rasters of the compose of the folders.

Usage::

    python scripts/bench_stac.py                      # 366 pixels, July 2018, 3 repeats
    python scripts/bench_stac.py --size 1098 --repeat 1 --latency-ms 50
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "l2a"))
TILE = "T31TCJ"
HALF_WINDOW = 23  # days: the default profile's (l3a.params.PROFILES["default"].half_window_days)
_LOOPBACK = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def _central(month: str) -> dt.date:
    from l3a.dates import month_central_date

    return month_central_date(month)


def _items(cache: Path, size: int, month: str) -> tuple[list[Path], list[Path]]:
    """Item files of the products of the month's window, simulated and written once (cached): Earth Search-like
    items (Sen2Cor COGs) under ``served/items``, and the Theia products themselves under ``served/theia`` with the
    ``<ID>_STAC.json`` the toolkit writes in each."""
    import stac_fixture

    central = _central(month)
    base = cache / f"{TILE}-{month}-{size}-v2"
    done = base / ".complete"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        sim = base / "served" / "theia"
        start, end = central - dt.timedelta(days=HALF_WINDOW), central + dt.timedelta(days=HALF_WINDOW)
        subprocess.run([sys.executable, "-m", "l2a", "-q", "simulate", "--out", str(sim), "--tiles", TILE,
                        "--start", start.isoformat(), "--end", end.isoformat(), "--size", str(size), "--seed", "7"],
                       check=True)
        shutil.rmtree(sim / "truth", ignore_errors=True)
        for product in sorted(sim.glob("SENTINEL2*")):
            stac_fixture.write_item(product, base / "served" / "items" / product.name)
        done.write_text("ok")
    return (sorted((base / "served" / "items").glob("*/*.json")),
            sorted((base / "served" / "theia").glob("*/*_STAC.json")))


def _env() -> dict:
    # the toolkit's own GDAL settings for remote reads (l2a.formats.stac.remote), not the caller's
    scrub = ("GDAL_HTTP_", "CPL_VSIL_CURL", "GDAL_DISABLE_READDIR_ON_OPEN", "VSI_CACHE", "GDAL_INGESTED_BYTES")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrub)}
    env.update(_LOOPBACK)
    return env


def _compose(sources: list[str], out: Path, month: str, threads: int | None, bands: str | None = None) -> dict:
    """One ``l3a compose`` in a child process: wall and CPU seconds, the product."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "l3a", "-q", "compose"]
    for source in sources:
        cmd += ["--stac", source]
    cmd += ["--tile", TILE, "--month", month, "--out", str(out)]
    if threads:
        cmd += ["--threads", str(threads)]
    if bands:
        cmd += ["--bands", bands]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    clock = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    wall = time.perf_counter() - clock
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"bench_stac: l3a compose failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "product": Path(proc.stdout.strip().splitlines()[-1])}


def _traffic(entries: list[dict], asset_sizes: dict[str, int]) -> dict:
    kinds: dict[str, int] = {}
    for e in entries:
        if e["path"] in asset_sizes:
            kind = "asset_HEAD" if e["method"] == "HEAD" else ("asset_GET_range" if e["range"] else "asset_GET_whole")
        else:
            kind = "document"
        kinds[kind] = kinds.get(kind, 0) + 1
    fetched = sum(e["bytes"] for e in entries if e["path"] in asset_sizes)
    return {"bytes_fetched": fetched, "fetched_over_assets": round(fetched / sum(asset_sizes.values()), 3),
            "requests": len(entries), "requests_by_kind": dict(sorted(kinds.items())),
            "statuses": sorted({e["status"] for e in entries})}


def _same_rasters(a: Path, b: Path) -> bool:
    names = sorted(p.relative_to(a).as_posix() for p in a.rglob("*.tif"))
    return bool(names) and names == sorted(p.relative_to(b).as_posix() for p in b.rglob("*.tif")) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names)


def _theia_runs(server, theia_items: list[Path], work: Path, args) -> dict:
    """The toolkit's own items (Theia layout: FRE bands, CLM/MG2/EDG/SAT masks, ATB, MTD_ALL.xml): compose from the
    product folders, from the item files, and from the item URLs; bytes fetched over the products' rasters."""
    folders = [str(i.parent) for i in theia_items]
    rasters = {server.path_of(p): p.stat().st_size for i in theia_items for p in i.parent.rglob("*.tif")}
    reference = _compose_inputs(folders, work / "theia-folders", args)
    runs: dict[str, list[dict]] = {"local": [], "remote": []}
    traffic = None
    for _ in range(args.repeat):
        runs["local"].append(_compose([str(i) for i in theia_items], work / "theia-local", args.month, args.threads))
        mark = server.mark()
        runs["remote"].append(_compose([server.url_of(i) for i in theia_items], work / "theia-remote", args.month,
                                       args.threads))
        traffic = _traffic(server.requests(mark), rasters)
    median = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    return {"items": len(theia_items), "raster_bytes": sum(rasters.values()),
            "local_s": round(median["local"], 3), "remote_s": round(median["remote"], 3),
            "remote_over_local": round(median["remote"] / median["local"], 2), **traffic,
            "identical_to_folders": _same_rasters(runs["remote"][-1]["product"], reference)
            and _same_rasters(runs["local"][-1]["product"], reference)}


def _compose_inputs(inputs: list[str], out: Path, args) -> Path:
    """``l3a compose`` of product folders (the reference of the items' composes), untimed."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "l3a", "-q", "compose", *inputs, "--tile", TILE, "--month", args.month,
           "--out", str(out)] + (["--threads", str(args.threads)] if args.threads else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"bench_stac: l3a compose failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    from stac_server import StacServer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=366, help="pixels per tile side at 10 m (10980 = full tile)")
    ap.add_argument("--month", default="2018-07")
    ap.add_argument("--bands", default="B4,B8", help="the band subset measured")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each compose (the median is given)")
    ap.add_argument("--threads", type=int, default=None, help="l3a compose --threads (default: all cores)")
    ap.add_argument("--latency-ms", type=float, default=20.0, help="delay of every answer in the latency run")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/syntheo-bench-stac"))
    args = ap.parse_args()
    items, theia_items = _items(args.cache, args.size, args.month)
    served = items[0].parents[2]
    work = args.cache / "out"
    assets = list((served / "items").rglob("*.tif"))
    (work / "requests.jsonl").unlink(missing_ok=True)
    with StacServer(served, log=work / "requests.jsonl") as server:
        asset_sizes = {server.path_of(p): p.stat().st_size for p in assets}
        theia = _theia_runs(server, theia_items, work, args)
        urls = [server.url_of(i) for i in items]
        local_sources = [str(i) for i in items]
        reference = _compose(local_sources, work / "warm-up", args.month, args.threads)["product"]
        runs: dict[str, list[dict]] = {"local": [], "remote": []}
        traffic = None
        for _ in range(args.repeat):
            runs["local"].append(_compose(local_sources, work / "local", args.month, args.threads))
            mark = server.mark()
            runs["remote"].append(_compose(urls, work / "remote", args.month, args.threads))
            traffic = _traffic(server.requests(mark), asset_sizes)
        identical = _same_rasters(runs["remote"][-1]["product"], reference)
        mark = server.mark()
        subset_run = _compose(urls, work / "subset", args.month, args.threads, bands=args.bands)
        subset = {"bands": args.bands, **_traffic(server.requests(mark), asset_sizes),
                  "remote_s": round(subset_run["wall_s"], 3)}
        latency = None
        if args.latency_ms > 0:
            server.set_faults([{"path": "*", "delay": args.latency_ms / 1000}])
            slow = _compose(urls, work / "latency", args.month, args.threads)
            server.clear_faults()
            latency = {"ms": args.latency_ms, "remote_s": round(slow["wall_s"], 3)}
    median = {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu_s"] for r in v) for k, v in runs.items()}
    if latency:
        latency["over_loopback"] = round(latency["remote_s"] / median["remote"], 2)
    import rasterio

    print(json.dumps({
        "bench": "stac", "tile": TILE, "month": args.month, "size": args.size, "items": len(items),
        "assets": len(asset_sizes), "asset_bytes": sum(asset_sizes.values()), "repeat": args.repeat,
        "threads": args.threads or os.cpu_count(),
        "local_s": round(median["local"], 3), "remote_s": round(median["remote"], 3),
        "remote_over_local": round(median["remote"] / median["local"], 2),
        "local_cpu_s": round(cpu["local"], 2), "remote_cpu_s": round(cpu["remote"], 2),
        "all_bands": traffic, "subset": subset, "latency": latency, "identical": identical, "theia_items": theia,
        "gdal": rasterio.__gdal_version__,
    }))


if __name__ == "__main__":
    main()
