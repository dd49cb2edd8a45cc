"""Atlas mode (a board page per child grid, one PDF) and contact cards (A4 sheets with a
QR code per grid): page counts, embedded CJK font, texts per page, and the QR codes read
back from the rendered pixels."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.test_board import _need

DISTRICT = "310199"  # 江川区: 11 towns / streets
VILLAGE = "310199001001"  # 金湾居委会: 48 unit grids


def _text(pdf: Path, page: int | None = None) -> str:
    args = [_need("pdftotext"), "-layout"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    out = subprocess.run([*args, str(pdf), "-"], capture_output=True, text=True, check=True)
    return re.sub(r"\s+", "", out.stdout)


def _pages(pdf: Path) -> tuple[int, float, float]:
    info = subprocess.run(
        [_need("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    pages = re.search(r"Pages:\s+(\d+)", info)
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert pages and size, info
    return int(pages.group(1)), float(size.group(1)), float(size.group(2))


def _fonts(pdf: Path) -> list[str]:
    out = subprocess.run(
        [_need("pdffonts"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    return [line for line in out.splitlines()[2:] if line.strip()]


@pytest.fixture(scope="module")
def db(sample_gpkg: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("atlas") / "s.gpkg"
    shutil.copy(sample_gpkg, path)
    return path


@pytest.fixture(scope="module")
def grids(db: Path):
    from gis.store.geopackage import GeoPackageStore

    store = GeoPackageStore(db)
    try:
        return store.grids(1), store.people(1)
    finally:
        store.close()


# ------------------------------------------------------------------ atlas


@pytest.fixture(scope="module")
def atlas_pdf(db: Path, tmp_path_factory) -> Path:
    from gis.cli import app

    out = tmp_path_factory.mktemp("atlas") / "atlas.pdf"
    res = CliRunner().invoke(app, ["atlas", "1", DISTRICT, str(out), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "11 grids on" in res.output
    return out


def _starts(pdf: Path, children) -> list[int]:
    """The page each child's board starts on (its title page), in code order."""
    n, _, _ = _pages(pdf)
    titles = {page: _text(pdf, page) for page in range(1, n + 1)}
    return [next(p for p, t in titles.items() if f"{name}网格化管理公示图" in t)
            for name in children.sort_values("code")["name"]]  # fmt: skip


def test_atlas_has_a_board_per_child_in_code_order(atlas_pdf: Path, grids) -> None:
    frame, _ = grids
    children = frame[frame["parent_code"] == DISTRICT]
    pages, w, h = _pages(atlas_pdf)
    starts = _starts(atlas_pdf, children)
    assert len(starts) == len(children) == 11
    assert starts[0] == 1 and starts == sorted(starts) and pages >= len(children)
    assert abs(w - 842) < 1.5 and abs(h - 595) < 1.5  # A4 landscape


def test_atlas_embeds_the_cjk_font(atlas_pdf: Path) -> None:
    fonts = _fonts(atlas_pdf)
    assert fonts and all("NotoSansCJKsc" in f and " yes " in f for f in fonts), fonts


def test_atlas_pages_of_child_n_are_its_board_and_people(atlas_pdf: Path, grids) -> None:
    frame, people = grids
    children = frame[frame["parent_code"] == DISTRICT].sort_values("code")
    pages, _, _ = _pages(atlas_pdf)
    starts = _starts(atlas_pdf, children)
    for n, (code, start, end) in enumerate(zip(children["code"], starts, [*starts[1:], pages + 1], strict=True)):
        text = "".join(_text(atlas_pdf, p) for p in range(start, end))
        assert code in text and "网格责任人员" in text, (n, code)
        others = [c for c in children["code"] if c != code]
        assert not any(f"网格编码{c}" in text for c in others), (n, code)
        sub = set(frame.loc[frame["parent_code"] == code, "code"]) | {code}
        phones = people.loc[people["grid_code"].isin(sub), "phone"].astype(str)
        assert all(p in text for p in phones), (n, code)  # its whole people table, no one else's page


def test_atlas_unknown_grid_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    from gis.cli import app

    res = CliRunner().invoke(
        app, ["atlas", "1", "999999", str(tmp_path / "x.pdf"), "--db", str(db)]
    )
    assert res.exit_code != 0 and "999999" in res.output


# ------------------------------------------------------------------ contact cards


@pytest.fixture(scope="module")
def cards(db: Path, tmp_path_factory):
    from gis.maps.prints import load_cards
    from gis.store.geopackage import GeoPackageStore

    store = GeoPackageStore(db)
    try:
        sheet = load_cards(store, 1, VILLAGE)
    finally:
        store.close()
    out = tmp_path_factory.mktemp("cards") / "cards.pdf"
    out.write_bytes(sheet.pdf)
    return sheet, out


def test_cards_pages_and_font(cards, grids) -> None:
    sheet, pdf = cards
    frame, _ = grids
    n = int((frame["parent_code"] == VILLAGE).sum())
    assert len(sheet.cards) == n == 48
    pages, w, h = _pages(pdf)
    assert pages == sheet.pages == 5  # 10 cards a page
    assert abs(w - 595) < 1.5 and abs(h - 842) < 1.5  # A4 portrait
    fonts = _fonts(pdf)
    assert fonts and all("NotoSansCJKsc" in f and " yes " in f for f in fonts), fonts


