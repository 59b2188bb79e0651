"""Timeline schemas, and the one definition of a stored Odoo chatter message.

A chatter message (Odoo `mail.message`) is stored as an envelope of entity type `message`,
source `odoo`, whose `data` is a `MessageDocument`. Build it with
`app.services.timeline.message_document(...)`; never assemble one by hand.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, TypedDict

from pydantic import BaseModel, Field, StringConstraints

from app.schemas.activity import ActivityRead
from app.schemas.common import (
    RELATED_REF_PATTERN,
    ActivityType,
    AwareDatetime,
    Limit,
    Source,
)

Kind = Literal["activity", "message"]
KINDS: tuple[str, ...] = ("activity", "message")
Order = Literal["desc", "asc"]


class StoredRelated(TypedDict):
    model: str
    id: str
    name: str | None


class MessageDocument(TypedDict):
    """The `data` of a `message` envelope.

    Shares with activities the keys the timeline queries both kinds by: `id` and `occurred_at`
    (the sort keys, never null), `related.model`/`related.id`, `user_id`, `source`, `subject`.
    Has no `type` key (that is an activity's) and always a `message_type` (never an
    activity's): the timeline tells the kinds apart by them in a single query.
    """

    id: str  # "odoo_message_<external_id>", the serving id
    external_id: int  # mail.message id
    source: Literal["odoo"]
    res_model: str | None  # "crm.lead"; None for a message on no record
    res_id: str | None  # "9"
    record_name: str | None
    date: dt.datetime  # aware UTC, milliseconds
    occurred_at: dt.datetime  # == date: the timeline's sort key
    message_type: str  # "comment", "email", "notification", ...
    subtype: str | None  # "Note", "Discussions", "Stage Changed", ...
    author_id: str | None  # res.partner id of the author
    author_name: str  # "System" when Odoo has no author
    email_from: str | None
    subject: str | None
    body: str  # sanitized HTML, safe to render
    body_text: str  # the body as plain text (search, summaries)
    related: StoredRelated | None  # {"model": res_model, "id": res_id, "name": record_name}
    user_id: str | None  # "odoo:<uid>" when the author is a known Odoo user
    updated_at: dt.datetime  # Odoo write_date (aware UTC)


class MessageRead(BaseModel):
    """An Odoo chatter message as the API shows it."""

    id: str
    external_id: int
    res_model: str | None = Field(default=None, examples=["crm.lead"])
    res_id: str | None = Field(default=None, examples=["9"])
    record_name: str | None = None
    date: dt.datetime
    message_type: str = Field(examples=["comment", "email", "notification"])
    subtype: str | None = None
    author_id: str | None = None
    author_name: str
    email_from: str | None = None
    subject: str | None = None
    body: str = Field(description="Sanitized HTML: no script/style/iframe, no on* attributes")
    body_text: str = Field(description="The body as plain text")


class RecordRef(BaseModel):
    """The record an item belongs to (messages may sit on any Odoo model)."""

    model: str
    id: str
    name: str | None = None


class TimelineItem(BaseModel):
    kind: Kind
    id: str
    occurred_at: dt.datetime = Field(
        description="Activities: date + start_time (00:00 when none) in the tenant's default "
        "tz; messages: their date"
    )
    title: str
    summary: str | None = Field(default=None, description="Plain text, at most 200 characters")
    related: RecordRef | None = None
    activity: ActivityRead | None = None
    message: MessageRead | None = None


class TimelinePage(BaseModel):
    items: list[TimelineItem]
    next_cursor: str | None = None


class MessagePage(BaseModel):
    messages: list[MessageRead]
    count: int = Field(
        description="How many messages of the record match the filters, over all pages"
    )
    next_cursor: str | None = None


MessageType = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]


class MessagesQuery(BaseModel):
    """The query string of an opportunity's messages (read by `deps.QueryModel`)."""

    message_type: list[MessageType] | None = Field(default=None, description="Messages only")
    since: AwareDatetime | None = Field(
        default=None, description="Inclusive; with an offset, e.g. 2026-01-20T00:00Z"
    )
    until: AwareDatetime | None = Field(default=None, description="Exclusive; with an offset")
    q: str | None = Field(default=None, max_length=200, description="Text in subject or body")
    order: Order = Field(default="desc", description="By occurred_at then id")
    limit: Limit = 50
    cursor: str | None = Field(default=None, max_length=2048)


class TimelineQuery(MessagesQuery):
    """The query string of a record's or an opportunity's timeline."""

    kind: list[Kind] | None = None
    type: list[ActivityType] | None = Field(default=None, description="Activities only")
    user_id: str | None = Field(
        default=None,
        max_length=128,
        description="Assignee or message author; `me` = my identities",
    )
    source: Source | None = None


class GlobalTimelineQuery(TimelineQuery):
    """The query string of GET /timeline: a record filter too."""

    related: str | None = Field(default=None, pattern=RELATED_REF_PATTERN, description="`model,id`")
