"""Saved timeline views: HTTP in and out, nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from app.deps import ClockDep, CurrentUser, QueryModel, RequestZone, StoreDep
from app.routers import ModelJSONResponse
from app.routers.timeline import GlobalQuery, global_related, timeline_page
from app.schemas.common import problem_responses
from app.schemas.timeline import TimelinePage
from app.schemas.views import (
    TimelineViewCreate,
    TimelineViewListQuery,
    TimelineViewPage,
    TimelineViewRead,
    TimelineViewUpdate,
)
from app.services import timeline_views

router = APIRouter(prefix="/timeline/views", tags=["timeline views"])

ViewId = Annotated[str, Path(max_length=64, description="Timeline view id")]
ListQuery = QueryModel(TimelineViewListQuery)


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 422))
async def create_view(
    payload: TimelineViewCreate,
    response: Response,
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
) -> TimelineViewRead:
    """Save a timeline view; `filters` are GET /timeline's query parameters."""
    view = await timeline_views.create_view(store, user, payload, now=clock.now())
    response.headers["Location"] = f"/api/v1/timeline/views/{view.id}"
    return view


@router.get(
    "",
    responses=problem_responses(401, 403, 422),
    openapi_extra=ListQuery.openapi,
)
async def list_views(
    query: Annotated[TimelineViewListQuery, Depends(ListQuery)],
    user: CurrentUser,
    store: StoreDep,
) -> TimelineViewPage:
    """My views, views shared with me and my tenant's public views, by name."""
    return await timeline_views.list_views(store, user, limit=query.limit, cursor=query.cursor)


@router.get("/{view_id}", responses=problem_responses(401, 403, 404, 422))
async def get_view(view_id: ViewId, user: CurrentUser, store: StoreDep) -> TimelineViewRead:
    """One view I can see."""
    return timeline_views.to_read(user, await timeline_views.get_view(store, user, view_id))


@router.patch("/{view_id}", responses=problem_responses(401, 403, 404, 409, 422))
async def update_view(
    view_id: ViewId,
    payload: TimelineViewUpdate,
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
) -> TimelineViewRead:
    """Change a view (its owner, or a manager/admin); given fields replace the saved ones."""
    return await timeline_views.update_view(store, user, view_id, payload, now=clock.now())


@router.delete(
    "/{view_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_view(
    view_id: ViewId, user: CurrentUser, store: StoreDep, clock: ClockDep
) -> Response:
    """Delete a view (soft; its owner, or a manager/admin)."""
    await timeline_views.delete_view(store, user, view_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{view_id}/items",
    response_model=TimelinePage,
    responses=problem_responses(401, 403, 404, 422),
    openapi_extra=GlobalQuery.openapi,
)
async def view_items(
    view_id: ViewId,
    request: Request,
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    zone: RequestZone,
) -> ModelJSONResponse:
    """GET /timeline with the view's filters; query parameters override them."""
    view = await timeline_views.get_view(store, user, view_id)
    query = GlobalQuery.validate({**view["filters"], **GlobalQuery.values(request)})
    return await timeline_page(store, user, query, global_related(query), zone, clock)
