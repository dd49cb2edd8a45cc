#!/usr/bin/env bash
# Set up .venv, load the sample district into the embedded store (once), serve the API.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/gridgis sample --if-empty --boundaries data/boundaries
exec .venv/bin/gridgis serve "$@"
