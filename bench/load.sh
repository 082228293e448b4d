#!/usr/bin/env bash
# Mixed load (80% reads, 20% writes) against a real server over 1,000,000 cases, SQLite and
# PostgreSQL; see crates/civicgrid/benches/load.rs. CIVICGRID_BENCH_CASES,
# CIVICGRID_BENCH_CONNECTIONS, CIVICGRID_BENCH_SECONDS, CIVICGRID_BENCH_BACKENDS.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
cargo bench -p civicgrid --bench load
