#!/usr/bin/env bash
# STAC in: the STAC item every product of the toolkit carries (<ID>_STAC.json), gathered in an ItemCollection and
# composed with `l3a compose --stac` and `l3a batch --stac`; then the syntheses' own items are the inputs of
# `mosaic build`. The same commands take Earth Search or Planetary Computer items, or a STAC API with --collection
# (README, "From STAC items").
set -eu
cd "$(dirname "$0")/.."
OUT=/tmp/syntheo-examples/07
BIN=.venv/bin
rm -rf "$OUT"

# two neighbouring tiles across the UTM 30/31 boundary, July's window
$BIN/l2a simulate --out "$OUT/l2a" --tiles T30TYP,T31TCJ --start 2018-06-22 --end 2018-08-07 --size 366 --seed 1 -q

# every L2A product carries its item, with hrefs relative to its folder: gather them in one ItemCollection elsewhere,
# hrefs made absolute (a static catalogue, a folder of item files or their URLs would do as well)
$BIN/python - "$OUT/l2a" "$OUT/items.json" <<'PY'
import json, os, sys
from pathlib import Path
features = []
for item in sorted(Path(sys.argv[1]).glob("SENTINEL2*/*_STAC.json")):
    doc = json.loads(item.read_text())
    for asset in doc["assets"].values():
        asset["href"] = os.path.normpath(item.parent / asset["href"])
    features.append(doc)
Path(sys.argv[2]).write_text(json.dumps({"type": "FeatureCollection", "features": features}))
print(len(features), "items:", ", ".join(sorted({f["properties"]["s2:mgrs_tile"] for f in features})))
PY

# one tile-month from the collection: the other tile's items are neighbours, set aside (a log line at -v)
T31=$($BIN/l3a compose --stac "$OUT/items.json" --tile T31TCJ --month 2018-07 --out "$OUT/l3a" | tail -1)
# the same synthesis from the folders: identical rasters
REF=$($BIN/l3a compose "$OUT/l2a" --tile T31TCJ --month 2018-07 --out "$OUT/l3a-folders" | tail -1)
for f in "$REF"/*.tif "$REF"/MASKS/*.tif; do cmp -s "$f" "$T31/${f#"$REF"/}" || { echo "differs: $f"; exit 1; }; done
echo "compose from the items = compose from the folders, raster for raster"

# an item of another tile given by itself is a mistake, not a neighbour: one line, exit code 2, nothing written
ITEM=$(ls "$OUT"/l2a/SENTINEL2*_T30TYP_*/*_STAC.json | head -1)
$BIN/l3a compose --stac "$ITEM" --tile T31TCJ --month 2018-07 --out "$OUT/wrong" || echo "exit code $?"

# every (tile, month) of the collection on a local dask cluster: the items are staged in l3a-batch/stac-items
$BIN/l3a -q batch --stac "$OUT/items.json" --tiles T30TYP,T31TCJ --months 2018-07 --out "$OUT/l3a-batch" \
    --workers 2 --threads-per-worker 1

# the syntheses' own items are mosaic inputs, like their folders
$BIN/mosaic -q build "$OUT"/l3a-batch/SENTINEL2*/*_STAC.json --crs EPSG:2154 --res 100 --out "$OUT/mosaic"
$BIN/python - "$OUT/mosaic/mosaic_STAC.json" <<'PY'
import json, sys
item = json.load(open(sys.argv[1]))
print("mosaic of", ", ".join(item["properties"].get("syntheo:inputs", [])) or item["id"])
PY
