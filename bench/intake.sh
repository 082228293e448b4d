#!/usr/bin/env bash
# Durable intake over HTTP against raw durable inserts, SQLite and PostgreSQL, same run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
cargo bench -p civicgrid --bench intake
