#!/usr/bin/env bash
# Full-text search: the instance's index against SQL LIKE over the same generated case texts
# in SQLite, same run. CIVICGRID_BENCH_CASES sets the number of cases (default 1,000,000; the
# issue's figure is 10,000,000, about 25 minutes on 2 cores and 4 GiB of disk);
# CIVICGRID_BENCH_LIKE_QUERIES runs LIKE on fewer of the 100 queries (each scans the table).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p civicgrid --bench search
