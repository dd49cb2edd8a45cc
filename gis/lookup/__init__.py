"""Point -> grid: the exact index, and the engine that answers for every layer."""

from gis.lookup.index import GridIndex

__all__ = ["GridIndex"]
