"""Nothing the service ships names an outside address to load from (a government
intranet has no internet): the same rule the project's stop hook applies."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = re.compile(r"""(src|href)=["']https?://|https?://[^"' ]*\{z\}""")
LOCAL = re.compile(r"127\.0\.0\.1|localhost")


def test_no_shipped_file_loads_from_an_outside_address() -> None:
    hits = []
    for folder in ("api", "gis"):
        for path in (ROOT / folder).rglob("*"):
            if not path.is_file() or path.suffix in {".png", ".pyc", ".gpkg"}:
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            for n, line in enumerate(text.splitlines(), 1):
                if OUTSIDE.search(line) and not LOCAL.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{n}: {OUTSIDE.search(line).group(0)}")
    assert hits == []


def test_vendored_leaflet_keeps_its_credit_as_plain_text() -> None:
    js = (ROOT / "api/static/vendor/leaflet/leaflet.js").read_text(encoding="utf-8")
    assert "prefix:'<span title=\"Leaflet: a JavaScript library for interactive maps\">'" in js
    assert 't.version="1.9.4"' in js  # still the pinned release
