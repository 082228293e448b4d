#!/usr/bin/env bash
# Runs published Open311 client libraries (georeport, civicbot; from PyPI, installed into
# target/external/ and never committed) against a demo server, on SQLite and on PostgreSQL.
#
# Usage: scripts/open311-clients.sh [path/to/civicgrid] [sqlite,postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/civicgrid}
backends=${2:-sqlite,postgres}
# shellcheck source=scripts/demo-server.sh
source scripts/demo-server.sh

venv=target/external/venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import georeport, civicbot' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    'georeport==0.3.1' 'civicbot==0.4.0' 'requests>=2.31,<3' 'xmltodict>=0.14.2,<0.15'
fi

for backend in ${backends//,/ }; do
  if [ "$backend" = postgres ] && [ -n "${CIVICGRID_SKIP_POSTGRES:-}" ]; then
    echo "open311 clients: SKIPPING PostgreSQL (unreachable)" >&2
    continue
  fi
  start_demo_server "$bin" "$backend"
  echo "open311 clients on $backend ($DEMO_URL)"
  "$venv/bin/python" scripts/open311_clients.py "$DEMO_URL" "$DEMO_APP_KEY" "$DEMO_STAFF_KEY"
  stop_demo_server
done
