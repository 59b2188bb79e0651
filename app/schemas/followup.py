"""Chained and recurring activities: `next_activity` and the RFC 5545 `recurrence` rule.

A rule is parsed by python-dateutil (`rrulestr`), never by hand; what this module adds is the
contract's limits on it:
- only `FREQ=DAILY|WEEKLY|MONTHLY|YEARLY`: occurrences are calendar dates, so a finer frequency
  (`HOURLY`, `MINUTELY`, `SECONDLY`) is refused;
- only the parts listed in `RULE_PARTS`; `DTSTART` is not one of them (the activity's own `date`
  starts the series, so a rule cannot reach back before it: "unbounded in the past");
- `INTERVAL` at most 99 and `COUNT` at most 1000, so expanding a rule stays cheap.
The rule is stored as dateutil prints it (`FREQ=WEEKLY;COUNT=10;BYDAY=MO`), without `DTSTART`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from dateutil.rrule import rrule, rrulestr
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_serializer,
)

from app.schemas.common import ActivityType, Priority, Subject, WallTime

DAY_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
RULE_PARTS = frozenset(
    {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "WKST", "BYSETPOS"}
)
MAX_INTERVAL = 99
MAX_COUNT = 1000
# What the documented schema admits: `KEY=value` parts separated by `;`, starting with FREQ.
RRULE_PATTERN = (
    r"^(RRULE:)?FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY)(;(INTERVAL=[1-9][0-9]?|COUNT=[1-9][0-9]{0,2}"
    r"|UNTIL=[0-9]{8}(T[0-9]{6}Z?)?|BYDAY=[A-Z0-9,+-]{2,64}|BYMONTHDAY=[0-9,-]{1,64}"
    r"|BYMONTH=[0-9,]{1,32}|WKST=(MO|TU|WE|TH|FR|SA|SU)|BYSETPOS=[0-9,-]{1,32}))*$"
)


def rule_parts(rule: str) -> dict[str, str]:
    """The `KEY=value` parts of a rule already normalised by `normalize_rule`."""
    return dict(part.split("=", 1) for part in rule.split(";"))


def build_rule(rule: str, start: dt.date) -> rrule:
    """The dateutil rule of `rule` with `start` as its DTSTART (midnight; UTC when the rule's
    UNTIL is a UTC instant, as RFC 5545 requires the two to agree)."""
    midnight = dt.datetime.combine(start, dt.time())
    try:
        parsed = rrulestr(rule, dtstart=midnight)
    except ValueError as exc:
        if "UNTIL" not in str(exc):
            raise
        parsed = rrulestr(rule, dtstart=midnight.replace(tzinfo=dt.UTC))
    if not isinstance(parsed, rrule):
        raise ValueError("expected a single RRULE")
    return parsed


def normalize_rule(value: str) -> str:
    """Validate a recurrence rule and return it as dateutil prints it (no DTSTART)."""
    text = value.strip().removeprefix("RRULE:")
    if not text or "\n" in text or "\r" in text:
        raise ValueError("expected one RRULE, e.g. FREQ=WEEKLY;BYDAY=MO;COUNT=10")
    try:
        keys = [part.split("=", 1)[0].upper() for part in text.split(";")]
        parsed = build_rule(text, dt.date(2000, 1, 1))
    except (ValueError, TypeError, IndexError, OverflowError, KeyError) as exc:
        raise ValueError(f"not a valid RFC 5545 RRULE: {exc}") from None
    unknown = sorted(set(keys) - RULE_PARTS)
    if unknown:
        raise ValueError(f"unsupported RRULE parts: {', '.join(unknown)}")
    if len(keys) != len(set(keys)):
        raise ValueError("an RRULE part is given twice")
    normalized = str(parsed).split("\n")[-1].removeprefix("RRULE:")
    parts = rule_parts(normalized)
    if parts.get("FREQ") not in DAY_FREQUENCIES:
        raise ValueError(
            f"FREQ must be one of {', '.join(DAY_FREQUENCIES)}: occurrences are calendar dates"
        )
    if int(parts.get("INTERVAL", "1")) > MAX_INTERVAL:
        raise ValueError(f"INTERVAL must be at most {MAX_INTERVAL}")
    if int(parts.get("COUNT", "1")) > MAX_COUNT:
        raise ValueError(f"COUNT must be at most {MAX_COUNT}")
    return normalized


def rule_until(rule: str) -> dt.date | None:
    """The last calendar date a normalised rule allows, if it has an UNTIL."""
    until = rule_parts(rule).get("UNTIL")
    return dt.date(int(until[:4]), int(until[4:6]), int(until[6:8])) if until else None


RecurrenceRule = Annotated[
    str,
    StringConstraints(max_length=256, pattern=RRULE_PATTERN),
    AfterValidator(normalize_rule),
]


class NextActivity(BaseModel):
    """The activity created when this one becomes done."""

    model_config = ConfigDict(extra="forbid")

    type: ActivityType
    subject: Subject
    offset_days: Annotated[int, Field(ge=0, le=3650, description="days after completion")]
    business_days: bool = Field(default=False, description="count offset_days in Mon-Fri days")
    start_time: WallTime | None = None
    priority: Priority | None = None
    description: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    send_reminder: bool | None = None

    @field_serializer("start_time")
    def _wall_time_text(self, value: dt.time | None) -> str | None:
        # Stored and shown as HH:MM:SS text, like an activity's own start_time.
        return value.isoformat() if value is not None else None
