"""Analytics: activity volume, team performance, response times, engagement, stale deals.

Every route is ONE aggregation over the serving collection, whatever the data size; Python only
builds the pipeline and shapes the (small) result. Time zones never reach the database (STORE.md):
a calendar day in the request tz crosses as its `YYYY-MM-DD` text (activities' `date` and
`due_date` are stored that way) or as the UTC instant it starts at (for instants such as a
message's `date` or an activity's `completed_at`). An instant's local day is found by comparing it
with the day (or period) starts of the window computed here in Python: a balanced tree of `$cond`
comparisons (`_label_of`), log2(periods) comparisons per document. So DST days (23 or 25 hours),
zones without midnight on some days and ISO weeks all follow Python's `zoneinfo`.

Joins are groupings: a message on an opportunity and the opportunity itself are grouped by the
record's key, so the opportunity's contact or owner reaches its messages in the same pipeline
(no `$lookup`, which the embedded engine only has in its simplest form).

Visibility: `user` sees figures about themselves only (their activities, the messages they wrote,
the responses they gave, the opportunities they own); `manager`/`admin` the whole tenant. The
caller's identities (`sub`, `odoo:<uid>`) always count as one person, shown as their `sub`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.errors import Forbidden, ValidationFailed
from app.schemas.analytics import (
    ChannelCounts,
    EngagementItem,
    EngagementPage,
    ResponseGroupFigures,
    ResponseTimes,
    StaleItem,
    StalePage,
    StaleRelated,
    Team,
    TeamFigures,
    TeamUser,
    Volume,
    VolumeBucket,
)
from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES, PRIORITIES, SOURCES
from app.services import cursor as keyset
from app.services import records
from app.services.auth import Principal
from app.services.clock import local_to_utc, today_in
from app.store import Store
from app.store import conditions as query_conditions

ACTIVITY, MESSAGE, OPPORTUNITY = records.ACTIVITY, records.MESSAGE, records.OPPORTUNITY
REGISTERED_RECORD = records.REGISTERED_RECORD
# The registrable model that is an opportunity: `stale` lists its registered records too.
REGISTERED_OPPORTUNITY = "sale.opportunity"
MAX_PERIODS = 366
DEFAULT_WINDOW_DAYS = 12 * 7
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY = EPOCH.date()
OPEN_STATES = tuple(s for s in ACTIVITY_STATES if s != "done")
NOTIFICATION = "notification"
# Messages have no type, state or priority: they count under this key for those groupings.
MESSAGE_KEY = "message"
# A message whose author is no synced Odoo user, grouped by user.
EXTERNAL_KEY = "external"
CHANNELS = (*ACTIVITY_TYPES, MESSAGE_KEY)
# Engagement: touchpoints counted for the score's frequency term, and its formula's constants.
RECENT_DAYS = 90
SCORE_RECENCY_DAYS = 30
SCORE_FULL_TOUCHES = 12
# Beyond this many days the recency term (60·e^(−d/30) < 0.08) can no longer change the rounded
# score (the frequency term is a multiple of 10/3), so the database counts days up to it only;
# the exact figure shown is computed per item.
SCORE_DAYS_CAP = 200


# ---------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """The calendar window [since, until] in `zone`, and the UTC instants it spans."""

    zone: ZoneInfo
    today: date
    since: date
    until: date
    start: datetime  # since 00:00 in zone, UTC
    end: datetime  # the day after until, 00:00 in zone, UTC

    def day_start(self, day: date) -> datetime:
        return local_to_utc(day, None, self.zone)


def period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    if interval == "month":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def periods(since: date, until: date, interval: str) -> list[date]:
    """The start of every period that meets [since, until], in order."""
    starts: list[date] = []
    current = period_start(since, interval)
    while current <= until and len(starts) <= MAX_PERIODS:
        starts.append(current)
        current = _next_period(current, interval)
    return starts


def analysis_window(
    zone: ZoneInfo, now: datetime, since: date | None, until: date | None, interval: str = "day"
) -> Window:
    """The request's window; 422 when `since` is after `until` or it spans more than 366
    periods (days for the routes without an interval)."""
    today = today_in(zone, now)
    until = until or today
    since = since or until - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    if since > until:
        raise ValidationFailed(
            f"since ({since}) is after until ({until})", loc=("query", "since"), msg="after until"
        )
    if len(periods(since, until, interval)) > MAX_PERIODS:
        raise ValidationFailed(
            f"The window spans more than {MAX_PERIODS} {interval}s",
            loc=("query", "since"),
            msg=f"more than {MAX_PERIODS} periods",
        )
    return Window(
        zone=zone,
        today=today,
        since=since,
        until=until,
        start=local_to_utc(since, None, zone),
        end=local_to_utc(until + timedelta(days=1), None, zone),
    )


# ---------------------------------------------------------------------------- expressions


def _label_of(value: Any, bounds: Sequence[tuple[Any, Any]]) -> Any:
    """An expression: the label of the last (lower bound, label) pair whose bound is <= value.

    `bounds` ascend; values below the second bound get the first label (its bound is never
    compared). A balanced tree of `$cond`: log2(len(bounds)) comparisons per document.
    """
    if len(bounds) == 1:
        return {"$literal": bounds[0][1]}
    middle = len(bounds) // 2
    return {
        "$cond": [
            {"$lt": [value, bounds[middle][0]]},
            _label_of(value, bounds[:middle]),
            _label_of(value, bounds[middle:]),
        ]
    }


def _day_number(day_text: Any) -> dict[str, Any]:
    """Days from 1970-01-01 to a `YYYY-MM-DD` text, by integer arithmetic (H. Hinnant's
    days_from_civil): no date parsing operator is needed."""

    def part(start: int, length: int) -> dict[str, Any]:
        return {"$toInt": {"$substr": [day_text, start, length]}}

    def div(a: Any, b: int) -> dict[str, Any]:
        return {"$floor": {"$divide": [a, b]}}

    return {
        "$let": {
            "vars": {"y0": part(0, 4), "m": part(5, 2), "d": part(8, 2)},
            "in": {
                "$let": {
                    "vars": {
                        "y": {"$subtract": ["$$y0", {"$cond": [{"$lte": ["$$m", 2]}, 1, 0]}]},
                        "mp": {"$add": ["$$m", {"$cond": [{"$gt": ["$$m", 2]}, -3, 9]}]},
                    },
                    "in": {
                        "$let": {
                            "vars": {"era": div("$$y", 400)},
                            "in": {
                                "$let": {
                                    "vars": {
                                        "yoe": {
                                            "$subtract": ["$$y", {"$multiply": ["$$era", 400]}]
                                        },
                                        "doy": {
                                            "$add": [
                                                div({"$add": [{"$multiply": [153, "$$mp"]}, 2]}, 5),
                                                {"$subtract": ["$$d", 1]},
                                            ]
                                        },
                                    },
                                    "in": {
                                        "$add": [
                                            {"$multiply": ["$$era", 146097]},
                                            {"$multiply": ["$$yoe", 365]},
                                            div("$$yoe", 4),
                                            {"$multiply": [-1, div("$$yoe", 100)]},
                                            "$$doy",
                                            -719468,
                                        ]
                                    },
                                }
                            },
                        }
                    },
                }
            },
        }
    }


def day_number(day: date) -> int:
    return (day - EPOCH_DAY).days


def _person(field: str, user: Principal, missing: str | None) -> dict[str, Any]:
    """A user id as one person: any of the caller's identities becomes the caller's `sub`."""
    value = {"$ifNull": [field, ""]}
    return {
        "$cond": [
            {"$in": [value, list(user.identities)]},
            user.sub,
            {"$ifNull": [field, missing]},
        ]
    }


def _count_if(condition: Any) -> dict[str, Any]:
    return {"$sum": {"$cond": [condition, 1, 0]}}


def _between(value: Any, start: datetime, end: datetime) -> dict[str, Any]:
    return {"$and": [{"$gte": [value, start]}, {"$lt": [value, end]}]}


def _is(kind: str) -> dict[str, Any]:
    return {"$eq": ["$entity_type", kind]}


def _visible_ids(user: Principal, user_id: str | None = None) -> tuple[str, ...]:
    """The user ids whose figures the caller may read: () = the whole tenant."""
    if user.is_manager:
        return user.user_ids(user_id)
    if user_id in (None, "me") or user_id in user.identities:
        return user.identities
    raise Forbidden("Figures about another user need the manager or admin role")


# ---------------------------------------------------------------------------- volume


def _volume_key(group_by: str, user: Principal) -> Any:
    is_message = _is(MESSAGE)
    if group_by == "user":
        return _person("$user_id", user, EXTERNAL_KEY)
    if group_by == "kind":
        return "$entity_type"
    if group_by == "source":
        return "$source"
    return {"$cond": [is_message, MESSAGE_KEY, f"${group_by}"]}


def _fixed_keys(group_by: str, kinds: Sequence[str]) -> tuple[str, ...]:
    with_messages = MESSAGE in kinds
    enum = {
        "type": ACTIVITY_TYPES,
        "state": ACTIVITY_STATES,
        "priority": PRIORITIES,
    }
    if group_by in enum:
        activity_keys = enum[group_by] if ACTIVITY in kinds else ()
        return (*activity_keys, *((MESSAGE_KEY,) if with_messages else ()))
    if group_by == "source":
        return SOURCES
    if group_by == "kind":
        return tuple(kinds)
    return ()


async def volume(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    interval: str,
    group_by: str,
    since: date | None = None,
    until: date | None = None,
    user_id: str | None = None,
    types: Sequence[str] = (),
    source: str | None = None,
    kinds: Sequence[str] = (),
) -> Volume:
    """Activities and chatter messages per period and key: one aggregation."""
    window = analysis_window(zone, now, since, until, interval)
    owners = _visible_ids(user, user_id)
    chosen = list(kinds) or ([ACTIVITY] if types else [ACTIVITY, MESSAGE])
    chosen = [k for k in (ACTIVITY, MESSAGE) if k in chosen]
    starts = periods(window.since, window.until, interval)
    common = [query_conditions.one_of("user_id", owners), {"source": source} if source else {}]
    where: dict[str, dict[str, Any]] = {}
    if ACTIVITY in chosen:
        where[ACTIVITY] = query_conditions.all_of(
            [
                *common,
                query_conditions.one_of("type", types),
                {"date": {"$gte": window.since.isoformat(), "$lte": window.until.isoformat()}},
            ]
        )
    if MESSAGE in chosen:
        where[MESSAGE] = query_conditions.all_of(
            [
                *common,
                {"occurred_at": {"$gte": window.start, "$lt": window.end}},
                {"message_type": {"$ne": NOTIFICATION}},
            ]
        )
    labels = [s.isoformat() for s in starts]
    by_day = "$date" if interval == "day" else _label_of("$date", [(lab, lab) for lab in labels])
    by_instant = _label_of(
        "$occurred_at",
        [
            (window.day_start(max(s, window.since)), lab)
            for s, lab in zip(starts, labels, strict=True)
        ],
    )
    pipeline = [
        {
            "$project": {
                "_id": 0,
                "p": {"$cond": [_is(MESSAGE), by_instant, by_day]},
                "k": _volume_key(group_by, user),
            }
        },
        {"$group": {"_id": {"p": "$p", "k": "$k"}, "n": {"$sum": 1}}},
    ]
    rows = await store.envelopes.aggregate_kinds(user.tenant, where, pipeline)
    counted: dict[str, dict[str, int]] = {lab: {} for lab in labels}
    seen: set[str] = set()
    for row in rows:
        label, key = row["_id"]["p"], str(row["_id"]["k"])
        if label in counted and row["n"]:
            counted[label][key] = counted[label].get(key, 0) + int(row["n"])
            seen.add(key)
    fixed = _fixed_keys(group_by, chosen)
    keys = [*fixed, *sorted(seen.difference(fixed))]
    buckets = [
        VolumeBucket(
            start=start,
            total=sum(counted[label].values()),
            counts={k: counted[label].get(k, 0) for k in keys},
        )
        for start, label in zip(starts, labels, strict=True)
    ]
    totals = {k: sum(b.counts[k] for b in buckets) for k in keys}
    return Volume(
        interval=interval,
        group_by=group_by,
        tz=zone.key,
        since=window.since,
        until=window.until,
        buckets=buckets,
        totals=totals,
    )


# ---------------------------------------------------------------------------- team

TEAM_COUNTS = (
    "created",
    "completed",
    "with_due",
    "on_time",
    "late",
    "days_late",
    "open",
    "overdue",
)


def _day_bounds(window: Window, first: date, last: date) -> list[tuple[datetime, int]]:
    """(start instant, day number) of every day from `first` to `last` in the window's zone."""
    days = (last - first).days
    return [
        (window.day_start(day), day_number(day))
        for day in (first + timedelta(days=i) for i in range(days + 1))
    ]


