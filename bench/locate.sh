#!/usr/bin/env bash
# Point → grid benchmark: civicgrid's index against PostGIS ST_Contains + GiST, same polygons,
# same points, same run. Installs PostGIS from Debian if it is missing. Not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$(ls /etc/postgresql | head -n1)-postgis-3"
fi
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
cargo bench -p civicgrid --bench locate
