#!/usr/bin/env bash
# l2a info on real products: one JSON line each; bad input gives one error line and exit code 2.
set -u
cd "$(dirname "$0")/.."
REAL=../shared/data/real
BIN=.venv/bin

echo "# a real Theia/MUSCATE L2A product (iota2 crop, float32 bands, no MTD_ALL.xml)"
$BIN/l2a info "$REAL/iota2_theia_V1-4_obia_2dates_2tiles/T38KPD/SENTINEL2A_20170613-071216-460_L2A_T38KPD_D_V1-4"

echo "# the same, pretty-printed"
$BIN/l2a info --indent 2 "$REAL/iota2_theia_V1-4_obia_2dates_2tiles/T38KPE/SENTINEL2A_20170623-071214-459_L2A_T38KPE_D_V1-4" | head -20

echo "# an L1C SAFE is not an L2A product (exit code 2)"
$BIN/l2a info "$REAL/alcd_toulouse_l1c_safe/S2B_MSIL1C_20240305T104819_N0510_R051_T31TCJ_20240305T125347.SAFE"
echo "exit code: $?"

echo "# a folder holding two products (exit code 2)"
$BIN/l2a info "$REAL/iota2_theia_V1-4_obia_2dates_2tiles/T38KPD"
echo "exit code: $?"
