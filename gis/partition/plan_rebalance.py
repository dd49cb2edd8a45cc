"""Rebalance a plan in the store: move sub-grids between the children of a grid.

Why: a published plan drifts (firms settle, a village grows). A planner wants the
children of a town (its village grids) back within tolerance on every weight while
as few enterprises as possible change hands, and a draft plan to review and publish.
The units are the children's own sub-grids (the unit grids of each village): moving
one moves its people with it, renumbered under its new parent (the code extends the
new parent's code, the next free number), its descendants renumbered likewise. The
children's outlines become the coverage union of their sub-grids, so the plan stays
a valid nested coverage. The moves (old code, new code, from, to, enterprises) and
the lower bound on enterprises moved are reported.

The solver is :func:`gis.partition.rebalance.rebalance`; this module is its edge to
the store.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
import shapely

from gis.errors import InvalidInput, NotFound
from gis.model import STORE_CRS
from gis.partition.job import add_weights
from gis.partition.rebalance import rebalance
from gis.partition.units import project_units

KEEP = ["code", "name", "level", "parent_code", "admin_code", "geom"]


@dataclass
class PlanRebalance:
    """The draft plan (None when not written), the moves and the figures."""

    plan_id: int | None
    base_plan_id: int
    moves: pd.DataFrame  # code, new_code, from_grid, to_grid, enterprises
    enterprises_moved: float
    lower_bound: float
    max_dev_pct_before: dict[str, float]
    max_dev_pct_after: dict[str, float]
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "plan_id": self.plan_id,
            "base_plan_id": self.base_plan_id,
            "enterprises_moved": self.enterprises_moved,
            "lower_bound": self.lower_bound,
            "max_dev_pct_before": {k: round(v, 3) for k, v in self.max_dev_pct_before.items()},
            "max_dev_pct_after": {k: round(v, 3) for k, v in self.max_dev_pct_after.items()},
            "moves": json.loads(self.moves.to_json(orient="records", force_ascii=False)),
        }


def _renumber(moves: pd.DataFrame, codes: pd.Series) -> dict[str, str]:
    """Old code -> new code for each moved sub-grid: the next free number under its new
    parent, as wide as its old number."""
    taken = set(codes.astype(str))
    out: dict[str, str] = {}
    for code, old_parent, new_parent in zip(moves["code"], moves["from_grid"], moves["to_grid"], strict=True):
        width = len(code) - len(old_parent)
        seq = 1
        while (new := f"{new_parent}{seq:0{width}d}") in taken:
            seq += 1
        taken.add(new)
        out[code] = new
    return out


def _rename(value: object, renames: dict[str, str]) -> object:
    """A code (or parent code) under a renamed sub-grid gets the new prefix."""
    if not isinstance(value, str):
        return value
    for old, new in renames.items():
        if value == old or value.startswith(old):
            return new + value[len(old):]
    return value


def run_rebalance(
    store,
    layer: str,
    parent_code: str,
    weights: list[str],
    *,
    tolerance: float | dict[str, float] = 0.05,
    plan_id: int | None = None,
    plan_name: str | None = None,
    write: bool = True,
) -> PlanRebalance:
    """Rebalance the children of ``parent_code`` in ``plan_id`` (default: the layer's
    published plan) by moving their sub-grids; write the result as a draft plan."""
    store._check_layer(layer)
    plan = store.plan(plan_id) if plan_id is not None else store.published_plan(layer)
    if plan is None:
        raise NotFound(f"Layer {layer} has no published plan; name one with --plan",
                       f"图层 {layer} 没有已发布方案；请用 --plan 指定")  # fmt: skip
    if plan.layer_key != layer:
        raise InvalidInput(f"Plan {plan.id} belongs to layer {plan.layer_key}, not {layer}",
                           f"方案 {plan.id} 属于图层 {plan.layer_key}，不是 {layer}")  # fmt: skip
    grids = store.grids(plan.id)
    codes = grids["code"].astype(str)
    parents = grids["parent_code"].astype(str)
    if not (codes == str(parent_code)).any():
        raise NotFound(f"Grid {parent_code} is not in plan {plan.id}", f"方案 {plan.id} 中没有网格 {parent_code}")
    children = grids[parents == str(parent_code)]
    if len(children) < 2:
        raise InvalidInput(f"Grid {parent_code} has {len(children)} child grid(s): nothing to rebalance",
                           f"网格 {parent_code} 只有 {len(children)} 个下级网格，无需再平衡")  # fmt: skip
    subs = grids[parents.isin(set(children["code"].astype(str)))]
    if subs.empty:
        raise InvalidInput(
            f"The child grids of {parent_code} have no sub-grids to move; partition them instead",
            f"网格 {parent_code} 的下级网格没有可移动的子网格；请改用网格划分",
        )
    units = gpd.GeoDataFrame(
        {"code": subs["code"].astype(str).to_numpy(), "grid": subs["parent_code"].astype(str).to_numpy()},
        geometry=subs.geometry.to_numpy(), crs=STORE_CRS,
    )  # fmt: skip
    units = add_weights(store, units, list(weights))
    if "area" in weights and "area" not in units.columns:
        units["area"] = project_units(units).geometry.area.to_numpy()  # m^2
    cost = "enterprises" if "enterprises" in units.columns else None
    if cost is None:  # the cost is what planners count: enterprises changing hands
        units = add_weights(store, units, ["enterprises"])
        cost = "enterprises"
    rb = rebalance(units, "grid", list(weights), cost_col=cost, tolerance=tolerance)

    moves = rb.moves.rename(columns={"unit": "row"})
    moves["code"] = units["code"].to_numpy()[moves["row"].to_numpy(dtype=int)] if len(moves) else []
    renames = _renumber(moves, codes)
    moves["new_code"] = moves["code"].map(renames)
    moves = moves[["code", "new_code", "from_grid", "to_grid", "enterprises"]].reset_index(drop=True)

    new = gpd.GeoDataFrame(grids[KEEP].reset_index(drop=True), geometry="geom", crs=STORE_CRS)
    for col in ("code", "parent_code"):
        new[col] = [_rename(v, renames) for v in new[col]]
    # a moved sub-grid hangs under its new village, and its name follows:
    # "金湾居委会第007网格" moved to 前星居委会 as its 12th becomes "前星居委会第012网格"
    child_name = dict(zip(children["code"].astype(str), children["name"].astype(str), strict=True))
    row_of = {code: i for i, code in enumerate(new["code"])}
    for m in moves.itertuples():
        i = row_of[m.new_code]
        name = str(new.at[i, "name"])
        if name.startswith(child_name[m.from_grid]):
            name = child_name[m.to_grid] + name[len(child_name[m.from_grid]):]
        new.at[i, "parent_code"] = m.to_grid
        new.at[i, "name"] = re.sub(r"第\d+网格$", f"第{m.new_code[len(m.to_grid):]}网格", name)
    # children's outlines: the coverage union of their sub-grids (shared edges stay exact)
    for child in children["code"].astype(str):
        parts = new.loc[new["parent_code"].astype(str) == child, "geom"].to_numpy()
        union = shapely.coverage_union_all(parts) if len(parts) else None
        if union is not None and not union.is_empty:
            new.loc[new["code"] == child, "geom"] = gpd.GeoSeries([union], crs=STORE_CRS).to_numpy()
    people = store.people(plan.id).drop(columns=["id", "plan_id"], errors="ignore")
    if len(people):
        people["grid_code"] = [_rename(v, renames) for v in people["grid_code"]]
    frames = {"grids": new, "people": people}
    new_id = None
    if write:
        from gis.store.base import NewPlan

        parent_name = str(grids.loc[codes == str(parent_code), "name"].iloc[0])
        name = plan_name or f"{parent_name} 再平衡（草稿）"
        note = json.dumps({"rebalance": {"parent_code": str(parent_code), "weights": list(weights),
                                         "tolerance": tolerance, "base_plan": plan.id,
                                         "moves": len(moves), "enterprises_moved": rb.enterprises_moved}},
                          ensure_ascii=False)  # fmt: skip
        new_id = store.write(frames, plan=NewPlan(layer, name, note)).plan_id
    return PlanRebalance(new_id, plan.id, moves, float(rb.enterprises_moved), float(rb.lower_bound),
                         rb.max_dev_pct_before, rb.max_dev_pct_after, frames)  # fmt: skip

