"""Calendar feeds: secret iCalendar (RFC 5545) URLs of a user's activities."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.schemas.activity import ActivitySearchQuery
from app.schemas.common import NOT_BLANK_PATTERN
from app.schemas.saved_query import SavedQuery

FeedName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK_PATTERN
    ),
]


class CalendarFeedFilters(SavedQuery, ActivitySearchQuery):
    """Any GET /activities filter, validated by the same model as that query string (its sort
    and paging parameters do not apply: a feed holds every matching activity)."""

    sort: SkipJsonSchema[None] = Field(default=None, exclude=True)  # type: ignore[assignment]
    limit: SkipJsonSchema[None] = Field(default=None, exclude=True)  # type: ignore[assignment]
    cursor: SkipJsonSchema[None] = Field(default=None, exclude=True)
    include_total: SkipJsonSchema[None] = Field(default=None, exclude=True)  # type: ignore[assignment]


class CalendarFeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FeedName
    filters: CalendarFeedFilters = Field(default_factory=CalendarFeedFilters)


class CalendarFeedRead(BaseModel):
    id: str
    name: str
    filters: CalendarFeedFilters
    tz: str = Field(description="The zone of the events' times (yours when the feed was made)")
    created_at: dt.datetime


class CalendarFeedCreated(CalendarFeedRead):
    url: str = Field(
        description="The secret subscription URL, shown only here: whoever has it reads the feed"
    )


class CalendarFeedList(BaseModel):
    items: list[CalendarFeedRead]
