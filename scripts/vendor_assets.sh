#!/usr/bin/env bash
# Maintainer script: refresh the pinned front-end assets in api/static/vendor from npm
# (lockfile in tools/vendor). Users never run this: the assets are committed, so pages
# load on an intranet with no internet at all.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd tools/vendor && npm ci --no-audit --no-fund)
dst=api/static/vendor/leaflet
rm -rf "$dst" && mkdir -p "$dst"
cp tools/vendor/node_modules/leaflet/dist/leaflet.js tools/vendor/node_modules/leaflet/dist/leaflet.css "$dst/"
cp -r tools/vendor/node_modules/leaflet/dist/images "$dst/"
cp tools/vendor/node_modules/leaflet/LICENSE "$dst/LICENSE"
echo "vendored: $(ls "$dst")"
