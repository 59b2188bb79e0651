"""Dashboard routes: HTTP in and out, nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.deps import ClockDep, CurrentUser, RequestZone, StoreDep
from app.schemas.common import Limit, problem_responses
from app.schemas.dashboard import Agenda, DashboardSummary
from app.services import dashboard

router = APIRouter(prefix="/dashboard", tags=["dashboard"])

UserIdParam = Annotated[
    str | None,
    Query(max_length=128, description="`me` = any of my identities; absent = the whole tenant"),
]


@router.get("/summary", responses=problem_responses(401, 403, 422))
async def summary(
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
    user_id: UserIdParam = None,
) -> DashboardSummary:
    """Counts of activities by urgency, type, state, priority and source, in your time zone."""
    return await dashboard.summarize(store, user, zone=zone, now=clock.now(), user_id=user_id)


@router.get("/agenda", responses=problem_responses(401, 403, 422))
async def agenda(
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
    user_id: UserIdParam = None,
    limit: Annotated[Limit, Query(description="At most this many items per list")] = 50,
) -> Agenda:
    """Today's open activities by start time, and the overdue ones, most overdue first."""
    return await dashboard.agenda(
        store, user, zone=zone, now=clock.now(), user_id=user_id, limit=limit
    )
