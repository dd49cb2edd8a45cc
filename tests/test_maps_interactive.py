"""Interactive folium maps: offline assets, served pages in a real Chromium, standalone files."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from gis.maps.assets import ASSETS, VENDOR_DIR, inline, outside_urls
from gis.maps.folium_map import TiledGrids, store_map

#: collects uncaught errors and console.error calls from the first script of every page on
ERROR_HOOK = """
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || e)); });
window.addEventListener('unhandledrejection', function (e) { window.__errors.push('rejection: ' + e.reason); });
(function () { var orig = console.error; console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, ' ')); return orig.apply(console, arguments); }; })();
"""


@pytest.fixture(scope="module")
def sample_store(sample_gpkg: Path):
    from gis.store import open_store

    store = open_store(str(sample_gpkg))
    yield store
    store.close()


@pytest.fixture(scope="module")
def hooked_browser(browser):
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOK})
    return browser


def test_every_asset_is_vendored_with_its_licence():
    for rel in ASSETS.values():
        path = VENDOR_DIR / rel
        assert path.is_file(), path
        assert (path.parent / "LICENSE").is_file(), path.parent
    vg = (VENDOR_DIR / ASSETS["vectorGrid"]).read_text()
    assert "if (L.DomEvent.fakeStop)" in vg  # patched for Leaflet >= 1.8


def test_map_html_references_only_our_assets_and_labels_in_chinese(sample_store):
    plan = sample_store.published_plan("community")
    page = (
        store_map(
            sample_store, plan.id, tiles=TiledGrids("/tiles/community/{z}/{x}/{y}.mvt", "community")
        )
        .get_root()
        .render()
    )
    assert outside_urls(page) == []
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "code.jquery" not in page
    for text in (
        "单元网格",
        "村居级网格",
        "监管企业",
        "事件热力图",
        "道路与河流",
        "图例",
        "编码",
        "电话",
    ):
        assert text in page or text.encode("unicode_escape").decode() in page, (
            text
        )  # layer names are JSON-escaped
    assert "L.vectorGrid.protobuf" in page  # the 7882 unit grids come from tiles


def _map_name(browser) -> str:
    return browser.execute_script(
        "return Object.keys(window).find(k => k.startsWith('map_') && window[k] instanceof L.Map)"
    )


def test_served_map_loads_everything_from_our_server_and_shows_a_phone_from_a_tile(
    hooked_browser, sample_server: str
):
    browser = hooked_browser
    plan_id = next(
        p["id"]
        for p in httpx.get(sample_server + "/plans").json()
        if p["layer_key"] == "community" and p["status"] == "published"
    )
    browser.get(f"{sample_server}/maps/plan/{plan_id}")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return typeof L === 'object' && document.querySelector('.leaflet-container') !== null"
        )
    )
    name = _map_name(browser)
    assert name and browser.execute_script("return L.version") == "1.9.4"
    # a point inside a unit grid, and its people
    answer = httpx.get(
        sample_server + "/lookup", params={"lon": 121.2, "lat": 30.85, "crs": "wgs84"}
    ).json()
    grid = next(la for la in answer["layers"] if la["layer"] == "community")["grids"][-1]
    assert grid["people"]
    browser.execute_script(f"window['{name}'].setView([30.85, 121.2], 16, {{animate: false}});")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return performance.getEntriesByType('resource').some(e => e.name.endsWith('.mvt'))"
        )
    )
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.execute_script(
                "return document.querySelectorAll('.leaflet-ggTiled-pane canvas.leaflet-tile-loaded').length"
            )
            > 0
        )
    )
    container = browser.find_element(By.CSS_SELECTOR, ".leaflet-container")
    # click where the point is (offsets are from the container's centre); the tile
    # under it may still be loading, so click again until the popup names the grid.
    # The popup is filled by a fetch of /grids/{code}: its text is read from the DOM
    # (textContent: no dependence on the popup's animation or visibility).
    px, py, w, h = browser.execute_script(
        f"var m = window['{name}'], p = m.latLngToContainerPoint([30.85, 121.2]), s = m.getSize(); return [p.x, p.y, s.x, s.y];"
    )
    popup_text = "var p = document.querySelector('.leaflet-popup-content'); return p ? p.textContent : '';"
    # the inline layers (villages above the unit grids, roads) would take the click
    # whenever they are drawn over the tiles: leave only the tiled unit grids
    browser.execute_script(
        f"var m = window['{name}']; m.eachLayer(function (l) {{ if (l instanceof L.GeoJSON) m.removeLayer(l); }});"
    )
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        ActionChains(browser).move_to_element_with_offset(
            container, int(px - w / 2), int(py - h / 2)
        ).click().perform()
        try:
            WebDriverWait(browser, 3).until(lambda d: grid["code"] in d.execute_script(popup_text))
            break
        except TimeoutException:
            continue
    popup = browser.execute_script(popup_text)
    assert grid["code"] in popup and grid["people"][0]["phone"] in popup
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert urls and all(u.startswith(sample_server) for u in urls), [
        u for u in urls if not u.startswith(sample_server)
    ]
    assert browser.execute_script("return window.__errors") == []


def test_served_map_draws_the_enterprise_clusters(browser, sample_server: str):
    """At the district's zoom the 10,000 enterprises are clusters (beside the vector-tile
    layer they once were not drawn at all until the group was added again)."""
    browser.get(f"{sample_server}/maps/plan/1")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('.marker-cluster').length") > 10
    )
    counts = browser.execute_script(
        "return Array.from(document.querySelectorAll('.marker-cluster span')).map(e => +e.textContent)"
    )
    assert sum(counts) == 10_000  # every enterprise is in one cluster on screen


def test_standalone_file_loads_nothing_at_all(hooked_browser, sample_store, tmp_path: Path):
    from typer.testing import CliRunner

    from gis.cli import app

    plan = sample_store.published_plan("environment")
    out = tmp_path / "环保网格.html"
    result = CliRunner().invoke(
        app, ["map", str(plan.id), str(out), "--db", str(sample_store.path)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "/static/vendor" not in page and outside_urls(page) == []
    browser = hooked_browser
    browser.get(out.as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return typeof L === 'object' && document.querySelector('.leaflet-container') !== null"
        )
    )
    WebDriverWait(browser, 30).until(
        lambda d: (
            d.execute_script(
                "return document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane path').length"
            )
            > 0
        )
    )
    assert "环保网格" in browser.find_element(By.CSS_SELECTOR, ".gg-title").text
    credit = browser.find_element(By.CSS_SELECTOR, ".leaflet-control-attribution").text
    assert "数据：gridgis 样例数据" in credit, credit  # the store's credits (gis.attribution)
    _assert_grid_outline_drawn(browser)
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert not [u for u in urls if u.startswith(("http:", "https:"))], urls
    assert browser.execute_script("return window.__errors") == []


def _assert_grid_outline_drawn(browser) -> None:
    """The district's level-1 outline (stroke #b2182b) is on screen: look at the pixels."""
    import io

    import numpy as np

    image = pytest.importorskip("PIL.Image")
    shot = np.asarray(
        image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    ).astype(int)
    near = np.abs(shot - np.array([0xB2, 0x18, 0x2B])).sum(axis=2) < 60
    assert near.sum() > 200, f"only {near.sum()} pixels of the level-1 grid outline"


def test_inline_refuses_assets_that_are_not_ours():
    with pytest.raises(ValueError, match="not one of ours"):
        inline('<script src="/elsewhere/x.js"></script>')
    with pytest.raises(ValueError, match="outside resources"):
        inline('<img src="https://cdn.example.com/x.png">')
    assert outside_urls('<a href="https://leafletjs.com">Leaflet</a>') == []  # a link loads nothing
