"""Activity CRUD and search: HTTP in and out, nothing else."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Response, status
from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.deps import ClockDep, CurrentUser, RequestZone, SettingsDep, StoreDep
from app.errors import ValidationFailed
from app.routers import ModelJSONResponse
from app.schemas.activity import (
    ActivityBatchCreate,
    ActivityCreate,
    ActivityDetail,
    ActivityPage,
    ActivityRead,
    ActivityUpdate,
    BatchCreated,
)
from app.schemas.common import (
    RELATED_REF_PATTERN,
    ActivityState,
    ActivityType,
    Limit,
    Priority,
    Related,
    Source,
    Urgency,
    parse_related_ref,
    problem_responses,
)
from app.services import activities
from app.services.clock import today_in

router = APIRouter(prefix="/activities", tags=["activities"])

ActivityId = Annotated[str, Path(max_length=128, description="Activity id")]
IfMatch = Annotated[str, StringConstraints(pattern=r'^(\*|(W/)?"?[0-9]{1,18}"?)$')]
SortParam = Literal["date", "-date", "due_date", "-due_date", "updated_at", "-updated_at"]


def _etag(version: int) -> str:
    return f'"{version}"'


def related_param(value: str | None, loc: str = "related") -> Related | None:
    if value is None:
        return None
    try:
        return parse_related_ref(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), loc=("query", loc)) from exc


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def create_activity(
    payload: ActivityCreate,
    response: Response,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ActivityRead:
    """Create an activity; defaults: state new, date today (your tz), assignee you."""
    [doc] = await activities.create_activities(
        store, user, [payload], settings=settings, now=clock.now()
    )
    response.headers["Location"] = f"/api/v1/activities/{doc['id']}"
    response.headers["ETag"] = _etag(doc["version"])
    return activities.to_read(doc, today_in(zone, clock.now()).isoformat())


@router.post(
    "/batch",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
)
async def create_batch(
    payload: ActivityBatchCreate,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> BatchCreated:
    """Create up to 500 activities: all validated first, then one insert; all or nothing."""
    docs = await activities.create_activities(
        store, user, payload.items, settings=settings, now=clock.now()
    )
    return BatchCreated(ids=[d["id"] for d in docs])


@router.get("", response_model=ActivityPage, responses=problem_responses(401, 403, 422))
async def search_activities(
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
    type: Annotated[list[ActivityType] | None, Query()] = None,
    state: Annotated[list[ActivityState] | None, Query()] = None,
    state_not: Annotated[list[ActivityState] | None, Query()] = None,
    user_id: Annotated[
        str | None, Query(max_length=128, description="`me` = any of my identities")
    ] = None,
    priority: Annotated[list[Priority] | None, Query()] = None,
    source: Source | None = None,
    contact_id: Annotated[str | None, Query(max_length=128)] = None,
    related: Annotated[
        str | None, Query(pattern=RELATED_REF_PATTERN, description="`model,id`")
    ] = None,
    date_from: date | None = None,
    date_to: date | None = None,
    due_before: Annotated[date | None, Query(description="due_date strictly before")] = None,
    due_after: Annotated[date | None, Query(description="due_date strictly after")] = None,
    urgency: Annotated[list[Urgency] | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="text in subject/description")
    ] = None,
    sort: SortParam = "date",
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    include_total: bool = False,
) -> ModelJSONResponse:
    """Search activities with filters, a stable sort and cursor pagination."""
    filters = activities.ActivityFilters(
        types=type or (),
        states=state or (),
        state_not=state_not or (),
        user_ids=user.user_ids(user_id),
        priority=priority or (),
        source=source,
        contact_id=contact_id,
        related=related_param(related),
        date_from=date_from,
        date_to=date_to,
        due_before=due_before,
        due_after=due_after,
        urgency=urgency or (),
        q=q or None,
    )
    page = await activities.search_activities(
        store,
        user,
        filters,
        today=today_in(zone, clock.now()).isoformat(),
        sort=sort,
        limit=limit,
        cursor=cursor,
        include_total=include_total,
    )
    return ModelJSONResponse(
        ActivityPage(items=page.items, next_cursor=page.next_cursor, total=page.total)
    )


@router.get("/{activity_id}", responses=problem_responses(401, 403, 404, 422))
async def get_activity(
    activity_id: ActivityId,
    response: Response,
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ActivityDetail:
    """One activity with its reminder notifications (`notifs`), and its ETag."""
    detail = await activities.get_activity_detail(
        store, user, activity_id, today=today_in(zone, clock.now()).isoformat()
    )
    response.headers["ETag"] = _etag(detail.version)
    return detail


@router.patch("/{activity_id}", responses=problem_responses(401, 403, 404, 409, 412, 422))
async def update_activity(
    activity_id: ActivityId,
    payload: ActivityUpdate,
    response: Response,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
    if_match: Annotated[
        IfMatch | SkipJsonSchema[None], Header(description='`"<version>"` from the ETag')
    ] = None,
) -> ActivityRead:
    """Partial update; `If-Match: "<version>"` makes it conditional (412 on mismatch)."""
    doc = await activities.update_activity(
        store, user, activity_id, payload, if_match=if_match, settings=settings, now=clock.now()
    )
    response.headers["ETag"] = _etag(doc["version"])
    return activities.to_read(doc, today_in(zone, clock.now()).isoformat())


@router.delete(
    "/{activity_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_activity(
    activity_id: ActivityId, user: CurrentUser, store: StoreDep, clock: ClockDep
) -> Response:
    """Soft delete: the activity disappears from every read."""
    await activities.delete_activity(store, user, activity_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
