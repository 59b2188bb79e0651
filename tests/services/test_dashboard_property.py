"""Property: for any activities, time zone and instant, the database's summary equals a plain
Python count, every activity is in exactly one bucket, and it takes one store command."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES, PRIORITIES, SOURCES
from app.services import activity_read, dashboard
from app.services.auth import Principal
from app.store import begin_usage, open_store
from tests.conftest import make_settings

TENANT = "acme"
ME = Principal(
    sub="alice", tenant=TENANT, roles=frozenset({"user"}), identities=("alice", "odoo:7")
)
ZONES = [
    "UTC",
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "America/Los_Angeles",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Dubai",
    "Asia/Kathmandu",  # UTC+05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
]
# Dates are drawn as day offsets from the instant's UTC date: a zone moves the local date by at
# most one day either way, so every bucket boundary (yesterday/today/tomorrow, today + 7) is hit.
offsets = st.integers(min_value=-9, max_value=9)

activity = st.fixed_dictionaries(
    {
        "date": offsets,
        "due_date": st.one_of(st.none(), offsets),
        "state": st.sampled_from(ACTIVITY_STATES),
        "type": st.sampled_from(ACTIVITY_TYPES),
        "priority": st.sampled_from(PRIORITIES),
        "source": st.sampled_from(SOURCES),
        "user_id": st.sampled_from(["alice", "odoo:7", "bob"]),
        "deleted": st.booleans(),
    }
)
instants = st.datetimes(
    min_value=datetime(2025, 12, 31), max_value=datetime(2026, 5, 1), timezones=st.just(UTC)
)


def on_dates(spec: dict[str, Any], base: date) -> dict[str, Any]:
    due = spec["due_date"]
    return {
        **spec,
        "date": base + timedelta(days=spec["date"]),
        "due_date": None if due is None else base + timedelta(days=due),
    }


def stored(i: int, spec: dict[str, Any]) -> dict[str, Any]:
    day, due = spec["date"].isoformat(), spec["due_date"] and spec["due_date"].isoformat()
    return {
        "id": f"act_{i:04d}",
        "source": spec["source"],
        "type": spec["type"],
        "subject": f"a{i}",
        "user_id": spec["user_id"],
        "date": day,
        "due_date": due,
        "start_time": None,
        "priority": spec["priority"],
        "state": spec["state"],
        "created_by": "alice",
        "created_at": datetime(2025, 12, 1, tzinfo=UTC),
        "updated_at": datetime(2025, 12, 1, tzinfo=UTC),
        "version": 1,
        "start_sort": "24:00:00",
        "due_sort": due or "9999-12-31",
        "occurred_at": datetime.combine(spec["date"], datetime.min.time(), tzinfo=UTC),
    }


def reference(specs: list[dict[str, Any]], today: date, owners: set[str] | None) -> dict[str, Any]:
    """The contract's rules, in plain Python, over date objects."""
    live = [s for s in specs if not s["deleted"] and (owners is None or s["user_id"] in owners)]
    counts = Counter[str]()
    for s in live:
        due, is_open = s["due_date"], s["state"] != "done"
        if not is_open:
            counts["completed"] += 1
        elif due is None:
            counts["no_due_date"] += 1
        else:
            counts["overdue" if due < today else "due_today" if due == today else "upcoming"] += 1
        if is_open and today <= s["date"] <= today + timedelta(days=7):
            counts["this_week"] += 1
        if is_open and s["priority"] == "high":
            counts["high_priority"] += 1
    names = ("overdue", "due_today", "upcoming", "no_due_date", "completed")
    return {
        "today": today,
        "total": len(live),
        **{name: counts[name] for name in (*names, "this_week", "high_priority")},
        "by_type": {t: sum(s["type"] == t for s in live) for t in ACTIVITY_TYPES},
        "by_state": {t: sum(s["state"] == t for s in live) for t in ACTIVITY_STATES},
        "by_priority": {t: sum(s["priority"] == t for s in live) for t in PRIORITIES},
        "by_source": {t: sum(s["source"] == t for s in live) for t in SOURCES},
    }


@settings(max_examples=40, deadline=None)
@given(
    specs=st.lists(activity, max_size=40),
    tz=st.sampled_from(ZONES),
    now=instants,
    user_id=st.sampled_from([None, "me", "bob"]),
)
async def test_summary_matches_a_plain_python_count(specs, tz, now, user_id):
    specs = [on_dates(s, now.date()) for s in specs]
    store_settings = make_settings()
    store = open_store(store_settings)
    try:
        docs = [stored(i, s) for i, s in enumerate(specs)]
        for source in SOURCES:
            mine = [d for d in docs if d["source"] == source]
            if mine:
                await store.envelopes.insert_many(TENANT, "activity", source, mine, now=now)
        deleted = [d["id"] for d, s in zip(docs, specs, strict=True) if s["deleted"]]
        await store.envelopes.deactivate_many(TENANT, "activity", deleted, now=now)

        usage = begin_usage()
        summary = await dashboard.summarize(store, ME, zone=ZoneInfo(tz), now=now, user_id=user_id)
        assert usage.commands == 1

        today = now.astimezone(ZoneInfo(tz)).date()
        owners = None if user_id is None else set(ME.user_ids(user_id))
        got = summary.model_dump(exclude={"tz"})
        assert got == reference(specs, today, owners)
        buckets = ("overdue", "due_today", "upcoming", "no_due_date", "completed")
        assert sum(got[b] for b in buckets) == got["total"]
        # The read side (urgency on every activity) puts each one in the same bucket.
        names = {"today": "due_today", "done": "completed"}
        per_activity = Counter(
            names.get(u, u)
            for d, s in zip(docs, specs, strict=True)
            if not s["deleted"] and (owners is None or s["user_id"] in owners)
            for u in [activity_read.urgency_of(d, today.isoformat())[0]]
        )
        assert {b: per_activity[b] for b in buckets} == {b: got[b] for b in buckets}
    finally:
        if not store.embedded:
            await store.client.drop_database(store_settings.mongodb_db)
        await store.close()
