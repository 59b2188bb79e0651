"""CSV/XLSX exports of the search and the timeline: HTTP in, a streamed file out.

Included before the activities router: `/activities/export` must not be read as
`/activities/{activity_id}`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from app.deps import ClockDep, CurrentUser, QueryModel, RequestZone, SettingsDep, StoreDep
from app.errors import ValidationFailed
from app.routers.activities import SearchQuery, search_filters
from app.routers.timeline import GlobalQuery, global_related, stream_filters
from app.schemas.activity import ActivitySearchQuery
from app.schemas.common import problem_responses
from app.schemas.exports import ExportFormat
from app.schemas.timeline import GlobalTimelineQuery
from app.services import exports
from app.services.clock import today_in

router = APIRouter(tags=["exports"])

FormatParam = Annotated[
    ExportFormat, Query(alias="format", description="`csv` (UTF-8 with BOM) or `xlsx`")
]
PAGING = ("limit", "cursor", "include_total")
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The whole result as a file (`Content-Disposition: attachment`)",
        "content": {media_type: {} for media_type in exports.MEDIA_TYPES.values()},
    },
    **problem_responses(401, 403, 422),
}


def _filter_parameters(query: QueryModel[Any]) -> dict[str, Any]:
    """The exported route's documented query parameters, less its paging ones."""
    return {"parameters": [p for p in query.openapi["parameters"] if p["name"] not in PAGING]}


def _whole_result(query: BaseModel) -> None:
    for name in PAGING:
        if name in query.model_fields_set:
            raise ValidationFailed(
                f"An export is the whole result: {name!r} is not accepted",
                loc=("query", name),
                msg="not accepted on an export",
            )


def _file(export: exports.Export) -> StreamingResponse:
    return StreamingResponse(
        export.chunks,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/activities/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSES,
    openapi_extra=_filter_parameters(SearchQuery),
)
async def export_activities(
    query: Annotated[ActivitySearchQuery, Depends(SearchQuery)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
    export_format: FormatParam = "csv",
) -> StreamingResponse:
    """Every activity the search matches, in its sort, as CSV or XLSX (streamed)."""
    _whole_result(query)
    export = exports.export_activities(
        store,
        user,
        search_filters(user, query),
        sort=query.sort,
        fmt=export_format,
        zone=zone,
        today=today_in(zone, clock.now()).isoformat(),
        page_size=settings.export_page_size,
    )
    return _file(export)


@router.get(
    "/timeline/export",
    response_class=StreamingResponse,
    responses=FILE_RESPONSES,
    openapi_extra=_filter_parameters(GlobalQuery),
)
async def export_timeline(
    query: Annotated[GlobalTimelineQuery, Depends(GlobalQuery)],
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    zone: RequestZone,
    export_format: FormatParam = "csv",
) -> StreamingResponse:
    """Every timeline item the filters match, in its order, as CSV or XLSX (streamed)."""
    _whole_result(query)
    export = exports.export_timeline(
        store,
        user,
        stream_filters(user, query, global_related(query)),
        order=query.order,
        fmt=export_format,
        zone=zone,
        today=today_in(zone, clock.now()).isoformat(),
        page_size=settings.export_page_size,
    )
    return _file(export)
