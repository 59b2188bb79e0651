"""Activity schemas: Create / Update (input, strict) and Read (output), named as in API.md."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import (
    RELATED_REF_PATTERN,
    ActivityState,
    ActivityType,
    AwareDatetime,
    CalendarDate,
    Limit,
    Priority,
    Related,
    Source,
    Subject,
    Urgency,
    UserId,
    WallTime,
    parse_related_ref,
)
from app.schemas.followup import NextActivity, RecurrenceRule, rule_until
from app.schemas.notification import NotificationRead

ShortText = Annotated[str, StringConstraints(max_length=256)]
LongText = Annotated[str, StringConstraints(max_length=20_000)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]
# Control characters are spelled out: `\s` differs between JSON Schema (ECMA-262) and Python for
# \x1c-\x1f and \x85, and the documented pattern must accept exactly what the service accepts.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\.[^@\s\x00-\x1f\x7f-\x9f]+$"
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN),
]
OtherUsers = Annotated[list[UserId], Field(max_length=50)]


def _related_from_ref(data: Any) -> Any:
    """Accept `related_id: "model,id"` as an alternative spelling of `related`."""
    if not isinstance(data, dict) or "related_id" not in data:
        return data
    data = dict(data)
    ref = data.pop("related_id")
    if ref is None:
        data.setdefault("related", None)
        return data
    if "related" in data and data["related"] is not None:
        raise ValueError("give either related_id or related, not both")
    if not isinstance(ref, str):
        raise ValueError("related_id must be a string 'model,id'")
    data["related"] = parse_related_ref(ref)
    return data


def _check_times(start: dt.time | None, end: dt.time | None) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError("end_time must not be before start_time")


class ActivityFields(BaseModel):
    """Optional descriptive fields shared by create and update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    due_date: CalendarDate | None = None
    start_time: WallTime | None = None
    end_time: WallTime | None = None
    location: ShortText | None = None
    related: Related | None = None
    contact_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    contact_name: ShortText | None = None
    description: LongText | None = None
    body: LongText | None = None
    notes: LongText | None = None
    phone: Phone | None = None
    email: Email | None = None
    notif_time: AwareDatetime | None = None
    notif_email: Email | None = None
    next_activity: NextActivity | None = None
    recurrence: RecurrenceRule | None = Field(
        default=None, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10"
    )


class ActivityCreate(ActivityFields):
    type: ActivityType
    subject: Subject
    user_id: UserId | None = None
    date: CalendarDate | None = None
    priority: Priority = "normal"
    state: ActivityState = "new"
    send_reminder: bool = False
    other_users: OtherUsers = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _accept_related_id(cls, data: Any) -> Any:
        return _related_from_ref(data)

    @model_validator(mode="after")
    def _consistent(self) -> ActivityCreate:
        _check_times(self.start_time, self.end_time)
        until = rule_until(self.recurrence) if self.recurrence else None
        if until and self.date and until < self.date:
            raise ValueError("recurrence UNTIL is before the activity's date")
        return self


class ActivityUpdate(ActivityFields):
    """Partial update: only the fields present change. Required fields cannot be nulled: null is
    left out of their documented schema and refused (422) if sent anyway."""

    type: ActivityType | SkipJsonSchema[None] = None
    subject: Subject | SkipJsonSchema[None] = None
    user_id: UserId | SkipJsonSchema[None] = None
    date: CalendarDate | SkipJsonSchema[None] = None
    priority: Priority | SkipJsonSchema[None] = None
    state: ActivityState | SkipJsonSchema[None] = None
    send_reminder: bool | SkipJsonSchema[None] = None
    other_users: OtherUsers | SkipJsonSchema[None] = None

    @model_validator(mode="before")
    @classmethod
    def _accept_related_id(cls, data: Any) -> Any:
        return _related_from_ref(data)

    @model_validator(mode="after")
    def _no_null_required(self) -> ActivityUpdate:
        required = (
            "type",
            "subject",
            "user_id",
            "date",
            "priority",
            "state",
            "send_reminder",
            "other_users",
        )
        nulled = [f for f in required if f in self.model_fields_set and getattr(self, f) is None]
        if nulled:
            raise ValueError(f"cannot be null: {', '.join(nulled)}")
        return self


class ActivityBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: Annotated[list[ActivityCreate], Field(min_length=1, max_length=500)]


class BatchCreated(BaseModel):
    ids: list[str]


class ActivityRead(BaseModel):
    id: str
    source: Source
    external_id: int | None = None
    type: ActivityType
    subject: str
    user_id: str
    user_name: str | None = None
    date: dt.date
    due_date: dt.date | None = None
    start_time: WallTime | None = None
    end_time: WallTime | None = None
    location: str | None = None
    related: Related | None = None
    contact_id: str | None = None
    contact_name: str | None = None
    description: str | None = None
    body: str | None = None
    notes: str | None = None
    phone: str | None = None
    email: str | None = None
    priority: Priority
    state: ActivityState
    send_reminder: bool = False
    notif_time: dt.datetime | None = None
    notif_email: str | None = None
    other_users: list[str] = Field(default_factory=list)
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None = None
    feedback: str | None = Field(
        default=None, description="Odoo: the feedback text of its done message"
    )
    version: int
    next_activity: NextActivity | None = None
    recurrence: str | None = None
    series_id: str | None = None
    previous_id: str | None = None
    # Computed per request; kept last (`activity_read.read_item` appends them in this order).
    urgency: Urgency
    days_overdue: int | None = None


class ActivityDetail(ActivityRead):
    """A single activity as GET /activities/{id} returns it: with its reminders."""

    notifs: list[NotificationRead] = Field(default_factory=list)


def _without_default(schema: dict[str, Any]) -> None:
    """An absent field, never null: its documented schema has no null default either."""
    schema.pop("default", None)


class ActivityPage(BaseModel):
    items: list[ActivityRead]
    next_cursor: str | None = None
    total: int | SkipJsonSchema[None] = Field(
        default=None,
        description="Present only when include_total=true",
        exclude_if=lambda total: total is None,
        json_schema_extra=_without_default,
    )


SearchSort = Literal["date", "-date", "due_date", "-due_date", "updated_at", "-updated_at"]


class ActivitySearchQuery(BaseModel):
    """The query string of GET /activities (read by `deps.QueryModel`, validated at once)."""

    type: list[ActivityType] | None = None
    state: list[ActivityState] | None = None
    state_not: list[ActivityState] | None = None
    user_id: str | None = Field(
        default=None, max_length=128, description="`me` = any of my identities"
    )
    priority: list[Priority] | None = None
    source: Source | None = None
    contact_id: str | None = Field(default=None, max_length=128)
    related: str | None = Field(default=None, pattern=RELATED_REF_PATTERN, description="`model,id`")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    due_before: dt.date | None = Field(default=None, description="due_date strictly before")
    due_after: dt.date | None = Field(default=None, description="due_date strictly after")
    urgency: list[Urgency] | None = None
    q: str | None = Field(default=None, max_length=200, description="text in subject/description")
    series_id: str | None = Field(default=None, max_length=128, description="one recurring series")
    sort: SearchSort = "date"
    limit: Limit = 50
    cursor: str | None = Field(default=None, max_length=2048)
    include_total: bool = False
