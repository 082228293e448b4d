#!/usr/bin/env bash
# Runs the whole loop through the pages in headless Chromium against a demo server (SQLite):
# Debian's chromium package (installed here if missing) driven by playwright-core from npm,
# with every page checked by axe-core from npm (WCAG 2.1 A/AA; serious or critical violations
# fail), both installed into target/external/browser/ and never committed. Screenshots go to
# target/screenshots/, axe's findings to target/screenshots/axe/.
#
# Usage: scripts/browser-test.sh [path/to/civicgrid]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/civicgrid}
# shellcheck source=scripts/demo-server.sh
source scripts/demo-server.sh

# Chromium, and a CJK font so that the screenshots show the Chinese pages as people see them.
if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei >/dev/null
  else
    echo "FAIL: the browser test needs Debian's chromium and fonts-wqy-microhei packages" >&2
    exit 1
  fi
fi
# playwright-core drives the browser; axe-core checks each page against WCAG 2.1 AA.
work=target/external/browser
packages=(playwright-core@1.64.1 axe-core@4.14.1)
installed() { # name@version: whether exactly that version is in $work/node_modules
  grep -qs "\"version\": \"${1##*@}\"" "$work/node_modules/${1%@*}/package.json"
}
for p in "${packages[@]}"; do
  if ! installed "$p"; then
    mkdir -p "$work"
    (cd "$work" && { [ -f package.json ] || npm init -y >/dev/null; } &&
      npm install --silent --no-audit --no-fund --save-exact "${packages[@]}" >/dev/null)
    break
  fi
done
cp scripts/browser_flow.mjs scripts/browser_map.mjs "$work/"

start_demo_server "$bin" sqlite
shots=target/screenshots
rm -rf "$shots"
CHROMIUM=$(command -v chromium) node "$work/browser_flow.mjs" "$DEMO_URL" "$shots"

# The base map: the repository's own tile server, and a second instance on the same demo
# database that the deployment has pointed at it (`serve --map-tiles`, here by its variable).
TILE_PID=""
MAP_PID=""
stop_map() {
  for p in $MAP_PID $TILE_PID; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  stop_demo_server
}
trap stop_map EXIT
node scripts/tile_server.mjs 0 >"$DEMO_DIR/tiles.log" 2>&1 &
TILE_PID=$!
tiles=""
for _ in $(seq 1 100); do
  tiles=$(grep -o 'http://127.0.0.1:[0-9]*' "$DEMO_DIR/tiles.log" | head -n1 || true)
  [ -n "$tiles" ] && break
  sleep 0.1
done
[ -n "$tiles" ] || { cat "$DEMO_DIR/tiles.log" >&2; echo "FAIL: the tile server did not start" >&2; exit 1; }
CIVICGRID_MAP_TILES="$tiles/{z}/{x}/{y}.png" CIVICGRID_MAP_ATTRIBUTION="测试底图" \
  "$bin" serve --listen 127.0.0.1:0 --no-jobs >"$DEMO_DIR/serve-map.log" 2>&1 &
MAP_PID=$!
map_url=""
for _ in $(seq 1 100); do
  map_url=$(grep -o 'http://127.0.0.1:[0-9]*' "$DEMO_DIR/serve-map.log" | head -n1 || true)
  [ -n "$map_url" ] && break
  sleep 0.1
done
[ -n "$map_url" ] || { cat "$DEMO_DIR/serve-map.log" >&2; echo "FAIL: the map server did not start" >&2; exit 1; }
# The binary must carry the map library (vendored from npm at build time).
curl -sf -o /dev/null "$map_url/static/vendor/leaflet.js" || {
  echo "FAIL: $bin serves no /static/vendor/leaflet.js: the build could not vendor Leaflet (scripts/vendor-web.sh)" >&2
  exit 1
}
CHROMIUM=$(command -v chromium) node "$work/browser_map.mjs" "$map_url" "$tiles" "$shots"
grep -q '^TILE ' "$DEMO_DIR/tiles.log" || { echo "FAIL: no tile was asked of the tile server" >&2; exit 1; }
