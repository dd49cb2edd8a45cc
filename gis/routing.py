"""Incidents to grids: the editable category -> layer table, and routing one point.

A complaint about waste water goes to the environment grid, one about food to the
food-and-drug grid. The table is kept in the store (``category_layers`` setting)
so a deployment edits it through the API without a release; categories it does not
name go to the layers under ``*`` (default: the community grid).
"""

from __future__ import annotations

from gis.lookup.engine import LookupOptions, Snapshot, answer_layer
from gis.store import Store

DEFAULT_CATEGORY_LAYERS: dict[str, list[str]] = {
    "废气": ["environment"],
    "废水": ["environment"],
    "噪声": ["environment", "community"],
    "固废": ["environment"],
    "扬尘": ["environment", "construction"],
    "食品安全": ["food_drug"],
    "药品安全": ["food_drug"],
    "无照经营": ["market"],
    "价格投诉": ["market"],
    "占道经营": ["market", "community"],
    "施工安全": ["construction"],
    "违章搭建": ["construction", "community"],
    "*": ["community"],
}


def category_layers(store: Store) -> dict[str, list[str]]:
    """The table in force: the store's setting, or the default."""
    table = store.get_setting("category_layers")
    return dict(table) if table else dict(DEFAULT_CATEGORY_LAYERS)


def route_incident(snap: Snapshot, x: float, y: float, category: str, table: dict[str, list[str]], options: LookupOptions) -> list[dict]:
    """The finest responsible grid of each layer the category goes to (store CRS point).

    Layers without a published plan are skipped; a point outside a layer's grids is
    routed with status ``outside`` and no code, so nobody is silently made responsible.
    """
    layers = table.get(category) or table.get("*") or []
    routed = []
    for key in layers:
        layer = snap.layers.get(key)
        if layer is None:
            continue
        a = answer_layer(layer, x, y, options)
        grid = a["grids"][-1] if a["grids"] else None
        routed.append(
            {
                "layer": key,
                "plan_id": layer.plan.id,
                "code": grid["code"] if grid else None,
                "name": grid["name"] if grid else None,
                "level": grid["level"] if grid else None,
                "status": a["status"],
            }
        )
    return routed
