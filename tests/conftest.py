"""Fixtures shared by the whole suite: stores of both backends and the shared data.

A PostGIS test needs a real server. Locally it is skipped with the reason when
none is reachable; under CI (``CI=true``) it fails instead, so a misconfigured
pipeline can't pass by silently skipping the backend used in production.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url

if TYPE_CHECKING:
    from gis.store.base import Store
    from gis.store.postgis import PostGISStore

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    """Skip locally, fail under CI: a required resource is missing."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: this test may not be skipped)", pytrace=False)
    pytest.skip(reason)


def _libpq(url: str) -> str:
    """A URL psycopg accepts (no SQLAlchemy driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# ---------------------------------------------------------------------- PostGIS


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of a database on the test server where we may CREATE DATABASE."""
    url = os.environ.get("GRIDGIS_TEST_PG", DEFAULT_PG)
    try:
        with psycopg.connect(_libpq(url), connect_timeout=5, autocommit=True) as conn:
            have = conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
            ).fetchone()
            major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    except psycopg.Error as e:
        _unavailable(f"PostgreSQL not reachable at {url} (set GRIDGIS_TEST_PG): {e}".strip())
    if not have:
        _unavailable(
            f"PostGIS is not installed on the server at {url}: "
            f"apt-get install postgresql-{major}-postgis-3"
        )
    return url


@pytest.fixture(scope="session")
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A throwaway database with PostGIS for this session, dropped at the end."""
    name = f"gridgis_test_{secrets.token_hex(6)}"
    admin = _libpq(pg_admin_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(_libpq(pg_admin_url)).set(database=name).render_as_string(hide_password=False)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def _pg_initialised(pg_url: str) -> str:
    """Run the migrations once per session; tests then only truncate."""
    from gis.store.postgis import PostGISStore

    store = PostGISStore(pg_url)
    try:
        store.init()
    finally:
        store.close()
    return pg_url


@pytest.fixture
def pg_store(_pg_initialised: str) -> Iterator[PostGISStore]:
    """An empty, initialised PostGIS store (default layers seeded, plan version 0)."""
    from gis.model import TABLES
    from gis.store.postgis import PostGISStore

    store = PostGISStore(_pg_initialised)
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in [*TABLES, "store_meta"])
    with psycopg.connect(_pg_initialised, autocommit=True) as conn:
        conn.execute(sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(tables))
    store._seed_layers()
    try:
        yield store
    finally:
        store.close()


# ---------------------------------------------------------------------- GeoPackage


@pytest.fixture
def gpkg_store(tmp_path: Path) -> Iterator[Store]:
    """An empty, initialised GeoPackage store in a temporary file."""
    from gis.store.geopackage import GeoPackageStore

    store = GeoPackageStore(tmp_path / "store.gpkg")
    store.init()
    try:
        yield store
    finally:
        store.close()


# ---------------------------------------------------------------------- both


@pytest.fixture(
    params=[
        pytest.param("gpkg", id="gpkg"),
        pytest.param("postgis", id="postgis", marks=pytest.mark.postgis),
    ]
)
def store(request: pytest.FixtureRequest) -> Store:
    """The same test against each backend: they must behave identically."""
    fixture = {"gpkg": "gpkg_store", "postgis": "pg_store"}[request.param]
    return request.getfixturevalue(fixture)


# ---------------------------------------------------------------------- shared data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-world data folder (../shared/data next to the project)."""
    path = (PROJECT_ROOT / ".." / "shared" / "data").resolve()
    if not path.is_dir():
        _unavailable(f"shared data folder {path} is missing")
    return path


# ---------------------------------------------------------------------- sample district


@pytest.fixture(scope="session")
def sample_district():
    """The default sample district (seed 20261125), generated once per session."""
    from gis.sample import generate_district

    return generate_district()


@pytest.fixture(scope="session")
def sample_gpkg(sample_district, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage store holding the sample district, as `gridgis sample` makes it."""
    from gis.sample import load_district
    from gis.store.geopackage import GeoPackageStore

    path = tmp_path_factory.mktemp("sample") / "sample.gpkg"
    store = GeoPackageStore(path)
    store.init()
    try:
        load_district(store, sample_district)
    finally:
        store.close()
    return path


# ---------------------------------------------------------------------- a served app and a browser


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(db: Path, workers: int = 1) -> Iterator[str]:
    """`gridgis serve` on the store ``db`` over real HTTP, until the block ends; yields the URL."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gis", "serve", "--port", str(port), "--workers", str(workers), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(f"gridgis serve --workers {workers} did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def sample_server(sample_gpkg: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gridgis serve` on a copy of the sample store, over real HTTP; yields the base URL."""
    import shutil

    db = tmp_path_factory.mktemp("served") / "served.gpkg"
    shutil.copy(sample_gpkg, db)
    with serving(db) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by its own chromedriver (never a downloaded one)."""
    chromium, driver = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
    if not (chromium.exists() and driver.exists()):
        _unavailable("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,900",
    ):  # fmt: skip
        options.add_argument(arg)
    drv = webdriver.Chrome(service=Service(str(driver)), options=options)
    try:
        yield drv
    finally:
        drv.quit()
