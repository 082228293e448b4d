#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each (default 20 s; CI), starting
# from the committed seeds and regressions (fuzz/seeds/TARGET, fuzz/regressions/TARGET: inputs
# that once found a bug, run again every time). `bench/fuzz.sh SECONDS` runs them longer.
# cargo-fuzz is installed into target/tools on first use. Without a sanitizer (safe Rust; the
# targets check panics and invariants) it needs only stable rustc's coverage flags. Built with
# -O and the profile in fuzz/Cargo.toml: see there which debug assertions are on.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${CIVICGRID_FUZZ_SECONDS:-20}}
targets=(open311_form geojson_import csv_import case_machine)
tools=$PWD/target/tools
if ! [ -x "$tools/bin/cargo-fuzz" ]; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools"
fi
export PATH=$tools/bin:$PATH
export CARGO_TARGET_DIR=$PWD/target/fuzz
cd fuzz
cargo fuzz build -O --sanitizer none --fuzz-dir .
for t in "${targets[@]}"; do
  corpus=$CARGO_TARGET_DIR/corpus/$t
  mkdir -p "$corpus" "seeds/$t" "regressions/$t"
  echo "fuzzing $t for ${seconds}s"
  log=$CARGO_TARGET_DIR/fuzz-$t.log
  status=0
  cargo fuzz run -O --sanitizer none --fuzz-dir . "$t" "$corpus" "seeds/$t" "regressions/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$CARGO_TARGET_DIR/artifacts-$t-" >"$log" 2>&1 || status=$?
  grep -E "^(INFO: seed corpus|stat::number_of_executed_units|stat::peak_rss_mb)" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    # The lines that say what happened, and the input itself, last: they are what a CI log
    # that keeps only its end still shows.
    grep -E -m5 "panicked at|ERROR: libFuzzer|^SUMMARY" "$log" >&2 || true
    for a in "$CARGO_TARGET_DIR"/artifacts-"$t"-*; do
      [ -f "$a" ] && echo "input $(basename "$a") (base64): $(head -c 3000 "$a" | base64 -w0)" >&2
    done
    echo "FAIL: fuzz target $t found a problem; the input is in $CARGO_TARGET_DIR/artifacts-$t-*" >&2
    exit 1
  fi
done
