#!/usr/bin/env bash
# The whole test suite, PostGIS included: provision system packages, set up .venv, run pytest.
# Each run uses its own throwaway PostGIS database (created and dropped by tests/conftest.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/provision.sh
bash scripts/setup.sh --test
if [ -z "${GRIDGIS_TEST_PG:-}" ]; then
  if psql -h 127.0.0.1 -U postgres -d postgres -XAtc 'select 1' >/dev/null 2>&1; then
    export GRIDGIS_TEST_PG="postgresql://postgres@127.0.0.1:5432/postgres"
  else
    export GRIDGIS_TEST_PG="postgresql://postgres:postgres@127.0.0.1:5432/postgres"
  fi
fi
exec .venv/bin/python -m pytest -q "$@"
