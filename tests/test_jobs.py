"""Background jobs seen from every API worker: state in the store, over real HTTP with
`gridgis serve --workers 2`; a job process that dies is reported, not left running."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gis import jobs
from gis.store import open_store
from tests.conftest import serving

TOWN = "310199104"


@pytest.fixture
def served(sample_gpkg: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "jobs.gpkg"
    shutil.copy(sample_gpkg, db)
    with serving(db, workers=2) as url:
        yield url, db


def test_every_worker_answers_for_a_job_until_it_is_done(served) -> None:
    url, _ = served
    r = httpx.post(url + "/plans/environment/partition", json={"parent_code": TOWN, "k": 4, "tolerance": 0.15}, timeout=30)
    assert r.status_code == 202, r.text
    href = r.json()["href"]
    seen, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        with httpx.Client() as fresh:  # a new connection each time: any worker may answer
            got = fresh.get(url + href, timeout=30)
        assert got.status_code == 200, got.text
        seen.append(got.json())
        if seen[-1]["status"] != "running":
            break
        time.sleep(0.2)
    assert seen[-1]["status"] == "done", seen[-1]
    assert seen[-1]["result"]["plan_id"] and len(seen[-1]["result"]["table"]) == 4
    progress = [s["progress"] for s in seen]
    assert progress == sorted(progress)  # every worker reads the same, advancing record


def test_a_job_process_that_dies_is_reported_failed(served) -> None:
    url, db = served
    r = httpx.post(url + "/plans/environment/partition",
                   json={"parent_code": "310199", "k": 50, "units": "cells", "cell_size": 120}, timeout=30)  # fmt: skip
    job_id = r.json()["id"]
    with open_store(str(db), init=False) as store:
        deadline = time.monotonic() + 60
        while (pid := jobs.load(store, job_id).pid) is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert pid, "the job process never reported its pid"
    # it runs below the API workers (started by them at the test's own priority)
    assert os.getpriority(os.PRIO_PROCESS, pid) == _lowered()
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = httpx.get(f"{url}/jobs/{job_id}", timeout=30).json()
        if body["status"] != "running":
            break
        time.sleep(0.3)
    assert body["status"] == "failed", body
    assert body["error"]["status"] == 500 and body["error"]["detail_zh"]
    assert httpx.delete(f"{url}/jobs/{job_id}", timeout=30).json()["status"] == "failed"


def _lowered() -> int:
    """The niceness of a background process started from this one."""
    return min(19, os.getpriority(os.PRIO_PROCESS, 0) + jobs.BACKGROUND_NICE)


def test_print_processes_run_below_the_api_workers() -> None:
    from types import SimpleNamespace

    from api.routers import prints

    server = SimpleNamespace(print_workers=1)
    app = SimpleNamespace(state=SimpleNamespace(settings=SimpleNamespace(server=server)))
    try:
        nice = prints._pool(app).submit(os.getpriority, os.PRIO_PROCESS, 0).result(timeout=120)
    finally:
        prints.shutdown(app)
    assert nice == _lowered()


def test_job_records_round_trip_and_refuse_late_reports(store) -> None:
    """On both backends: a record reads back; once cancelled, the job's reports stop it."""
    from gis.errors import NotFound

    state = jobs.new_job(store, "partition", "community")
    jobs.report(store, state.id, progress=0.5, stage="partition", pid=os.getpid())
    got = jobs.load(store, state.id)
    assert (got.status, got.progress, got.stage, got.pid) == ("running", 0.5, "partition", os.getpid())
    got.pid = None  # not this process: cancel only marks it
    jobs.save(store, got)
    assert jobs.cancel(store, state.id).status == "cancelled"
    with pytest.raises(jobs.JobStopped):
        jobs.report(store, state.id, progress=0.9, stage="output")
    assert jobs.load(store, state.id).status == "cancelled"
    for bad in ("nope", "../etc"):
        with pytest.raises(NotFound):
            jobs.load(store, bad)


def test_records_of_long_ended_jobs_are_purged_when_a_job_starts(store) -> None:
    """On both backends: ended jobs older than the retention go, the rest stay."""
    from gis.errors import NotFound

    now = time.time()
    old_done = jobs.new_job(store, "partition", "community")
    jobs.report(store, old_done.id, status="done", progress=1.0)
    rec = jobs.load(store, old_done.id)
    rec.finished = now - jobs.RETENTION_S - 60
    jobs.save(store, rec)
    recent_done = jobs.new_job(store, "partition", "community")
    jobs.report(store, recent_done.id, status="failed")
    old_running = jobs.new_job(store, "partition", "community")  # still running: kept
    rec = jobs.load(store, old_running.id)
    rec.started = now - 2 * jobs.RETENTION_S
    jobs.save(store, rec)
    store.set_setting("jobless", {"status": "done", "finished": 0.0})  # not a job: kept

    fresh = jobs.new_job(store, "rebalance", "community")
    with pytest.raises(NotFound):
        jobs.load(store, old_done.id)
    for kept in (recent_done, old_running, fresh):
        assert jobs.load(store, kept.id).id == kept.id
    assert store.get_setting("jobless") == {"status": "done", "finished": 0.0}
    assert set(store.settings(jobs.PREFIX)) == {jobs.PREFIX + s.id for s in (recent_done, old_running, fresh)}
    assert jobs.purge(store, now=now + jobs.RETENTION_S + 120) == [recent_done.id]
