#!/usr/bin/env bash
# A property-based run of schemathesis (from PyPI, installed into target/external/ and never
# committed) against a demo server: generated requests for every operation of the OpenAPI
# document, with a staff credential. Fails on any 5xx or any answer that contradicts the
# document. Bounded: a fixed number of examples per operation, a fixed seed, and a timeout.
#
# Usage: scripts/schemathesis.sh [path/to/civicgrid] [sqlite|postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/civicgrid}
backend=${2:-sqlite}
examples=${CIVICGRID_SCHEMATHESIS_EXAMPLES:-50}
# shellcheck source=scripts/demo-server.sh
source scripts/demo-server.sh

venv=target/external/schemathesis
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
fi

start_demo_server "$bin" "$backend"
echo "schemathesis on $backend ($DEMO_URL), $examples examples per operation"
# A shift leader of street 1: reads, accepts, dispatches and approves there, so that generated
# actions reach the loop.
staff_key=$("$bin" apikey create --name schemathesis --user shiftlead.st1 2>/dev/null | grep -o 'cg_[0-9a-f]*' | head -n1)
report=target/external/schemathesis-report
rm -rf "$report" && mkdir -p "$report"
# Real identifiers for the path parameters, so that generated requests reach the loop rather
# than stopping at 404: the newest demo case in the shift leader's street and its receipt code.
read -r case_id receipt < <(curl -sf -H "Authorization: Bearer $staff_key" \
  "$DEMO_URL/api/v1/cases?limit=200" |
  python3 -c 'import json, sys; c = json.load(sys.stdin)["cases"][0]; print(c["id"], c["receipt_code"])')
cat >"$report/schemathesis.toml" <<EOF
[parameters]
"path.id" = "$case_id"
"path.receipt" = "$receipt"
EOF

# positive_data_acceptance is left out: a request can fit the schema and still be refused by
# the loop (a point outside every grid, an action the case's state does not allow), and the
# refusal is a documented 4xx.
set +e
timeout 900 "$venv/bin/schemathesis" --config-file "$report/schemathesis.toml" run "$DEMO_URL/api/v1/openapi.json" \
  --url "$DEMO_URL" \
  -H "Authorization: Bearer $staff_key" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$examples" --seed 20261125 --request-timeout 10 \
  --report ndjson --report-ndjson-path "$report/events.ndjson" \
  --no-color >"$report/output.txt" 2>&1
status=$?
set -e
"$venv/bin/python" - "$report/events.ndjson" <<'EOF'
import collections, json, sys
counts = collections.Counter()
for line in open(sys.argv[1], encoding="utf-8"):
    event = json.loads(line)
    finished = event.get("ScenarioFinished")
    if not finished:
        continue
    for checks in finished.get("recorder", {}).get("checks", {}).values():
        for check in checks:
            counts[(check["name"], check["status"])] += 1
names = sorted({name for name, _ in counts})
for name in names:
    print(f"schemathesis: {name}: {counts[(name, 'success')]} passed, {counts[(name, 'failure')]} failed")
print(f"schemathesis: {sum(v for (n, s), v in counts.items() if s == 'success')} checks passed, "
      f"{sum(v for (n, s), v in counts.items() if s == 'failure')} failed")
EOF
if [ "$status" -ne 0 ]; then
  tail -n 80 "$report/output.txt" >&2
  echo "FAIL: schemathesis found answers that contradict the document (exit $status); see $report/output.txt" >&2
  exit 1
fi
