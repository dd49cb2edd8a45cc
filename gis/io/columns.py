"""Shaping a file's attribute columns into a table's: matching names (Shapefile's
10-character ones too), blanks and numeric codes before validation, JSON columns,
and the final types once validation passed.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from gis.errors import Problem
from gis.model import TableSpec


def _shape_columns(
    attrs: pd.DataFrame, spec: TableSpec, *, shapefile: bool, skip: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Spec columns in spec order (missing optional ones as None), and the dropped names.

    Matching is exact, then case-insensitive, then -- for Shapefiles, whose .dbf
    cuts field names to 10 characters -- by the truncated name.
    """
    by_lower = {str(c).lower(): str(c) for c in attrs.columns}
    used: set[str] = set(skip)
    out = pd.DataFrame(index=pd.RangeIndex(len(attrs)))
    for col in spec.columns:
        src = col.name if col.name in attrs.columns else by_lower.get(col.name.lower())
        if src is None and shapefile and len(col.name) > 10:
            src = by_lower.get(col.name[:10].lower())
        if src is None or src in used:
            if not col.required:
                out[col.name] = pd.Series([None] * len(attrs), dtype=object)
            continue
        used.add(src)
        out[col.name] = _pre_coerce(attrs[src], col.kind)
    dropped = [str(c) for c in attrs.columns if str(c) not in used]
    return out, dropped


def _pre_coerce(values: pd.Series, kind: str) -> pd.Series:
    """Blanks to None and numbers stored in text columns to their text, before validation.

    Codes in .dbf files are often numeric fields; ``110105000000.0`` must become
    ``"110105000000"``. Other kinds stay raw so validation can name bad values.
    """
    out = []
    for v in values.tolist():
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT or v is pd.NA:
            out.append(None)
        elif isinstance(v, str):
            s = v.strip()
            out.append(s if s else None)
        elif kind == "text" and isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        elif kind == "text":
            out.append(str(v))
        else:
            out.append(v.item() if isinstance(v, np.generic) else v)
    return pd.Series(out, dtype=object, index=values.index)


def _parse_json_columns(frame: pd.DataFrame, spec: TableSpec) -> list[Problem]:
    """JSON columns arrive as JSON text (or GDAL list fields); parse them (bad text is a problem)."""
    problems: list[Problem] = []
    for col in spec.columns:
        if col.kind != "json" or col.name not in frame.columns:
            continue
        parsed = []
        for i, v in enumerate(frame[col.name].tolist()):
            if isinstance(v, np.ndarray):  # GDAL reads JSON arrays as list fields
                v = v.tolist()
            elif isinstance(v, str):
                try:
                    v = json.loads(v)
                except ValueError:
                    problems.append(Problem(f"{v[:40]!r} is not JSON", f"{v[:40]!r} 不是有效的 JSON", spec.name, i, col.name))
            parsed.append(v)
        frame[col.name] = pd.Series(parsed, dtype=object, index=frame.index)
    return problems


def _coerce(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Final column types once validation passed: Int64, float, ISO timestamps, text."""
    for col in spec.columns:
        values = frame[col.name]
        if col.kind == "int":
            frame[col.name] = pd.array(
                [None if v is None else int(v) if isinstance(v, (int, np.integer)) else int(float(v)) for v in values],
                dtype="Int64",
            )
        elif col.kind == "float":
            frame[col.name] = pd.to_numeric(values, errors="coerce").astype(float)
        elif col.kind == "timestamp":
            frame[col.name] = pd.Series(
                [None if v is None else pd.Timestamp(v).isoformat() for v in values], dtype=object, index=frame.index
            )
    return frame


def _naive_timestamps(frame: pd.DataFrame, spec: TableSpec) -> int:
    """How many timestamps carry no zone: Chinese sources mean Beijing time, the store UTC."""
    count = 0
    for col in spec.columns:
        if col.kind == "timestamp":
            count += sum(1 for v in frame[col.name] if v is not None and pd.Timestamp(v).tzinfo is None)
    return count
