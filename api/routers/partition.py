"""Partition jobs: ``POST /plans/{layer}/partition`` runs in a SEPARATE process.

The job process is started from a ``spawn`` multiprocessing context (never a thread
of the API worker, so lookups keep their latency); it opens the store by URL, reports
progress on a queue and writes its draft plan in one ``store.write`` at the end, so
``DELETE /jobs/{id}`` (terminate) leaves nothing half-written. Jobs are kept in the
memory of the worker that started them (with several uvicorn workers, poll the same
worker or run one).
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_mod
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.deps import StoreDep
from api.errors import STATUS
from gis.errors import NotFound
from gis.partition.job import PartitionRequest, run_in_process

router = APIRouter(tags=["partition"])
_CTX = mp.get_context("spawn")
_STATUS_BY_NAME = {cls.__name__: code for cls, code in STATUS.items()}


class PartitionBody(BaseModel):
    parent_code: str = Field(..., description="Grid code of the area to split (town: 9 digits)", examples=["310199104"])
    k: int = Field(..., ge=1, description="Number of grids")
    units: str = Field("villages", description="villages (admin units below the parent) or cells")
    cell_size: float = Field(300.0, gt=0, description="Cell side in metres (units=cells)")
    cell_shape: str = Field("square", description="square or hex (units=cells)")
    weights: list[str] = Field(default_factory=lambda: ["enterprises", "area"])
    seed: int = 0
    tolerance: float = Field(0.02, gt=0, lt=1)
    plan_name: str | None = None


@dataclass
class Job:
    id: str
    layer: str
    process: Any
    queue: Any
    status: str = "running"  # running | done | failed | cancelled
    progress: float = 0.0
    stage: str = "start"
    result: dict | None = None
    error: dict | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def drain(self) -> None:
        """Read what the process reported; notice a process that died without a word."""
        while True:
            try:
                kind, payload = self.queue.get_nowait()
            except queue_mod.Empty:
                break
            self._apply(kind, payload)
        if self.status == "running" and not self.process.is_alive():
            try:  # the last message may still be in the pipe
                self._apply(*self.queue.get(timeout=1.0))
            except queue_mod.Empty:
                self.status, self.finished = "failed", time.time()
                self.error = {"status": 500, "detail": f"job process exited with code {self.process.exitcode}",
                              "detail_zh": "任务进程意外退出", "problems": []}
        if self.status != "running":
            self.process.join(timeout=0)

    def _apply(self, kind: str, payload: dict) -> None:
        if kind == "progress" and self.status == "running":
            self.progress, self.stage = payload["progress"], payload["stage"]
        elif kind == "done":
            self.status, self.progress, self.stage, self.result = "done", 1.0, "done", payload
            self.finished = time.time()
        elif kind == "error":
            classes = payload.pop("classes", [])
            payload["status"] = next((_STATUS_BY_NAME[c] for c in classes if c in _STATUS_BY_NAME), 500)
            self.status, self.error, self.finished = "failed", payload, time.time()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "layer": self.layer,
            "status": self.status,
            "progress": round(float(self.progress), 3),
            "stage": self.stage,
            "result": self.result,
            "error": self.error,
            "seconds": round((self.finished or time.time()) - self.started, 3),
        }


_lock = threading.Lock()


def _jobs(request: Request) -> dict[str, Job]:
    with _lock:
        jobs = getattr(request.app.state, "partition_jobs", None)
        if jobs is None:
            jobs = request.app.state.partition_jobs = {}
        return jobs


def _job(request: Request, job_id: str) -> Job:
    job = _jobs(request).get(job_id)
    if job is None:
        raise NotFound(f"Job {job_id} does not exist", f"任务 {job_id} 不存在")
    return job


@router.post(
    "/plans/{layer}/partition",
    status_code=202,
    summary="Start a partition job (separate process): k balanced grids inside a parent grid, as a draft plan",
)
def start_partition(layer: str, body: PartitionBody, store: StoreDep, request: Request) -> dict[str, Any]:
    req = PartitionRequest(layer=layer, **body.model_dump())
    req.check()
    store._check_layer(layer)
    q = _CTX.Queue()
    proc = _CTX.Process(target=run_in_process, args=(store.url, vars(req), q), daemon=True,
                        name=f"gridgis-partition-{layer}")
    proc.start()
    job = Job(uuid.uuid4().hex[:12], layer, proc, q)
    _jobs(request)[job.id] = job
    return job.to_json() | {"href": f"/jobs/{job.id}"}


@router.get("/jobs/{job_id}", summary="A partition job: status, progress 0-1, result (draft plan id, per-grid table)")
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    job = _job(request, job_id)
    job.drain()
    return job.to_json()


@router.delete("/jobs/{job_id}", summary="Cancel a running job (its process is terminated; nothing is written)")
def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
    job = _job(request, job_id)
    job.drain()
    if job.status == "running":
        job.process.terminate()
        job.process.join(timeout=10)
        if job.process.is_alive():  # pragma: no cover - terminate is not ignored by the job
            job.process.kill()
            job.process.join(timeout=5)
        job.status, job.finished = "cancelled", time.time()
    return job.to_json()