def team_pipeline(window: Window, user: Principal) -> list[dict[str, Any]]:
    completed_at = {"$ifNull": ["$completed_at", None]}
    due = {"$ifNull": ["$due_date", ""]}
    is_done = {"$eq": ["$state", "done"]}
    completed = {"$and": [is_done, _between(completed_at, window.start, window.end)]}
    # The completion's local day, only for completions in the window (the tree covers them).
    completion_day = _label_of(completed_at, _day_bounds(window, window.since, window.until))
    lateness = {
        "$cond": [
            {"$and": [completed, {"$gt": [due, ""]}]},
            {"$subtract": [completion_day, _day_number(due)]},
            None,
        ]
    }
    return [
        {
            "$project": {
                "_id": 0,
                "user": _person("$user_id", user, ""),
                "name": {"$ifNull": ["$user_name", None]},
                "created": {"$cond": [_between("$created_at", window.start, window.end), 1, 0]},
                "completed": {"$cond": [completed, 1, 0]},
                "lateness": lateness,
                "open": {"$cond": [is_done, 0, 1]},
                "overdue": {
                    "$cond": [
                        {
                            "$and": [
                                {"$ne": ["$state", "done"]},
                                {"$gt": [due, ""]},
                                {"$lt": [due, window.today.isoformat()]},
                            ]
                        },
                        1,
                        0,
                    ]
                },
            }
        },
        {
            "$group": {
                "_id": "$user",
                "name": {"$max": "$name"},
                "created": {"$sum": "$created"},
                "completed": {"$sum": "$completed"},
                "with_due": _count_if({"$ne": ["$lateness", None]}),
                "on_time": _count_if(
                    {"$and": [{"$ne": ["$lateness", None]}, {"$lte": ["$lateness", 0]}]}
                ),
                "late": _count_if({"$gt": ["$lateness", 0]}),
                "days_late": {"$sum": {"$cond": [{"$gt": ["$lateness", 0]}, "$lateness", 0]}},
                "open": {"$sum": "$open"},
                "overdue": {"$sum": "$overdue"},
            }
        },
    ]


