#!/usr/bin/env bash
# The month KPI table over generated cases: rollups against a plain SQL aggregation over the
# same events, SQLite and PostgreSQL, same run. CIVICGRID_BENCH_CASES sets the number of cases
# (default 1,000,000; generated and loaded in chunks of 100,000, so memory stays near 0.5 GiB
# even at 10,000,000).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
cargo bench -p civicgrid --bench kpi
