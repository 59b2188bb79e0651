"""Odoo sync routes (ops): start a run, read runs, read the status. HTTP in and out only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.deps import OpsUser, SettingsDep, StoreDep, SyncDep
from app.schemas.common import problem_responses
from app.schemas.sync import SyncRun, SyncRunPage, SyncStarted, SyncStatus
from app.services import sync

router = APIRouter(prefix="/sync", tags=["sync"])

RunId = Annotated[str, Path(max_length=64, description="Run id")]


@router.post(
    "/odoo",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409),
)
async def start_sync(
    user: OpsUser,
    runner: SyncDep,
    response: Response,
    full: Annotated[
        bool, Query(description="Re-read everything and reconcile deletions (else automatic)")
    ] = False,
) -> SyncStarted:
    """Start an Odoo sync run in the background; 409 while one runs (with its run_id) or when
    Odoo is not configured."""
    started = await sync.start_run(runner, user, full=full)
    response.headers["Location"] = f"/api/v1/sync/runs/{started.run_id}"
    return started


@router.get("/runs", responses=problem_responses(401, 403, 404, 422))
async def list_runs(
    user: OpsUser,
    store: StoreDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SyncRunPage:
    """Sync runs, newest first."""
    return await sync.list_runs(store, settings, user, limit=limit)


@router.get("/runs/{run_id}", responses=problem_responses(401, 403, 404))
async def get_run(user: OpsUser, store: StoreDep, settings: SettingsDep, run_id: RunId) -> SyncRun:
    """One sync run, with its counts per Odoo model and its errors."""
    return await sync.get_run(store, settings, user, run_id)


@router.get("/status", responses=problem_responses(401, 403, 404))
async def sync_status(user: OpsUser, runner: SyncDep) -> SyncStatus:
    """Whether sync is configured, its schedule, last success, protocol and watermarks."""
    return await sync.status(runner, user)
