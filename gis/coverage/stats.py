"""Per-grid statistics of a plan: area, enterprises, incidents, people, load.

Pure: frames in, frames out. Enterprises and incidents are assigned to the grid
of every level that covers them, by the lookup engine's index (ST_Covers; on a
shared edge the lowest code wins). Every level's counts add up
to the store's totals: what no grid of a level covers is counted in
:attr:`GridStats.outside`.

Columns (Chinese headers in :data:`HEADERS_ZH`): area; enterprises located in
the grid by supervision level and risk class; ``ent_responsible``: enterprises
this grid is responsible for (supervision level district -> level 1, town -> 2,
village -> 3); incidents by category, by status, and per month (Asia/Shanghai)
in :attr:`GridStats.by_period`; people on duty by role; load per grid worker =
(enterprises located + incidents) / grid workers (empty without a worker).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.crs import geoms_from_store, projected_crs_for
from gis.errors import InvalidInput
from gis.lookup.index import GridIndex
from gis.model import RISK_CLASSES, SUPERVISION_GRID_LEVEL, Role, SupervisionLevel

LOCAL_TZ = "Asia/Shanghai"

HEADERS_ZH: dict[str, str] = {
    "code": "网格编码",
    "name": "网格名称",
    "level": "层级",
    "parent_code": "上级网格编码",
    "area_km2": "面积（平方公里）",
    "enterprises": "企业数",
    "ent_district": "区级监管企业",
    "ent_town": "镇级监管企业",
    "ent_village": "村级监管企业",
    "ent_risk_low": "低风险企业",
    "ent_risk_medium": "中风险企业",
    "ent_risk_high": "高风险企业",
    "ent_risk_major": "重大风险企业",
    "ent_risk_unknown": "风险未定企业",
    "ent_responsible": "本网格负责监管企业",
    "incidents": "事件数",
    "incidents_open": "未结事件",
    "incidents_closed": "已结事件",
    "grid_leader": "网格长",
    "responsible_officer": "监管责任人",
    "grid_worker": "网格员",
    "supervisor": "监督员",
    "people": "人员合计",
    "load_per_worker": "人均工作量（每名网格员）",
    "period": "月份",
    "count": "数量",
}


@dataclass
class GridStats:
    """``table``: one row per grid; ``by_period``: (code, level, period, count) of incidents;
    ``outside``: per level, enterprises and incidents no grid covers; ``totals``: the
    input counts they must add up to."""

    table: pd.DataFrame
    by_period: pd.DataFrame
    outside: dict[int, dict[str, int]] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)

    def level_sums(self) -> dict[int, dict[str, int]]:
        """Per level, enterprises and incidents assigned + outside (== totals)."""
        out = {}
        for lv, part in self.table.groupby("level"):
            lv = int(lv)
            out[lv] = {
                "enterprises": int(part["enterprises"].sum()) + self.outside[lv]["enterprises"],
                "incidents": int(part["incidents"].sum()) + self.outside[lv]["incidents"],
            }
        return out

    def to_json(self) -> dict:
        table = self.table.astype(object).where(self.table.notna(), None)
        return {
            "grids": table.to_dict("records"),
            "incidents_by_period": self.by_period.to_dict("records"),
            "outside": {str(k): v for k, v in self.outside.items()},
            "totals": self.totals,
            "headers_zh": {c: HEADERS_ZH.get(c, _zh_header(c)) for c in self.table.columns},
        }


def _zh_header(col: str) -> str:
    if col.startswith("incidents_cat_"):
        return "事件：" + col.removeprefix("incidents_cat_")
    return col


def assign_points(points: np.ndarray, grids: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Index into ``grids`` of the grid covering each point (-1: none), by the lookup
    engine (:class:`gis.lookup.GridIndex`): ST_Covers semantics, lowest code on a shared edge."""
    if not len(points) or not len(grids):
        return np.full(len(points), -1, dtype=np.int64)
    return GridIndex(grids, codes).locate(shapely.get_x(points), shapely.get_y(points))


