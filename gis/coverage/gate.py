"""The publish gate: a plan whose coverage check finds errors is not published.

``install(store)`` appends :func:`coverage_publish_check` to ``store.publish_checks``
(the CLI and the API do it where they open the store). Inside ``Store.publish``
the check loads the plan, runs :func:`gis.coverage.check.check_coverage` and
refuses with :class:`CoverageRefused` (a Conflict, HTTP 409) listing the findings
when there is any error, or any warning whose kind the publisher did not
acknowledge (``publish(plan_id, acknowledge=["sliver"])``). Errors can never be
acknowledged. When it passes, it returns the simplified geometries per zoom band
(:mod:`gis.coverage.simplify`), which the store writes into ``grid_simplified``
in the publish transaction, and the store records the acknowledgement in
``plan_events``.

This module reads through the repository API only (no SQL), so it is the glue
between the store and the pure check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from gis.coverage.check import KINDS, WARNING, CoverageReport, Finding, check_coverage
from gis.coverage.simplify import simplify_plan
from gis.errors import Conflict, InvalidInput, Problem

if TYPE_CHECKING:
    from gis.model import Plan
    from gis.store.base import Store

#: at most this many findings are listed in a refusal (the count is always complete)
MAX_LISTED = 200


class CoverageRefused(Conflict):
    """The plan's coverage check found errors, or warnings not acknowledged."""


def plan_outline(store: Store, grids: gpd.GeoDataFrame) -> BaseGeometry | None:
    """The administrative outline of the plan's area: the level-1 admin unit named by
    the level-1 grid's admin code (or whose code starts with the grid code); None
    when the store has none (then the level-1 grids are the area)."""
    top = grids[grids["level"] == grids["level"].min()] if len(grids) else grids
    if top.empty or int(top["level"].iloc[0]) != 1 or len(top) != 1:
        return None
    row = top.iloc[0]
    units = store.read("admin_units", {"level": 1})
    if units.empty:
        return None
    admin = row.get("admin_code")
    hit = units[units["code"] == admin] if admin else units.iloc[0:0]
    if hit.empty:
        hit = units[units["code"].astype(str).str.startswith(str(row["code"]))]
    return None if hit.empty else hit.geometry.iloc[0]


def plan_inputs(
    store: Store, plan_id: int
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, BaseGeometry | None]:
    """(grids, people, outline) of a plan, as :func:`check_coverage` takes them."""
    grids = store.grids(plan_id)
    return grids, store.people(plan_id), plan_outline(store, grids)


def check_plan(store: Store, plan_id: int) -> CoverageReport:
    store.plan(plan_id)  # NotFound for a plan that does not exist
    return check_coverage(*plan_inputs(store, plan_id))


def finding_problem(f: Finding) -> Problem:
    size = f", {f.area_m2} m²" if f.area_m2 is not None else ""
    grids = ", ".join(f.grids)
    return Problem(
        f"{f.severity} {f.kind} [{grids}]{size}: {f.message}",
        f"{'错误' if f.severity == 'error' else '警告'} {KINDS[f.kind][2]} [{grids}]{size}：{f.message_zh}",
        "grids",
        None,
        "geom"
        if f.geom is not None
        and f.kind not in ("missing_grid_leader", "missing_responsible_officer")
        else "code",
    )


def coverage_publish_check(store: Store, plan: Plan) -> dict[str, Any]:
    """A ``Store.publish_checks`` entry: refuse on errors or unacknowledged warnings;
    otherwise hand back the simplified geometries to store with the publish."""
    acknowledged = set(plan.extra.get("acknowledge") or ())
    unknown = sorted(acknowledged - set(KINDS))
    if unknown:
        raise InvalidInput(
            f"Unknown finding kind(s) to acknowledge: {unknown}; warning kinds: "
            f"{sorted(k for k, v in KINDS.items() if v[0] == WARNING)}",
            f"无法确认未知的检查类型：{unknown}",
        )
    grids, people, outline = plan_inputs(store, plan.id)
    report = check_coverage(grids, people, outline)
    errors = report.errors
    open_warnings = [f for f in report.warnings if f.kind not in acknowledged]
    if errors or open_warnings:
        blocking = errors + open_warnings
        kinds = sorted({f.kind for f in open_warnings})
        hint = (
            f"; acknowledge the warnings with --acknowledge {' --acknowledge '.join(kinds)}"
            if kinds and not errors
            else ""
        )
        raise CoverageRefused(
            f"Plan {plan.id} cannot be published: the coverage check found {len(errors)} error(s) "
            f"and {len(open_warnings)} unacknowledged warning(s){hint}",
            f"方案 {plan.id} 无法发布：覆盖检查发现 {len(errors)} 个错误、{len(open_warnings)} 个未确认的警告",
            [finding_problem(f) for f in blocking[:MAX_LISTED]],
        )
    counts: dict[str, int] = {}
    for f in report.warnings:
        counts[f.kind] = counts.get(f.kind, 0) + 1
    plan.extra["acknowledged_findings"] = counts
    return {"grid_simplified": simplify_plan(grids)}


def install(store: Store) -> Store:
    """Register the coverage gate on ``store`` (once); returns the store."""
    if coverage_publish_check not in store.publish_checks:
        store.publish_checks.append(coverage_publish_check)
    return store
