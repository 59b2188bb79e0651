"""Timeline and chatter routes: HTTP in and out, nothing else."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.deps import ClockDep, CurrentUser, RequestZone, SettingsDep, StoreDep
from app.errors import ValidationFailed
from app.schemas.common import (
    RECORD_ID_PATTERN,
    RELATED_REF_PATTERN,
    ActivityType,
    AwareDatetime,
    Limit,
    RelatedModel,
    Source,
    parse_related_ref,
    problem_responses,
)
from app.schemas.timeline import Kind, MessagePage, Order, TimelinePage
from app.services import timeline
from app.services.clock import today_in

router = APIRouter(tags=["timeline"])

MessageType = Annotated[str, Query(pattern=r"^[a-z_]{1,32}$")]
ModelParam = Annotated[RelatedModel, Path(description="A related model of the contract")]
RecordIdParam = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="The record's id")]
SinceParam = Annotated[
    AwareDatetime | None, Query(description="Inclusive; with an offset, e.g. 2026-01-20T00:00Z")
]
UntilParam = Annotated[AwareDatetime | None, Query(description="Exclusive; with an offset")]
QParam = Annotated[str | None, Query(max_length=200, description="Text in subject or body")]
OrderParam = Annotated[Order, Query(description="By occurred_at then id")]
CursorParam = Annotated[str | None, Query(max_length=2048)]
MessageTypes = Annotated[list[MessageType] | None, Query(description="Messages only")]


async def stream_filters(
    user: CurrentUser,
    kind: Annotated[list[Kind] | None, Query()] = None,
    type: Annotated[list[ActivityType] | None, Query(description="Activities only")] = None,
    message_type: MessageTypes = None,
    user_id: Annotated[
        str | None,
        Query(max_length=128, description="Assignee or message author; `me` = my identities"),
    ] = None,
    source: Source | None = None,
    since: SinceParam = None,
    until: UntilParam = None,
    q: QParam = None,
) -> timeline.TimelineFilters:
    return timeline.timeline_filters(
        user,
        kinds=kind or (),
        types=type or (),
        message_types=message_type or (),
        user_id=user_id,
        source=source,
        since=since,
        until=until,
        q=q,
    )


StreamFilters = Annotated[timeline.TimelineFilters, Depends(stream_filters)]
READ_ERRORS = problem_responses(401, 403, 422)


@router.get("/timeline", responses=READ_ERRORS)
async def read_timeline(
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
    filters: StreamFilters,
    related: Annotated[
        str | None, Query(pattern=RELATED_REF_PATTERN, description="`model,id`")
    ] = None,
    order: OrderParam = "desc",
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> TimelinePage:
    """Activities and Odoo chatter messages in one chronological stream."""
    if related is not None:
        try:
            ref = parse_related_ref(related)
        except ValueError as exc:
            raise ValidationFailed(str(exc), loc=("query", "related")) from exc
        filters = dataclasses.replace(filters, related=(ref.model, ref.id))
    return await timeline.read_timeline(
        store,
        user,
        filters,
        today=today_in(zone, clock.now()).isoformat(),
        order=order,
        limit=limit,
        cursor=cursor,
    )


@router.get("/records/{model}/{record_id}/timeline", responses=READ_ERRORS)
async def read_record_timeline(
    model: ModelParam,
    record_id: RecordIdParam,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
    filters: StreamFilters,
    order: OrderParam = "desc",
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> TimelinePage:
    """The timeline of one record (opportunity, quotation, order, lead or partner)."""
    ref = timeline.record_ref(model, record_id, opportunity_model=settings.opportunity_model)
    return await timeline.read_timeline(
        store,
        user,
        dataclasses.replace(filters, related=ref),
        today=today_in(zone, clock.now()).isoformat(),
        order=order,
        limit=limit,
        cursor=cursor,
    )


@router.get("/opportunities/{opportunity_id}/timeline", responses=READ_ERRORS)
async def read_opportunity_timeline(
    opportunity_id: RecordIdParam,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
    filters: StreamFilters,
    order: OrderParam = "desc",
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> TimelinePage:
    """The timeline of one opportunity (OPPORTUNITY_MODEL, default crm.lead)."""
    model = settings.opportunity_model
    ref = timeline.record_ref(model, opportunity_id, opportunity_model=model)
    return await timeline.read_timeline(
        store,
        user,
        dataclasses.replace(filters, related=ref),
        today=today_in(zone, clock.now()).isoformat(),
        order=order,
        limit=limit,
        cursor=cursor,
    )


@router.get("/opportunities/{opportunity_id}/messages", responses=READ_ERRORS)
async def read_opportunity_messages(
    opportunity_id: RecordIdParam,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    message_type: MessageTypes = None,
    since: SinceParam = None,
    until: UntilParam = None,
    q: QParam = None,
    order: OrderParam = "desc",
    limit: Limit = 50,
    cursor: CursorParam = None,
) -> MessagePage:
    """The Odoo chatter of one opportunity; `count` is the total over all pages."""
    model = settings.opportunity_model
    ref = timeline.record_ref(model, opportunity_id, opportunity_model=model)
    filters = timeline.timeline_filters(
        user, related=ref, message_types=message_type or (), since=since, until=until, q=q
    )
    return await timeline.read_messages(
        store, user, filters, order=order, limit=limit, cursor=cursor
    )
