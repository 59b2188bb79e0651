"""The dashboard: urgency counts and the agenda, as of today in the caller's time zone.

"Today" is computed in Python (services/clock.py) and crosses into the database as a
`YYYY-MM-DD` string; the buckets are computed by the database at read time, never stored.
The summary is ONE aggregation (one command, one pass) whatever the number of activities;
the agenda is one bounded query per list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES, PRIORITIES, SOURCES
from app.schemas.dashboard import (
    Agenda,
    AgendaMore,
    DashboardSummary,
    PriorityCounts,
    SourceCounts,
    StateCounts,
    TypeCounts,
)
from app.services import activities, activity_read, records
from app.services.auth import Principal
from app.services.clock import today_in
from app.store import Store
from app.store.conditions import all_of, one_of

ENTITY = records.ACTIVITY
WEEK_DAYS = 7
COUNTERS = ("overdue", "due_today", "upcoming", "no_due_date", "completed")
# Field of the activity → (prefix of its counters, the contract's enum). Values outside the
# enum cannot be read through ActivityRead anyway; they count in `total` and their bucket only.
BREAKDOWNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "type": ("by_type", ACTIVITY_TYPES),
    "state": ("by_state", ACTIVITY_STATES),
    "priority": ("by_priority", PRIORITIES),
    "source": ("by_source", SOURCES),
}


def owner_condition(user: Principal, user_id: str | None) -> dict[str, Any]:
    """`user_id=me|<id>` as a condition; absent = the whole tenant."""
    return one_of("user_id", user.user_ids(user_id))


def _bucket_expression(today: str) -> dict[str, Any]:
    """The urgency bucket as an aggregation expression; the same rule as
    `activity_read.urgency_of` (read side) and `activities.urgency_condition` (filters)."""
    # $ifNull turns a null or missing due date into "", which sorts before every date; the
    # branches are tried in order, so "" is caught as no_due_date before the overdue test.
    due = {"$ifNull": ["$due_date", ""]}
    return {
        "$switch": {
            "branches": [
                {"case": {"$eq": ["$state", "done"]}, "then": "completed"},
                {"case": {"$eq": [due, ""]}, "then": "no_due_date"},
                {"case": {"$lt": [due, today]}, "then": "overdue"},
                {"case": {"$eq": [due, today]}, "then": "due_today"},
            ],
            "default": "upcoming",
        }
    }


def _count_if(condition: Any) -> dict[str, Any]:
    return {"$sum": {"$cond": [condition, 1, 0]}}


def summary_pipeline(today: str, week_end: str) -> list[dict[str, Any]]:
    """One $project (bucket and flags per activity) and one $group (every counter)."""
    is_open = {"$ne": ["$state", "done"]}
    day = {"$ifNull": ["$date", ""]}
    group: dict[str, Any] = {"_id": None, "total": {"$sum": 1}}
    for counter in COUNTERS:
        group[counter] = _count_if({"$eq": ["$bucket", counter]})
    group["this_week"] = _count_if("$in_week")
    group["high_priority"] = _count_if("$is_high")
    for field, (prefix, values) in BREAKDOWNS.items():
        for value in values:
            group[f"{prefix}__{value}"] = _count_if({"$eq": [f"${field}", value]})
    return [
        {
            "$project": {
                "_id": 0,
                "bucket": _bucket_expression(today),
                "in_week": {"$and": [is_open, {"$gte": [day, today]}, {"$lte": [day, week_end]}]},
                "is_high": {"$and": [is_open, {"$eq": ["$priority", "high"]}]},
                **{field: 1 for field in BREAKDOWNS},
            }
        },
        {"$group": group},
    ]


def _breakdown(row: Mapping[str, Any], prefix: str, values: Sequence[str]) -> dict[str, int]:
    return {value: int(row.get(f"{prefix}__{value}", 0)) for value in values}


async def summarize(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    user_id: str | None = None,
) -> DashboardSummary:
    """Counts of the tenant's (or one user's) activities by urgency as of today in `zone`."""
    today = today_in(zone, now)
    week_end = today + timedelta(days=WEEK_DAYS)
    rows = await store.envelopes.aggregate(
        user.tenant,
        ENTITY,
        owner_condition(user, user_id),
        summary_pipeline(today.isoformat(), week_end.isoformat()),
    )
    # No activity in scope: $group emits no document at all.
    row: Mapping[str, Any] = rows[0] if rows else {}
    counts = {
        name: int(row.get(name, 0)) for name in ("total", *COUNTERS, "this_week", "high_priority")
    }
    return DashboardSummary(
        tz=zone.key,
        today=today,
        **counts,
        by_type=TypeCounts(**_breakdown(row, "by_type", ACTIVITY_TYPES)),
        by_state=StateCounts(**_breakdown(row, "by_state", ACTIVITY_STATES)),
        by_priority=PriorityCounts(**_breakdown(row, "by_priority", PRIORITIES)),
        by_source=SourceCounts(**_breakdown(row, "by_source", SOURCES)),
    )


async def agenda(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    user_id: str | None = None,
    limit: int = 50,
) -> Agenda:
    """Today's open activities (by start time, all-day last) and the overdue ones (most
    overdue first): one bounded query each."""
    today = today_in(zone, now).isoformat()
    scope = owner_condition(user, user_id)
    is_open = {"state": {"$ne": "done"}}
    # `due_sort` equals `due_date` whenever there is one (and is "9999-12-31" otherwise, never
    # today nor before it), so these conditions mean the contract's `due_date` ones while
    # walking the indexes that end with the sort's tie-breakers.
    due_today = all_of([scope, is_open, {"$or": [{"date": today}, {"due_sort": today}]}])
    overdue = all_of([scope, is_open, {"due_sort": {"$lt": today}}])
    today_rows = await store.envelopes.find(
        user.tenant,
        ENTITY,
        due_today,
        sort=[("start_sort", 1), ("id", 1)],
        limit=limit + 1,
    )
    overdue_rows = await store.envelopes.find(
        user.tenant,
        ENTITY,
        overdue,
        sort=activities.SORTS["due_date"],
        limit=limit + 1,
    )
    return Agenda(
        tz=zone.key,
        date=today,
        today=[activity_read.to_read(r, today) for r in today_rows[:limit]],
        overdue=[activity_read.to_read(r, today) for r in overdue_rows[:limit]],
        has_more=AgendaMore(today=len(today_rows) > limit, overdue=len(overdue_rows) > limit),
    )
