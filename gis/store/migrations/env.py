"""Alembic environment for the PostGIS store.

Normally run programmatically by :meth:`gis.store.postgis.PostGISStore.init`,
which hands over an open connection (``config.attributes["connection"]``) so the
migration runs inside the caller's transaction and advisory lock. Running the
``alembic`` command line against ``sqlalchemy.url`` works too (for developers
writing a new revision).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

config = context.config


def _target_metadata():
    """The runtime tables, only for ``alembic revision --autogenerate``.

    Imported lazily: migrations themselves never import the current model, so an
    old revision keeps creating the schema of its own time.
    """
    from gis.store.postgis import METADATA

    return METADATA


def _include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    """Leave PostGIS's own tables (spatial_ref_sys, topology) out of autogenerate."""
    if type_ == "table" and name == "spatial_ref_sys":
        return False
    from geoalchemy2.alembic_helpers import include_object

    return include_object(obj, name, type_, reflected, compare_to)


def _run(connection: Connection) -> None:
    from geoalchemy2.alembic_helpers import render_item, writer

    context.configure(
        connection=connection,
        target_metadata=_target_metadata(),
        include_object=_include_object,
        render_item=render_item,
        process_revision_directives=writer,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) instead of executing it."""
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url,
        dialect_name=None if url else "postgresql",  # SQL for review needs no server
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
