"""Data attribution: what every map, board and tile set must credit, kept in the store.

Licences such as CC BY require the credit "wherever the project shows or ships anything
derived" from the data, so it travels with the data: the store keeps a list of credits
(setting ``attribution``), the sample and ``gridgis import --attribution`` add to it, and
boards, interactive maps and TileJSON show it. Nothing is credited that is not there: a
deployment with its own data shows its own credits only.
"""

from __future__ import annotations

from pathlib import Path

KEY = "attribution"
SAMPLE = "gridgis 样例数据（生成数据，非真实）"
ADCODE = "Vonng/adcode, CC BY 4.0"


def for_source(path: str | Path | None) -> list[str]:
    """Credits a source file needs: Vonng/adcode fences (read from an ``admin-cn`` or
    ``adcode`` folder) are CC BY 4.0."""
    if path is None:
        return []
    parts = [p.lower() for p in Path(path).parts]
    return [ADCODE] if any(p in ("admin-cn", "adcode") or "adcode" in p for p in parts) else []


def credits(store) -> list[str]:
    """The store's credits, in the order they were added."""
    value = store.get_setting(KEY, [])
    return [str(v) for v in value] if isinstance(value, list) else []


def add(store, *texts: str) -> list[str]:
    """Add credits (each once; blanks ignored); returns the whole list."""
    current = credits(store)
    for text in texts:
        text = text.strip()
        if text and text not in current:
            current.append(text)
    store.set_setting(KEY, current)
    return current
