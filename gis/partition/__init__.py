"""Balanced grid partition: contiguous, compact grids balanced on several weights at once.

``partition(units, k, weights)`` is the plain function (see :mod:`gis.partition.solver`);
``rebalance`` fixes an existing plan; :mod:`gis.partition.output` dissolves grids,
numbers them and builds the per-grid table.
"""

from gis.partition.rebalance import RebalanceResult, rebalance
from gis.partition.solver import GridPartitioner, PartitionResult, partition

__all__ = ["GridPartitioner", "PartitionResult", "RebalanceResult", "partition", "rebalance"]
