"""Partition jobs: ``POST /plans/{layer}/partition`` runs in a SEPARATE process.

The job process is started from a ``spawn`` multiprocessing context (never a thread
of the API worker, so lookups keep their latency); it opens the store by URL and
writes its progress, then its result or error, into the job's record in the store
(:mod:`gis.jobs`): ``GET /jobs/{id}`` answers the same from every uvicorn worker.
``DELETE /jobs/{id}`` marks the job cancelled and terminates its process; the draft
plan is written in one ``store.write`` at the very end, so nothing is half-written.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import StoreDep
from api.errors import STATUS
from gis import jobs
from gis.errors import InvalidInput, Problem
from gis.partition.constraints import tolerances
from gis.partition.job import PartitionRequest, run_in_process

router = APIRouter(tags=["partition"])
_CTX = mp.get_context("spawn")
_STATUS_BY_NAME = {cls.__name__: code for cls, code in STATUS.items()}


class PartitionBody(BaseModel):
    parent_code: str = Field(..., description="Grid code of the area to split (town: 9 digits)", examples=["310199104"])
    k: int | None = Field(None, ge=1, description="Number of grids; or leave it out and give grid_workload")
    units: str = Field("villages", description="villages (admin units below the parent), cells, or blocks "
                       "(cut by the store's roads and rivers, then by cells; grids prefer the lines as borders)")
    cell_size: float = Field(300.0, gt=0, description="Cell side in metres (units=cells or blocks)")
    cell_shape: str = Field("square", description="square or hex (units=cells or blocks)")
    cell_workload: float | None = Field(None, gt=0, description="Size cells from the workload instead: about "
                                        "this much of the first point weight per cell on average (units=cells or blocks; "
                                        "overrides cell_size)")
    weights: list[str] = Field(default_factory=lambda: ["enterprises", "area"],
                               description="enterprises, weighted_enterprises (with enterprise_weights), incidents, area")
    seed: int = 0
    tries: int = Field(1, description="Solve again from seed + 1, ... while a grid is outside its allowance, "
                       "up to this many solves (1-20); the best is kept and the job's result names its seed")
    tolerance: float | dict[str, float] = Field(
        0.02, description="Allowed deviation from the mean, for every weight (0.02 = 2 %), or one per weight "
        'naming each of weights, e.g. {"enterprises": 0.02, "area": 0.1}')
    plan_name: str | None = None
    seed_units: list[str] = Field(default_factory=list, description="Units to grow grids from, one grid each")
    locked: dict[str, str] = Field(default_factory=dict,
                                   description="Unit -> group: a group's units end in one grid and never move")
    best_effort: bool = Field(False, description="Partition even when the tolerance is provably out of reach "
                              "(a unit too heavy, a cluster too dense), within the allowances, saying so in "
                              "the notes; by default such a request fails with the units that rule it out")
    grid_workload: float | None = Field(None, gt=0, description="Instead of k: grids of about this much work "
                                        "each, counted in workload_weight (enterprises, incidents: a count; area: "
                                        "km2); k is the total over it, rounded")
    workload_weight: str | None = Field(None, description="The weight grid_workload counts (default: the first "
                                        "of weights)")
    enterprise_weights: dict[str, float] | None = Field(
        None, description="For the weight weighted_enterprises: a weight per value of enterprise_weight_by, e.g. "
        '{"major": 4, "high": 3, "medium": 2, "low": 1}; an enterprise with an empty or unlisted value counts 1')
    enterprise_weight_by: str = Field("risk_class", description="risk_class or supervision_level")


def _view(state: jobs.JobState) -> dict[str, Any]:
    """The job as JSON; an error gets its HTTP status from the exception's classes."""
    out = state.to_json()
    if out["error"] and "classes" in out["error"]:
        error = dict(out["error"])
        classes = error.pop("classes")
        error["status"] = next((_STATUS_BY_NAME[c] for c in classes if c in _STATUS_BY_NAME), 500)
        out["error"] = error
    return out


@router.post(
    "/plans/{layer}/partition",
    status_code=202,
    summary="Start a partition job (separate process): k balanced grids inside a parent grid, as a draft plan",
)
def start_partition(layer: str, body: PartitionBody, store: StoreDep) -> dict[str, Any]:
    req = PartitionRequest(layer=layer, **body.model_dump())
    req.check()
    store._check_layer(layer)
    jobs.reap_children()
    state = jobs.new_job(store, "partition", layer)
    proc = _CTX.Process(target=run_in_process, args=(store.url, vars(req), state.id), daemon=True,
                        name=f"gridgis-partition-{layer}")  # fmt: skip
    proc.start()  # the process records its pid in its first report
    return _view(state) | {"href": f"/jobs/{state.id}"}


class RebalanceBody(BaseModel):
    parent_code: str = Field(..., description="Grid whose child grids are rebalanced (a town: 9 digits)",
                             examples=["310199102"])  # fmt: skip
    weights: list[str] = Field(default_factory=lambda: ["enterprises", "area"])
    tolerance: float | dict[str, float] = Field(
        0.05, description="Target deviation from the mean, for every weight (0.05 = 5 %), or one per weight "
        'naming each of weights, e.g. {"enterprises": 0.05, "area": 0.15}')
    plan_id: int | None = Field(None, description="Plan to start from; default: the layer's published plan")
    plan_name: str | None = None


@router.post(
    "/plans/{layer}/rebalance",
    status_code=202,
    summary="Start a rebalance job (separate process): move sub-grids between a grid's children, as a draft plan",
)
def start_rebalance(layer: str, body: RebalanceBody, store: StoreDep) -> dict[str, Any]:
    store._check_layer(layer)
    if not body.weights:
        raise InvalidInput("Name at least one weight", "请至少指定一个权重",
                           [Problem("empty", "为空", field="weights")])  # fmt: skip
    tolerances(body.tolerance, body.weights)  # refused here, not in the job
    jobs.reap_children()
    state = jobs.new_job(store, "rebalance", layer)
    args = {"layer": layer, **body.model_dump()}
    proc = _CTX.Process(target=run_in_process, args=(store.url, args, state.id, "rebalance"), daemon=True,
                        name=f"gridgis-rebalance-{layer}")  # fmt: skip
    proc.start()
    return _view(state) | {"href": f"/jobs/{state.id}"}


@router.get("/jobs/{job_id}", summary="A job: status, progress 0-1, stage, result (draft plan id, per-grid table)")
def get_job(job_id: str, store: StoreDep) -> dict[str, Any]:
    jobs.reap_children()
    return _view(jobs.refresh(store, jobs.load(store, job_id)))


@router.delete("/jobs/{job_id}", summary="Cancel a running job (its process is terminated; nothing is written)")
def cancel_job(job_id: str, store: StoreDep) -> dict[str, Any]:
    return _view(jobs.cancel(store, job_id))
