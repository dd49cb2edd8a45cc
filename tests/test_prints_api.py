"""Printed outputs over HTTP: boards (PDF/PNG), atlases and contact cards, rendered in
the API's print processes, from both backends; bad requests answered as problem+json."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.test_board import _need
from tests.test_tiles import _load, town  # noqa: F401 - the town fixture, shared

VILLAGE = "310199001001"  # 金湾居委会: 48 unit grids


def _pdf_facts(data: bytes, tmp_path: Path) -> tuple[int, float, float, str]:
    pdf = tmp_path / "out.pdf"
    pdf.write_bytes(data)
    info = subprocess.run([_need("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    text = subprocess.run([_need("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return pages, float(m.group(1)), float(m.group(2)), re.sub(r"\s+", "", text)


def test_board_pdf_over_http(sample_server: str, tmp_path: Path) -> None:
    r = httpx.get(f"{sample_server}/plans/1/grids/{VILLAGE}/board.pdf",
                  params={"paper": "A3", "orientation": "portrait"}, timeout=120)  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    disposition = r.headers["content-disposition"]
    assert f'filename="{VILLAGE}-board.pdf"' in disposition
    assert "网格公示图" in unquote(disposition.split("filename*=UTF-8''")[1])
    pages, w, h, text = _pdf_facts(r.content, tmp_path)
    assert pages == int(r.headers["x-pages"]) >= 1  # the board, then its people table's continuation
    assert abs(w - 842) < 1.5 and abs(h - 1191) < 1.5  # A3 portrait
    assert "金湾居委会网格化管理公示图" in text and VILLAGE in text


def test_board_png_at_the_asked_resolution(sample_server: str) -> None:
    from PIL import Image

    r = httpx.get(f"{sample_server}/plans/1/grids/{VILLAGE}/board.png", params={"dpi": 100}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    assert abs(image.width - 1169) <= 2 and abs(image.height - 827) <= 2  # A4 landscape, 100 dpi
    pixels = np.asarray(image.convert("RGB").resize((64, 64))).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20  # a map, not a blank page


def test_board_png_of_a_continuation_page(sample_server: str) -> None:
    from PIL import Image

    r = httpx.get(f"{sample_server}/plans/1/grids/{VILLAGE}/board.png", params={"dpi": 72, "page": 2}, timeout=120)
    assert r.status_code == 200, r.text
    assert f'filename="{VILLAGE}-board-p2.png"' in r.headers["content-disposition"]
    image = Image.open(io.BytesIO(r.content))
    assert abs(image.width - 842) <= 2 and abs(image.height - 595) <= 2  # A4 landscape, 72 dpi
    r = httpx.get(f"{sample_server}/plans/1/grids/{VILLAGE}/board.png", params={"page": 9}, timeout=120)
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "page", r.text


def test_cards_and_atlas_over_http(sample_server: str, tmp_path: Path) -> None:
    r = httpx.get(f"{sample_server}/plans/1/grids/{VILLAGE}/cards.pdf",
                  params={"qr_url": "https://grid.example.org/g/{code}"}, timeout=120)  # fmt: skip
    assert r.status_code == 200, r.text
    pages, w, h, text = _pdf_facts(r.content, tmp_path)
    assert pages == 5 and abs(w - 595) < 1.5  # 48 cards, 10 a page, A4 portrait
    assert f"{VILLAGE}001" in text
    unit = f"{VILLAGE}001"  # a unit grid without children: its atlas is its own page
    r = httpx.get(f"{sample_server}/plans/1/grids/{unit}/atlas.pdf", timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["x-pages"] == "1"
    pages, w, h, text = _pdf_facts(r.content, tmp_path)
    assert pages == 1 and unit in text


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        (f"/plans/1/grids/{VILLAGE}/board.pdf", {"paper": "A5"}, 422, "paper"),
        (f"/plans/1/grids/{VILLAGE}/board.pdf", {"orientation": "sideways"}, 422, "orientation"),
        (f"/plans/1/grids/{VILLAGE}/board.png", {"dpi": 5000}, 422, "dpi"),
        (f"/plans/1/grids/{VILLAGE}/board.svg", {}, 422, "fmt"),
        (f"/plans/1/grids/{VILLAGE}/cards.pdf", {"qr_url": "https://x.org/"}, 422, "qr_url"),
        ("/plans/1/grids/999999/board.pdf", {}, 404, None),
        ("/plans/999/grids/310199/atlas.pdf", {}, 404, None),
    ],
)
def test_bad_print_requests_are_refused_with_the_reason(sample_server, path, params, status, field) -> None:
    r = httpx.get(sample_server + path, params=params, timeout=60)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["detail"] and body.get("detail_zh")
    if field:
        assert field in [p.get("field") for p in body["problems"]], body


@pytest.mark.postgis
def test_board_from_postgis(pg_store, town, tmp_path: Path) -> None:  # noqa: F811 - fixture
    from api import create_app

    plan_id = _load(pg_store, town)
    village = sorted(town["grids"].loc[town["grids"]["level"] == 3, "code"])[0]
    with TestClient(create_app(store=pg_store)) as client:
        r = client.get(f"/plans/{plan_id}/grids/{village}/board.pdf")
        assert r.status_code == 200, r.text
        missing = client.get(f"/plans/{plan_id}/grids/{village}999/board.pdf")
    assert missing.status_code == 404
    pages, w, h, text = _pdf_facts(r.content, tmp_path)
    assert pages >= 1 and abs(w - 842) < 1.5 and village in text
