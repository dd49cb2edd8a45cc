"""Assignment of large point sets on Dask: a thin wrapper, no second implementation.

A ``dask.dataframe`` over the coordinate columns (e.g. a Parquet dataset, one
partition per file or row group) is mapped partition by partition through the
same chunk function as in process, :func:`gis.coverage.assign.locate_chunk`.
The grids travel as a :class:`GridSpec` (WKB and codes, a few MB at most); each
worker process builds the :class:`GridIndex` once and keeps it in a small cache
keyed by the spec's digest, so every partition after the first costs only the
lookup. Runs on a ``LocalCluster`` by default or on a given scheduler address.

Needs ``dask[dataframe]`` and ``distributed`` (and ``pyarrow`` for Parquet).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from gis.coverage.assign import locate_chunk
from gis.lookup.index import GridIndex


@dataclass(frozen=True)
class GridSpec:
    """Picklable description of one or several indexes: per index, the grids' WKB and codes."""

    wkb: tuple[tuple[bytes, ...], ...]
    codes: tuple[tuple[str, ...], ...]
    digest: str = field(default="", compare=False)

    @classmethod
    def of(cls, index_or_indexes: GridIndex | Sequence[GridIndex]) -> GridSpec:
        indexes = [index_or_indexes] if isinstance(index_or_indexes, GridIndex) else list(index_or_indexes)
        wkb = tuple(tuple(shapely.to_wkb(ix.geoms).tolist()) for ix in indexes)
        codes = tuple(tuple(ix.codes.tolist()) for ix in indexes)
        h = hashlib.sha256()
        for ws, cs in zip(wkb, codes, strict=True):
            h.update(len(ws).to_bytes(8, "little"))
            for w, c in zip(ws, cs, strict=True):
                h.update(w)
                h.update(c.encode())
        return cls(wkb, codes, h.hexdigest())

    def __dask_tokenize__(self) -> str:
        return self.digest

    @property
    def single(self) -> bool:
        return len(self.wkb) == 1


_cache: OrderedDict[str, list[GridIndex]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 4


def load_indexes(spec: GridSpec) -> list[GridIndex]:
    """The spec's indexes, built once per process (the last few specs are kept)."""
    with _cache_lock:
        found = _cache.get(spec.digest)
        if found is not None:
            _cache.move_to_end(spec.digest)
            return found
        built = [
            GridIndex(shapely.from_wkb(np.array(ws, dtype=object)), np.array(cs, dtype=object))
            for ws, cs in zip(spec.wkb, spec.codes, strict=True)
        ]
        _cache[spec.digest] = built
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return built


def _columns(spec: GridSpec) -> list[str]:
    return ["pos"] if spec.single else [f"pos_{j}" for j in range(len(spec.wkb))]


def locate_partition(df: pd.DataFrame, spec: GridSpec, x: str = "x", y: str = "y") -> pd.DataFrame:
    """One partition through :func:`locate_chunk` (int32 positions; -1 outside)."""
    indexes = load_indexes(spec)
    pos = locate_chunk(indexes[0] if spec.single else indexes, df[x].to_numpy(), df[y].to_numpy())
    return pd.DataFrame(pos.reshape(len(df), -1), columns=_columns(spec), index=df.index)


def locate_dataframe(ddf, index_or_indexes: GridIndex | Sequence[GridIndex] | GridSpec, x: str = "x", y: str = "y"):
    """Lazy: a dask dataframe of positions (column ``pos``, or ``pos_0..`` for several indexes)."""
    spec = index_or_indexes if isinstance(index_or_indexes, GridSpec) else GridSpec.of(index_or_indexes)
    meta = pd.DataFrame({c: pd.Series(dtype=np.int32) for c in _columns(spec)})
    return ddf[[x, y]].map_partitions(locate_partition, spec, x, y, meta=meta)


def read_points(path: str | os.PathLike[str], x: str = "x", y: str = "y"):
    """A dask dataframe of the coordinate columns of a Parquet file or dataset, or CSV files."""
    import dask.dataframe as dd

    p = str(path)
    if p.lower().endswith(".csv"):
        return dd.read_csv(p, usecols=[x, y], dtype={x: "float64", y: "float64"}, blocksize="32MB")
    return dd.read_parquet(p, columns=[x, y], split_row_groups=True)


@contextmanager
def dask_client(
    address: str | None = None, n_workers: int = 2, threads_per_worker: int = 1, processes: bool = True
) -> Iterator:
    """A distributed Client: to ``address`` (a running scheduler) or to a new LocalCluster."""
    from distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def assign_dask(
    points,
    index_or_indexes: GridIndex | Sequence[GridIndex] | GridSpec,
    *,
    x: str = "x",
    y: str = "y",
    client=None,
    address: str | None = None,
    n_workers: int = 2,
) -> np.ndarray:
    """Positions of every point, computed on Dask; identical to the in-process path.

    ``points``: a dask dataframe, or a path read by :func:`read_points`. Uses
    ``client`` if given, else a Client to ``address``, else a LocalCluster of
    ``n_workers`` single-threaded worker processes. Returns int32 ``(n,)`` for one
    index, ``(n, k)`` for several, in the points' order.
    """
    ddf = points if hasattr(points, "map_partitions") else read_points(points, x, y)
    spec = index_or_indexes if isinstance(index_or_indexes, GridSpec) else GridSpec.of(index_or_indexes)
    lazy = locate_dataframe(ddf, spec, x, y)
    if client is None:
        with dask_client(address, n_workers=n_workers) as c:
            return _gather(c, lazy, spec)
    return _gather(client, lazy, spec)


def _gather(client, lazy, spec: GridSpec) -> np.ndarray:
    """Partition results fetched one by one, in order, into numpy (no concat task on a
    worker, which would hold every partition at once)."""
    futures = client.compute(lazy.to_delayed())
    parts = []
    for i, fut in enumerate(futures):
        parts.append(fut.result().to_numpy(dtype=np.int32))
        futures[i] = None  # release the partition on its worker
        fut.release()
    k = len(spec.wkb)
    arr = np.concatenate(parts) if parts else np.empty((0, k), dtype=np.int32)
    return arr[:, 0] if spec.single else arr
