"""Roads and rivers as borders: blocks cut by lines and cells, and the preference for
cutting along lines (gis.partition.units.line_blocks, gis.partition.graph.along_lines)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from gis.partition import partition
from gis.partition.graph import along_lines, build_graph
from gis.partition.output import barrier_share, dissolve
from gis.partition.units import line_blocks

CRS = "EPSG:32651"


def test_blocks_follow_the_lines_cover_the_area_and_stay_cell_sized() -> None:
    area = shapely.Polygon([(0, 0), (2000, 0), (2300, 1500), (0, 1800)])
    road = shapely.LineString([(-100, 730), (2500, 910)])  # oblique: cuts cells anywhere
    river = shapely.LineString([(1210, -50), (1170, 2000)])
    faces = line_blocks(area, [road, river], 300.0)
    assert shapely.coverage_is_valid(faces)
    assert abs(shapely.area(shapely.coverage_union_all(faces)) - area.area) < 1e-6 * area.area
    # no unit crosses a line: its interior meets the lines in nothing longer than a point
    for line in (road, river):
        inside = shapely.intersection(shapely.buffer(faces, -0.01), line)
        assert shapely.length(inside).max() < 1e-6
    size = shapely.area(faces)
    assert size.max() <= 300.0**2 * 1.02  # a cell, plus at most a merged sliver
    assert size.min() >= 0.01 * 300.0**2  # slivers between a line and a cell edge merged
    again = line_blocks(area, [road, river], 300.0)
    assert all(a.equals(b) for a, b in zip(faces, again, strict=True))  # deterministic


def test_the_cheaper_boundary_along_lines_adds_up() -> None:
    """A grid's perimeter in the cost graph is its real perimeter minus the weight times
    its boundary along the lines."""
    cells = np.array([shapely.box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
                      for y in range(4) for x in range(4)])  # fmt: skip
    road = shapely.LineString([(200, -10), (200, 410)])  # between columns 1 and 2
    g = build_graph(cells)
    cost = along_lines(g, cells, [road], 1.0, 0.5)
    left = np.array([i % 4 < 2 for i in range(16)])
    outline = shapely.union_all(cells).boundary
    for mask in (left, np.arange(16) < 6):
        grid = shapely.union_all(cells[mask])
        real = shapely.length(grid.boundary)
        inner = shapely.difference(grid.boundary, shapely.buffer(outline, 1e-9))
        on = shapely.length(shapely.intersection(inner, shapely.buffer(road, 1.0)))
        src = np.repeat(np.arange(16), np.diff(cost.indptr))
        p = cost.perimeter[mask].sum() - cost.length[mask[cost.indices] & mask[src]].sum()
        assert abs(p - (real - 0.5 * on)) < 1e-6


def test_grids_cut_along_a_road_when_one_is_given() -> None:
    """20 x 10 cells, two grids of equal area: without the road the cut is straight; the
    road jogs a cell either side of the middle (the areas still balance along it), 40 %
    longer than the straight cut, and with it weighted 0.8 the boundary follows it."""
    cells = gpd.GeoDataFrame(
        geometry=[shapely.box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
                  for y in range(10) for x in range(20)], crs=CRS)  # fmt: skip
    road = shapely.LineString([(1000, 0), (1000, 400), (1100, 400), (1100, 500), (900, 500),
                               (900, 600), (1000, 600), (1000, 1000)])  # fmt: skip
    roads = gpd.GeoSeries([road], crs=CRS)
    shares = {}
    for label, barriers in (("plain", None), ("road", roads)):
        r = partition(cells, 2, ["area"], seed=0, tolerance=0.03, barriers=barriers,
                      barrier_weight=0.8)  # fmt: skip
        assert r.within_tolerance() and r.score.noncontiguous == 0
        grids = gpd.GeoDataFrame(geometry=dissolve(cells.geometry.values, r.labels_, 2), crs=CRS)
        shares[label] = barrier_share(grids, [road], 1.0)
    assert shares["road"] > 0.99 and shares["plain"] < 0.85, shares  # 800 of 1,000 m
