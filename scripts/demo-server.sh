# Sourced by the scripts that test civicgrid from outside with third-party tools: starts a
# demo server (a month of demo cases) on a fresh SQLite file or a fresh PostgreSQL schema,
# with an API key of a residents' app and one of a call-taker, and stops it again.
#
#   start_demo_server BIN sqlite|postgres   sets DEMO_URL, DEMO_APP_KEY, DEMO_STAFF_KEY
#   stop_demo_server

DEMO_PID=""
DEMO_DIR=""
DEMO_SCHEMA=""

start_demo_server() {
  local bin=$1 backend=$2 db
  DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/civicgrid-demo.XXXXXX")
  if [ "$backend" = postgres ]; then
    local pg=${CIVICGRID_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
    DEMO_SCHEMA="t_ext_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
    psql "$pg" -qc "CREATE SCHEMA $DEMO_SCHEMA"
    db="$pg?options=-c%20search_path%3D$DEMO_SCHEMA"
  else
    db="sqlite:$DEMO_DIR/demo.db"
  fi
  export CIVICGRID_DATABASE=$db
  # Reporters' contacts are sealed with a data key; this run's is thrown away with it.
  CIVICGRID_DATA_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
  export CIVICGRID_DATA_KEY
  "$bin" demo --months 1 --cases-per-month 40 >"$DEMO_DIR/demo.log"
  DEMO_APP_KEY=$("$bin" apikey create --name "residents app" 2>/dev/null | grep -o 'cg_[0-9a-f]*' | head -n1)
  DEMO_STAFF_KEY=$("$bin" apikey create --name hotline --user calltaker1 2>/dev/null | grep -o 'cg_[0-9a-f]*' | head -n1)
  "$bin" serve --listen 127.0.0.1:0 >"$DEMO_DIR/serve.log" 2>&1 &
  DEMO_PID=$!
  trap stop_demo_server EXIT
  for _ in $(seq 1 100); do
    DEMO_URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$DEMO_DIR/serve.log" | head -n1 || true)
    [ -n "$DEMO_URL" ] && break
    sleep 0.1
  done
  if [ -z "$DEMO_URL" ]; then
    cat "$DEMO_DIR/serve.log" >&2
    echo "FAIL: the demo server did not start" >&2
    return 1
  fi
}

stop_demo_server() {
  if [ -n "$DEMO_PID" ]; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
    DEMO_PID=""
  fi
  if [ -n "$DEMO_SCHEMA" ]; then
    psql "${CIVICGRID_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}" -qc "SET client_min_messages = warning; DROP SCHEMA $DEMO_SCHEMA CASCADE" || true
    DEMO_SCHEMA=""
  fi
  if [ -n "$DEMO_DIR" ]; then
    rm -rf "$DEMO_DIR"
    DEMO_DIR=""
  fi
  unset CIVICGRID_DATABASE CIVICGRID_DATA_KEY
}
