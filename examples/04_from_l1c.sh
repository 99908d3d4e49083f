#!/usr/bin/env bash
# From Level-1C: the real Toulouse crops, then a simulated tile-month through l2a process, l3a compose and the truth.
set -eu
cd "$(dirname "$0")/.."
OUT=/tmp/syntheo-examples/04
BIN=.venv/bin
REAL=../shared/data/real/alcd_toulouse_l1c_safe
rm -rf "$OUT"

# two real L1C crops: 20 January (clear) is written; 5 March (thick cloud) is not valid at the default
# --max-cloud 90 (a warning, the run goes on), and is written with --max-cloud 100
$BIN/l2a -q process "$REAL"/*.SAFE --out "$OUT/real"
$BIN/l2a -q process "$REAL"/S2B_*.SAFE --out "$OUT/real" --max-cloud 100
for p in "$OUT"/real/SENTINEL2*; do $BIN/l2a info "$p" | $BIN/python -c \
    'import json, sys; r = json.load(sys.stdin); print(r["product_id"], "cloud", r["cloud_percent"], "%")'; done

# a simulated tile-month of L1C (the world's clear sky follows the 6S table the processor inverts) ...
$BIN/l2a simulate --out "$OUT/l1c" --tiles T31TCJ --start 2018-06-22 --end 2018-08-07 --size 366 --level l1c --seed 2
# ... processed with the simulated terrain as DEM (surface pressure, cirrus altitude term; without --dem: flat ground
# at sea level; forced AOT would be --aot 0.15), each product judged against the truth
$BIN/l2a -q process "$OUT/l1c" --out "$OUT/l2a" --dem "$OUT/l1c/truth/T31TCJ/T31TCJ_DEM_R2.tif"
for p in "$OUT"/l2a/SENTINEL2*; do $BIN/l2a validate "$p" --truth "$OUT/l1c" --summary; done

# the July synthesis of the processed products, judged against the monthly truth
PRODUCT=$($BIN/l3a compose "$OUT/l2a" --tile T31TCJ --month 2018-07 --out "$OUT/l3a" | tail -1)
$BIN/l3a validate "$PRODUCT" --truth "$OUT/l1c" --summary
