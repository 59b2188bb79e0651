"""Saved timeline views: a user's timeline configuration (filters, columns, colours, sharing)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import NOT_BLANK_PATTERN, Limit, UserId
from app.schemas.saved_query import SavedQuery
from app.schemas.timeline import GlobalTimelineQuery

ViewName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK_PATTERN
    ),
]
Column = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
Columns = Annotated[list[Column], Field(max_length=50)]
SharedWith = Annotated[list[UserId], Field(max_length=200)]


class TimelineViewFilters(SavedQuery, GlobalTimelineQuery):
    """Any GET /timeline query parameter but `cursor`, validated by the same model as that
    query string."""

    cursor: SkipJsonSchema[None] = Field(default=None, exclude=True)


class ColorScheme(BaseModel):
    """A colour per activity type, and for chatter messages (`#rrggbb`)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"call": "#1f77b4"}]})

    email: Color | None = None
    whatsapp: Color | None = None
    call: Color | None = None
    meeting: Color | None = None
    note: Color | None = None
    event: Color | None = None
    task: Color | None = None
    message: Color | None = None

    def saved(self) -> dict[str, str]:
        return self.model_dump(exclude_none=True)


class TimelineViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ViewName
    filters: TimelineViewFilters = Field(default_factory=TimelineViewFilters)
    columns: Columns = Field(default_factory=list)
    color_scheme: ColorScheme = Field(default_factory=ColorScheme)
    is_public: bool = Field(default=False, description="Readable by everyone in the tenant")
    shared_with: SharedWith = Field(default_factory=list, description="User ids who may read it")


class TimelineViewUpdate(BaseModel):
    """Partial update: the fields given replace the saved ones (`filters` as a whole)."""

    model_config = ConfigDict(extra="forbid")

    name: ViewName | SkipJsonSchema[None] = None
    filters: TimelineViewFilters | SkipJsonSchema[None] = None
    columns: Columns | SkipJsonSchema[None] = None
    color_scheme: ColorScheme | SkipJsonSchema[None] = None
    is_public: bool | SkipJsonSchema[None] = None
    shared_with: SharedWith | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> TimelineViewUpdate:
        nulled = [f for f in self.model_fields_set if getattr(self, f) is None]
        if nulled:
            raise ValueError(f"cannot be null: {', '.join(sorted(nulled))}")
        return self


class TimelineViewRead(BaseModel):
    id: str
    name: str
    filters: TimelineViewFilters
    columns: list[str]
    color_scheme: dict[str, str]
    is_public: bool
    shared_with: list[str]
    owner_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    can_edit: bool = Field(description="Whether the caller may change or delete it")


class TimelineViewPage(BaseModel):
    items: list[TimelineViewRead]
    next_cursor: str | None = None


class TimelineViewListQuery(BaseModel):
    limit: Limit = 50
    cursor: str | None = Field(default=None, max_length=2048)
