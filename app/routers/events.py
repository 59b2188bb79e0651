"""The change feed: Server-Sent Events. HTTP in and out only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from app.deps import CurrentUser, QueryModel, SettingsDep
from app.errors import ValidationFailed
from app.schemas.common import problem_responses
from app.schemas.events import EventQuery, EventRead
from app.services import event_stream
from app.services.event_stream import EventReader

router = APIRouter(tags=["events"])


class EventStream(EventSourceResponse):
    """Documents the route's media type (sse-starlette sets it per instance)."""

    media_type = "text/event-stream"


_query = QueryModel(EventQuery)


async def get_reader(request: Request) -> EventReader:
    reader: EventReader = request.state.events
    return reader


def _resume_id(header: str | None, query: EventQuery) -> int | None:
    if header is None or not header.strip():
        return query.last_event_id
    if not header.strip().isdigit():
        raise ValidationFailed("Last-Event-ID must be an event id", loc=("header", "Last-Event-ID"))
    return int(header.strip())


@router.get(
    "/events",
    response_class=EventStream,
    responses={
        200: {
            "description": "An endless `text/event-stream`: each event's `data:` is one "
            "EventRead (JSON), its `id:` the event id; `event: reset` when the stream cannot "
            "resume from Last-Event-ID; a comment line every EVENTS_HEARTBEAT_SECONDS.",
            "model": EventRead,
        },
        **problem_responses(401, 403, 422),
    },
    openapi_extra={**_query.openapi, "x-streaming": True},
)
async def events(
    user: CurrentUser,
    settings: SettingsDep,
    reader: Annotated[EventReader, Depends(get_reader)],
    query: Annotated[EventQuery, Depends(_query)],
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=32, include_in_schema=True)
    ] = None,
) -> EventSourceResponse:
    """Changes of my tenant as they happen (activities, messages, reminders, syncs)."""
    resume_after = _resume_id(last_event_id, query)

    async def sse() -> AsyncIterator[bytes]:
        # Events already framed: whatever is ready goes out in one write.
        async for batch in event_stream.stream(reader, user, query, last_event_id=resume_after):
            yield b"".join(item.frame for item in batch)

    return EventSourceResponse(
        sse(),
        ping=settings.events_heartbeat_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        send_timeout=30,
    )
