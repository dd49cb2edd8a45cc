"""An interactive map of one plan with folium: pure, frames in, a ``folium.Map`` out.

Layers (all names and labels in Chinese): a basemap drawn from our own roads,
rivers and place names (no tile server anywhere), the administrative outline,
the grids of each level (tooltip: code and name; popup: the responsible people
and their phones), enterprises clustered and coloured by supervision level,
incidents as a heat map and as points. A level with more grids than
``inline_max`` is drawn from our vector tiles when a tile URL is given
(Leaflet.VectorGrid; the popup asks the API for the grid's people), and inline
otherwise (the standalone file). Assets come from :mod:`gis.maps.assets`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import FastMarkerCluster, HeatMap
from jinja2 import Template

from gis.attribution import credits
from gis.maps.assets import URL_PREFIX, Styles, offline
from gis.model import ROLE_ZH, Role

LEVEL_ZH = {1: "区县级", 2: "镇街级", 3: "村居级", 4: "单元网格"}
LEVEL_STYLE = {
    1: {"color": "#b2182b", "weight": 3.0, "fillOpacity": 0.0},
    2: {"color": "#2b5fb3", "weight": 2.0, "fillOpacity": 0.04},
    3: {"color": "#1b7837", "weight": 1.2, "fillOpacity": 0.06},
    4: {"color": "#7a5195", "weight": 0.6, "fillOpacity": 0.08},
}
SUPERVISION_COLOUR = {"district": "#d7191c", "town": "#fdae61", "village": "#1a9641"}
SUPERVISION_ZH = {"district": "区级重点监管", "town": "镇（街道）级", "village": "村（居）级"}
#: simplification for inline grids, degrees (about 2 m; 10 m for big levels)
INLINE_TOLERANCE = {"small": 0.00002, "large": 0.0001}


@dataclass(frozen=True)
class TiledGrids:
    """Draw one grid level from vector tiles instead of inline GeoJSON."""

    url: str  # .../tiles/{layer}/{z}/{x}/{y}.mvt
    layer: str  # the MVT layer name (the sector layer key)
    detail_url: str = "/grids/"  # + code + ?layer=...: the grid with its people (JSON)
    min_zoom: int = 12


def _people_html(people: list[dict]) -> str:
    if not people:
        return "<i>暂无责任人</i>"
    rows = "".join(
        f"<tr><td>{html.escape(ROLE_ZH.get(Role(p['role']), p['role']) if p.get('role') in Role._value2member_map_ else str(p.get('role') or ''))}</td>"
        f"<td>{html.escape(str(p.get('name') or ''))}</td><td>{html.escape(str(p.get('phone') or ''))}</td></tr>"
        for p in people
    )
    return (
        f'<table class="gg-people"><tr><th>职责</th><th>姓名</th><th>电话</th></tr>{rows}</table>'
    )


def _feature_collection(frame: pd.DataFrame, geoms: np.ndarray, props: list[str]) -> dict:
    geoms = shapely.set_precision(np.asarray(geoms, dtype=object), 1e-6)
    feats = []
    for row, g in zip(frame[props].to_dict("records"), shapely.to_geojson(geoms), strict=True):
        clean = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        feats.append({"type": "Feature", "properties": clean, "geometry": json.loads(g)})
    return {"type": "FeatureCollection", "features": feats}


class _Title(MacroElement):
    _template = Template(
        """{% macro html(this, kwargs) %}<div class="gg-title">{{ this.text|e }}</div>{% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class _Legend(MacroElement):
    _template = Template(
        """{% macro html(this, kwargs) %}<div class="gg-legend">{{ this.body }}</div>{% endmacro %}"""
    )

    def __init__(self, body: str) -> None:
        super().__init__()
        self.body = body


class _Attribution(MacroElement):
    """The data credits (:mod:`gis.attribution`) in Leaflet's attribution control."""

    _template = Template(
        """{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.attributionControl"""
        """.addAttribution({{ this.text|tojson }});{% endmacro %}"""
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class _Recluster(MacroElement):
    """Add the enterprise cluster group again once the map has settled.

    Why: on the served map (grid levels from vector tiles) the group, added while the
    page builds, showed no cluster at all until re-added (Leaflet.markercluster 1.5.3
    with VectorGrid 1.3.0 on the same map; the standalone file, without tiles, was
    fine). Re-adding it after the first layout is cheap and shows them every time.
    """

    _template = Template(
        """{% macro script(this, kwargs) %}{{ this._parent.get_name() }}.whenReady(function () {
  setTimeout(function () { var m = {{ this._parent.get_name() }}, c = {{ this.cluster }};
    if (m.hasLayer(c)) { m.removeLayer(c); m.addLayer(c); } }, 0); });{% endmacro %}"""
    )

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster


class _TiledLayer(JSCSSMixin, folium.map.Layer):
    """One grid level from our MVT tiles (Leaflet.VectorGrid), click -> people popup."""

    asset_kind = "vectorgrid"
    default_js = [("vectorGrid", "")]
    _template = Template(
        """{% macro script(this, kwargs) %}
if (!{{ this._parent.get_name() }}.getPane("ggTiled")) {  // above the inline grids' canvas, so clicks reach the tiles
    {{ this._parent.get_name() }}.createPane("ggTiled").style.zIndex = 450;
}
var {{ this.get_name() }} = L.vectorGrid.protobuf({{ this.tiled.url|tojson }}, {
    rendererFactory: L.canvas.tile, interactive: true, maxNativeZoom: 18, minZoom: {{ this.tiled.min_zoom }}, pane: "ggTiled",
    getFeatureId: function (f) { return f.id; },
    vectorTileLayerStyles: { {{ this.tiled.layer|tojson }}: function (p) {
        return p.level == {{ this.level }} ? {{ this.style|tojson }} : []; } }
});
{{ this.get_name() }}.on("click", function (e) {
    var p = e.layer.properties, roles = {{ this.roles|tojson }};
    window.__ggTileClick = p;  // for tests and debugging
    var esc = function (s) { return String(s == null ? "" : s).replace(/[&<>"]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); };
    fetch({{ this.tiled.detail_url|tojson }} + encodeURIComponent(p.code) + "?layer=" + encodeURIComponent({{ this.tiled.layer|tojson }}))
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var g = (d.layers && d.layers[0] && d.layers[0].grid) || {name: p.name, code: p.code, people: []};
        var rows = (g.people || []).map(function (q) {
          return "<tr><td>" + esc(roles[q.role] || q.role) + "</td><td>" + esc(q.name) + "</td><td>" + esc(q.phone) + "</td></tr>"; }).join("");
        L.popup().setLatLng(e.latlng).setContent("<b>" + esc(g.name) + "</b><br>编码 " + esc(g.code) +
          (rows ? '<table class="gg-people"><tr><th>职责</th><th>姓名</th><th>电话</th></tr>' + rows + "</table>" : "<br><i>暂无责任人</i>"))
          .openOn({{ this._parent.get_name() }});
      });
});
{% if this.show %}{{ this.get_name() }}.addTo({{ this._parent.get_name() }});{% endif %}
{% endmacro %}"""
    )

    def __init__(self, tiled: TiledGrids, level: int, name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TiledGrids"
        self.tiled = tiled
        self.level = level
        self.style = {
            **LEVEL_STYLE.get(level, LEVEL_STYLE[4]),
            "fill": True,
            "fillColor": LEVEL_STYLE.get(level, LEVEL_STYLE[4])["color"],
        }
        self.roles = {r.value: zh for r, zh in ROLE_ZH.items()}


CSS = """
.leaflet-container { font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei", "Microsoft YaHei", sans-serif; background: #f4f1ea; }
.gg-title { position: absolute; top: 10px; left: 50px; z-index: 1000; background: #fff; padding: 4px 10px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 16px; font-weight: bold; }
.gg-legend { position: absolute; bottom: 30px; right: 10px; z-index: 1000; background: #fff; padding: 6px 10px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); font-size: 12px; line-height: 1.6; }
.gg-legend i { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
.gg-people { border-collapse: collapse; margin-top: 4px; } .gg-people td, .gg-people th { border: 1px solid #ccc; padding: 1px 4px; }
.gg-label { font-size: 12px; color: #333; white-space: nowrap; text-shadow: 0 0 3px #fff, 0 0 3px #fff; }
"""


def plan_map(
    grids: gpd.GeoDataFrame,
    people: pd.DataFrame,
    *,
    title: str,
    enterprises: gpd.GeoDataFrame | None = None,
    incidents: gpd.GeoDataFrame | None = None,
    outline: gpd.GeoDataFrame | None = None,
    lines: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
    tiles: TiledGrids | None = None,
    inline_max: int = 1500,
    asset_prefix: str = URL_PREFIX,
    findings: list | None = None,
    attribution: list[str] | None = None,
) -> folium.Map:
    """The folium map of one plan (grids in the store CRS, lon/lat); ``findings`` (of a
    coverage check) are drawn on top, red for errors and orange for warnings;
    ``attribution``: the data credits shown in the corner."""
    minx, miny, maxx, maxy = (
        shapely.total_bounds(grids.geometry.to_numpy()) if len(grids) else (120, 30, 122, 32)
    )
    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=11,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
    )
    m.options["maxZoom"] = 19  # no tile layer sets it, and MarkerCluster needs it
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    m.add_child(Styles(CSS))
    m.add_child(_Title(title))
    if attribution:
        m.add_child(_Attribution("数据：" + "；".join(html.escape(a) for a in attribution)))

    # basemap from our own data
    if lines is not None and len(lines):
        base = folium.FeatureGroup(name="底图：道路与河流", overlay=True, control=True)
        fc = _feature_collection(
            lines, shapely.simplify(lines.geometry.to_numpy(), 0.00005), ["kind", "name"]
        )
        folium.GeoJson(
            fc,
            style_function=lambda f: {"color": "#3b7dd8" if f["properties"]["kind"] == "river" else "#b05a00",
                                      "weight": 2.5 if f["properties"]["kind"] == "river" else 1.2, "opacity": 0.8},
            tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["名称"], labels=False),
            interactive=True,
        ).add_to(base)  # fmt: skip
        base.add_to(m)
    if places is not None and len(places):
        labels = folium.FeatureGroup(name="地名", overlay=True, control=True)
        pts = shapely.point_on_surface(places.geometry.to_numpy())
        for name, p in zip(places["name"], pts, strict=True):
            folium.Marker(
                [p.y, p.x],
                icon=folium.DivIcon(
                    html=f'<div class="gg-label">{html.escape(str(name))}</div>', icon_size=(0, 0)
                ),
            ).add_to(labels)
        labels.add_to(m)
    if outline is not None and len(outline):
        fc = _feature_collection(outline, outline.geometry.to_numpy(), ["name"])
        folium.GeoJson(
            fc,
            name="行政区划边界",
            style_function=lambda f: {
                "color": "#000",
                "weight": 3,
                "fill": False,
                "dashArray": "6 4",
            },
        ).add_to(m)

    # grids by level
    by_code: dict[str, list[dict]] = {}
    for r in people.to_dict("records"):
        by_code.setdefault(str(r["grid_code"]), []).append(r)
    legend = []
    for level in sorted(int(v) for v in grids["level"].unique()):
        sub = grids[grids["level"] == level]
        style = LEVEL_STYLE.get(level, LEVEL_STYLE[4])
        label = f"{LEVEL_ZH.get(level, f'第{level}级')}网格（{len(sub)} 个）"
        legend.append(
            f'<div><i style="border:2px solid {style["color"]};background:{style["color"]}22"></i>{html.escape(label)}</div>'
        )
        if len(sub) > inline_max and tiles is not None:
            _TiledLayer(tiles, level, label + " · 矢量瓦片").add_to(m)
            continue
        tol = INLINE_TOLERANCE["large" if len(sub) > inline_max else "small"]
        frame = sub.assign(
            popup=[f"<b>{html.escape(str(n))}</b><br>编码 {html.escape(str(c))}<br>{_people_html(by_code.get(str(c), []))}"
                   for c, n in zip(sub["code"], sub["name"], strict=True)],
            level_zh=LEVEL_ZH.get(level, str(level)),
        )  # fmt: skip
        fc = _feature_collection(
            frame,
            shapely.simplify(sub.geometry.to_numpy(), tol),
            ["code", "name", "level_zh", "popup"],
        )
        folium.GeoJson(
            fc,
            name=label,
            style_function=lambda f, s=style: {**s, "fillColor": s["color"]},
            highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.25},
            tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=["编码", "名称"]),
            popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
            show=level <= 3,
        ).add_to(m)

    # enterprises: clustered, coloured by supervision level
    if enterprises is not None and len(enterprises):
        pts = enterprises.geometry.to_numpy()
        data = [
            [round(float(y), 6), round(float(x), 6), str(n), str(lv), str(c)]
            for x, y, n, lv, c in zip(shapely.get_x(pts), shapely.get_y(pts), enterprises["name"],
                                      enterprises["supervision_level"], enterprises["credit_code"], strict=True)
        ]  # fmt: skip
        callback = (
            "function (row) { var colours = "
            + json.dumps(SUPERVISION_COLOUR)
            + ", names = "
            + json.dumps(SUPERVISION_ZH, ensure_ascii=False)
            + "; var m = L.circleMarker(new L.LatLng(row[0], row[1]), {radius: 6, color: '#333', weight: 1, fillOpacity: 0.9,"
            " fillColor: colours[row[3]] || '#888'});"
            " m.bindTooltip(row[2]); m.bindPopup('<b>' + row[2] + '</b><br>统一社会信用代码 ' + row[4] + '<br>' + (names[row[3]] || row[3]));"
            " return m; }"
        )
        cluster = FastMarkerCluster(
            data, callback=callback, name=f"监管企业（{len(data)} 家）", show=True
        ).add_to(m)
        m.add_child(_Recluster(cluster.get_name()))
        legend += [
            f'<div><i style="background:{c};border-radius:50%"></i>企业：{SUPERVISION_ZH[k]}</div>'
            for k, c in SUPERVISION_COLOUR.items()
        ]

    # incidents: heat map and points
    if incidents is not None and len(incidents):
        pts = incidents.geometry.to_numpy()
        HeatMap(
            np.column_stack([shapely.get_y(pts), shapely.get_x(pts)]).round(6).tolist(),
            name="事件热力图",
            radius=14,
            show=False,
        ).add_to(m)
        days = pd.to_datetime(incidents["reported_at"], utc=True).dt.strftime("%Y-%m-%d")
        frame = incidents.assign(reported_on=days)
        fc = _feature_collection(frame, pts, ["category", "source", "status", "reported_on"])
        folium.GeoJson(
            fc,
            name=f"事件点位（{len(frame)} 件）",
            marker=folium.CircleMarker(
                radius=4, color="#800026", fill=True, fill_opacity=0.8, weight=1
            ),
            tooltip=folium.GeoJsonTooltip(
                fields=["category", "source", "status", "reported_on"],
                aliases=["类别", "来源", "状态", "日期"],
            ),
            show=False,
        ).add_to(m)
        legend.append('<div><i style="background:#800026;border-radius:50%"></i>事件</div>')

    if findings:
        _add_findings(m, findings)
        legend.append('<div><i style="background:#d7191c"></i>覆盖检查错误</div>')
        legend.append('<div><i style="background:#fd8d3c"></i>覆盖检查警告</div>')

    m.add_child(_Legend("<b>图例</b>" + "".join(legend)))
    folium.LayerControl(collapsed=False).add_to(m)
    offline(m, asset_prefix)
    return m


