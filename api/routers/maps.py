"""The first map page: the published grids of a layer, drawn from our own data."""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from api.deps import StoreDep
from gis.maps.overview import plan_svg
from gis.model import PlanStatus

router = APIRouter(tags=["maps"])


@router.get("/maps", response_class=HTMLResponse, summary="Overview map of a layer's published grids (Chinese)")
def overview(
    store: StoreDep,
    layer: str | None = None,
    max_level: Annotated[int, Query(ge=1, le=4)] = 3,
) -> HTMLResponse:
    layers = store.layers().to_dict("records")
    published = {p.layer_key: p for p in store.plans(status=PlanStatus.PUBLISHED)}
    chosen = layer or next((r["key"] for r in layers if r["key"] in published), None)
    links = " | ".join(
        f'<a href="/maps?layer={r["key"]}">{html.escape(r["name_zh"])}</a>' for r in layers if r["key"] in published
    )
    body = "<p>暂无已发布的网格方案。请先导入或运行 <code>gridgis sample</code>。</p>"
    title = "网格地图"
    if chosen and chosen in published:
        plan = published[chosen]
        grids = store.grids(plan.id)
        grids = grids[grids["level"] <= max_level]
        name_zh = next(r["name_zh"] for r in layers if r["key"] == chosen)
        title = f"{name_zh} · {html.escape(plan.name)}（第 {plan.version} 版）"
        counts = grids.groupby("level").size().to_dict()
        summary = "，".join(f"{lv} 级 {n} 个" for lv, n in sorted(counts.items()))
        level_links = " ".join(f'<a href="/maps?layer={chosen}&max_level={lv}">显示至 {lv} 级</a>' for lv in (2, 3, 4))
        body = (
            f'<p>网格：{summary}。{level_links} · <a href="/maps/plan/{plan.id}">交互地图（可离线）</a></p>'
            f'<div id="map">{plan_svg(grids, lines=store.read("lines"))}</div>'
        )
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:1.5em}}
path:hover{{fill-opacity:.9}} nav a{{margin-right:.5em}}</style></head>
<body><h1>{title}</h1><nav>图层：{links} · <a href="/docs">API 文档</a></nav>{body}
<footer><small>数据：样例区由 gridgis 生成；坐标系 CGCS2000 (EPSG:4490)</small></footer></body></html>"""
    return HTMLResponse(page)
