"""Batch lookup of many points: row checks, codes per layer, CSV streamed in chunks.

Used by the API (``POST /lookup/batch``) and the CLI (``gridgis lookup-batch``).
Pure over a :class:`~gis.lookup.engine.Snapshot`; memory stays bounded by the chunk
size whatever the number of rows.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd

from gis.crs import to_store
from gis.errors import InvalidInput
from gis.lookup.engine import Snapshot

CHUNK_ROWS = 200_000


def check_rows(lon: np.ndarray, lat: np.ndarray, canon: str) -> tuple[np.ndarray, list[dict]]:
    """A mask of usable rows and the errors of the others, by index."""
    errors: list[dict] = []
    finite = np.isfinite(lon) & np.isfinite(lat)
    ok = finite.copy()
    geographic = canon in ("wgs84", "cgcs2000", "gcj02", "bd09")
    if geographic:
        swapped = finite & (np.abs(lat) > 90) & (np.abs(lon) <= 90)
        out_range = finite & ~swapped & ((np.abs(lon) > 180) | (np.abs(lat) > 90))
        ok &= ~swapped & ~out_range
        for i in np.flatnonzero(swapped):
            errors.append({"index": int(i), "message": "latitude outside -90..90: lon/lat look swapped", "message_zh": "纬度超出范围：经纬度似乎颠倒"})
        for i in np.flatnonzero(out_range):
            errors.append({"index": int(i), "message": "coordinates out of range", "message_zh": "坐标超出范围"})
    for i in np.flatnonzero(~finite):
        errors.append({"index": int(i), "message": "lon/lat missing or not a number", "message_zh": "经纬度缺失或不是数字"})
    errors.sort(key=lambda e: e["index"])
    return ok, errors


def codes_for(snap: Snapshot, keys: list[str], level: int | None, x: np.ndarray, y: np.ndarray, ok: np.ndarray) -> dict[str, np.ndarray]:
    out = {}
    for key in keys:
        layer = snap.layers[key]
        lv = level or layer.finest
        if lv not in layer.indexes:
            raise InvalidInput(f"layer {key!r} has no level {lv}", f"图层 {key!r} 没有第 {lv} 级", )
        index = layer.indexes[lv]
        owner = np.full(len(x), -1, dtype=np.int64)
        owner[ok] = index.locate(x[ok], y[ok])
        out[key] = np.where(owner >= 0, index.codes[np.maximum(owner, 0)], None)
    return out


def layer_keys(snap: Snapshot, layers: str | None) -> list[str]:
    keys = [k for k in layers.split(",") if k] if layers else list(snap.layers)
    unknown = [k for k in keys if k not in snap.layers]
    if unknown:
        raise InvalidInput(f"layer(s) {unknown} have no published plan", f"图层 {unknown} 没有已发布的方案")
    return keys


def csv_columns(frame: pd.DataFrame) -> tuple[str, str]:
    cols = {c.lower().strip(): c for c in frame.columns}
    for lo, la in (("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("x", "y"), ("经度", "纬度")):
        if lo in cols and la in cols:
            return cols[lo], cols[la]
    raise InvalidInput(f"CSV needs lon and lat columns; found {list(frame.columns)}", "CSV 需要 lon 和 lat 列")


def stream_csv(snap: Snapshot, source, canon: str, keys: list[str], level: int | None) -> Iterator[bytes]:
    """Answer a CSV in chunks: memory stays bounded whatever the number of rows."""
    yield "\ufeff".encode()
    header_done = False
    offset = 0
    for chunk in pd.read_csv(source, chunksize=CHUNK_ROWS, dtype=str, encoding="utf-8-sig"):
        lo_c, la_c = csv_columns(chunk)
        lon = pd.to_numeric(chunk[lo_c], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(chunk[la_c], errors="coerce").to_numpy(dtype=float)
        ok, errors = check_rows(lon, lat, canon)
        x, y = to_store(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0), canon)
        codes = codes_for(snap, keys, level, x, y, ok)
        out = pd.DataFrame({"index": np.arange(offset, offset + len(chunk))})
        out = pd.concat([out, chunk.reset_index(drop=True)], axis=1)
        for key in keys:
            out[f"{key}_code"] = codes[key]
        err = np.full(len(chunk), "", dtype=object)
        for e in errors:
            err[e["index"]] = e["message"]
        out["error"] = err
        buf = io.StringIO()
        out.to_csv(buf, index=False, header=not header_done)
        header_done = True
        offset += len(chunk)
        yield buf.getvalue().encode("utf-8")