def _add_findings(m: folium.Map, findings: list) -> None:
    """Coverage findings where they are: a gap, an overlap, a crossing is a shape to see."""
    from gis.coverage.check import KINDS

    feats = []
    for f in findings:
        if f.geom is None or shapely.is_empty(f.geom):
            continue
        # a sliver is often too thin to see: draw its outline a little buffered
        geom = f.geom if f.geom.geom_type != "Point" else f.geom.buffer(0.0002)
        size = f"{f.area_m2:,.1f} m²" if f.area_m2 is not None else ""
        feats.append(
            {
                "type": "Feature",
                "properties": {
                    "severity": "错误" if f.severity == "error" else "警告",
                    "kind": KINDS.get(f.kind, ("", f.kind, f.kind))[2],
                    "grids": "、".join(f.grids),
                    "message": f.message_zh,
                    "size": size,
                    "error": f.severity == "error",
                },
                "geometry": shapely.geometry.mapping(geom),
            }
        )
    group = folium.FeatureGroup(name=f"覆盖检查问题（{len(feats)} 处）", overlay=True, control=True)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats},
        style_function=lambda f: {
            "color": "#d7191c" if f["properties"]["error"] else "#fd8d3c",
            "weight": 4,
            "fillOpacity": 0.5,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["severity", "kind", "grids", "message", "size"],
            aliases=["级别", "问题", "涉及网格", "说明", "面积"],
        ),
    ).add_to(group)
    group.add_to(m)


# ---------------------------------------------------------------------- glue (reads through the repository API)


def store_map(
    store, plan_id: int, *, tiles: TiledGrids | None = None, inline_max: int = 1500, findings: list | None = None
) -> folium.Map:
    """:func:`plan_map` of plan ``plan_id`` with everything read from ``store``."""
    plan = store.plan(plan_id)
    layers = store.layers()
    name_zh = dict(zip(layers["key"], layers["name_zh"], strict=True)).get(
        plan.layer_key, plan.layer_key
    )
    status_zh = {"draft": "草稿", "published": "已发布", "archived": "已归档"}.get(
        str(plan.status), str(plan.status)
    )
    admin = store.read("admin_units")
    return plan_map(
        store.grids(plan_id),
        store.people(plan_id),
        title=f"{name_zh} · {plan.name}（第 {plan.version} 版，{status_zh}）",
        enterprises=store.read("enterprises"),
        incidents=store.read("incidents"),
        outline=admin[admin["level"] == 1],
        lines=store.read("lines"),
        places=admin[admin["level"] == 2],
        tiles=tiles,
        inline_max=inline_max,
        findings=findings,
        attribution=credits(store),
    )
