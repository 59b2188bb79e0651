"""Analytics schemas: query parameters and answers of the `/analytics` routes, named as in API.md.

The descriptions here are the definitions the service computes (see services/analytics.py);
they are what a manager reads in /docs to know how a number is made.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.schemas.common import (
    USER_ID_PATTERN,
    ActivityType,
    CalendarDate,
    Limit,
    RelatedModel,
    Source,
)
from app.schemas.timeline import Kind

Interval = Literal["day", "week", "month"]
VolumeGroup = Literal["type", "user", "source", "state", "priority", "kind"]
ResponseGroup = Literal["user", "none"]
EngagementSort = Literal["-score", "score", "-last_touch_at", "last_touch_at"]
ContactId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:@+-]{1,128}$")]

WINDOW_SINCE = (
    "First calendar day of the window, inclusive, in the request tz "
    "(default: `until` - 83 days, i.e. 12 full weeks)"
)
WINDOW_UNTIL = "Last calendar day of the window, inclusive, in the request tz (default: today)"


class WindowQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: CalendarDate | None = Field(default=None, description=WINDOW_SINCE)
    until: CalendarDate | None = Field(default=None, description=WINDOW_UNTIL)


class VolumeQuery(WindowQuery):
    interval: Interval = Field(
        default="week",
        description="Period length; weeks are ISO weeks (Monday to Sunday), months calendar months",
    )
    group_by: VolumeGroup = Field(
        default="type",
        description=(
            "Key of `counts`: activity `type`, `user` (assignee; a message's internal author, "
            "`external` for other authors), `source`, `state`, `priority`, or `kind`. Messages "
            "have no type, state or priority: they count under `message` for those"
        ),
    )
    user_id: Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)] | None = Field(
        default=None,
        description="`me` = any of my identities; another user's id needs manager or admin",
    )
    type: list[ActivityType] | None = Field(
        default=None, description="Activity types (repeatable); without `kind`, activities only"
    )
    source: Source | None = None
    kind: list[Kind] | None = Field(default=None, description="activity, message (repeatable)")


class ResponseTimesQuery(WindowQuery):
    group_by: ResponseGroup = Field(
        default="user", description="`user`: one group per responder; `none`: one group"
    )


class EngagementQuery(WindowQuery):
    sort: EngagementSort = Field(default="-score", description="Ties broken by contact_id")
    limit: Limit = 50
    cursor: str | None = Field(default=None, max_length=512)
    contact_id: ContactId | None = Field(default=None, description="Only this contact")


class StaleQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(
        default=14, ge=1, le=3650, description="Untouched for at least this many days"
    )
    limit: Limit = Field(default=100, description="At most this many opportunities")


class VolumeBucket(BaseModel):
    start: dt.date = Field(description="First day of the period (may be before `since`)")
    total: int
    counts: dict[str, int] = Field(description="Per key; every key of `totals`, zeros too")


class Volume(BaseModel):
    """Activities count in the period of their `date`; chatter messages (notifications
    excluded) in the period of their `date` in `tz`. Only days in [since, until] count."""

    interval: Interval
    group_by: VolumeGroup
    tz: str = Field(description="The IANA zone periods were computed in")
    since: dt.date
    until: dt.date
    buckets: list[VolumeBucket] = Field(description="Every period from since to until, in order")
    totals: dict[str, int]


class TeamFigures(BaseModel):
    created: int = Field(description="Activities whose `created_at` falls in the window")
    completed: int = Field(description="Done activities whose `completed_at` falls in the window")
    completed_on_time: int = Field(
        description="Completed with a due date, completion date (in tz) <= due_date"
    )
    on_time_rate: float | None = Field(
        description="completed_on_time / completions that had a due date; null when none had"
    )
    avg_days_late: float | None = Field(
        description=(
            "Mean of (completion date in tz - due_date) in days over the late completions; "
            "null when none was late"
        )
    )
    open: int = Field(description="Open (not done) activities now, whatever their dates")
    overdue: int = Field(description="Open activities with due_date before today (in tz)")


class TeamUser(TeamFigures):
    user_id: str = Field(description="The assignee; your own identities are merged as your `sub`")
    user_name: str | None


class Team(BaseModel):
    """Every column counts activities by their assignee (`user_id`)."""

    tz: str
    since: dt.date
    until: dt.date
    users: list[TeamUser] = Field(description="By user_id")
    totals: TeamFigures


class ResponseGroupFigures(BaseModel):
    key: str | None = Field(
        description=(
            "The responder (unanswered messages: the record's owner, null when it has none); "
            "null for group_by=none"
        )
    )
    answered: int
    unanswered: int
    median_seconds: float | None = Field(
        description="Median response time (mean of the two middle ones for an even count)"
    )
    p90_seconds: float | None = Field(
        description="90th percentile, nearest rank: the ceil(0.9 n)-th fastest response"
    )


class ResponseTimes(BaseModel):
    """An inbound message is a chatter message of type `email` whose author is not a synced
    Odoo user, posted in the window. Its response is the next message on the same record
    (by date, then id) whose author is a synced Odoo user and that is not a notification."""

    tz: str
    since: dt.date
    until: dt.date
    group_by: ResponseGroup
    groups: list[ResponseGroupFigures]


class ChannelCounts(BaseModel):
    call: int = 0
    email: int = 0
    meeting: int = 0
    whatsapp: int = 0
    note: int = 0
    event: int = 0
    task: int = 0
    message: int = Field(default=0, description="Chatter messages")


class EngagementItem(BaseModel):
    contact_id: str
    contact_name: str | None
    touchpoints: int = Field(description="Touchpoints in the window")
    by_channel: ChannelCounts = Field(
        description="Touchpoints in the window: a done activity by its type, a message"
    )
    last_touch_at: dt.datetime | None = Field(description="The latest touchpoint, any time")
    days_since_last_touch: int | None = Field(
        description="Today minus the date of last_touch_at, both in tz (0 when in the future)"
    )
    open_activities: int
    overdue_activities: int
    score: int = Field(
        description=(
            "round(100 × (0.6 × e^(−days_since_last_touch/30) + 0.4 × min(1, touchpoints in "
            "the last 90 days / 12))), 0 without touchpoints; the last 90 days are today and "
            "the 89 days before it, in tz"
        )
    )


class EngagementPage(BaseModel):
    """A touchpoint is a done activity (at its `completed_at`) or a chatter message that is not
    a notification (at its `date`), on the contact: an activity with that `contact_id`, a
    message on the partner, or a message on an opportunity whose contact it is. Listed:
    contacts with a touchpoint in the window or an open activity."""

    tz: str
    since: dt.date
    until: dt.date
    items: list[EngagementItem]
    next_cursor: str | None


class StaleRelated(BaseModel):
    model: RelatedModel | str
    id: str
    name: str | None


class StaleItem(BaseModel):
    related: StaleRelated
    contact_id: str | None
    contact_name: str | None
    user_id: str | None
    last_touch_at: dt.datetime | None
    days_since_last_touch: int | None = Field(description="Null when never touched")


class StalePage(BaseModel):
    """Open opportunities (synced ones: active, not won: probability not 100, not of type
    `lead`; and `sale.opportunity` records registered with `PUT /records`, which have no stage
    and count as open) with no open activity and no touchpoint (done activity or
    non-notification message on it) for `days` days (today - last touch date >= days, in tz) or
    ever; never-touched first, then the longest untouched."""

    tz: str
    today: dt.date
    days: int
    items: list[StaleItem]
    has_more: bool = Field(description="More stale opportunities exist than `limit` returned")
