"""What an import or export reports back: repairs, the import report and result, the
write report.

Kept apart from the reading and writing code so the API and CLI can show reports
without pulling in GDAL; warnings are one bilingual string each (:func:`_both`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Repair:
    """One geometry changed by ``make_valid``: where, why, and what it cost in area."""

    row: int
    reason: str
    before: str
    after: str
    area_before_m2: float | None = None
    area_after_m2: float | None = None

    def __str__(self) -> str:
        text = f"row {self.row}: {self.reason}; {self.before} -> {self.after}"
        if self.area_before_m2 is not None and self.area_after_m2 is not None:
            text += f"; area {self.area_before_m2:,.1f} m² -> {self.area_after_m2:,.1f} m²"
        return text


@dataclass
class ImportReport:
    """What an import read and decided, shown to the user before anything is stored."""

    source: str
    format: str
    table: str
    rows: int
    crs_used: str
    crs_source: str  # "argument", "file", "settings-default" or "assumed-wgs84"
    layer: str | None = None
    encoding: str | None = None
    crs_declared: str | None = None  # what the file itself declares, when it does
    warnings: list[str] = field(default_factory=list)
    repairs: list[Repair] = field(default_factory=list)
    dropped_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    """A frame in the shape of ``TABLES[table]`` (store CRS, no id) and its report."""

    frame: pd.DataFrame
    report: ImportReport


@dataclass
class WriteReport:
    """What an export wrote; ``crs`` names the coordinates, ``crs_declared`` the label."""

    path: str
    format: str
    layer: str | None
    rows: int
    crs: str
    crs_declared: str | None
    dropped_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _both(en: str, zh: str) -> str:
    """A report warning in both languages, one string (reports are shown as text)."""
    return f"{en} / {zh}"
