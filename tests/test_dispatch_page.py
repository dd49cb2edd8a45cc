"""The dispatcher page in a real headless Chromium against a real server on the sample."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from gis.crs import wgs84_to_gcj02


def _open(browser, url: str) -> None:
    browser.get(url + "/dispatch")
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.querySelectorAll('.place-label').length") > 0)


def _answer_for(browser) -> str:
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".layer-answer"))
    return browser.find_element(By.ID, "answer").text


@pytest.fixture(scope="module")
def a_unit_grid(sample_server: str) -> dict:
    """A unit grid of the community layer and the GCJ-02 coordinates of a point inside it."""
    answer = httpx.get(sample_server + "/lookup", params={"lon": 121.2, "lat": 30.85, "crs": "wgs84"}).json()
    layer = next(la for la in answer["layers"] if la["layer"] == "community")
    gx, gy = wgs84_to_gcj02(121.2, 30.85)
    return {"grid": layer["grids"][-1], "gcj": (float(gx), float(gy))}


def test_typing_a_gcj02_coordinate_shows_grids_chain_and_people(browser, sample_server: str, a_unit_grid: dict) -> None:
    _open(browser, sample_server)
    browser.find_element(By.ID, "coord-input").send_keys("{:.7f}, {:.7f}".format(*a_unit_grid["gcj"]))
    browser.find_element(By.CSS_SELECTOR, "#crs-select option[value='gcj02']").click()
    browser.find_element(By.ID, "coord-btn").click()
    text = _answer_for(browser)
    grid = a_unit_grid["grid"]
    assert grid["name"] in text and grid["code"] in text
    for person in grid["people"]:
        assert person["name"] in text and person["phone"] in text
    assert "社区综合网格" in text and "环保网格" in text and "网格内" in text
    status = browser.find_element(By.ID, "status").text
    assert "gcj02" in status
    # the grid is highlighted on the map
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "map").get_attribute("data-highlighted") == grid["code"])


def test_searching_an_enterprise_name_routes_to_its_grid(browser, sample_server: str) -> None:
    hits = httpx.get(sample_server + "/search", params={"q": "化工"}).json()
    firm = next(h for h in hits if h["kind"] == "enterprise")
    expected = httpx.get(sample_server + "/lookup", params={"lon": firm["lon"], "lat": firm["lat"], "crs": "cgcs2000"}).json()
    owner = next(la for la in expected["layers"] if la["layer"] == "community")["grids"][-1]
    _open(browser, sample_server)
    box = browser.find_element(By.ID, "search-input")
    box.clear()
    box.send_keys(firm["name"])
    browser.find_element(By.ID, "search-btn").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results li[data-kind='enterprise']"))
    item = browser.find_element(By.CSS_SELECTOR, "#search-results li[data-kind='enterprise']")
    assert firm["name"] in item.text and "企业" in item.text
    item.click()
    text = _answer_for(browser)
    assert owner["name"] in text and owner["code"] in text
    WebDriverWait(browser, 10).until(lambda d: firm["name"] in d.find_element(By.ID, "answer").text)
    assert "责任网格" in browser.find_element(By.CSS_SELECTOR, ".enterprise").text


def test_clicking_the_map_answers_for_that_point(browser, sample_server: str) -> None:
    _open(browser, sample_server)
    browser.find_element(By.ID, "map").click()  # the centre of the map lies inside the district
    text = _answer_for(browser)
    assert "cgcs2000" in browser.find_element(By.ID, "status").text and "责任网格" in text


def test_page_loads_nothing_from_outside(browser, sample_server: str) -> None:
    _open(browser, sample_server)
    assert browser.execute_script("return typeof L === 'object' && L.version") == "1.9.4"
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(sample_server) for u in urls), urls
    # the basemap is drawn from our own data: road names and village labels are on it
    labels = browser.execute_script("return [...document.querySelectorAll('.place-label')].map(e => e.textContent)")
    assert any(t.endswith("镇") for t in labels) and len(labels) > 100
