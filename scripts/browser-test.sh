#!/usr/bin/env bash
# Runs the whole loop through the pages in headless Chromium against a demo server (SQLite):
# Debian's chromium package (installed here if missing) driven by playwright-core from npm,
# installed into target/external/browser/ and never committed. Screenshots go to
# target/screenshots/.
#
# Usage: scripts/browser-test.sh [path/to/civicgrid]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/civicgrid}
# shellcheck source=scripts/demo-server.sh
source scripts/demo-server.sh

# Chromium, and a CJK font so that the screenshots show the Chinese pages as people see them.
if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei >/dev/null
  else
    echo "FAIL: the browser test needs Debian's chromium and fonts-wqy-microhei packages" >&2
    exit 1
  fi
fi
work=target/external/browser
if [ ! -d "$work/node_modules/playwright-core" ]; then
  mkdir -p "$work"
  (cd "$work" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund playwright-core@1.64.1 >/dev/null)
fi
cp scripts/browser_flow.mjs "$work/"

start_demo_server "$bin" sqlite
shots=target/screenshots
rm -rf "$shots"
CHROMIUM=$(command -v chromium) node "$work/browser_flow.mjs" "$DEMO_URL" "$shots"
