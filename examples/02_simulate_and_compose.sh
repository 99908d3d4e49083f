#!/usr/bin/env bash
# Simulate two overlapping tiles of two UTM zones, compose the July 2018 synthesis of one, inspect it.
set -eu
cd "$(dirname "$0")/.."
OUT=/tmp/syntheo-examples/02
BIN=.venv/bin
rm -rf "$OUT"

# 366 pixels per side = 300 m pixels over the true 109.8 km MGRS footprints
$BIN/l2a simulate --out "$OUT/l2a" --tiles T31TCJ,T30TYP --start 2018-06-20 --end 2018-08-10 --size 366 --seed 3
$BIN/l2a info "$(ls -d "$OUT"/l2a/*_L2A_T31TCJ_* | head -1)"

# the monthly synthesis: central date the 15th, +-23 days, products of other tiles skipped (-v to see why)
PRODUCT=$($BIN/l3a compose "$OUT/l2a" --tile T31TCJ --month 2018-07 --out "$OUT/l3a" | tail -1)
echo "L3A product: $PRODUCT"
$BIN/l3a info --indent 2 "$PRODUCT"

# the WASP 1.x profile (step date weight, latest snow/water, no swath-edge feathering, no multi-temporal outlier
# test, each date's own sun zenith), for comparison
$BIN/l3a compose "$OUT/l2a" --tile T31TCJ --month 2018-07 --profile wasp --out "$OUT/l3a-wasp" | tail -1

# accuracy against the simulator's ground truth (the summary; the full JSON has every band and resolution)
$BIN/l3a validate "$PRODUCT" --truth "$OUT/l2a" \
    | $BIN/python -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["summary"], indent=1))'
