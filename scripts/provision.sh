#!/usr/bin/env bash
# System packages the test suite uses, installed idempotently (after one apt-get update,
# and only when something is missing). Later issues add their packages to SYSTEM_PACKAGES.
#
# PostgreSQL: the running server's major version decides the PostGIS package. With no
# server at all, Debian's PostgreSQL is installed and its cluster started.
set -euo pipefail

SYSTEM_PACKAGES=(chromium chromium-driver fonts-noto-cjk poppler-utils)   # browser tests (dispatcher page) and CJK glyphs
PGHOST_TEST="${PGHOST_TEST:-127.0.0.1}"
PGPORT_TEST="${PGPORT_TEST:-5432}"

can_apt() { [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; }
missing() {
  local out=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p"); done
  echo "${out[@]:-}"
}
updated=0
apt_install() {
  [ $# -gt 0 ] || return 0
  if ! can_apt; then
    echo "The tests need these system packages: $*" >&2
    echo "Run as root on Debian/Ubuntu:  apt-get update && apt-get install -y $*" >&2
    exit 1
  fi
  if [ "$updated" = 0 ]; then apt-get update -qq; updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

server_major() {
  command -v psql >/dev/null 2>&1 || return 1
  local num
  num=$(psql -h "$PGHOST_TEST" -p "$PGPORT_TEST" -U postgres -d postgres -XAtc 'show server_version_num' 2>/dev/null) || return 1
  echo $((num / 10000))
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "This provisioning step knows Debian/Ubuntu only. Install PostgreSQL (15+) with PostGIS 3," >&2
  echo "start it on $PGHOST_TEST:$PGPORT_TEST, and set GRIDGIS_TEST_PG=postgresql://USER:PASS@HOST:PORT/postgres" >&2
  exit 1
fi

major=$(server_major || true)
if [ -z "$major" ]; then
  # No reachable server: install Debian's PostgreSQL, start the cluster, allow local test logins.
  if [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
    echo "no PostgreSQL found: installing Debian's postgresql ..."
    apt_install postgresql
  fi
  major=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! can_apt; then
    echo "Start PostgreSQL as root:  pg_ctlcluster $major main start" >&2
    exit 1
  fi
  pg_lsclusters -h 2>/dev/null | grep -q "^$major main" || pg_createcluster "$major" main >/dev/null
  pg_ctlcluster --skip-systemctl-redirect "$major" main start 2>/dev/null || pg_ctlcluster "$major" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST_TEST" -p "$PGPORT_TEST" && break; sleep 1; done
  if ! psql -h "$PGHOST_TEST" -p "$PGPORT_TEST" -U postgres -XAtc 'select 1' >/dev/null 2>&1; then
    # a fresh Debian cluster asks for a password over TCP: give the postgres role one for tests
    su postgres -c "psql -XAtc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null
    echo "note: set the password of role postgres to 'postgres' for local tests" >&2
  fi
fi

pkgs=("postgresql-$major-postgis-3" "${SYSTEM_PACKAGES[@]}")
read -r -a need <<< "$(missing "${pkgs[@]}")"
if [ "${#need[@]}" -gt 0 ] && [ -n "${need[0]}" ]; then
  echo "installing ${need[*]} ..."
  apt_install "${need[@]}"
fi

# Prove PostGIS works: CREATE EXTENSION in a throwaway database (no restart needed).
export PGPASSWORD="${PGPASSWORD:-postgres}"
db="gridgis_provision_$$"
psql -h "$PGHOST_TEST" -p "$PGPORT_TEST" -U postgres -d postgres -XqAtc "CREATE DATABASE $db" >/dev/null
trap 'psql -h "$PGHOST_TEST" -p "$PGPORT_TEST" -U postgres -d postgres -XqAtc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true' EXIT
v=$(psql -h "$PGHOST_TEST" -p "$PGPORT_TEST" -U postgres -d "$db" -XqAtc "CREATE EXTENSION postgis; SELECT postgis_lib_version()")
echo "PostgreSQL $major with PostGIS $v ready"
