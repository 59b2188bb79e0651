"""Saved timeline views: a user's timeline configuration (filters, columns, colours, sharing)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import ActivityType, Limit, UserId
from app.schemas.timeline import GlobalTimelineQuery

ViewName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Column = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
Color = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
ColorKey = ActivityType | Literal["message"]
Columns = Annotated[list[Column], Field(max_length=50)]
ColorScheme = Annotated[dict[ColorKey, Color], Field(examples=[{"call": "#1f77b4"}])]
SharedWith = Annotated[list[UserId], Field(max_length=200)]


def _is_list(annotation: Any) -> bool:
    return get_origin(annotation) is list or any(_is_list(a) for a in get_args(annotation))


def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(n for n, f in model.model_fields.items() if _is_list(f.annotation))


class TimelineViewFilters(GlobalTimelineQuery):
    """Any GET /timeline query parameter but `cursor`, validated by the same model as that
    query string; like a repeated query parameter, a single value stands for a list of one."""

    model_config = ConfigDict(extra="forbid")

    cursor: SkipJsonSchema[None] = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _single_values_as_lists(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        lists = _LIST_FIELDS
        return {k: [v] if k in lists and isinstance(v, str) else v for k, v in data.items()}

    def saved(self) -> dict[str, Any]:
        """The parameters given, as query values (what GET /timeline/views/{id}/items merges
        the request's parameters into)."""
        return self.model_dump(mode="json", exclude_unset=True)


_LIST_FIELDS = _list_fields(GlobalTimelineQuery)


class TimelineViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ViewName
    filters: TimelineViewFilters = Field(default_factory=TimelineViewFilters)
    columns: Columns = Field(default_factory=list)
    color_scheme: ColorScheme = Field(default_factory=dict)
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
