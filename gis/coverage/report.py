"""A coverage report for people and for GIS: summary text (English and Chinese),
findings as GeoJSON / GeoPackage (via :func:`gis.io.write_table`), and JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gis.coverage.check import ERROR, KINDS, CoverageReport
from gis.io import write_table


def summary(report: CoverageReport, title: str = "") -> str:
    """A few readable lines: verdict, counts per kind, then the findings (first 50)."""
    head = f"{title}: " if title else ""
    verdict = "PASS" if report.ok else "FAIL"
    verdict_zh = "通过" if report.ok else "未通过"
    lines = [
        f"{head}coverage check {verdict} / 覆盖检查{verdict_zh}: {report.grids} grids, levels "
        f"{report.levels}, area {report.area_m2 / 1e6:.3f} km² ({report.projected_crs}); "
        f"{len(report.errors)} error(s) / 错误, {len(report.warnings)} warning(s) / 警告",
    ]
    for severity, kinds in report.counts().items():
        for kind, n in sorted(kinds.items()):
            _, en, zh = KINDS[kind]
            lines.append(f"  {severity:<7} {kind:<28} {n:>6}  {en} / {zh}")
    for f in report.findings[:50]:
        size = []
        if f.area_m2 is not None:
            size.append(f"{f.area_m2:.2f} m²")
        if f.width_m is not None:
            size.append(f"width {f.width_m:.2f} m")
        where = ""
        if f.geom is not None:
            c = f.geom.representative_point()
            where = f" at {c.x:.6f},{c.y:.6f}"
        mark = "E" if f.severity == ERROR else "W"
        lines.append(
            f"  [{mark}] L{f.level} {f.kind} {','.join(f.grids)}"
            f"{' (' + ', '.join(size) + ')' if size else ''}{where}: {f.message} / {f.message_zh}"
        )
    if len(report.findings) > 50:
        lines.append(
            f"  ... and {len(report.findings) - 50} more / 另有 {len(report.findings) - 50} 条"
        )
    return "\n".join(lines)


def to_json(report: CoverageReport) -> dict[str, Any]:
    """The report as JSON: verdict, counts, thresholds and the findings as a GeoJSON
    FeatureCollection (store CRS = CGCS2000 lon/lat)."""
    frame = report.to_frame()
    features = (
        json.loads(frame.to_json(drop_id=True, to_wgs84=False))
        if len(frame)
        else {"type": "FeatureCollection", "features": []}
    )
    for feat, f in zip(features["features"], report.findings, strict=True):
        feat["properties"]["grids"] = list(f.grids)
        feat["properties"]["detail"] = f.detail
    return {
        "ok": report.ok,
        "grids": report.grids,
        "levels": report.levels,
        "area_m2": round(report.area_m2, 3),
        "projected_crs": report.projected_crs,
        "errors": len(report.errors),
        "warnings": len(report.warnings),
        "counts": report.counts(),
        "thresholds": vars(report.thresholds),
        "findings": features,
    }


def write_findings(
    report: CoverageReport, path: str | os.PathLike[str], crs: str = "cgcs2000"
) -> Path:
    """Findings as a vector file (.gpkg layer ``coverage_findings`` or .geojson);
    findings without a location are written without geometry."""
    frame = report.to_frame()
    frame = frame[frame.geometry.notna()].reset_index(drop=True)
    write_table(frame, path, layer="coverage_findings", crs=crs)
    return Path(path)
