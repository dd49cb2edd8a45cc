"""Initial schema: layers, plans, admin units, grids, people, enterprises, incidents, lines.

Written out table by table on purpose (no import of ``gis.model``): this revision
must keep creating the schema of its own time even after the model moves on; a
later column gets its own revision.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SRID = 4490  # CGCS2000 geographic, the store CRS at the time of this revision


def _id() -> sa.Column:
    """Identity primary key; BY DEFAULT so a bulk load may pre-allocate ids."""
    return sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True)


def _geom(geometry_type: str) -> sa.Column:
    """Geometry column typed by kind and SRID; the GiST index is created explicitly below."""
    return sa.Column(
        "geom",
        Geometry(geometry_type, srid=SRID, spatial_index=False),
        nullable=False,
    )


def _choices(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
    return sa.CheckConstraint(f'"{column}" IN ({quoted})', name=f"ck_{table}_{column}")


def _valid(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("ST_IsValid(geom)", name=f"ck_{table}_geom_valid")


def _deferred_fk(
    table: str, name: str, cols: list[str], ref_table: str, ref_cols: list[str]
) -> sa.ForeignKeyConstraint:
    """A reference checked at COMMIT, so rows of one import can arrive in any order."""
    return sa.ForeignKeyConstraint(
        cols,
        [f"{ref_table}.{c}" for c in ref_cols],
        name=f"fk_{table}_{name}",
        deferrable=True,
        initially="DEFERRED",
    )


def _gist(table: str) -> None:
    op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")

    op.create_table(
        "store_meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
    )

    op.create_table(
        "layers",
        _id(),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("name_zh", sa.Text, nullable=False),
        sa.Column("name_en", sa.Text),
        sa.Column("max_level", sa.Integer, nullable=False),
        sa.UniqueConstraint("key", name="uq_layers_key"),
    )

    op.create_table(
        "plans",
        _id(),
        sa.Column("layer_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("archived_at", sa.DateTime(timezone=True)),
        sa.Column("note", sa.Text),
        _choices("plans", "status", ("draft", "published", "archived")),
        sa.UniqueConstraint("layer_key", "version", name="uq_plans_layer_key_version"),
        sa.ForeignKeyConstraint(["layer_key"], ["layers.key"], name="fk_plans_layer_key"),
    )
    # At most one published plan per layer, even with two publishers racing.
    op.create_index(
        "uq_plans_one_published_per_layer",
        "plans",
        ["layer_key"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )

    op.create_table(
        "admin_units",
        _id(),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("parent_code", sa.Text),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        _geom("MULTIPOLYGON"),
        _choices(
            "admin_units",
            "kind",
            ("county", "town", "subdistrict", "industrial_zone", "village", "community"),
        ),
        _valid("admin_units"),
        sa.UniqueConstraint("code", name="uq_admin_units_code"),
        _deferred_fk("admin_units", "parent", ["parent_code"], "admin_units", ["code"]),
    )
    _gist("admin_units")

    op.create_table(
        "grids",
        _id(),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("parent_code", sa.Text),
        sa.Column("admin_code", sa.Text),
        _geom("MULTIPOLYGON"),
        _valid("grids"),
        sa.UniqueConstraint("plan_id", "code", name="uq_grids_plan_id_code"),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_grids_plan_id"),
        _deferred_fk("grids", "parent", ["plan_id", "parent_code"], "grids", ["plan_id", "code"]),
    )
    _gist("grids")
    op.create_index("ix_grids_plan_id_level", "grids", ["plan_id", "level"])

    op.create_table(
        "people",
        _id(),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("phone", sa.Text, nullable=False),
        sa.Column("department", sa.Text),
        sa.Column("photo_path", sa.Text),
        _choices(
            "people",
            "role",
            ("grid_leader", "responsible_officer", "grid_worker", "supervisor"),
        ),
        _deferred_fk("people", "grid", ["plan_id", "grid_code"], "grids", ["plan_id", "code"]),
    )

    op.create_table(
        "enterprises",
        _id(),
        sa.Column("credit_code", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("industry", sa.Text),
        sa.Column("size", sa.Text),
        sa.Column("risk_class", sa.Text),
        sa.Column("supervision_level", sa.Text, nullable=False),
        _geom("POINT"),
        _choices("enterprises", "size", ("micro", "small", "medium", "large")),
        _choices("enterprises", "risk_class", ("low", "medium", "high", "major")),
        _choices("enterprises", "supervision_level", ("district", "town", "village")),
        sa.UniqueConstraint("credit_code", name="uq_enterprises_credit_code"),
    )
    _gist("enterprises")

    op.create_table(
        "incidents",
        _id(),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("reporter_contact", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("routed_grids", JSONB),
        _geom("POINT"),
        _choices("incidents", "status", ("open", "closed")),
    )
    _gist("incidents")

    op.create_table(
        "lines",
        _id(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("class", sa.Text),  # reserved word: SQLAlchemy quotes it
        _geom("MULTILINESTRING"),
        _choices("lines", "kind", ("road", "river")),
        _valid("lines"),
    )
    _gist("lines")


def downgrade() -> None:
    for table in (
        "lines",
        "incidents",
        "enterprises",
        "people",
        "grids",
        "admin_units",
        "plans",
        "layers",
        "store_meta",
    ):
        op.drop_table(table)
