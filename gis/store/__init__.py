"""The only package that knows SQL: the repository API and its two backends.

``open_store(url)`` picks the backend from the URL: ``postgresql://...`` is PostGIS,
anything else (``gpkg:///path.gpkg`` or a path) the embedded GeoPackage.
"""

from __future__ import annotations

from pathlib import Path

from gis.store.base import NewPlan, Store, WriteResult

__all__ = ["NewPlan", "Store", "WriteResult", "open_store", "is_postgres_url"]


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://"))


def open_store(url: str, *, init: bool = True) -> Store:
    """Open (and by default create or migrate) the store at ``url``."""
    if is_postgres_url(url):
        from gis.store.postgis import PostGISStore

        store: Store = PostGISStore(url)
    else:
        from gis.store.geopackage import GeoPackageStore

        path = url[len("gpkg://") :] if url.startswith("gpkg://") else url
        store = GeoPackageStore(Path(path))
    if init:
        store.init()
    return store
