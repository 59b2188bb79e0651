"""Timeline and chatter routes: HTTP in and out, nothing else."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Path

from app.deps import (
    ClockDep,
    CurrentUser,
    QueryModel,
    RequestZone,
    SettingsDep,
    StoreDep,
    related_query,
)
from app.routers import ModelJSONResponse
from app.schemas.common import RECORD_ID_PATTERN, RelatedModel, problem_responses
from app.schemas.timeline import (
    GlobalTimelineQuery,
    MessagePage,
    MessagesQuery,
    TimelinePage,
    TimelineQuery,
)
from app.services import timeline
from app.services.auth import Principal
from app.services.clock import Clock, today_in
from app.store import Store

router = APIRouter(tags=["timeline"])

ModelParam = Annotated[RelatedModel, Path(description="A related model of the contract")]
RecordIdParam = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="The record's id")]
GlobalQuery = QueryModel(GlobalTimelineQuery)
RecordQuery = QueryModel(TimelineQuery)
MessagesQueryParams = QueryModel(MessagesQuery)
READ_ERRORS = problem_responses(401, 403, 422)


async def timeline_page(
    store: Store,
    user: Principal,
    query: TimelineQuery,
    related: tuple[str, str] | None,
    zone: ZoneInfo,
    clock: Clock,
) -> ModelJSONResponse:
    page = await timeline.read_timeline(
        store,
        user,
        stream_filters(user, query, related),
        today=today_in(zone, clock.now()).isoformat(),
        order=query.order,
        limit=query.limit,
        cursor=query.cursor,
    )
    return ModelJSONResponse(page)


def stream_filters(
    user: Principal, query: TimelineQuery, related: tuple[str, str] | None = None
) -> timeline.TimelineFilters:
    return timeline.timeline_filters(
        user,
        related=related,
        kinds=query.kind or (),
        types=query.type or (),
        message_types=query.message_type or (),
        user_id=query.user_id,
        source=query.source,
        since=query.since,
        until=query.until,
        q=query.q,
    )


@router.get(
    "/timeline",
    response_model=TimelinePage,
    responses=READ_ERRORS,
    openapi_extra=GlobalQuery.openapi,
)
async def read_timeline(
    query: Annotated[GlobalTimelineQuery, Depends(GlobalQuery)],
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """Activities and Odoo chatter messages in one chronological stream."""
    return await timeline_page(store, user, query, global_related(query), zone, clock)


def global_related(query: GlobalTimelineQuery) -> tuple[str, str] | None:
    """The record filter of a GET /timeline query string (also its export's and saved views')."""
    ref = related_query(query.related)
    return (ref.model, ref.id) if ref is not None else None


@router.get(
    "/records/{model}/{record_id}/timeline",
    response_model=TimelinePage,
    responses=READ_ERRORS,
    openapi_extra=RecordQuery.openapi,
)
async def read_record_timeline(
    model: ModelParam,
    record_id: RecordIdParam,
    query: Annotated[TimelineQuery, Depends(RecordQuery)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """The timeline of one record (opportunity, quotation, order, lead or partner)."""
    ref = timeline.record_ref(model, record_id, opportunity_model=settings.opportunity_model)
    return await timeline_page(store, user, query, ref, zone, clock)


@router.get(
    "/opportunities/{opportunity_id}/timeline",
    response_model=TimelinePage,
    responses=READ_ERRORS,
    openapi_extra=RecordQuery.openapi,
)
async def read_opportunity_timeline(
    opportunity_id: RecordIdParam,
    query: Annotated[TimelineQuery, Depends(RecordQuery)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """The timeline of one opportunity (OPPORTUNITY_MODEL, default crm.lead)."""
    model = settings.opportunity_model
    ref = timeline.record_ref(model, opportunity_id, opportunity_model=model)
    return await timeline_page(store, user, query, ref, zone, clock)


@router.get(
    "/opportunities/{opportunity_id}/messages",
    response_model=MessagePage,
    responses=READ_ERRORS,
    openapi_extra=MessagesQueryParams.openapi,
)
async def read_opportunity_messages(
    opportunity_id: RecordIdParam,
    query: Annotated[MessagesQuery, Depends(MessagesQueryParams)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
) -> ModelJSONResponse:
    """The Odoo chatter of one opportunity; `count` is the total over all pages."""
    model = settings.opportunity_model
    ref = timeline.record_ref(model, opportunity_id, opportunity_model=model)
    filters = timeline.timeline_filters(
        user,
        related=ref,
        message_types=query.message_type or (),
        since=query.since,
        until=query.until,
        q=query.q,
    )
    return ModelJSONResponse(
        await timeline.read_messages(
            store, user, filters, order=query.order, limit=query.limit, cursor=query.cursor
        )
    )
