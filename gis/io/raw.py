"""What a reader hands on: a file's content before it is shaped into a table.

Its own module because the readers fill it and the CRS decision and the row
checks consume it; neither side should import the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyproj import CRS

from gis.errors import Problem


@dataclass
class _Raw:
    """A file's content before it is shaped: attributes, geometries in the source CRS."""

    attrs: pd.DataFrame
    geoms: np.ndarray | None  # None: the source has no geometry at all
    declared: CRS | None  # a real CRS declaration in the file
    layer: str | None = None
    encoding: str | None = None
    problems: list[Problem] = field(default_factory=list)
    fixed_rows: dict[int, str] = field(default_factory=dict)  # unreadable, closed by make_valid
    warnings: list[str] = field(default_factory=list)
    used_columns: tuple[str, ...] = ()  # CSV lon/lat/wkt columns: not "extra"
