"""Analytics routes: HTTP in and out, nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from app.deps import ClockDep, CurrentUser, QueryModel, RequestZone, SettingsDep, StoreDep
from app.routers import ModelJSONResponse
from app.schemas.analytics import (
    EngagementPage,
    EngagementQuery,
    ResponseTimes,
    ResponseTimesQuery,
    StalePage,
    StaleQuery,
    Team,
    Volume,
    VolumeQuery,
    WindowQuery,
)
from app.schemas.common import problem_responses
from app.services import analytics

# Answers are serialized once, by pydantic-core (ModelJSONResponse); `response_model` keeps
# the OpenAPI document.

router = APIRouter(prefix="/analytics", tags=["analytics"])

VolumeParams = QueryModel(VolumeQuery)
WindowParams = QueryModel(WindowQuery)
ResponseParams = QueryModel(ResponseTimesQuery)
EngagementParams = QueryModel(EngagementQuery)
StaleParams = QueryModel(StaleQuery)
ERRORS = problem_responses(401, 403, 422)


@router.get("/volume", response_model=Volume, responses=ERRORS, openapi_extra=VolumeParams.openapi)
async def volume(
    query: Annotated[VolumeQuery, Depends(VolumeParams)],
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """Activities and chatter messages per period (day, ISO week, month) and key."""
    page = await analytics.volume(
        store,
        user,
        zone=zone,
        now=clock.now(),
        interval=query.interval,
        group_by=query.group_by,
        since=query.since,
        until=query.until,
        user_id=query.user_id,
        types=query.type or (),
        source=query.source,
        kinds=query.kind or (),
    )
    return ModelJSONResponse(page)


@router.get("/team", response_model=Team, responses=ERRORS, openapi_extra=WindowParams.openapi)
async def team(
    query: Annotated[WindowQuery, Depends(WindowParams)],
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """Per assignee: activities created and completed (on time or late), open and overdue."""
    page = await analytics.team(
        store, user, zone=zone, now=clock.now(), since=query.since, until=query.until
    )
    return ModelJSONResponse(page)


@router.get(
    "/response-times",
    response_model=ResponseTimes,
    responses=ERRORS,
    openapi_extra=ResponseParams.openapi,
)
async def response_times(
    query: Annotated[ResponseTimesQuery, Depends(ResponseParams)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """How fast inbound customer emails were answered, per responder or overall."""
    page = await analytics.response_times(
        store,
        user,
        zone=zone,
        now=clock.now(),
        opportunity_model=settings.opportunity_model,
        group_by=query.group_by,
        since=query.since,
        until=query.until,
    )
    return ModelJSONResponse(page)


@router.get(
    "/engagement",
    response_model=EngagementPage,
    responses=ERRORS,
    openapi_extra=EngagementParams.openapi,
)
async def engagement(
    query: Annotated[EngagementQuery, Depends(EngagementParams)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """Touchpoints, last touch and engagement score per contact, one page."""
    page = await analytics.engagement(
        store,
        user,
        zone=zone,
        now=clock.now(),
        opportunity_model=settings.opportunity_model,
        since=query.since,
        until=query.until,
        contact_id=query.contact_id,
        sort=query.sort,
        limit=query.limit,
        cursor=query.cursor,
    )
    return ModelJSONResponse(page)


@router.get("/stale", response_model=StalePage, responses=ERRORS, openapi_extra=StaleParams.openapi)
async def stale(
    query: Annotated[StaleQuery, Depends(StaleParams)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """Open opportunities without a touchpoint for `days` days and without an open activity."""
    page = await analytics.stale(
        store,
        user,
        zone=zone,
        now=clock.now(),
        opportunity_model=settings.opportunity_model,
        days=query.days,
        limit=query.limit,
    )
    return ModelJSONResponse(page)
