"""Golden manifest: the sha256 of every output of a small fixed chain, to prove that a change of code structure
changed no output.

The chain runs through the command lines (``python -m l2a|l3a|mosaic``), so it survives any reorganisation of the
modules behind them:

1. ``l2a simulate``: 2 tiles in 2 UTM zones (T30TYP, T31TCJ), June 25 - August 5 2018, fixed seed, L2A (Theia) and,
   for one tile over a shorter span, L1C SAFE;
2. ``l3a compose``: July 2018 of both tiles, with the ``default`` and the ``wasp`` profiles;
3. ``mosaic build``: one mosaic per profile (Lambert-93, 400 m);
4. ``mosaic tiles``: the XYZ pyramid of each mosaic;
5. ``mosaic compare``: the side-by-side site of the two pyramids (the NDVI change layer included).

It prints one line ``sha256  relative/path`` per file, sorted, then a JSON summary line. Every file is hashed,
documents included (metadata XML, STAC and pyramid JSON, the viewer page): the chain is deterministic, so the only
part of a document that differs between two runs is the work folder's path, which is replaced by ``$OUT`` in text
documents before hashing. Documents that embed the toolkit's version would differ across a version bump: name them
with ``--exclude PATTERN`` (file-name pattern, repeatable) to leave them out; nothing is left out by default.
Hashes depend on library versions (GDAL, numpy, numba): compare two runs on the same machine and packages only::

    python scripts/golden_manifest.py --out /tmp/golden-before > before.txt
    # ... change the code ...
    python scripts/golden_manifest.py --out /tmp/golden-after > after.txt
    diff before.txt after.txt
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

TILES = ("T30TYP", "T31TCJ")
MONTH = "2018-07"
PROFILES = ("default", "wasp")

#: Text documents, hashed with the work folder's path replaced by ``$OUT`` (they record their inputs' paths).
TEXT_SUFFIXES = {".xml", ".json", ".html", ".safe", ".js", ".css", ".vrt", ".txt"}


def _run(*args: str) -> None:
    cmd = [sys.executable, "-m", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"golden_manifest: failed ({done.returncode}): {' '.join(args)}")


def _chain(out: Path, size: int, seed: int) -> None:
    l2a_dir, l1c_dir, l3a_dir = out / "l2a", out / "l1c", out / "l3a"
    _run("l2a", "simulate", "--out", str(l2a_dir), "--tiles", ",".join(TILES), "--start", "2018-06-25",
         "--end", "2018-08-05", "--size", str(size), "--seed", str(seed), "-q", "--workers", "1")
    _run("l2a", "simulate", "--out", str(l1c_dir), "--tiles", TILES[1], "--start", "2018-07-10",
         "--end", "2018-07-20", "--size", str(size), "--seed", str(seed), "--level", "l1c", "-q", "--workers", "1")
    for profile in PROFILES:
        for tile in TILES:
            _run("l3a", "-q", "compose", str(l2a_dir), "--tile", tile, "--month", MONTH, "--profile", profile,
                 "--out", str(l3a_dir / profile))
        products = sorted(str(p) for p in (l3a_dir / profile).iterdir() if p.is_dir())
        _run("mosaic", "-q", "build", *products, "--crs", "EPSG:2154", "--res", "400",
             "--out", str(out / "mosaic" / profile))
        _run("mosaic", "-q", "tiles", str(out / "mosaic" / profile / "mosaic.tif"), "--zoom", "6-9",
             "--out", str(out / "tiles" / profile))
    _run("mosaic", "-q", "compare", *(str(out / "tiles" / p) for p in PROFILES), "--out", str(out / "compare"))


def _sha256(path: Path, out: Path) -> str:
    data = path.read_bytes()
    if path.suffix.lower() in TEXT_SUFFIXES:
        data = data.replace(str(out.resolve()).encode(), b"$OUT")
    return hashlib.sha256(data).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="Work folder (emptied first).")
    parser.add_argument("--size", type=int, default=240, help="Simulated tile size in 10 m pixels (default 240).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="File-name pattern of documents to leave out (e.g. '*_MTD_ALL.xml'); repeatable.")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    _chain(args.out, args.size, args.seed)
    hashed, excluded = 0, []
    for path in sorted(p for p in args.out.rglob("*") if p.is_file()):
        rel = path.relative_to(args.out).as_posix()
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in args.exclude):
            excluded.append(rel)
            continue
        print(f"{_sha256(path, args.out)}  {rel}")
        hashed += 1
    print(json.dumps({"hashed": hashed, "excluded": len(excluded), "excluded_patterns": args.exclude}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
