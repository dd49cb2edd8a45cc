"""Grid plans of two layers and the people responsible for each grid.

The community layer (社区综合网格) has four levels: district, towns, villages and
unit grids; the environment layer (环保网格) three. Grid geometries are the admin
units' (grids follow administrative boundaries) plus the unit grids, so the levels
nest exactly. Every grid gets a grid leader and at least one more person (a unit
grid at least a grid worker), with departments that say who answers the phone.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.model import STORE_CRS, TABLES
from gis.sample import names


@dataclass
class GridLevel:
    """The grids of one level: codes, names, parents, admin codes, geometry (store CRS)."""

    level: int
    code: np.ndarray
    name: np.ndarray
    parent_code: np.ndarray
    admin_code: np.ndarray
    geom: np.ndarray
    #: town-level unit name and kind of each grid (for departments); "" at level 1
    town: np.ndarray
    town_kind: np.ndarray
    #: village name of each grid ("" above level 3)
    village: np.ndarray


def grid_frame(levels: list[GridLevel]) -> gpd.GeoDataFrame:
    """Grids in the store's table shape (no id, no plan_id), parents before children."""
    cols = [c for c in TABLES["grids"].column_names if c != "plan_id"]
    frame = pd.DataFrame(
        {
            "code": np.concatenate([lv.code for lv in levels]),
            "name": np.concatenate([lv.name for lv in levels]),
            "level": np.concatenate(
                [np.full(len(lv.code), lv.level, dtype=np.int64) for lv in levels]
            ),
            "parent_code": np.concatenate([lv.parent_code for lv in levels]),
            "admin_code": np.concatenate([lv.admin_code for lv in levels]),
        }
    )[cols]
    geom = np.concatenate([lv.geom for lv in levels])
    return gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geom, crs=STORE_CRS), crs=STORE_CRS
    ).rename_geometry("geom")


def _town_office(town: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """The government of a town-level unit: 人民政府 / 街道办事处 / 管委会."""
    suffix = np.where(
        kind == "industrial_zone", "管委会", np.where(kind == "subdistrict", "办事处", "人民政府")
    )
    return town + suffix


def people_frame(rng: np.random.Generator, layer: str, levels: list[GridLevel]) -> pd.DataFrame:
    """People of every grid of a layer: rows (grid_code, role, name, phone, department).

    Level 1-2 leaders and officers give office numbers (021-...), everyone else a
    mobile. Roles per level, by layer:
    community: L1-L3 leader + officer + supervisor/worker; L4 leader + grid worker
    (+ a supervisor for about half the unit grids). environment: leader + officer
    (+ worker at L3).
    """
    env = layer == "environment"
    parts: list[pd.DataFrame] = []

    def add(
        lv: GridLevel,
        role: str,
        dept: np.ndarray | str,
        office: bool,
        mask: np.ndarray | None = None,
    ) -> None:
        idx = np.arange(len(lv.code)) if mask is None else np.flatnonzero(mask)
        if idx.size == 0:
            return
        dept_arr = np.broadcast_to(np.asarray(dept, dtype=object), (len(lv.code),))[idx]
        phone = (
            names.office_numbers(rng, idx.size) if office else names.mobile_numbers(rng, idx.size)
        )
        parts.append(
            pd.DataFrame(
                {
                    "grid_code": lv.code[idx],
                    "role": role,
                    "name": names.person_names(rng, idx.size),
                    "phone": phone,
                    "department": dept_arr,
                }
            )
        )

    for lv in levels:
        office_town = _town_office(lv.town, lv.town_kind)
        if lv.level == 1:
            add(lv, "grid_leader", "区人民政府", True)
            add(lv, "responsible_officer", "区生态环境局" if env else "区城运中心", True)
            add(lv, "supervisor", "区生态环境局执法大队" if env else "区网格化管理中心", False)
        elif lv.level == 2:
            add(lv, "grid_leader", office_town, True)
            add(lv, "responsible_officer", lv.town + ("生态环境办" if env else "城管中心"), True)
            add(
                lv,
                "supervisor",
                "区生态环境局执法大队" if env else lv.town + "网格化管理中心",
                False,
            )
        elif lv.level == 3:
            add(lv, "grid_leader", lv.village, False)
            add(lv, "responsible_officer", lv.town + ("生态环境办" if env else "城管中心"), False)
            add(lv, "grid_worker", lv.village, False)
        else:
            add(lv, "grid_leader", lv.village, False)
            add(lv, "grid_worker", lv.village, False)
            add(lv, "supervisor", lv.town + "城管中心", False, rng.random(len(lv.code)) < 0.5)
    cols = [c for c in TABLES["people"].column_names if c not in ("plan_id", "photo_path")]
    frame = pd.concat(parts, ignore_index=True)[cols]
    return frame.sort_values("grid_code", kind="stable").reset_index(drop=True)
