"""Background jobs that every API worker sees: their state lives in the store.

A job (a partition today) runs in its own SPAWNED process, started by whichever API
worker took the POST. The process writes its progress, result or error into the
store's meta table under ``job:<id>``, so ``GET /jobs/{id}`` answers the same from any
worker (``gridgis serve --workers N``) or any host over one PostGIS.

Cancel: ``DELETE /jobs/{id}`` marks the record cancelled and, on the job's host,
terminates its process at once (the solver is compiled code that would not look at a
flag for seconds); the job's draft plan is written in one transaction at its very
end, so a terminated job leaves nothing half-written. A process that died without a
word (killed, crashed) is noticed by its pid on the same host and marked failed. A
job never overwrites a state it did not set: once cancelled, failed or done, its
later reports are dropped and the process stops.

Records of jobs that ended more than ``RETENTION_S`` ago (a week; results hold the
per-grid table, about 15 kB at k = 50) are removed whenever a job starts, so the meta
table does not grow without end; a poll for such a job answers 404.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gis.errors import NotFound

PREFIX = "job:"
TERMINAL = ("done", "failed", "cancelled")
#: ended jobs are kept this long (seconds) for their result to be fetched
RETENTION_S = 7 * 24 * 3600.0
#: how much lower than the API workers' a job or print process's CPU priority is (nice)
BACKGROUND_NICE = 10


def background_priority() -> int:
    """Lower this process's CPU priority by ``BACKGROUND_NICE``; returns the new niceness.

    Why: a partition job anneals on two threads and an atlas renders page after page,
    and on a 2-core host they would share the CPU evenly with the API workers; lowered,
    they take only what the lookups leave, so a dispatcher's lookup keeps its latency
    while a planner's job runs (the lookup benchmark's ``--jobs``). Where the platform
    has no ``os.nice`` the priority stays.
    """
    if not hasattr(os, "nice"):
        return 0
    return os.nice(BACKGROUND_NICE)


class JobStopped(Exception):
    """The job's record says it is over (cancelled): the process must stop."""


@dataclass
class JobState:
    id: str
    kind: str
    layer: str
    status: str = "running"  # running | done | failed | cancelled
    progress: float = 0.0
    stage: str = "start"
    result: dict | None = None
    error: dict | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    pid: int | None = None
    host: str = field(default_factory=socket.gethostname)

    def to_json(self) -> dict[str, Any]:
        """The API's view (no pid or host)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "layer": self.layer,
            "status": self.status,
            "progress": round(float(self.progress), 3),
            "stage": self.stage,
            "result": self.result,
            "error": self.error,
            "seconds": round((self.finished or time.time()) - self.started, 3),
        }


def new_job(store, kind: str, layer: str) -> JobState:
    """A running job's record (and the records of long-ended jobs purged)."""
    purge(store)
    state = JobState(uuid.uuid4().hex[:12], kind, layer)
    save(store, state)
    return state


def purge(store, older_than_s: float = RETENTION_S, now: float | None = None) -> list[str]:
    """Remove the records of jobs that ended more than ``older_than_s`` ago; their ids."""
    limit = (time.time() if now is None else now) - older_than_s
    old = [
        key[len(PREFIX):]
        for key, raw in store.settings(PREFIX).items()
        if isinstance(raw, dict) and raw.get("status") in TERMINAL
        and (raw.get("finished") or raw.get("started") or 0.0) < limit
    ]  # fmt: skip
    store.delete_settings([PREFIX + j for j in old])
    return old


def save(store, state: JobState) -> None:
    store.set_setting(PREFIX + state.id, asdict(state))


def load(store, job_id: str) -> JobState:
    raw = store.get_setting(PREFIX + job_id) if job_id.isalnum() else None
    if not isinstance(raw, dict):
        raise NotFound(f"Job {job_id} does not exist", f"任务 {job_id} 不存在")
    return JobState(**raw)


def report(store, job_id: str, **changes: Any) -> JobState:
    """Update a running job from its own process; :class:`JobStopped` once it is over."""
    state = load(store, job_id)
    if state.status != "running":
        raise JobStopped(state.status)
    for key, value in changes.items():
        setattr(state, key, value)
    if state.status in TERMINAL:
        state.finished = time.time()
    save(store, state)
    return state


def _process_gone(pid: int) -> bool:
    """True when ``pid`` is no longer running on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def refresh(store, state: JobState) -> JobState:
    """Mark a running job failed when its process (on this host) is gone without a word."""
    if state.status != "running" or state.pid is None or state.host != socket.gethostname():
        return state
    if not _process_gone(state.pid):
        return state
    time.sleep(0.2)  # its last report may be committing right now
    state = load(store, state.id)
    if state.status == "running":
        state.status, state.finished = "failed", time.time()
        state.error = {"status": 500, "detail": "job process exited without a result",
                       "detail_zh": "任务进程意外退出", "problems": []}  # fmt: skip
        save(store, state)
    return state


def cancel(store, job_id: str, timeout: float = 10.0) -> JobState:
    """Cancel a running job: mark it, terminate its process on this host, mark it again
    (a report it sent while being stopped must not win)."""
    state = load(store, job_id)
    if state.status != "running":
        return state
    state.status, state.finished = "cancelled", time.time()
    save(store, state)
    if state.pid is not None and state.host == socket.gethostname():
        try:
            os.kill(state.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while not _process_gone(state.pid) and time.monotonic() < deadline:
            reap_children()
            time.sleep(0.05)
        save(store, state)
    return state


def reap_children() -> None:
    """Collect finished child processes of this worker (no zombies left behind)."""
    import multiprocessing

    multiprocessing.active_children()
