"""Types shared by several schemas: enums of the contract, references, problem bodies."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from enum import Enum
from typing import Annotated, Any, Literal, get_args
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
)

# Each enum of the contract once, as a Literal; the tuple of its values is derived from it.
ActivityType = Literal["email", "whatsapp", "call", "meeting", "note", "event", "task"]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)
ActivityState = Literal["new", "in_progress", "done", "waiting", "deferred"]
ACTIVITY_STATES: tuple[str, ...] = get_args(ActivityState)
Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[str, ...] = get_args(Priority)
Source = Literal["local", "odoo"]
SOURCES: tuple[str, ...] = get_args(Source)
Urgency = Literal["overdue", "today", "upcoming", "no_due_date", "done"]
URGENCIES: tuple[str, ...] = get_args(Urgency)
RelatedModel = Literal["sale.opportunity", "sale.quot", "sale.order", "crm.lead", "res.partner"]
RELATED_MODELS: tuple[str, ...] = get_args(RelatedModel)

RECORD_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_RECORD_ID = re.compile(RECORD_ID_PATTERN)
# `model,id`: one of RELATED_MODELS, a comma, a record id.
RELATED_REF_PATTERN = (
    "^(" + "|".join(re.escape(m) for m in RELATED_MODELS) + ")," + RECORD_ID_PATTERN.lstrip("^")
)
# A wall-clock time: no offset (JSON Schema's "time" format demands one, so it is a pattern).
WALL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"

# Every IANA zone this service knows, so the documented `tz` values are exactly the accepted ones.
TimeZoneName = Enum(  # type: ignore[misc]
    "TimeZoneName", {name: name for name in sorted(available_timezones())}, type=str
)


def _naive_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a wall-clock time has no offset: use HH:MM:SS")
    return value.replace(microsecond=0)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime needs an offset (e.g. 2026-01-20T09:00:00Z)")
    return value


# Calendar dates travel as YYYY-MM-DD text (always four-digit years), which compares correctly.
CalendarDate = date
WallTime = Annotated[
    time,
    AfterValidator(_naive_time),
    WithJsonSchema({"type": "string", "pattern": WALL_TIME_PATTERN, "examples": ["14:00:00"]}),
]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
# User ids are token subjects or `odoo:<uid>`: letters, digits and a few separators, never an
# operator-looking `$...` value.
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@+|-]{0,127}$"
UserId = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
RecordId = Annotated[str, StringConstraints(pattern=RECORD_ID_PATTERN)]


class Related(BaseModel):
    """A polymorphic link to an opportunity, quotation, order, lead or partner."""

    model_config = ConfigDict(extra="forbid")

    model: RelatedModel
    id: RecordId
    name: Annotated[str, StringConstraints(max_length=256)] | None = None


def parse_related_ref(value: str) -> Related:
    """Parse `"model,id"` (e.g. `"sale.opportunity,123"`); ValueError when malformed."""
    model, sep, record_id = value.partition(",")
    model, record_id = model.strip(), record_id.strip()
    if not sep or not model or not record_id:
        raise ValueError("expected 'model,id', e.g. 'sale.opportunity,123'")
    if model not in RELATED_MODELS:
        raise ValueError(f"unknown related model {model!r}; expected one of {RELATED_MODELS}")
    if not _RECORD_ID.match(record_id):
        raise ValueError("related id must be 1-64 letters, digits, '_', '-' or '.'")
    return Related.model_validate({"model": model, "id": record_id})


class ProblemItem(BaseModel):
    loc: list[str | int]
    msg: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] | None = None


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI response entries for the given error statuses, all problem+json."""
    descriptions = {
        401: "Missing, invalid or expired token",
        403: "Not approved, or role too low",
        404: "Not found (also for another tenant's id)",
        409: "Conflict",
        412: "If-Match does not match the current version",
        413: "Request body too large",
        422: "Invalid input",
        503: "Dependency unavailable",
    }
    return {
        code: {
            "model": Problem,
            "description": descriptions.get(code, "Error"),
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


Limit = Annotated[int, Field(ge=1, le=200)]

# Not blank: at least one character that str.strip() keeps (every character Python's isspace()
# calls whitespace, spelled out so the documented pattern means the same in ECMA-262).
NOT_BLANK_PATTERN = (
    r"[^\x09-\x0d\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
)
Subject = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=NOT_BLANK_PATTERN
    ),
]