def test_cards_show_name_code_people_and_phones(cards, grids) -> None:
    from gis.model import ROLE_ZH

    sheet, pdf = cards
    _, people = grids
    text = _text(pdf)
    for card in sheet.cards:
        assert card.name in text and card.code in text, card.code
        ppl = people[people["grid_code"] == card.code]
        assert len(ppl) and card.people == len(ppl)
        for p in ppl.itertuples():
            assert f"{ROLE_ZH[p.role]}{p.name}{p.phone}" in text, (card.code, p.name)


def test_vcard_payload(cards, grids) -> None:
    from gis.maps.cards import qr_payload

    sheet, _ = cards
    _, people = grids
    card = sheet.cards[0]
    leader = people[(people["grid_code"] == card.code) & (people["role"] == "grid_leader")].iloc[0]
    lines = card.payload.split("\r\n")
    assert lines[:2] == ["BEGIN:VCARD", "VERSION:3.0"] and lines[-2:] == ["END:VCARD", ""]
    assert f"FN:{leader['name']}" in lines
    assert f"TEL;TYPE=CELL,VOICE:{leader['phone']}" in lines
    assert "TITLE:网格长" in lines
    assert any(ln.startswith("ORG:") and card.name in ln for ln in lines)
    assert any(ln.startswith("NOTE:") and card.code in ln for ln in lines)
    url = qr_payload(card.code, card.name, None, url_template="https://intranet/grids/{code}")
    assert url == f"https://intranet/grids/{card.code}"
    assert qr_payload("1", "a,b;c", None).count("ORG:a\\,b\\;c") == 1  # vCard escaping


def _rendered_modules(pdf: Path, card, tmp_path: Path, dpi: int = 300):
    from PIL import Image

    prefix = tmp_path / f"p{card.page}"
    subprocess.run(
        [_need("pdftoppm"), "-r", str(dpi), "-f", str(card.page), "-l", str(card.page), "-gray",
         "-png", "-singlefile", str(pdf), str(prefix)],
        check=True,
    )  # fmt: skip
    img = np.asarray(Image.open(f"{prefix}.png").convert("L"))
    x0, y0, side = card.qr_box_pt
    n = card.modules
    mod = side / n
    k = dpi / 72.0
    page_h = img.shape[0] / k
    idx = np.arange(n) + 0.5
    cols = np.round((x0 + idx * mod) * k).astype(int)
    rows = np.round((page_h - (y0 + side) + idx * mod) * k).astype(int)
    dark = img[np.ix_(rows, cols)] < 128
    # the quiet zone: 4 modules around the symbol carry no ink
    q = 4 * mod * k
    top, left = rows[0] - mod * k / 2, cols[0] - mod * k / 2
    ring = img[int(top - q) + 2 : int(top + n * mod * k + q) - 2, int(left - q) + 2 : int(left + n * mod * k + q) - 2].copy()  # fmt: skip
    inner = int(q) - 5  # antialiasing of the outer modules
    ring[inner:-inner, inner:-inner] = 255
    return dark, img, ring


def test_qr_pixels_match_the_payload(cards, tmp_path: Path) -> None:
    from gis.maps.cards import qr_matrix

    sheet, pdf = cards
    for card in (sheet.cards[0], sheet.cards[-1]):
        expected = qr_matrix(card.payload)
        assert expected.shape == (card.modules, card.modules)
        dark, _, ring = _rendered_modules(pdf, card, tmp_path)
        assert (dark == expected).all(), int((dark != expected).sum())
        assert ring.min() > 200  # quiet zone is white


def test_qr_decodes_to_the_vcard(cards, tmp_path: Path) -> None:
    zxingcpp = pytest.importorskip(
        "zxingcpp", reason="zxing-cpp (optional QR decoder) is not installed"
    )
    from PIL import Image

    sheet, pdf = cards
    card = sheet.cards[3]
    _, img, _ = _rendered_modules(pdf, card, tmp_path)
    x0, y0, side = card.qr_box_pt
    k = 300 / 72.0
    page_h = img.shape[0] / k
    pad = 5 * side / card.modules
    crop = img[int((page_h - y0 - side - pad) * k) : int((page_h - y0 + pad) * k),
               int((x0 - pad) * k) : int((x0 + side + pad) * k)]  # fmt: skip
    found = zxingcpp.read_barcodes(Image.fromarray(crop))
    assert found and found[0].text == card.payload


def test_cards_cli_with_url_qr(db: Path, tmp_path: Path) -> None:
    from gis.cli import app

    out = tmp_path / "c.pdf"
    res = CliRunner().invoke(
        app, ["cards", "1", DISTRICT, str(out), "--qr-url", "https://intranet/grids/{code}", "--db", str(db)]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "11 cards on 2 A4 pages" in res.output
    assert _pages(out)[0] == 2
    text = _text(out)
    assert "城中街道" in text and "310199001" in text and "扫码访问网格页面" in text
    bad = CliRunner().invoke(
        app, ["cards", "1", DISTRICT, str(out), "--qr-url", "https://x/", "--db", str(db)]
    )
    assert bad.exit_code != 0


def test_cards_payload_url_matrix_size() -> None:
    from gis.maps.cards import qr_matrix

    m = qr_matrix("https://intranet/grids/310199001001001")
    assert m.dtype == bool and m.shape[0] == m.shape[1] and (m.shape[0] - 17) % 4 == 0