def _team_figures(counts: Mapping[str, int]) -> dict[str, Any]:
    with_due, late = counts["with_due"], counts["late"]
    return {
        "created": counts["created"],
        "completed": counts["completed"],
        "completed_on_time": counts["on_time"],
        "on_time_rate": counts["on_time"] / with_due if with_due else None,
        "avg_days_late": round(counts["days_late"] / late, 2) if late else None,
        "open": counts["open"],
        "overdue": counts["overdue"],
    }


async def team(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    since: date | None = None,
    until: date | None = None,
) -> Team:
    """Per assignee: created, completed (on time or late), open and overdue: one aggregation."""
    window = analysis_window(zone, now, since, until)
    owners = _visible_ids(user)
    where = query_conditions.all_of(
        [
            query_conditions.one_of("user_id", owners),
            {
                "$or": [
                    {"created_at": {"$gte": window.start, "$lt": window.end}},
                    {"completed_at": {"$gte": window.start, "$lt": window.end}},
                    {"state": {"$in": list(OPEN_STATES)}},
                ]
            },
        ]
    )
    rows = await store.envelopes.aggregate_kinds(
        user.tenant, {ACTIVITY: where}, team_pipeline(window, user)
    )
    by_user = {str(row["_id"]): row for row in rows}
    if not user.is_manager:
        by_user.setdefault(user.sub, {"_id": user.sub, "name": None})
    users = []
    totals = dict.fromkeys(TEAM_COUNTS, 0)
    for user_id in sorted(by_user):
        row = by_user[user_id]
        counts = {name: int(row.get(name) or 0) for name in TEAM_COUNTS}
        for counter in TEAM_COUNTS:
            totals[counter] += counts[counter]
        user_name = user.name if user_id == user.sub and user.name else row.get("name")
        users.append(TeamUser(user_id=user_id, user_name=user_name, **_team_figures(counts)))
    return Team(
        tz=zone.key,
        since=window.since,
        until=window.until,
        users=users,
        totals=TeamFigures(**_team_figures(totals)),
    )


