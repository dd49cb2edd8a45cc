"""Which table spec a file is read into or written from, refused by name when unknown
or managed by the system (the same messages for reading and writing).
"""

from __future__ import annotations

from gis.errors import InvalidInput
from gis.model import TABLES, TableSpec


def _spec(table: str) -> TableSpec:
    if table not in TABLES:
        raise InvalidInput(
            f"Unknown table {table!r}; one of {sorted(TABLES)}", f"未知数据表 {table!r}；可选 {sorted(TABLES)}"
        )
    return TABLES[table]


def _importable(table: str) -> TableSpec:
    spec = _spec(table)
    if not spec.importable:
        raise InvalidInput(
            f"{table} is managed by the system and cannot be imported from a file",
            f"{spec.title_zh}（{table}）由系统维护，不能从文件导入",
        )
    return spec
