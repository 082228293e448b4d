#!/usr/bin/env bash
# Activating an emergency plan over 500 grids and 40 units (1,541 tasks and the notice to the
# grids in one transaction) against plain multi-row INSERTs of as many rows, SQLite and
# PostgreSQL, same run. CIVICGRID_BENCH_GRIDS, CIVICGRID_BENCH_UNITS, CIVICGRID_BENCH_ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
cargo bench -p civicgrid --bench activation
