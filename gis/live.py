"""The live lookup engine of a service process: loaded from the store, swapped on publish.

Glue between the store and the pure lookup engine (which never imports the store).
A background thread waits for the store's plan or data version to change (a publish,
or an import of enterprises, admin units or lines; PostgreSQL LISTEN/NOTIFY, or
polling the GeoPackage file twice a second), builds a new
:class:`~gis.lookup.engine.Snapshot` beside the old one and swaps the reference:
a lookup holds one snapshot from start to end, so every answer comes from exactly
one set of plans and says which plan version that was.
"""

from __future__ import annotations

import logging
import threading

from gis.lookup.engine import LayerData, Snapshot, build_snapshot, warm
from gis.model import PlanStatus
from gis.search import build_places
from gis.store import Store

log = logging.getLogger("gridgis.live")


def load_snapshot(store: Store) -> Snapshot:
    """Read the published plan of every layer, its people and the enterprises."""
    version, data_version = store.versions()
    names = dict(zip(store.layers()["key"], store.layers()["name_zh"], strict=True))
    layers = []
    for plan in store.plans(status=PlanStatus.PUBLISHED):
        grids = store.grids(plan.id)
        if grids.empty:
            continue
        layers.append(LayerData(plan.layer_key, names.get(plan.layer_key, plan.layer_key), plan, grids, store.people(plan.id)))
    layers.sort(key=lambda d: d.key)
    places = build_places(store.read("admin_units"), store.read("lines"))
    snap = build_snapshot(version, layers, store.read("enterprises"), places, data_version)
    warm(snap)
    return snap


class LiveEngine:
    """Holds the current snapshot; ``start()`` runs the watcher thread."""

    def __init__(self, store: Store, poll_timeout: float = 1.0) -> None:
        self.store = store
        self.poll_timeout = poll_timeout
        self._snapshot = load_snapshot(store)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rebuilds = 0

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def refresh(self) -> Snapshot:
        """Rebuild now (also what the watcher does after a version bump)."""
        snap = load_snapshot(self.store)
        self._snapshot = snap  # one reference assignment: atomic for readers
        self.rebuilds += 1
        return snap

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                known = (self._snapshot.plan_version, self._snapshot.data_version)
                seen = self.store.wait_for_change(known, self.poll_timeout)
                if seen != known and not self._stop.is_set():
                    log.info("plan/data version %s -> %s: rebuilding lookup indexes", known, seen)
                    self.refresh()
            except Exception:  # keep serving the old snapshot; try again shortly
                log.exception("lookup refresh failed")
                self._stop.wait(1.0)

    def start(self) -> LiveEngine:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="gridgis-live", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
