#!/usr/bin/env bash
# A national month on one dask cluster, in small: a scheduler and 2 workers started by hand (as on a cluster's
# nodes), then syntheses (`l3a batch`) -> tiled mosaic (`mosaic build --layout tiled`) -> web pyramid (`mosaic
# tiles`) -> comparison site (`mosaic compare`), every stage with --scheduler. The mosaic build is interrupted and
# resumed tile by tile.
set -eu
cd "$(dirname "$0")/.."
OUT=/tmp/syntheo-examples/06
BIN=.venv/bin
rm -rf "$OUT"
mkdir -p "$OUT"

# the cluster: one scheduler, 2 workers of 1 thread offering the tile-month resource (one heavy task at a time each)
$BIN/dask scheduler --port 0 --dashboard-address :0 --scheduler-file "$OUT/scheduler.json" > "$OUT/scheduler.log" 2>&1 &
PIDS="$!"
trap 'kill $PIDS 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$OUT/scheduler.json" ] && break; sleep 0.2; done
$BIN/dask worker --scheduler-file "$OUT/scheduler.json" --nworkers 2 --nthreads 1 --memory-limit 2GiB \
    --resources tile-month=1 > "$OUT/workers.log" 2>&1 &
PIDS="$PIDS $!"
ADDRESS=$($BIN/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$OUT/scheduler.json")
echo "scheduler: $ADDRESS"

# 4 tiles across the UTM 30/31 boundary (300 m pixels), the whole windows of July and August
$BIN/l2a simulate --out "$OUT/l2a" --start 2018-06-22 --end 2018-09-07 --size 366 --seed 1 -q

# the syntheses: one task per (tile, month)
$BIN/l3a batch --input-root "$OUT/l2a" --tiles T30TYN,T30TYP,T31TCH,T31TCJ --months 2018-07..2018-08 \
    --out "$OUT/l3a" --scheduler "$ADDRESS"

# July's mosaic in Lambert-93 at 100 m as COG tiles of 512 px (51.2 km): one task per tile. Interrupted after 5 s
# (SIGINT, as Ctrl-C), then the same command resumes it: finished tiles are kept, the others written
timeout --preserve-status -s INT 5 $BIN/mosaic -q build "$OUT/l3a" --month 2018-07 --crs EPSG:2154 --res 100 --layout tiled \
    --grid-tile 512 --out "$OUT/mosaic-2018-07" --scheduler "$ADDRESS" || echo "interrupted: exit $?"
if grep -q '"complete": false' "$OUT/mosaic-2018-07/national.json" 2>/dev/null; then
    echo "tiles finished before the interrupt: $(ls "$OUT/mosaic-2018-07/tiles" | grep -c '\.json$')"
    $BIN/mosaic build "$OUT/l3a" --month 2018-07 --crs EPSG:2154 --res 100 --layout tiled \
        --grid-tile 512 --out "$OUT/mosaic-2018-07" --scheduler "$ADDRESS"
fi
$BIN/mosaic build "$OUT/l3a" --month 2018-08 --crs EPSG:2154 --res 100 --layout tiled --grid-tile 512 \
    --out "$OUT/mosaic-2018-08" --scheduler "$ADDRESS"
ls "$OUT/mosaic-2018-07"                          # mosaic.vrt, its overview VRTs, flags.vrt, collection.json, tiles/
$BIN/python - "$OUT/mosaic-2018-07" <<'PY'
import json, sys
import rasterio
folder = sys.argv[1]
with rasterio.open(f"{folder}/mosaic.vrt") as ds:
    print("mosaic.vrt:", ds.width, "x", ds.height, "px", ds.descriptions, "overviews", ds.overviews(1))
collection = json.load(open(f"{folder}/collection.json"))
print("STAC collection:", collection["id"], sum(link["rel"] == "item" for link in collection["links"]), "items")
PY

# both months' pyramids and the comparison site, rendered by the workers
$BIN/mosaic tiles "$OUT/mosaic-2018-07" --out "$OUT/tiles-2018-07" --zoom 5-10 --scheduler "$ADDRESS"
$BIN/mosaic tiles "$OUT/mosaic-2018-08" --out "$OUT/tiles-2018-08" --zoom 5-10 --scheduler "$ADDRESS"
$BIN/mosaic compare "$OUT/tiles-2018-07" "$OUT/tiles-2018-08" --out "$OUT/compare" --scheduler "$ADDRESS"
echo "open it with: $BIN/mosaic serve $OUT/compare"
