"""The domain: levels, layers, plan states, roles, supervision levels, and the tables.

One declared schema (``TABLES``) drives both store backends, validation at the
edge and import/export, so a column is added in exactly one place (plus an Alembic
migration for PostGIS).

Geometry inside the store is always CGCS2000 geographic coordinates (EPSG:4490),
the CRS of Chinese official data; at map scale it equals WGS84 (< 1 m apart), so
WGS84 input is stored without a datum shift. Areas and distances are computed in a
projected CRS chosen per area by :func:`gis.crs.projected_crs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

STORE_SRID = 4490
STORE_CRS = f"EPSG:{STORE_SRID}"


class AdminLevel(IntEnum):
    """Administrative unit level (12-digit statistical division code)."""

    COUNTY = 1  # district / county: 6 significant digits
    TOWN = 2  # town, subdistrict, industrial zone: 9 significant digits
    VILLAGE = 3  # village / residents' committee: 12 digits


ADMIN_KINDS = ("county", "town", "subdistrict", "industrial_zone", "village", "community")


class PlanStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Role(StrEnum):
    GRID_LEADER = "grid_leader"  # 网格长
    RESPONSIBLE_OFFICER = "responsible_officer"  # 监管责任人
    GRID_WORKER = "grid_worker"  # 网格员
    SUPERVISOR = "supervisor"  # 监督员


ROLE_ZH = {
    Role.GRID_LEADER: "网格长",
    Role.RESPONSIBLE_OFFICER: "监管责任人",
    Role.GRID_WORKER: "网格员",
    Role.SUPERVISOR: "监督员",
}


class SupervisionLevel(StrEnum):
    DISTRICT = "district"  # 区级重点监管
    TOWN = "town"  # 镇（街道）级
    VILLAGE = "village"  # 村（居）级


#: the grid level whose grid is responsible for an enterprise of each supervision level
SUPERVISION_GRID_LEVEL = {
    SupervisionLevel.DISTRICT: 1,
    SupervisionLevel.TOWN: 2,
    SupervisionLevel.VILLAGE: 3,
}

RISK_CLASSES = ("low", "medium", "high", "major")
ENTERPRISE_SIZES = ("micro", "small", "medium", "large")
LINE_KINDS = ("road", "river")
INCIDENT_STATUSES = ("open", "closed")

#: Built-in sector layers; users add more with ``gridgis layer add``.
DEFAULT_LAYERS: tuple[tuple[str, str, str, int], ...] = (
    ("environment", "环保网格", "Environment", 3),
    ("food_drug", "食药监网格", "Food and drug safety", 3),
    ("market", "市场监管网格", "Market regulation", 3),
    ("construction", "建设安全网格", "Construction safety", 3),
    ("community", "社区综合网格", "Community", 4),
)

GRID_LEVELS = (1, 2, 3, 4)

#: significant code length of a grid at each level: county 6, town 9, village 12,
#: unit grid = village code + 3-digit sequence. A child's code extends its parent's.
GRID_CODE_LENGTH = {1: 6, 2: 9, 3: 12, 4: 15}


def admin_code_to_grid_code(admin_code: str, level: int) -> str:
    """The significant prefix of a 12-digit admin code used as grid code at ``level``."""
    return admin_code[: GRID_CODE_LENGTH[level]]


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """One attribute column. ``kind`` is one of text, int, float, timestamp, json."""

    name: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] | None = None
    private: bool = False  # never exported or shown by default (reporter contact)


@dataclass(frozen=True)
class TableSpec:
    """A store table: its attribute columns and its geometry (None for attribute tables).

    Every table has an integer primary key ``id`` (the GeoPackage feature id); it
    is not listed in ``columns``. Geometry is always the column ``geom`` in STORE_SRID.
    """

    name: str
    title: str
    title_zh: str
    columns: tuple[Column, ...]
    geometry_type: str | None = None  # MULTIPOLYGON, POINT, MULTILINESTRING
    unique: tuple[tuple[str, ...], ...] = ()
    plan_scoped: bool = False  # rows belong to one plan (grids, people)
    importable: bool = True

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "layers",
            "Grid layers (sectors)",
            "网格图层（行业）",
            (
                Column("key", required=True),
                Column("name_zh", required=True),
                Column("name_en"),
                Column("max_level", "int", required=True),
            ),
            unique=(("key",),),
            importable=False,
        ),
        TableSpec(
            "plans",
            "Grid plans (versions of a layer)",
            "网格方案",
            (
                Column("layer_key", required=True),
                Column("name", required=True),
                Column("status", required=True, choices=tuple(s.value for s in PlanStatus)),
                Column("version", "int", required=True),
                Column("created_at", "timestamp", required=True),
                Column("published_at", "timestamp"),
                Column("archived_at", "timestamp"),
                Column("note"),
            ),
            unique=(("layer_key", "version"),),
            importable=False,
        ),
        TableSpec(
            "admin_units",
            "Administrative units",
            "行政区划",
            (
                Column("code", required=True),
                Column("parent_code"),
                Column("name", required=True),
                Column("level", "int", required=True),
                Column("kind", required=True, choices=ADMIN_KINDS),
            ),
            geometry_type="MULTIPOLYGON",
            unique=(("code",),),
        ),
        TableSpec(
            "grids",
            "Grids",
            "网格",
            (
                Column("plan_id", "int", required=True),
                Column("code", required=True),
                Column("name", required=True),
                Column("level", "int", required=True),
                Column("parent_code"),
                Column("admin_code"),
            ),
            geometry_type="MULTIPOLYGON",
            unique=(("plan_id", "code"),),
            plan_scoped=True,
        ),
        TableSpec(
            "people",
            "People on grids and their roles",
            "网格责任人员",
            (
                Column("plan_id", "int", required=True),
                Column("grid_code", required=True),
                Column("role", required=True, choices=tuple(r.value for r in Role)),
                Column("name", required=True),
                Column("phone", required=True),
                Column("department"),
                Column("photo_path"),
            ),
            plan_scoped=True,
        ),
        TableSpec(
            "enterprises",
            "Enterprises (supervision objects)",
            "监管对象（企业）",
            (
                Column("credit_code", required=True),
                Column("name", required=True),
                Column("address"),
                Column("industry"),
                Column("size", choices=ENTERPRISE_SIZES),
                Column("risk_class", choices=RISK_CLASSES),
                Column(
                    "supervision_level",
                    required=True,
                    choices=tuple(s.value for s in SupervisionLevel),
                ),
            ),
            geometry_type="POINT",
            unique=(("credit_code",),),
        ),
        TableSpec(
            "incidents",
            "Incidents and complaints",
            "事件与投诉",
            (
                Column("category", required=True),
                Column("source", required=True),
                Column("reported_at", "timestamp", required=True),
                Column("description"),
                Column("reporter_contact", private=True),
                Column("status", choices=INCIDENT_STATUSES),
                Column("routed_grids", "json"),
            ),
            geometry_type="POINT",
        ),
        TableSpec(
            "grid_simplified",
            "Simplified grid geometries per zoom band (computed at publish)",
            "网格简化几何（按缩放级别，发布时生成）",
            (
                Column("plan_id", "int", required=True),
                Column("code", required=True),
                Column("zoom_band", "int", required=True),
            ),
            geometry_type="MULTIPOLYGON",
            unique=(("plan_id", "zoom_band", "code"),),
            plan_scoped=True,
            importable=False,
        ),
        TableSpec(
            "plan_events",
            "Plan events (acknowledged publish warnings)",
            "方案事件（发布时确认的警告）",
            (
                Column("plan_id", "int", required=True),
                Column("kind", required=True),
                Column("at", "timestamp", required=True),
                Column("detail", "json"),
            ),
            plan_scoped=True,
            importable=False,
        ),
        TableSpec(
            "lines",
            "Roads and rivers",
            "道路与河流",
            (
                Column("kind", required=True, choices=LINE_KINDS),
                Column("name"),
                Column("class"),
            ),
            geometry_type="MULTILINESTRING",
        ),
    )
}

#: tables that hold features users import and export, in the order a bundle is written
#: (parents before children).
DATA_TABLES = ("admin_units", "lines", "grids", "people", "enterprises", "incidents")


@dataclass
class Plan:
    """A version of a grid layer."""

    id: int
    layer_key: str
    name: str
    status: PlanStatus
    version: int
    created_at: str
    published_at: str | None = None
    archived_at: str | None = None
    note: str | None = None
    extra: dict = field(default_factory=dict)
