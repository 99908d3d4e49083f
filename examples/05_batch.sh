#!/usr/bin/env bash
# National runs in small: `l3a batch` composes every (tile, month) of 4 simulated tiles x 4 months on a local dask
# cluster, reruns (finished products are kept), interrupts a batch and resumes it, then selects tiles by an area of
# interest.
set -eu
cd "$(dirname "$0")/.."
OUT=/tmp/syntheo-examples/05
BIN=.venv/bin
rm -rf "$OUT"

# 4 tiles across the UTM 30/31 boundary, the whole windows of July and August (central dates the 15th, +-23 days)
$BIN/l2a simulate --out "$OUT/l2a" --start 2018-06-22 --end 2018-09-07 --size 366 --seed 1 -q

# 4 tiles x 4 months on 2 worker processes of 1 thread: September's window (from August 23) holds the last passes of
# the simulation; October has no product: its 4 tasks are "no-data", not failures
$BIN/l3a batch --input-root "$OUT/l2a" --tiles T30TYN,T30TYP,T31TCH,T31TCJ --months 2018-07..2018-10 \
    --out "$OUT/l3a" --workers 2 --threads-per-worker 1

# the run report: one line per task (status, inputs, seconds, peak memory of its worker)
$BIN/python - "$OUT/l3a/batch-report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
print("cluster:", json.dumps(report["cluster"]))
for t in report["tasks"]:
    peak = f"{t['peak_rss_bytes'] / 1e6:.0f} MB" if t["peak_rss_bytes"] else "-"
    print(f"{t['tile']} {t['month']} {t['status']:8} {len(t['inputs']):2} inputs "
          f"{t['seconds'] or 0:6.1f} s peak {peak} {t['worker'] or ''}")
PY

# a rerun keeps every finished product (status "exists") and composes nothing
$BIN/l3a batch --input-root "$OUT/l2a" --tiles T30TYN,T30TYP,T31TCH,T31TCJ --months 2018-07..2018-10 \
    --out "$OUT/l3a" --report "$OUT/rerun.json"

# interrupt a batch half-way (Ctrl-C is SIGINT; here `timeout` sends it after 12 s: exit 130, one line, a partial
# report), then resume it: the finished products are kept, the rest composed, and temporary folders a killed run may
# leave (.NAME.<hex>.tmp) removed by their tasks
timeout -s INT 12 $BIN/l3a -q batch --input-root "$OUT/l2a" --tiles T30TYN,T30TYP --months 2018-07..2018-09 \
    --out "$OUT/l3a-resume" --workers 1 || echo "interrupted: exit $?"
$BIN/l3a batch --input-root "$OUT/l2a" --tiles T30TYN,T30TYP --months 2018-07..2018-09 --out "$OUT/l3a-resume"
ls -A "$OUT/l3a-resume"                                                         # no hidden .tmp folder

# tiles by an area of interest (longitude/latitude GeoJSON): a box south-west of Toulouse, across T31TCJ and T31TCH
cat > "$OUT/aoi.geojson" <<'JSON'
{"type": "Polygon", "coordinates": [[[1.0, 43.0], [1.4, 43.0], [1.4, 43.7], [1.0, 43.7], [1.0, 43.0]]]}
JSON
$BIN/l3a batch --input-root "$OUT/l2a" --aoi "$OUT/aoi.geojson" --months 2018-07 --out "$OUT/l3a-aoi"
$BIN/python -c 'import json, sys; print("tiles of the area:", json.load(open(sys.argv[1]))["tiles"])' \
    "$OUT/l3a-aoi/batch-report.json"
