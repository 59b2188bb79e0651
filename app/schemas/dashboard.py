"""Dashboard schemas: the urgency summary and the agenda, named as in API.md."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from app.schemas.activity import ActivityRead


class TypeCounts(BaseModel):
    email: int = 0
    whatsapp: int = 0
    call: int = 0
    meeting: int = 0
    note: int = 0
    event: int = 0
    task: int = 0


class StateCounts(BaseModel):
    new: int = 0
    in_progress: int = 0
    done: int = 0
    waiting: int = 0
    deferred: int = 0


class PriorityCounts(BaseModel):
    high: int = 0
    normal: int = 0
    low: int = 0


class SourceCounts(BaseModel):
    local: int = 0
    odoo: int = 0


class DashboardSummary(BaseModel):
    """Counts as of `today` in `tz`. Every activity is in exactly one urgency bucket:
    `overdue + due_today + upcoming + no_due_date + completed == total`."""

    tz: str = Field(description="The IANA zone 'today' was computed in")
    today: dt.date = Field(description="The calendar day in `tz` the buckets compare against")
    total: int
    overdue: int = Field(description="Open, due_date before today")
    due_today: int = Field(description="Open, due_date today")
    upcoming: int = Field(description="Open, due_date after today")
    no_due_date: int = Field(description="Open, without a due date")
    completed: int = Field(description="State done")
    this_week: int = Field(description="Open, date in [today, today + 7 days]")
    high_priority: int = Field(description="Open, priority high")
    by_type: TypeCounts = Field(description="Every activity counted, open or done")
    by_state: StateCounts
    by_priority: PriorityCounts
    by_source: SourceCounts


class AgendaMore(BaseModel):
    today: bool = Field(description="More activities are due today than `limit` returned")
    overdue: bool = Field(description="More overdue activities exist than `limit` returned")


class Agenda(BaseModel):
    tz: str = Field(description="The IANA zone 'today' was computed in")
    date: dt.date = Field(description="Today in `tz`")
    today: list[ActivityRead] = Field(
        description="Open, date or due_date today; by start_time, all-day last"
    )
    overdue: list[ActivityRead] = Field(
        description="Open, due_date before today; most overdue first"
    )
    has_more: AgendaMore
