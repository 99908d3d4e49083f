"""Benchmark of ``mosaic build`` and ``mosaic tiles`` against the GDAL chain, side by side in one run.

Prints one JSON line:

* ``seam``: seam index (boundary / interior neighbour differences, ``mosaic.seams``) of our blended mosaic and of a
  last-tile-wins mosaic of the same inputs (the GDAL chain's rule), on a country whose tiles overlap across the
  30/31 UTM zone boundary with per-tile radiometric offsets;
* ``build``: wall time of ``mosaic build`` and of ``gdalwarp`` (same tiles and bands, same grid, bilinear, last tile
  wins, COG output with overviews, ``-multi -wo NUM_THREADS=N``), and their ratio;
* ``tiles``: wall time of ``mosaic tiles`` and of ``gdal2tiles.py --xyz --processes N`` (on an 8-bit B4/B3/B2 VRT of
  the same mosaic, ``gdal_translate -scale`` = the same 0-0.2 stretch) for the same zooms, their ratio, and the
  comparison of the z/x/y tile sets (tiles fully transparent in either output set aside) and of the pixels;
* ``france_10m``: projected time of a France 10 m mosaic (549,000 km2 of data, all ten bands) and of its pyramid
  (both layers) from the measured throughputs, on this machine's workers and in core-hours (divide by the cores
  for more cores; the two stages scale with cores as long as the disks follow), beside the CESBIO reference
  ("several dozens of hours" for 10 m with the GDAL chain).

GDAL's command-line tools come from Debian (``gdal-bin``, ``python3-gdal``; ``make bench`` installs them). When they
are not on PATH the JSON says so and those parts are skipped. Commands run as subprocesses (their start-up is
timed, as a user would see it); numba's compiled kernels are cached by a warm-up call that is not timed.

    python scripts/bench_mosaic.py [--pixel 60] [--zoom 5-11] [--workers 2] [--work bench-out/mosaic] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FRANCE_KM2 = 549_000.0
FRANCE_LAT = 46.5
#: CESBIO's France mosaic with the GDAL chain at 10 m: "several dozens of hours" (taken as 24 h, the low end).
CESBIO_10M_HOURS = 24.0


def _run(cmd: list[str], env=None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return time.perf_counter() - start


def _tile_set(folder: Path, ext: str, skip: tuple[str, ...] = ()) -> dict[tuple[int, int, int], Path]:
    out = {}
    for path in folder.glob(f"*/*/*.{ext}"):
        z, x = path.parts[-3], path.parts[-2]
        if z in skip or not z.isdigit():
            continue
        out[(int(z), int(x), int(path.stem))] = path
    return out


def _transparent(path: Path) -> bool:
    from mosaic.encode import decode_tile

    return not decode_tile(path)[3].any()


def _compare_tiles(ours: Path, gdal: Path) -> dict:
    from mosaic.encode import decode_tile

    mine, theirs = _tile_set(ours, "png"), _tile_set(gdal, "png")
    only_mine = [k for k in set(mine) - set(theirs) if not _transparent(mine[k])]
    only_theirs = [k for k in set(theirs) - set(mine) if not _transparent(theirs[k])]
    diffs, opaque = [], 0
    common = sorted(set(mine) & set(theirs))
    for key in common[:: max(1, len(common) // 200)]:
        a, b = decode_tile(mine[key]), decode_tile(theirs[key])
        both = (a[3] == 255) & (b[3] == 255)
        if both.any():
            opaque += int(both.sum())
            diffs.append(np.abs(a[:3, both].astype(int) - b[:3, both].astype(int)).mean())
    return {"ours": len(mine), "gdal2tiles": len(theirs), "common": len(common),
            "non_transparent_only_ours": len(only_mine), "non_transparent_only_gdal2tiles": len(only_theirs),
            "same_set": not only_mine and not only_theirs,
            "mean_abs_rgb_difference": round(float(np.mean(diffs)), 2) if diffs else None}


def _france(build_s: float, data_px: float, pixel_m: float, tiles_s: float, n_tiles: int, zooms: tuple[int, int],
            workers: int) -> dict:
    """Projection to France at 10 m from the measured throughputs."""
    px_per_s = data_px / build_s                              # output pixels of data per second (all bands)
    france_px = FRANCE_KM2 * 1e6 / (10.0 ** 2)
    build_h = france_px / px_per_s / 3600
    # pyramid: native zoom of 10 m at France's latitude, and the deepest zoom's tiles over France's area
    ground = 40075016.686 * math.cos(math.radians(FRANCE_LAT)) / 256
    base = max(0, math.ceil(math.log2(ground / 10.0)))      # first zoom with pixels finer than 10 m (as gdal2tiles)
    tile_km2 = (ground * 256 / 2 ** base / 1000) ** 2
    france_tiles = FRANCE_KM2 / tile_km2 * 4 / 3              # all zooms: 1 + 1/4 + 1/16 ...
    tiles_h = france_tiles / (n_tiles / tiles_s) / 3600
    return {"build_mpx_per_s": round(px_per_s / 1e6, 3), "build_hours": round(build_h, 2),
            "tiles_per_s": round(n_tiles / tiles_s, 1),
            "tiles_per_s_note": "tiles of one layer, both layers written", "pyramid_base_zoom": base,
            "pyramid_tiles": int(france_tiles), "pyramid_hours": round(tiles_h, 2),
            "total_hours": round(build_h + tiles_h, 2), "workers": workers,
            "total_core_hours": round((build_h + tiles_h) * workers, 2),
            "hours_per_extra_core": round((build_h + tiles_h) * workers / (workers + 1), 2),
            "cesbio_gdal_chain_hours": f">= {CESBIO_10M_HOURS:g} ('several dozens of hours')",
            "note": (f"measured on {pixel_m:g} m tiles mosaicked at {pixel_m:g} m (same source/output ratio as 10 m); "
                     "hours_per_extra_core = total with workers+1 cores, assuming linear scaling")}


def main() -> None:
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    from l2a.constants import REFLECTANCE_NODATA
    from l2a.sensors import L2A_BANDS

    warnings.simplefilter("ignore", NotGeoreferencedWarning)  # tile files read back for the comparison
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixel", type=float, default=60.0, help="R1 pixel of the synthetic tiles and output, m")
    parser.add_argument("--zoom", default="5-11", help="zoom levels of the pyramids")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--work", default=str(ROOT / "bench-out" / "mosaic"), help="working folder")
    parser.add_argument("--inputs", nargs="*", help="L3A products to use instead of the synthetic country")
    parser.add_argument("--keep", action="store_true", help="keep the working folder")
    args = parser.parse_args()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    py = sys.executable
    result: dict = {"workers": args.workers, "pixel_m": args.pixel, "zoom": args.zoom}
    gdal_tools = {t: shutil.which(t) for t in ("gdalwarp", "gdal2tiles.py", "gdal_translate", "gdalbuildvrt")}
    missing = [t for t, p in gdal_tools.items() if p is None]
    result["gdal"] = ("missing: " + ", ".join(missing) + " (apt-get install gdal-bin python3-gdal)") if missing \
        else subprocess.run(["gdalinfo", "--version"], capture_output=True, text=True).stdout.strip()

    start = time.perf_counter()
    if args.inputs:
        inputs = [str(p) for p in args.inputs]
    else:
        from l3a import synthetic

        country = synthetic.Country(tiles=tuple(synthetic.MGRS_TILES), pixel_m=args.pixel, bands=L2A_BANDS)
        inputs = [str(p) for p in synthetic.make_country(work / "l3a", country)]
    result["inputs"] = {"tiles": len(inputs), "seconds_to_make": round(time.perf_counter() - start, 1)}

    # numba kernels: compile / load the cache outside the timings
    common = ["--crs", "EPSG:2154", "--res", str(args.pixel), "--workers", str(args.workers)]
    _run([py, "-m", "mosaic", "-q", "build", *inputs, "--crs", "EPSG:2154", "--res", "2000", "--bands", "B4,B3,B2",
          "--out", str(work / "warm")])
    _run([py, "-m", "mosaic", "-q", "tiles", str(work / "warm" / "mosaic.tif"), "--out", str(work / "warm-tiles"),
          "--zoom", "5"])

    build_s = _run([py, "-m", "mosaic", "-q", "build", *inputs, *common, "--out", str(work / "blend")])
    _run([py, "-m", "mosaic", "-q", "build", *inputs, *common, "--method", "last", "--out", str(work / "last")])
    from mosaic.seams import mosaic_seam_index

    import rasterio

    with rasterio.open(work / "blend" / "flags.tif") as ds:
        data_px = float((ds.read(2) > 0).sum())
        shape = (ds.height, ds.width)
    ours = mosaic_seam_index(work / "blend", inputs)
    last = mosaic_seam_index(work / "last", inputs)
    result["seam"] = {"blend": ours.to_dict(), "last_tile_wins": last.to_dict(),
                      "target": "blend ratio <= 1.1"}
    result["build"] = {"ours_s": round(build_s, 2), "shape": list(shape), "bands": 10 if not args.inputs else None}

    tiles_s = _run([py, "-m", "mosaic", "-q", "tiles", str(work / "blend" / "mosaic.tif"), "--out",
                    str(work / "tiles"), "--zoom", args.zoom, "--workers", str(args.workers)])
    meta = json.loads((work / "tiles" / "metadata.json").read_text())
    n_tiles = sum(meta["tile_counts"].values())
    result["tiles"] = {"ours_s": round(tiles_s, 2), "tiles_per_layer": n_tiles,
                       "layers": "ours: true colour + flags overlay; gdal2tiles: true colour only"}

    if not missing:
        vrts = []
        for i, product in enumerate(inputs):
            name = Path(product).name
            bands = [str(Path(product) / f"{name}_FRC_{b}.tif") for b in ("B4", "B3", "B2", "B8")]
            vrt = work / f"tile{i}.vrt"
            _run(["gdalbuildvrt", "-q", "-separate", str(vrt), *bands])
            vrts.append(str(vrt))
        with rasterio.open(work / "blend" / "mosaic.tif") as ds:
            left, bottom, right, top = ds.bounds
        warp_s = _run(["gdalwarp", "-q", "-overwrite", "-t_srs", "EPSG:2154", "-tr", str(args.pixel), str(args.pixel),
                       "-te", str(left), str(bottom), str(right), str(top), "-r", "bilinear",
                       "-srcnodata", str(REFLECTANCE_NODATA), "-dstnodata", str(REFLECTANCE_NODATA), "-multi",
                       "-wo", f"NUM_THREADS={args.workers}", "-of", "COG",
                       "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=2", "-co", f"NUM_THREADS={args.workers}",
                       *vrts, str(work / "gdalwarp.tif")])
        # the same work for us: the same 4 bands
        ours4_s = _run([py, "-m", "mosaic", "-q", "build", *inputs, *common, "--bands", "B4,B3,B2,B8", "--out",
                        str(work / "blend4")])
        result["build"].update({"ours_4_bands_s": round(ours4_s, 2), "gdalwarp_4_bands_s": round(warp_s, 2),
                                "ours_over_gdalwarp": round(ours4_s / warp_s, 2)})
        with rasterio.open(work / "blend" / "mosaic.tif") as ds:
            rgb = [str(ds.descriptions.index(b) + 1) for b in ("B4", "B3", "B2")]
        _run(["gdal_translate", "-q", "-of", "VRT", "-b", rgb[0], "-b", rgb[1], "-b", rgb[2], "-ot", "Byte", "-scale",
              "0", "2000", "0", "255", "-a_nodata", "none", str(work / "blend" / "mosaic.tif"), str(work / "rgb8.vrt")])
        g2t_s = _run(["gdal2tiles.py", "--xyz", "-q", "--processes", str(args.workers), "-z", args.zoom,
                      str(work / "rgb8.vrt"), str(work / "gdal2tiles")])
        result["tiles"].update({"gdal2tiles_s": round(g2t_s, 2), "speedup": round(g2t_s / tiles_s, 2),
                                "tile_sets": _compare_tiles(work / "tiles", work / "gdal2tiles")})
    zooms = tuple(int(z) for z in args.zoom.split("-"))
    result["france_10m"] = _france(build_s, data_px, args.pixel, tiles_s, n_tiles, zooms, args.workers)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
