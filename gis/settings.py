"""Settings from environment variables and a ``.env`` file (pydantic-settings).

One class per concern, each with its own ``GRIDGIS_`` prefix. The embedded
GeoPackage store in the data directory is the default, so a fresh checkout runs
with no configuration at all.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreSettings(BaseSettings):
    """Where the data lives.

    ``GRIDGIS_DATABASE_URL``: ``postgresql://user@host:port/db`` for PostGIS, or a
    GeoPackage path (``gpkg:///abs/path.gpkg`` or a plain path ending ``.gpkg``).
    Empty means the embedded store ``<data_dir>/gridgis.gpkg``.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGIS_", env_file=".env", extra="ignore")

    database_url: str = ""
    data_dir: Path = Path("var")

    def resolved_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"gpkg://{(self.data_dir / 'gridgis.gpkg').resolve()}"


class ServerSettings(BaseSettings):
    """How the API is served."""

    model_config = SettingsConfigDict(env_prefix="GRIDGIS_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: processes per API worker that render boards, atlases and cards (never API threads)
    print_workers: int = Field(default=1, ge=1)


class GeoSettings(BaseSettings):
    """Coordinate handling at the edges.

    ``GRIDGIS_DEFAULT_CRS``: the CRS assumed for input that cannot state its own
    (GeoJSON, CSV) when the user names none, e.g. ``gcj02`` for a deployment whose
    data all comes from Amap. Empty means WGS84, and every import report says so.
    """

    model_config = SettingsConfigDict(env_prefix="GRIDGIS_", env_file=".env", extra="ignore")

    default_crs: str = ""
    #: an extra geocoder for the dispatcher's search, ``module:function``; off by default
    geocoder: str = ""
    #: points farther than this from the district outline are refused as implausible
    max_distance_from_area_km: float = Field(default=100.0, gt=0)


class LookupSettings(BaseSettings):
    """Tolerances of the dispatcher's lookup, in metres."""

    model_config = SettingsConfigDict(env_prefix="GRIDGIS_LOOKUP_", env_file=".env", extra="ignore")

    near_m: float = Field(default=30.0, ge=0, description="list neighbours this close as near_boundary")
    snap_m: float = Field(default=50.0, ge=0, description="outside all grids but this close: snapped")
    enterprise_m: float = Field(default=50.0, ge=0, description="enterprises this close are listed")


class Settings(BaseSettings):
    """All settings, grouped by concern."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    store: StoreSettings = Field(default_factory=StoreSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    geo: GeoSettings = Field(default_factory=GeoSettings)
    lookup: LookupSettings = Field(default_factory=LookupSettings)
    #: how long the plan-version watcher waits per round (LISTEN, or polling the file)
    lookup_poll_s: float = 1.0
