#!/usr/bin/env bash
# Maintainer script: refresh the pinned front-end assets in api/static/vendor from npm
# (lockfile in tools/vendor). Users never run this: the assets are committed, so pages
# load on an intranet with no internet at all. gis/maps/assets.py lists what the
# folium maps use from here (and inlines it into standalone HTML files).
set -euo pipefail
cd "$(dirname "$0")/.."
(cd tools/vendor && npm ci --no-audit --no-fund)
nm=tools/vendor/node_modules
vendor=api/static/vendor

dst=$vendor/leaflet
rm -rf "$dst" && mkdir -p "$dst"
cp $nm/leaflet/dist/leaflet.css "$dst/"
cp -r $nm/leaflet/dist/images "$dst/"
cp $nm/leaflet/LICENSE "$dst/LICENSE"
# The attribution prefix links to the Leaflet web site; on an intranet with no internet
# that is a dead outside address, so the credit stays as plain text (no link).
sed -e 's|prefix:'"'"'<a href="https://leafletjs.com" title="A JavaScript library for interactive maps">'"'"'|prefix:'"'"'<span title="Leaflet: a JavaScript library for interactive maps">'"'"'|' \
    -e 's|+"Leaflet</a>"},initialize|+"Leaflet</span>"},initialize|' \
    $nm/leaflet/dist/leaflet.js > "$dst/leaflet.js"
grep -q 'prefix:'"'"'<span title="Leaflet' "$dst/leaflet.js"
printf '\nPatched by scripts/vendor_assets.sh: the attribution prefix is plain text, not a link to leafletjs.com.\n' >> "$dst/LICENSE"

dst=$vendor/leaflet.markercluster
rm -rf "$dst" && mkdir -p "$dst"
cp $nm/leaflet.markercluster/dist/leaflet.markercluster.js $nm/leaflet.markercluster/dist/MarkerCluster.css \
   $nm/leaflet.markercluster/dist/MarkerCluster.Default.css "$dst/"
cp $nm/leaflet.markercluster/MIT-LICENCE.txt "$dst/LICENSE"

dst=$vendor/leaflet.heat
rm -rf "$dst" && mkdir -p "$dst"
cp $nm/leaflet.heat/dist/leaflet-heat.js "$dst/"
cp $nm/leaflet.heat/LICENSE "$dst/LICENSE"

# Leaflet.VectorGrid 1.3.0 calls L.DomEvent.fakeStop on a click, which Leaflet >= 1.8 no
# longer has ("fakeStop is not a function"); the upstream fix was never released, so
# call it only where it exists (Leaflet 1.9's canvas renderer does not stop the event either).
dst=$vendor/leaflet.vectorgrid
rm -rf "$dst" && mkdir -p "$dst"
sed 's/L\.DomEvent\.fakeStop(e);/if (L.DomEvent.fakeStop) { L.DomEvent.fakeStop(e); }/' \
  $nm/leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.js > "$dst/Leaflet.VectorGrid.bundled.js"
grep -q 'if (L.DomEvent.fakeStop)' "$dst/Leaflet.VectorGrid.bundled.js"
# Its doc comments show tile URLs of outside hosts; nothing here may name one, so the
# examples point at our own tile endpoint instead.
sed -i -e 's|"https://free-{s}.tilehosting.com/data/v3/{z}/{x}/{y}.pbf.pict?key={key}"|"/tiles/community/{z}/{x}/{y}.mvt"|' \
       -e 's|"https://{s}.tiles.mapbox.com/v4/mapbox.mapbox-streets-v6/{z}/{x}/{y}.vector.pbf?access_token={token}"|"/tiles/community/{z}/{x}/{y}.mvt"|' \
       "$dst/Leaflet.VectorGrid.bundled.js"
! grep -qE 'https?://[^"'"'"' ]*\{z\}' "$dst/Leaflet.VectorGrid.bundled.js"
sed -n '/## Legalese/,$p' $nm/leaflet.vectorgrid/README.md > "$dst/LICENSE"
printf '\nBundled: pbf, vector-tile (BSD-3-Clause, Mapbox), geojson-vt (ISC), topojson (BSD-3-Clause).\nPatched by scripts/vendor_assets.sh: L.DomEvent.fakeStop guarded for Leaflet >= 1.8; doc-comment tile URLs of outside hosts replaced by our own endpoint.\n' >> "$dst/LICENSE"

for d in "$vendor"/*/; do echo "vendored $d: $(ls "$d" | tr '\n' ' ')"; done
