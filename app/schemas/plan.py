"""Follow-up plans: named sequences of activities applied to a record in one call."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import (
    NOT_BLANK_PATTERN,
    RELATED_REF_PATTERN,
    USER_ID_PATTERN,
    ActivityType,
    Priority,
    Subject,
    UserId,
    WallTime,
)

PLAN_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
PlanName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=NOT_BLANK_PATTERN
    ),
]
PlanDescription = Annotated[str, StringConstraints(max_length=2000)]
Assignee = Annotated[
    str,
    StringConstraints(pattern=USER_ID_PATTERN),
    Field(description='"caller", "record_owner" (the related record\'s user_id) or a user id'),
]
Steps = Annotated[list["PlanStep"], Field(min_length=1, max_length=50)]


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ActivityType
    subject: Subject
    offset_days: Annotated[int, Field(ge=0, le=3650, description="days after start_date")]
    due_on_date: bool = Field(default=False, description="the activity is due on its date")
    start_time: WallTime | None = None
    priority: Priority | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    send_reminder: bool | None = None
    assignee: Assignee = "caller"

    @field_serializer("start_time")
    def _wall_time_text(self, value: dt.time | None) -> str | None:
        return value.isoformat() if value is not None else None


class PlanCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: PlanName
    description: PlanDescription | None = None
    business_days: bool = Field(default=False, description="count offsets in Mon-Fri days")
    steps: Steps


class PlanUpdate(BaseModel):
    """Partial update; `steps` replaces the whole list."""

    model_config = ConfigDict(extra="forbid")

    name: PlanName | SkipJsonSchema[None] = None
    description: PlanDescription | None = None
    business_days: bool | SkipJsonSchema[None] = None
    steps: Steps | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_null_required(self) -> PlanUpdate:
        nulled = [
            f
            for f in ("name", "business_days", "steps")
            if f in self.model_fields_set and getattr(self, f) is None
        ]
        if nulled:
            raise ValueError(f"cannot be null: {', '.join(nulled)}")
        return self


class PlanRead(BaseModel):
    id: str
    name: str
    description: str | None = None
    business_days: bool
    steps: list[PlanStep]
    builtin: bool = Field(description="built-in plans are read-only")
    created_by: str | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    version: int = 1


class PlanList(BaseModel):
    items: list[PlanRead]


class PlanApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    related: Annotated[str, Field(pattern=RELATED_REF_PATTERN, description="`model,id`")]
    start_date: dt.date | None = Field(default=None, description="default: today in your tz")
    user_id: UserId | None = Field(default=None, description='assignee of "caller" steps')
