"""Change feed schemas: the event every stream client and webhook receives, and its filters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.schemas.activity import ActivityRead
from app.schemas.common import USER_ID_PATTERN
from app.schemas.notification import NotificationRead
from app.schemas.sync import SyncRun
from app.schemas.timeline import MessageRead, RecordRef

EventType = Literal[
    "activity.created",
    "activity.updated",
    "activity.deleted",
    "message.created",
    "message.updated",
    "message.deleted",
    "notification.due",
    "sync.finished",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]
# A `kind` filter names a family (`activity`) or one type (`activity.created`).
EventKind = Literal["activity", "message", "notification", "sync", EventType]
# Any record reference `model,id` (messages sit on any Odoo model).
EVENT_RELATED_PATTERN = r"^[a-z][a-z0-9_.]{0,63},[A-Za-z0-9_.-]{1,64}$"


class DeletedObject(BaseModel):
    id: str


class EventRead(BaseModel):
    """One change: the `data:` line of a stream event, and the body of a webhook call."""

    type: EventType
    occurred_at: dt.datetime
    id: int = Field(description="Increasing per tenant; the stream's event id (Last-Event-ID)")
    related: RecordRef | None = None
    data: ActivityRead | MessageRead | NotificationRead | SyncRun | DeletedObject = Field(
        description="The object as the API shows it, or {id} when deleted"
    )


class EventQuery(BaseModel):
    """Filters of GET /events."""

    model_config = ConfigDict(extra="forbid")

    kind: list[EventKind] = Field(
        default_factory=list, description="Event families or types (repeatable)"
    )
    related: Annotated[str, StringConstraints(pattern=EVENT_RELATED_PATTERN)] | None = Field(
        default=None, description="Only events about this record: `model,id`"
    )
    user_id: Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)] | None = Field(
        default=None, description="Only events of this user (`me`: any of mine)"
    )
    last_event_id: int | None = Field(
        default=None,
        ge=0,
        description="Resume after this event (for clients that cannot send Last-Event-ID)",
    )