def grid_stats(
    grids: gpd.GeoDataFrame,
    enterprises: gpd.GeoDataFrame,
    incidents: gpd.GeoDataFrame,
    people: pd.DataFrame,
) -> GridStats:
    """Statistics of every grid of a plan (all levels)."""
    g = grids.reset_index(drop=True)
    geoms = np.asarray(g.geometry.to_numpy(), dtype=object)
    codes = g["code"].astype(str).to_numpy(dtype=object)
    levels = g["level"].astype(int).to_numpy()
    table = pd.DataFrame(
        {
            "code": codes,
            "name": g["name"].to_numpy() if "name" in g else codes,
            "level": levels,
            "parent_code": g["parent_code"].to_numpy() if "parent_code" in g else None,
        }
    )
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    area = np.full(len(g), np.nan)
    if ok.any():
        crs = projected_crs_for(geoms[ok]).to_string()
        area[ok] = shapely.area(geoms_from_store(geoms[ok], crs)) / 1e6
    table["area_km2"] = np.round(area, 6)

    e_pts = np.asarray(enterprises.geometry.to_numpy(), dtype=object)
    i_pts = np.asarray(incidents.geometry.to_numpy(), dtype=object)
    outside: dict[int, dict[str, int]] = {}
    e_at: dict[int, np.ndarray] = {}
    i_at: dict[int, np.ndarray] = {}
    for lv in np.unique(levels):
        rows = np.flatnonzero(levels == lv)
        e_idx = assign_points(e_pts, geoms[rows], codes[rows])
        i_idx = assign_points(i_pts, geoms[rows], codes[rows])
        e_at[int(lv)] = np.where(e_idx >= 0, rows[np.maximum(e_idx, 0)], -1)
        i_at[int(lv)] = np.where(i_idx >= 0, rows[np.maximum(i_idx, 0)], -1)
        outside[int(lv)] = {
            "enterprises": int((e_idx < 0).sum()),
            "incidents": int((i_idx < 0).sum()),
        }
    n = len(g)

    def count(idx: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        sel = idx >= 0 if mask is None else (idx >= 0) & mask
        return np.bincount(idx[sel], minlength=n)

    def per_level(at: dict[int, np.ndarray], mask: np.ndarray | None = None) -> np.ndarray:
        total = np.zeros(n, dtype=np.int64)
        for idx in at.values():
            total += count(idx, mask)
        return total

    sup = (
        enterprises["supervision_level"].astype(str).to_numpy()
        if len(enterprises)
        else np.array([], dtype=object)
    )
    risk = (
        enterprises["risk_class"]
        .astype(object)
        .where(enterprises["risk_class"].notna(), "unknown")
        .to_numpy()
        if len(enterprises)
        else np.array([], dtype=object)
    )
    table["enterprises"] = per_level(e_at)
    for s in SupervisionLevel:
        table[f"ent_{s.value}"] = per_level(e_at, sup == s.value)
    for r in (*RISK_CLASSES, "unknown"):
        table[f"ent_risk_{r}"] = per_level(e_at, risk == r)
    responsible = np.zeros(n, dtype=np.int64)
    for s, lv in SUPERVISION_GRID_LEVEL.items():
        if lv in e_at:
            responsible += count(e_at[lv], sup == s.value)
    table["ent_responsible"] = responsible

    table["incidents"] = per_level(i_at)
    status = (
        incidents["status"].astype(object).to_numpy()
        if "status" in incidents
        else np.array([None] * len(i_pts))
    )
    table["incidents_open"] = per_level(i_at, status == "open")
    table["incidents_closed"] = per_level(i_at, status == "closed")
    cats = (
        incidents["category"].astype(str).to_numpy()
        if len(incidents)
        else np.array([], dtype=object)
    )
    for c in sorted(set(cats.tolist())):
        table[f"incidents_cat_{c}"] = per_level(i_at, cats == c)

    roles = (
        people.groupby(["grid_code", "role"]).size().unstack(fill_value=0)
        if len(people)
        else pd.DataFrame()
    )
    for r in Role:
        col = roles[r.value] if r.value in roles else pd.Series(dtype=int)
        table[r.value] = table["code"].map(col).fillna(0).astype(int).to_numpy()
    table["people"] = table[[r.value for r in Role]].sum(axis=1)
    workers = table["grid_worker"].to_numpy()
    load = np.where(
        workers > 0, (table["enterprises"] + table["incidents"]) / np.maximum(workers, 1), np.nan
    )
    table["load_per_worker"] = np.round(load, 2)

    by_period = _by_period(incidents, i_at, codes, levels)
    totals = {
        "enterprises": len(enterprises),
        "incidents": len(incidents),
        "people": len(people),
        "grids": n,
    }
    return GridStats(table, by_period, outside, totals)


def _by_period(
    incidents: gpd.GeoDataFrame, i_at: dict[int, np.ndarray], codes: np.ndarray, levels: np.ndarray
) -> pd.DataFrame:
    if not len(incidents):
        return pd.DataFrame(columns=["code", "level", "period", "count"])
    ts = pd.to_datetime(incidents["reported_at"], utc=True).dt.tz_convert(LOCAL_TZ)
    period = ts.dt.strftime("%Y-%m").to_numpy()
    frames = []
    for lv, idx in i_at.items():
        sel = idx >= 0
        frames.append(pd.DataFrame({"code": codes[idx[sel]], "level": lv, "period": period[sel]}))
    long = pd.concat(frames, ignore_index=True)
    return (
        long.groupby(["level", "code", "period"])
        .size()
        .rename("count")
        .reset_index()[["code", "level", "period", "count"]]
    )


def write_stats(stats: GridStats, path: str | os.PathLike[str]) -> Path:
    """CSV (UTF-8 with BOM, Chinese headers, so Excel opens it) or XLSX (two sheets,
    Chinese headers; needs openpyxl)."""
    dst = Path(path)
    table = stats.table.rename(columns=lambda c: HEADERS_ZH.get(c, _zh_header(c)))
    periods = stats.by_period.rename(columns=HEADERS_ZH)
    suffix = dst.suffix.lower()
    if suffix == ".csv":
        table.to_csv(dst, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        try:
            import openpyxl  # noqa: F401
        except ImportError as exc:
            raise InvalidInput(
                "Writing .xlsx needs the openpyxl package (pip install openpyxl); or write .csv",
                "写 .xlsx 需要安装 openpyxl（pip install openpyxl），或改为输出 .csv",
            ) from exc
        with pd.ExcelWriter(dst, engine="openpyxl") as xl:
            table.to_excel(xl, sheet_name="网格统计", index=False)
            periods.to_excel(xl, sheet_name="事件按月", index=False)
    else:
        raise InvalidInput(
            f"Statistics go to .csv or .xlsx, not {dst.name}",
            f"统计表须为 .csv 或 .xlsx，而非 {dst.name}",
        )
    return dst
