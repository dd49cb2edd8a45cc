"""Printable notice-board maps (公示图): page size, embedded CJK font, 300 dpi PNG,
texts, label sizes and overlaps, and the error when no CJK font is installed."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

VILLAGE = "310199001001"  # 金湾居委会 of the sample, 48 unit grids
PAPERS = {("A4", "landscape"): (842, 595), ("A3", "portrait"): (842, 1191)}


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if not path:
        reason = f"{tool} (poppler-utils) is not installed: apt-get install -y poppler-utils"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(reason + " (CI=true: this test may not be skipped)", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module", params=list(PAPERS), ids=lambda p: f"{p[0]}-{p[1]}")
def rendered(request, sample_gpkg: Path, tmp_path_factory):
    from gis.maps.prints import load_board
    from gis.store.geopackage import GeoPackageStore

    paper, orientation = request.param
    store = GeoPackageStore(sample_gpkg)
    try:
        board = load_board(store, 1, VILLAGE, paper=paper, orientation=orientation)
    finally:
        store.close()
    out = tmp_path_factory.mktemp("board")
    pdf, png = out / "board.pdf", out / "board.png"
    pdf.write_bytes(board.pdf_bytes())
    png.write_bytes(board.png_bytes(300))
    return request.param, board, pdf, png


def test_pdf_page_size(rendered):
    (paper, orientation), board, pdf, _ = rendered
    info = subprocess.run(
        [_need("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert m, info
    w, h = float(m.group(1)), float(m.group(2))
    ew, eh = PAPERS[(paper, orientation)]
    assert abs(w - ew) < 1.5 and abs(h - eh) < 1.5, (w, h)
    assert re.search(rf"Pages:\s+{board.pages}\n", info), info


def test_every_responsible_person_is_printed(rendered, sample_gpkg: Path):
    """The people table is complete: what does not fit beside the map goes on
    continuation pages, each titled as such."""
    from gis.store.geopackage import GeoPackageStore

    _, board, pdf, _ = rendered
    store = GeoPackageStore(sample_gpkg)
    try:
        people = store.people(1)
        codes = set(store.grids(1).query("parent_code == @VILLAGE")["code"]) | {VILLAGE}
    finally:
        store.close()
    people = people[people["grid_code"].isin(codes)]
    assert board.people_rows == len(people) > 100
    text = subprocess.run(
        [_need("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    missing = [p for p in people["phone"].astype(str) if p not in flat]
    assert not missing, missing[:5]
    assert board.pages >= 2 and "金湾居委会网格责任人员（续，第2页）" in flat


def test_pdf_embeds_the_cjk_font_only(rendered):
    _, _, pdf, _ = rendered
    out = subprocess.run(
        [_need("pdffonts"), str(pdf)], capture_output=True, text=True, check=True
    ).stdout
    fonts = [line.split()[0] for line in out.splitlines()[2:] if line.strip()]
    assert fonts, out
    assert all("NotoSansCJKsc" in f for f in fonts), out
    assert all(" yes " in line for line in out.splitlines()[2:] if line.strip()), out  # embedded


def test_png_is_300_dpi_at_paper_size(rendered):
    from PIL import Image

    (paper, orientation), board, _, png = rendered
    img = Image.open(io.BytesIO(png.read_bytes()))
    ew, eh = PAPERS[(paper, orientation)]
    w_mm, h_mm = {"A4": (297, 210), "A3": (420, 297)}[paper]
    if orientation == "portrait":
        w_mm, h_mm = h_mm, w_mm
    assert abs(img.width - w_mm / 25.4 * 300) <= 2 and abs(img.height - h_mm / 25.4 * 300) <= 2, (
        img.size
    )
    dpi = img.info.get("dpi")
    assert dpi and round(dpi[0]) == 300, dpi


def test_texts_in_pdf(rendered):
    _, board, pdf, _ = rendered
    text = subprocess.run(
        [_need("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    flat = re.sub(r"\s+", "", text)
    assert "金湾居委会网格化管理公示图" in flat
    assert "网格责任人员" in flat and "网格长" in flat
    assert "数据：gridgis样例数据（生成数据，非真实）" in flat  # the store's credits
    assert VILLAGE in flat
    assert re.search(r"1[3-9]\d{9}", flat)  # a mobile phone from the people table
    assert "比例尺" in flat and "北" in flat
    for label in board.labels[:10]:
        assert label.text.replace("\n", "") in flat or label.text.split("\n")[-1] in flat


def test_every_grid_is_labelled_and_every_code_printed(rendered, sample_gpkg: Path):
    """Grids too small for their label get it beside them on a leader line; the full
    code of every grid is in the PDF's text (the people table names them all)."""
    from gis.store.geopackage import GeoPackageStore

    _, board, pdf, _ = rendered
    store = GeoPackageStore(sample_gpkg)
    try:
        codes = set(store.grids(1).query("parent_code == @VILLAGE")["code"])
    finally:
        store.close()
    assert {lbl.code for lbl in board.labels} == codes and board.skipped == []
    assert any(lbl.leader for lbl in board.labels)  # the sample has slivers along a road
    flat = re.sub(r"\s+", "", subprocess.run(
        [_need("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert [c for c in codes if c not in flat] == []


def test_a_grid_without_people_is_listed_as_such(sample_gpkg: Path):
    from gis.maps.board import render_board
    from gis.store.geopackage import GeoPackageStore

    store = GeoPackageStore(sample_gpkg)
    try:
        grids, people = store.grids(1), store.people(1)
    finally:
        store.close()
    parent = grids[grids["code"] == VILLAGE].iloc[0]
    children = grids[grids["parent_code"] == VILLAGE]
    vacant = sorted(children["code"])[5]
    people = people[people["grid_code"].isin(set(children["code"]) - {vacant})]
    board = render_board(parent, children, people, None, plan_label="测试")
    assert "（未配置人员）" in board.texts
    assert any(t.startswith(vacant) for t in board.texts)


def test_labels_legible_and_not_overlapping(rendered):
    _, board, _, _ = rendered
    assert len(board.labels) >= 40  # most of the 48 unit grids are labelled
    assert board.min_font_pt >= 8
    assert all(lbl.size_pt >= 8 for lbl in board.labels)
    renderer = board.figure.canvas.get_renderer()
    boxes = []
    for lbl in board.labels:
        assert lbl.artist.get_fontsize() >= 8
        bb = lbl.artist.get_window_extent(renderer)  # figure dpi 72: pixels are points
        planned = lbl.box_pt
        assert bb.x0 >= planned[0] - 0.5 and bb.x1 <= planned[2] + 0.5, (lbl.code, bb, planned)
        assert bb.y0 >= planned[1] - 0.5 and bb.y1 <= planned[3] + 0.5, (lbl.code, bb, planned)
        boxes.append((bb.x0, bb.y0, bb.x1, bb.y1))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def test_missing_font_is_a_clear_error(monkeypatch, sample_gpkg: Path):
    from gis.maps import fonts
    from gis.maps.prints import load_board
    from gis.store.geopackage import GeoPackageStore

    monkeypatch.setattr(
        fonts, "candidates", lambda: [(Path("/nonexistent/NotoSansCJK-Regular.ttc"), None)]
    )
    monkeypatch.delenv("GRIDGIS_CJK_FONT", raising=False)
    store = GeoPackageStore(sample_gpkg)
    try:
        with pytest.raises(fonts.FontMissing) as err:
            load_board(store, 1, VILLAGE)
    finally:
        store.close()
    text = str(err.value)
    assert (
        "Noto Sans CJK SC" in text
        and "apt-get install -y fonts-noto-cjk" in text
        and "未找到中文字体" in text
    )


def test_uncovered_character_is_named():
    from gis.maps import fonts

    font = fonts.find_cjk_font()
    with pytest.raises(fonts.FontMissing) as err:
        fonts.check_coverage(font, ["金湾居委会", "\U0001f600"])
    assert "U+1F600" in str(err.value) and "缺少" in str(err.value)


def test_cli_board_writes_every_page_as_png(sample_gpkg: Path, tmp_path: Path):
    from PIL import Image
    from typer.testing import CliRunner

    from gis.cli import app

    db = tmp_path / "s.gpkg"
    shutil.copy(sample_gpkg, db)
    res = CliRunner().invoke(app, ["board", "1", VILLAGE, str(tmp_path / "b.pdf"), "--png", str(tmp_path / "b.png"),
                                   "--db", str(db)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "2 page(s)" in res.output
    for name in ("b.png", "b-p2.png"):
        image = Image.open(tmp_path / name)
        assert image.size == Image.open(tmp_path / "b.png").size and image.info["dpi"][0] == pytest.approx(300, abs=1)
