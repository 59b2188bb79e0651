"""Types shared by several schemas: enums of the contract, references, problem bodies."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

ActivityType = Literal["email", "whatsapp", "call", "meeting", "note", "event", "task"]
ACTIVITY_TYPES: tuple[str, ...] = ("email", "whatsapp", "call", "meeting", "note", "event", "task")
ActivityState = Literal["new", "in_progress", "done", "waiting", "deferred"]
ACTIVITY_STATES: tuple[str, ...] = ("new", "in_progress", "done", "waiting", "deferred")
Priority = Literal["high", "normal", "low"]
PRIORITIES: tuple[str, ...] = ("high", "normal", "low")
Source = Literal["local", "odoo"]
SOURCES: tuple[str, ...] = ("local", "odoo")
Urgency = Literal["overdue", "today", "upcoming", "no_due_date", "done"]
URGENCIES: tuple[str, ...] = ("overdue", "today", "upcoming", "no_due_date", "done")
RelatedModel = Literal["sale.opportunity", "sale.quot", "sale.order", "crm.lead", "res.partner"]
RELATED_MODELS: tuple[str, ...] = (
    "sale.opportunity",
    "sale.quot",
    "sale.order",
    "crm.lead",
    "res.partner",
)

# Calendar dates travel as YYYY-MM-DD text; this range keeps them four-digit and leaves the
# sort key's "no due date" sentinel (9999-12-31) unreachable.
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2999, 12, 31)
RECORD_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_RECORD_ID = re.compile(RECORD_ID_PATTERN)


def _bounded_date(value: date) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValueError(f"date must be between {MIN_DATE} and {MAX_DATE}")
    return value


def _naive_time(value: time) -> time:
    if value.tzinfo is not None:
        raise ValueError("a wall-clock time has no offset: use HH:MM:SS")
    return value.replace(microsecond=0)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime needs an offset (e.g. 2026-01-20T09:00:00Z)")
    return value


CalendarDate = Annotated[date, AfterValidator(_bounded_date)]
WallTime = Annotated[time, AfterValidator(_naive_time)]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
UserId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=128, pattern=r"^[^$\s][^\s]*$"
    ),
]
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