# ---------------------------------------------------------------------------- response times


def response_pipeline(
    window: Window, user: Principal, opportunity_model: str, group_by: str
) -> list[dict[str, Any]]:
    internal = {"$ne": [{"$ifNull": ["$user_id", None]}, None]}
    record = {
        "$cond": [
            _is(OPPORTUNITY),
            {"$concat": [opportunity_model, ",", {"$toString": "$external_id"}]},
            {"$concat": ["$related.model", ",", "$related.id"]},
        ]
    }
    no_reply = {"t": None, "id": None, "who": None}
    later = {
        "$or": [
            {"$gt": ["$$r.t", "$$i.t"]},
            {"$and": [{"$eq": ["$$r.t", "$$i.t"]}, {"$gt": ["$$r.id", "$$i.id"]}]},
        ]
    }
    stages: list[dict[str, Any]] = [
        {
            "$project": {
                "_id": 0,
                "rec": record,
                "msg": {"$cond": [_is(MESSAGE), 1, 0]},
                "owner": {"$cond": [_is(OPPORTUNITY), _person("$user_id", user, None), None]},
                "t": {"$ifNull": ["$date", None]},
                "id": "$id",
                "inbound": {
                    "$and": [
                        _is(MESSAGE),
                        {"$eq": ["$message_type", "email"]},
                        {"$eq": [internal, False]},
                    ]
                },
                "internal": {"$and": [_is(MESSAGE), internal]},
                "who": _person("$user_id", user, None),
            }
        },
        {"$sort": {"rec": 1, "t": 1, "id": 1}},
        {
            "$group": {
                "_id": "$rec",
                "owner": {"$max": "$owner"},
                "msgs": {
                    "$push": {
                        "t": "$t",
                        "id": "$id",
                        "inbound": "$inbound",
                        "internal": "$internal",
                        "who": "$who",
                    }
                },
            }
        },
        {
            "$project": {
                "owner": 1,
                "replies": {"$filter": {"input": "$msgs", "as": "m", "cond": "$$m.internal"}},
                "inbound": {
                    "$filter": {
                        "input": "$msgs",
                        "as": "m",
                        "cond": {"$and": ["$$m.inbound", {"$lt": ["$$m.t", window.end]}]},
                    }
                },
            }
        },
        {
            "$project": {
                "items": {
                    "$map": {
                        "input": "$inbound",
                        "as": "i",
                        "in": {
                            "t": "$$i.t",
                            "reply": {
                                "$arrayElemAt": [
                                    {
                                        "$concatArrays": [
                                            {
                                                "$filter": {
                                                    "input": "$replies",
                                                    "as": "r",
                                                    "cond": later,
                                                }
                                            },
                                            [no_reply],
                                        ]
                                    },
                                    0,
                                ]
                            },
                        },
                    }
                },
                "owner": 1,
            }
        },
        {"$unwind": "$items"},
        {
            "$project": {
                "_id": 0,
                "key": {
                    "$cond": [
                        {"$eq": ["$items.reply.id", None]},
                        "$owner",
                        "$items.reply.who",
                    ]
                },
                "secs": {
                    "$cond": [
                        {"$eq": ["$items.reply.id", None]},
                        None,
                        {"$divide": [{"$subtract": ["$items.reply.t", "$items.t"]}, 1000]},
                    ]
                },
            }
        },
    ]
    if not user.is_manager:
        stages.append({"$match": {"key": user.sub}})
    if group_by == "none":
        stages.append({"$project": {"key": {"$literal": None}, "secs": 1}})
    answered = {"$filter": {"input": "$secs", "as": "s", "cond": {"$ne": ["$$s", None]}}}
    stages += [
        {"$sort": {"key": 1, "secs": 1}},
        {
            "$group": {
                "_id": "$key",
                "answered": _count_if({"$ne": ["$secs", None]}),
                "unanswered": _count_if({"$eq": ["$secs", None]}),
                "secs": {"$push": "$secs"},
            }
        },
        {"$project": {"answered": 1, "unanswered": 1, "secs": answered}},
        {
            "$project": {
                "answered": 1,
                "unanswered": 1,
                "median": {
                    "$cond": [
                        {"$eq": ["$answered", 0]},
                        None,
                        {
                            "$divide": [
                                {
                                    "$add": [
                                        {"$arrayElemAt": ["$secs", _floor_half("$answered", -1)]},
                                        {"$arrayElemAt": ["$secs", _floor_half("$answered", 0)]},
                                    ]
                                },
                                2,
                            ]
                        },
                    ]
                },
                "p90": {
                    "$cond": [
                        {"$eq": ["$answered", 0]},
                        None,
                        {"$arrayElemAt": ["$secs", _p90_index("$answered")]},
                    ]
                },
            }
        },
    ]
    return stages


