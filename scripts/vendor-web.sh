#!/usr/bin/env bash
# Fetches the browser libraries that civicgrid serves under /static/vendor/ (Leaflet, pinned in
# crates/civicgrid/web-vendor/package-lock.json) with `npm ci` into target/external/web/, and
# copies the files that are served into target/external/web/dist/. Nothing here is committed.
# Safe to run again: npm ci starts from the lock file each time and dist/ is rebuilt.
#
# Usage: scripts/vendor-web.sh        (prints the dist directory on the last line)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null 2>&1; then
  echo "FAIL: scripts/vendor-web.sh needs npm (Node.js 18 or later) to fetch Leaflet" >&2
  exit 1
fi

src=crates/civicgrid/web-vendor
work=target/external/web
dist=$work/dist
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$work/"
npm ci --no-audit --no-fund --silent --prefix "$work" >&2

leaflet=$work/node_modules/leaflet/dist
for f in leaflet.js leaflet.css; do
  if [ ! -f "$leaflet/$f" ]; then
    echo "FAIL: $leaflet/$f is missing after npm ci" >&2
    exit 1
  fi
done
rm -rf "$dist"
mkdir -p "$dist"
cp "$leaflet/leaflet.js" "$leaflet/leaflet.css" "$dist/"
cp -R "$leaflet/images" "$dist/images"
cp "$work/node_modules/leaflet/LICENSE" "$dist/LICENSE.leaflet"

cd "$dist" && pwd
