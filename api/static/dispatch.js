// Dispatcher page: coordinates, map clicks and search -> responsible grids and people.
// Everything comes from this service; the basemap is drawn from our own roads, rivers
// and administrative units (no tiles, no CDN).
"use strict";

const STATE_ZH = { inside: "网格内", snapped: "已吸附到最近网格", outside: "不在任何网格内" };
const ROLE_ZH = { grid_leader: "网格长", responsible_officer: "监管责任人", grid_worker: "网格员", supervisor: "监督员" };
const LEVEL_ZH = { district: "区级", town: "镇（街道）级", village: "村（居）级" };

const map = L.map("map", { zoomControl: true, attributionControl: false, preferCanvas: true });
map.setView([30.85, 121.2], 11);
L.control.scale({ imperial: false }).addTo(map);

const gridLayer = L.layerGroup().addTo(map);
const highlight = L.layerGroup().addTo(map);
const labels = L.layerGroup().addTo(map);
let marker = null;

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

async function getJSON(url, options) {
  const r = await fetch(url, options);
  const body = await r.json();
  if (!r.ok) throw new Error(body.detail_zh ? `${body.detail_zh}（${body.detail}）` : body.detail || r.statusText);
  return body;
}

async function drawBasemap() {
  const layers = await getJSON("/layers");
  const base = layers.find((l) => l.key === "community" && l.published_plan_id) || layers.find((l) => l.published_plan_id);
  if (base) {
    const grids = await getJSON(`/maps/grids?layer=${base.key}&max_level=3`);
    const geo = L.geoJSON(grids, {
      style: (f) => ({ color: f.properties.level <= 2 ? "#444" : "#888", weight: f.properties.level <= 2 ? 2 : 0.7, fill: false }),
    }).addTo(gridLayer);
    if (geo.getBounds().isValid()) map.fitBounds(geo.getBounds());
  }
  const lines = await getJSON("/basemap/lines");
  L.geoJSON(lines, {
    style: (f) => (f.properties.kind === "river"
      ? { color: "#3b7dd8", weight: 3, opacity: 0.8 }
      : { color: "#c26a00", weight: f.properties.class === "expressway" ? 3 : 1.5, opacity: 0.9 }),
    onEachFeature: (f, layer) => { if (f.properties.name) layer.bindTooltip(f.properties.name, { sticky: true }); },
  }).addTo(map);
  const places = await getJSON("/basemap/places");
  for (const f of places.features) {
    const [lon, lat] = f.geometry.coordinates;
    const icon = L.divIcon({ className: `place-label ${f.properties.kind}`, html: esc(f.properties.name), iconSize: null });
    L.marker([lat, lon], { icon, interactive: false, kind: f.properties.kind }).addTo(labels);
  }
  updateLabels();
}

function updateLabels() {
  const z = map.getZoom();
  labels.eachLayer((m) => {
    const show = m.options.kind === "town" || z >= 13;
    m.setOpacity(show ? 1 : 0);
  });
}
map.on("zoomend", updateLabels);

function personLine(p) {
  const phone = p.phone ? `<a href="tel:${esc(p.phone)}">${esc(p.phone)}</a>` : "";
  return `<li>${esc(ROLE_ZH[p.role] || p.role)}：${esc(p.name)} ${phone}${p.department ? `（${esc(p.department)}）` : ""}</li>`;
}