def _floor_half(n: str, shift: int) -> dict[str, Any]:
    """floor((n + shift) / 2): the lower (shift -1) and upper (shift 0) middle index."""
    return {"$floor": {"$divide": [{"$add": [n, shift]}, 2]}}


def _p90_index(n: str) -> dict[str, Any]:
    """ceil(0.9 n) - 1 in integer arithmetic: floor((9n + 9) / 10) - 1."""
    return {"$subtract": [{"$floor": {"$divide": [{"$add": [{"$multiply": [9, n]}, 9]}, 10]}}, 1]}


def median(values: Sequence[float]) -> float | None:
    """The definition `response_pipeline` computes, for references and tests."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    return (ordered[(n - 1) // 2] + ordered[n // 2]) / 2


def p90(values: Sequence[float]) -> float | None:
    ordered = sorted(values)
    return ordered[(9 * len(ordered) + 9) // 10 - 1] if ordered else None


async def response_times(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    opportunity_model: str,
    group_by: str = "user",
    since: date | None = None,
    until: date | None = None,
) -> ResponseTimes:
    """Answered and unanswered inbound messages, response time median and p90: one aggregation."""
    window = analysis_window(zone, now, since, until)
    where = {
        # Responses come after their inbound message: nothing before the window is needed.
        MESSAGE: {
            "occurred_at": {"$gte": window.start},
            "message_type": {"$ne": NOTIFICATION},
            "related.model": {"$type": "string"},
        },
        OPPORTUNITY: {},
    }
    rows = await store.envelopes.aggregate_kinds(
        user.tenant, where, response_pipeline(window, user, opportunity_model, group_by)
    )
    groups = {
        row["_id"]: ResponseGroupFigures(
            key=row["_id"],
            answered=int(row["answered"]),
            unanswered=int(row["unanswered"]),
            median_seconds=row.get("median"),
            p90_seconds=row.get("p90"),
        )
        for row in rows
        if row.get("answered") or row.get("unanswered")
    }
    expected = None if group_by == "none" else (None if user.is_manager else user.sub)
    if (group_by == "none" or not user.is_manager) and expected not in groups:
        groups[expected] = ResponseGroupFigures(
            key=expected, answered=0, unanswered=0, median_seconds=None, p90_seconds=None
        )
    ordered = sorted(groups.values(), key=lambda g: (g.key is not None, g.key or ""))
    return ResponseTimes(
        tz=zone.key,
        since=window.since,
        until=window.until,
        group_by=group_by,
        groups=ordered,
    )


# ---------------------------------------------------------------------------- engagement

ENGAGEMENT_SORTS: dict[str, list[tuple[str, int]]] = {
    "-score": [("score", -1), ("contact_id", 1)],
    "score": [("score", 1), ("contact_id", 1)],
    "-last_touch_at": [("touch_sort", -1), ("contact_id", 1)],
    "last_touch_at": [("touch_sort", 1), ("contact_id", 1)],
}
_SUMS = ("touch", "recent", "open", "overdue", *(f"ch_{c}" for c in CHANNELS))


def score_of(days_since: int | None, recent: int) -> int:
    """The engagement score as the pipeline computes it (rounded half up)."""
    if days_since is None:
        return 0
    raw = 100 * (
        0.6 * math.exp(-days_since / SCORE_RECENCY_DAYS) + 0.4 * min(1, recent / SCORE_FULL_TOUCHES)
    )
    return math.floor(raw + 0.5)


def engagement_pipeline(
    window: Window,
    opportunity_model: str,
    contact_id: str | None,
    sort: str,
    after: Sequence[Any] | None,
    limit: int,
) -> list[dict[str, Any]]:
    is_activity, is_message = _is(ACTIVITY), _is(MESSAGE)
    on_partner = {"$eq": ["$related.model", "res.partner"]}
    done = {"$and": [is_activity, {"$eq": ["$state", "done"]}]}
    is_open = {"$and": [is_activity, {"$ne": ["$state", "done"]}]}
    touch_at = {
        "$cond": [
            done,
            {"$ifNull": ["$completed_at", "$occurred_at"]},
            {"$cond": [is_message, "$date", None]},
        ]
    }
    # Join key: the contact itself, or the opportunity a message is on (its contact comes from
    # the opportunity document grouped with it).
    record = {
        "$cond": [
            is_activity,
            {"$concat": ["c:", "$contact_id"]},
            {
                "$cond": [
                    is_message,
                    {
                        "$cond": [
                            on_partner,
                            {"$concat": ["c:", "$related.id"]},
                            {"$concat": ["o:", "$related.id"]},
                        ]
                    },
                    {"$concat": ["o:", {"$toString": "$external_id"}]},
                ]
            },
        ]
    }
    contact = {
        "$cond": [
            is_message,
            {"$cond": [on_partner, "$related.id", None]},
            {"$ifNull": ["$contact_id", None]},
        ]
    }
    name = {
        "$cond": [
            is_message,
            {"$cond": [on_partner, {"$ifNull": ["$related.name", None]}, None]},
            {"$ifNull": ["$contact_name", None]},
        ]
    }
    channel = {"$cond": [is_message, MESSAGE_KEY, "$type"]}
    in_window = _between({"$ifNull": ["$at", None]}, window.start, window.end)
    recent_from = window.day_start(window.today - timedelta(days=RECENT_DAYS - 1))
    today_text = window.today.isoformat()
    days_since = _label_of(
        "$last",
        [
            (window.day_start(window.today - timedelta(days=k)), k)
            for k in range(SCORE_DAYS_CAP, -1, -1)
        ],
    )
    recency = {"$exp": {"$divide": [{"$multiply": [-1, days_since]}, SCORE_RECENCY_DAYS]}}
    frequency = {"$min": [1, {"$divide": ["$recent", SCORE_FULL_TOUCHES]}]}
    raw_score = {
        "$multiply": [
            100,
            {"$add": [{"$multiply": [0.6, recency]}, {"$multiply": [0.4, frequency]}]},
        ]
    }
    keys = ENGAGEMENT_SORTS[sort]
    stages: list[dict[str, Any]] = [
        {
            "$project": {
                "_id": 0,
                "rec": record,
                "contact": contact,
                "name": name,
                "at": touch_at,
                "channel": channel,
                "open": {"$cond": [is_open, 1, 0]},
                "overdue": {
                    "$cond": [
                        {
                            "$and": [
                                is_open,
                                {"$gt": [{"$ifNull": ["$due_date", ""]}, ""]},
                                {"$lt": [{"$ifNull": ["$due_date", ""]}, today_text]},
                            ]
                        },
                        1,
                        0,
                    ]
                },
            }
        },
        {
            "$project": {
                "rec": 1,
                "contact": 1,
                "name": 1,
                "open": 1,
                "overdue": 1,
                "at": 1,
                "touch": {"$cond": [in_window, 1, 0]},
                "recent": {"$cond": [{"$gte": [{"$ifNull": ["$at", None]}, recent_from]}, 1, 0]},
                **{
                    f"ch_{c}": {"$cond": [{"$and": [in_window, {"$eq": ["$channel", c]}]}, 1, 0]}
                    for c in CHANNELS
                },
            }
        },
        {
            "$group": {
                "_id": "$rec",
                "contact": {"$max": "$contact"},
                "name": {"$max": "$name"},
                "last": {"$max": "$at"},
                **{s: {"$sum": f"${s}"} for s in _SUMS},
            }
        },
        {"$match": {"contact": {"$type": "string"}}},
    ]
    if contact_id is not None:
        stages.append({"$match": {"contact": contact_id}})
    stages += [
        {
            "$group": {
                "_id": "$contact",
                "name": {"$max": "$name"},
                "last": {"$max": "$last"},
                **{s: {"$sum": f"${s}"} for s in _SUMS},
            }
        },
        {"$match": {"$or": [{"touch": {"$gt": 0}}, {"open": {"$gt": 0}}]}},
        {
            "$project": {
                "_id": 0,
                "contact_id": "$_id",
                "name": 1,
                "last": 1,
                **{s: 1 for s in _SUMS},
                "touch_sort": {"$ifNull": ["$last", EPOCH]},
                "score": {
                    "$cond": [
                        {"$eq": [{"$ifNull": ["$last", None]}, None]},
                        0,
                        {"$floor": {"$add": [raw_score, 0.5]}},
                    ]
                },
            }
        },
    ]
    if after is not None:
        stages.append({"$match": query_conditions.after(keys, after)})
    stages += [{"$sort": dict(keys)}, {"$limit": limit + 1}]
    return stages


async def engagement(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    opportunity_model: str,
    since: date | None = None,
    until: date | None = None,
    contact_id: str | None = None,
    sort: str = "-score",
    limit: int = 50,
    cursor: str | None = None,
) -> EngagementPage:
    """Touchpoints, last touch and score per contact, one page: one aggregation."""
    window = analysis_window(zone, now, since, until)
    keys = ENGAGEMENT_SORTS[sort]
    scope = f"engagement:{sort}"
    after = keyset.decode_cursor(cursor, scope, len(keys)) if cursor else None
    owners = query_conditions.one_of("user_id", _visible_ids(user))
    where: dict[str, dict[str, Any]] = {
        ACTIVITY: query_conditions.all_of(
            [
                owners,
                {"contact_id": contact_id} if contact_id else {"contact_id": {"$type": "string"}},
            ]
        ),
        MESSAGE: query_conditions.all_of(
            [
                owners,
                {"related.model": {"$in": [opportunity_model, "res.partner"]}},
                {"message_type": {"$ne": NOTIFICATION}},
            ]
        ),
        OPPORTUNITY: {"contact_id": contact_id} if contact_id else {},
    }
    rows = await store.envelopes.aggregate_kinds(
        user.tenant,
        where,
        engagement_pipeline(window, opportunity_model, contact_id, sort, after, limit),
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = keyset.encode_cursor(scope, keyset.sort_values(rows[-1], keys))
    items = []
    for row in rows:
        last = row.get("last")
        days = _days_since(last, window) if last is not None else None
        items.append(
            EngagementItem(
                contact_id=row["contact_id"],
                contact_name=row.get("name"),
                touchpoints=int(row["touch"]),
                by_channel=ChannelCounts(**{c: int(row[f"ch_{c}"]) for c in CHANNELS}),
                last_touch_at=last,
                days_since_last_touch=days,
                open_activities=int(row["open"]),
                overdue_activities=int(row["overdue"]),
                score=int(row["score"]),
            )
        )
    return EngagementPage(
        tz=zone.key,
        since=window.since,
        until=window.until,
        items=items,
        next_cursor=next_cursor,
    )


def _days_since(at: datetime, window: Window) -> int:
    return max(0, (window.today - at.astimezone(window.zone).date()).days)


# ---------------------------------------------------------------------------- stale


def stale_pipeline(threshold: datetime, opportunity_model: str, limit: int) -> list[dict[str, Any]]:
    """Group each opportunity (synced, or registered as `sale.opportunity`) with the activities
    and messages on it, keyed by `model,id` (a registered record and a synced one may share an
    id); keep those with no open activity and no touchpoint since `threshold`."""
    is_synced, is_registered = _is(OPPORTUNITY), _is(REGISTERED_RECORD)
    is_record = {"$or": [is_synced, is_registered]}
    done = {"$and": [_is(ACTIVITY), {"$eq": ["$state", "done"]}]}
    from_record = {
        name: {"$cond": [is_record, {"$ifNull": [f"${name}", None]}, None]}
        for name in ("name", "contact_id", "contact_name", "user_id")
    }
    model = {
        "$cond": [
            is_synced,
            {"$literal": opportunity_model},
            {"$cond": [is_registered, "$model", "$related.model"]},
        ]
    }
    record_id = {
        "$cond": [
            is_synced,
            {"$toString": "$external_id"},
            {"$cond": [is_registered, "$record_id", "$related.id"]},
        ]
    }
    return [
        {
            "$project": {
                "_id": 0,
                "model": model,
                "record_id": record_id,
                "opp": {"$cond": [is_record, 1, 0]},
                **from_record,
                "at": {
                    "$cond": [
                        done,
                        {"$ifNull": ["$completed_at", "$occurred_at"]},
                        {"$cond": [_is(MESSAGE), "$date", None]},
                    ]
                },
                "open": {"$cond": [{"$and": [_is(ACTIVITY), {"$ne": ["$state", "done"]}]}, 1, 0]},
            }
        },
        {
            "$group": {
                "_id": {"$concat": ["$model", ",", "$record_id"]},
                "model": {"$max": "$model"},
                "record_id": {"$max": "$record_id"},
                "opp": {"$max": "$opp"},
                **{name: {"$max": f"${name}"} for name in from_record},
                "last": {"$max": "$at"},
                "open": {"$sum": "$open"},
            }
        },
        {
            "$match": {
                "opp": 1,
                "open": 0,
                "$or": [{"last": None}, {"last": {"$lt": threshold}}],
            }
        },
        {
            "$project": {
                "touch_sort": {"$ifNull": ["$last", EPOCH]},
                **dict.fromkeys(("last", "model", "record_id", *from_record), 1),
            }
        },
        {"$sort": {"touch_sort": 1, "_id": 1}},
        {"$limit": limit + 1},
    ]


async def stale(
    store: Store,
    user: Principal,
    *,
    zone: ZoneInfo,
    now: datetime,
    opportunity_model: str,
    days: int = 14,
    limit: int = 100,
) -> StalePage:
    """Open opportunities (synced, or registered `sale.opportunity` records, which have no stage
    and count as open) nobody touched for `days` days and with no open activity."""
    today = today_in(zone, now)
    threshold = local_to_utc(today - timedelta(days=days - 1), None, zone)
    owners = query_conditions.one_of("user_id", _visible_ids(user))
    # When the sync reads sale.opportunity itself, nothing of that model can be registered.
    models = list(dict.fromkeys((opportunity_model, REGISTERED_OPPORTUNITY)))
    on_opportunity = query_conditions.one_of("related.model", models)
    where = {
        OPPORTUNITY: query_conditions.all_of(
            [
                owners,
                {"active": {"$ne": False}},
                {"probability": {"$ne": 100}},
                {"lead_type": {"$ne": "lead"}},
            ]
        ),
        ACTIVITY: on_opportunity,
        MESSAGE: {**on_opportunity, "message_type": {"$ne": NOTIFICATION}},
    }
    if REGISTERED_OPPORTUNITY != opportunity_model:
        where[REGISTERED_RECORD] = {"model": REGISTERED_OPPORTUNITY, **owners}
    rows = await store.envelopes.aggregate_kinds(
        user.tenant, where, stale_pipeline(threshold, opportunity_model, limit)
    )
    items = []
    for row in rows[:limit]:
        last = row.get("last")
        items.append(
            StaleItem(
                related=StaleRelated(model=row["model"], id=row["record_id"], name=row.get("name")),
                contact_id=row.get("contact_id"),
                contact_name=row.get("contact_name"),
                user_id=row.get("user_id"),
                last_touch_at=last,
                days_since_last_touch=(
                    max(0, (today - last.astimezone(zone).date()).days) if last else None
                ),
            )
        )
    return StalePage(tz=zone.key, today=today, days=days, items=items, has_more=len(rows) > limit)
