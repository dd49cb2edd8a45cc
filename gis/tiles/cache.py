"""A small thread-safe LRU of encoded tiles, keyed (version, layer, z, x, y).

The version (the service uses the snapshot's (plan version, data version)) is part
of the key, so a publish makes every older entry unreachable (they age out);
:meth:`TileCache.drop_older` frees them at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class TileCache:
    def __init__(self, max_items: int = 20_000, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            tile = self._items.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: tuple, tile: bytes) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old)
            self._items[key] = tile
            self._bytes += len(tile)
            while self._items and (
                len(self._items) > self.max_items or self._bytes > self.max_bytes
            ):
                _, dropped = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def drop_older(self, version: Any) -> None:
        """Forget every tile made for an older version (keys' first item)."""
        with self._lock:
            for key in [k for k in self._items if k[0] < version]:
                self._bytes -= len(self._items.pop(key))

    def __len__(self) -> int:
        return len(self._items)