function renderAnswer(a) {
  const parts = [];
  for (const layer of a.layers) {
    const chain = layer.grids.map((g) => `<span>${esc(g.name)}（${esc(g.code)}）</span>`).join(" → ");
    const own = layer.grids[layer.grids.length - 1];
    let extra = "";
    if (layer.status !== "inside") extra += `<div class="warn">距最近网格 ${layer.distance_m} 米${layer.nearest ? `：${esc(layer.nearest.name)}` : ""}</div>`;
    if (layer.on_boundary) extra += `<div class="warn">位于网格边界，按规则归属编码较小的网格；相邻：${layer.touching.map((g) => esc(g.name)).join("、")}</div>`;
    if (layer.near_boundary.length) extra += `<div class="warn">临近网格：${layer.near_boundary.map((g) => `${esc(g.name)}（${g.distance_m} 米）`).join("、")}</div>`;
    parts.push(`<div class="layer-answer" data-layer="${esc(layer.layer)}" data-status="${layer.status}">
      <h2>${esc(layer.layer_name)} <small class="state-${layer.status}">${STATE_ZH[layer.status]}</small></h2>
      <div class="grid-chain">${chain || "（无）"}</div>${extra}
      ${own ? `<div>责任网格：<b class="owner">${esc(own.name)}</b> <code>${esc(own.code)}</code></div><ul class="people">${own.people.map(personLine).join("")}</ul>` : ""}
    </div>`);
  }
  for (const e of a.enterprises) {
    const resp = e.responsible.map((g) => `${esc(g.name)}（${esc(g.code)}）`).join("、");
    parts.push(`<div class="enterprise"><b>${esc(e.name)}</b> ${esc(e.credit_code)} · ${esc(LEVEL_ZH[e.supervision_level] || e.supervision_level)}监管 · ${e.distance_m} 米<br>责任网格：${resp}</div>`);
  }
  document.getElementById("answer").innerHTML = parts.join("");
  document.getElementById("status").textContent = `方案版本 ${a.plan_version} · 坐标系 ${a.query.crs} · (${a.point.lon.toFixed(6)}, ${a.point.lat.toFixed(6)})`;
}

async function showGrid(a) {
  highlight.clearLayers();
  const layer = a.layers.find((l) => l.grids.length) || null;
  if (!layer) return;
  const own = layer.grids[layer.grids.length - 1];
  const shape = await getJSON(`/grids/${encodeURIComponent(own.code)}/geometry?layer=${layer.layer}`);
  L.geoJSON(shape, { style: { color: "#d7191c", weight: 3, fillOpacity: 0.15 } }).addTo(highlight);
  document.getElementById("map").dataset.highlighted = own.code;  // for people and tests alike
}

async function lookup(lon, lat, crs) {
  document.getElementById("status").textContent = "查询中……";
  try {
    const a = await getJSON(`/lookup?lon=${lon}&lat=${lat}&crs=${encodeURIComponent(crs)}`);
    renderAnswer(a);
    const p = [a.point.lat, a.point.lon];
    if (marker) marker.setLatLng(p); else marker = L.marker(p).addTo(map);
    await showGrid(a);
  } catch (err) {
    document.getElementById("answer").innerHTML = "";
    document.getElementById("status").textContent = `错误：${err.message}`;
  }
}

document.getElementById("coord-btn").addEventListener("click", () => {
  const text = document.getElementById("coord-input").value.trim();
  const m = text.match(/^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$/);
  if (!m) { document.getElementById("status").textContent = "请输入“经度, 纬度”，例如 121.2035, 30.8511"; return; }
  lookup(m[1], m[2], document.getElementById("crs-select").value);
});
document.getElementById("coord-input").addEventListener("keydown", (e) => { if (e.key === "Enter") document.getElementById("coord-btn").click(); });

map.on("click", (e) => lookup(e.latlng.lng.toFixed(7), e.latlng.lat.toFixed(7), "cgcs2000"));

async function runSearch() {
  const q = document.getElementById("search-input").value.trim();
  const list = document.getElementById("search-results");
  if (!q) return;
  try {
    const hits = await getJSON(`/search?q=${encodeURIComponent(q)}&limit=20`);
    list.innerHTML = hits.length ? hits.map((h, i) => `<li data-i="${i}" data-kind="${esc(h.kind)}"><span class="kind">${esc(h.kind_zh)}</span>${esc(h.name)} <small>${esc(h.code || "")}</small></li>`).join("") : "<li>未找到</li>";
    list.querySelectorAll("li[data-i]").forEach((li) => li.addEventListener("click", () => {
      const h = hits[Number(li.dataset.i)];
      map.setView([h.lat, h.lon], Math.max(map.getZoom(), 15));
      lookup(h.lon, h.lat, "cgcs2000");
    }));
  } catch (err) {
    list.innerHTML = `<li>错误：${esc(err.message)}</li>`;
  }
}
document.getElementById("search-btn").addEventListener("click", runSearch);
document.getElementById("search-input").addEventListener("keydown", (e) => { if (e.key === "Enter") runSearch(); });

drawBasemap().catch((err) => { document.getElementById("status").textContent = `底图加载失败：${err.message}`; });
