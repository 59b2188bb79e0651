"""Activity CRUD and search: HTTP in and out, nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Response, status
from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.deps import (
    ClockDep,
    CurrentUser,
    QueryModel,
    RequestZone,
    SettingsDep,
    StoreDep,
    related_query,
)
from app.routers import JSONBytesResponse
from app.schemas.activity import (
    ActivityBatchCreate,
    ActivityCreate,
    ActivityDetail,
    ActivityPage,
    ActivityRead,
    ActivitySearchQuery,
    ActivityUpdate,
    BatchCreated,
)
from app.schemas.common import problem_responses
from app.services import activities, activity_read
from app.services.auth import Principal
from app.services.clock import today_in

router = APIRouter(prefix="/activities", tags=["activities"])

ActivityId = Annotated[str, Path(max_length=128, description="Activity id")]
IfMatch = Annotated[str, StringConstraints(pattern=r'^(\*|(W/)?"?[0-9]{1,18}"?)$')]


def _etag(version: int) -> str:
    return f'"{version}"'


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
    return activity_read.to_read(doc, today_in(zone, clock.now()).isoformat())


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


SearchQuery = QueryModel(ActivitySearchQuery)


def search_filters(user: Principal, query: ActivitySearchQuery) -> activities.ActivityFilters:
    """The filters of a GET /activities query string (also its export's and calendar feeds')."""
    return activities.ActivityFilters(
        types=query.type or (),
        states=query.state or (),
        state_not=query.state_not or (),
        user_ids=user.user_ids(query.user_id),
        priority=query.priority or (),
        source=query.source,
        contact_id=query.contact_id,
        related=related_query(query.related),
        date_from=query.date_from,
        date_to=query.date_to,
        due_before=query.due_before,
        due_after=query.due_after,
        urgency=query.urgency or (),
        q=query.q or None,
        series_id=query.series_id,
    )


@router.get(
    "",
    response_model=ActivityPage,
    responses=problem_responses(401, 403, 422),
    openapi_extra=SearchQuery.openapi,
)
async def search_activities(
    query: Annotated[ActivitySearchQuery, Depends(SearchQuery)],
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
) -> JSONBytesResponse:
    """Search activities with filters, a stable sort and cursor pagination."""
    page = await activities.search_activities(
        store,
        user,
        search_filters(user, query),
        today=today_in(zone, clock.now()).isoformat(),
        sort=query.sort,
        limit=query.limit,
        cursor=query.cursor,
        include_total=query.include_total,
    )
    return JSONBytesResponse(page.to_json())


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
    return activity_read.to_read(doc, today_in(zone, clock.now()).isoformat())


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
