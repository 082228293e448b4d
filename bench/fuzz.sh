#!/usr/bin/env bash
# The fuzz targets for longer than CI runs them: SECONDS per target (default 600).
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/fuzz.sh "${1:-600}"
