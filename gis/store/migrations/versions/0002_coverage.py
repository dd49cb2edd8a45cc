"""Coverage: simplified grid geometries per zoom band, and plan events.

``grid_simplified`` holds the topology-preserving simplification of a published
plan's grids, one row per (plan, zoom band, grid), computed once at publish.
``plan_events`` records what happened to a plan beyond its status, e.g. the
coverage warnings acknowledged when it was published.

Written out explicitly (no import of ``gis.model``), like 0001.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SRID = 4490


def upgrade() -> None:
    op.create_table(
        "grid_simplified",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("code", sa.Text, nullable=False),
        sa.Column("zoom_band", sa.Integer, nullable=False),
        sa.Column("geom", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=False), nullable=False),
        sa.CheckConstraint("ST_IsValid(geom)", name="ck_grid_simplified_geom_valid"),
        sa.UniqueConstraint(
            "plan_id", "zoom_band", "code", name="uq_grid_simplified_plan_id_zoom_band_code"
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_grid_simplified_plan_id"),
    )
    op.create_index("ix_grid_simplified_geom", "grid_simplified", ["geom"], postgresql_using="gist")

    op.create_table(
        "plan_events",
        sa.Column("id", sa.BigInteger, sa.Identity(always=False), primary_key=True),
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSONB),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_events_plan_id"),
    )
    op.create_index("ix_plan_events_plan_id", "plan_events", ["plan_id"])


def downgrade() -> None:
    op.drop_table("plan_events")
    op.drop_table("grid_simplified")
