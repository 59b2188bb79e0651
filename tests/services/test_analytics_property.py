"""Property: for any activities, chatter messages, opportunities, time zone, instant and window,
every analytics answer equals a plain-Python computation of the documented definitions over the
same data, in one store command.

The references below work on Python dates (`instant.astimezone(zone).date()`), never on the
service's day boundaries, so they check the boundary trees, ISO weeks, months and DST days too.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES, PRIORITIES, SOURCES
from app.services import analytics, timeline
from app.services.auth import Principal
from app.store import Store, begin_usage, open_store
from tests.conftest import make_settings

TENANT = "acme"
LEAD = "crm.lead"
ME = Principal(
    sub="alice", tenant=TENANT, roles=frozenset({"user"}), identities=("alice", "odoo:7")
)
BOSS = Principal(sub="boss", tenant=TENANT, roles=frozenset({"manager"}), identities=("boss",))
ZONES = [
    "UTC",
    "Pacific/Kiritimati",  # UTC+14
    "Pacific/Pago_Pago",  # UTC-11
    "America/Los_Angeles",
    "America/Santiago",  # DST changes at midnight: some days start at 01:00
    "Europe/Berlin",
    "Asia/Kathmandu",  # UTC+05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
]
USERS = ["alice", "odoo:7", "bob", "odoo:8"]
CONTACTS = ["12", "13", "c-9"]
LEADS = ["1", "2", "3"]
# Instants are drawn as (local day offset from today, local minute) in the zone under test, so
# local midnights, same-instant messages and "exactly 90 / 200 days ago" are frequent.
DAYS = st.one_of(
    st.integers(min_value=-45, max_value=6), st.integers(min_value=-260, max_value=-80)
)
MINUTE = st.one_of(st.sampled_from([0, 1, 59, 60, 720, 1439]), st.integers(0, 1439))
# Far days: "the last 90 days" and the score's day cap.
DAYS = st.one_of(DAYS, st.sampled_from([-89, -90, -91, -199, -200, -201, -230]))
LOCAL = st.tuples(DAYS, MINUTE)

activity = st.fixed_dictionaries(
    {
        "date": st.integers(min_value=-45, max_value=6),
        "due": st.one_of(st.none(), st.integers(min_value=-45, max_value=6)),
        "state": st.sampled_from(["done", "done", *ACTIVITY_STATES]),
        "type": st.sampled_from(ACTIVITY_TYPES),
        "priority": st.sampled_from(PRIORITIES),
        "source": st.sampled_from(SOURCES),
        "user_id": st.sampled_from(USERS),
        "created": LOCAL,
        # Days after the due date (or date): completions on time, on the day and late.
        "completed": st.one_of(st.none(), st.tuples(st.integers(-2, 3), MINUTE)),
        "contact_id": st.one_of(st.none(), st.sampled_from(CONTACTS)),
        "lead": st.one_of(st.none(), st.sampled_from(LEADS)),
        "deleted": st.booleans(),
    }
)
message = st.fixed_dictionaries(
    {
        "record": st.sampled_from(
            [(LEAD, i) for i in LEADS] + [("res.partner", c) for c in CONTACTS]
        ),
        "type": st.sampled_from(["email", "email", "comment", "notification"]),
        "author_uid": st.sampled_from([None, None, 7, 8]),
        # Near days and few minutes: replies at the very instant of the inbound message.
        "at": st.one_of(st.tuples(st.integers(-3, 1), st.sampled_from([0, 1, 720])), LOCAL),
        "deleted": st.booleans(),
    }
)
opportunity = st.fixed_dictionaries(
    {
        "contact_id": st.one_of(st.none(), st.sampled_from(CONTACTS)),
        "user_id": st.sampled_from([None, "odoo:7", "bob"]),
        "active": st.sampled_from([True, True, False]),
        "probability": st.sampled_from([None, 10.0, 100.0]),
        "lead_type": st.sampled_from([None, "opportunity", "lead"]),
        "present": st.sampled_from([True, True, False]),
    }
)
instants = st.datetimes(
    min_value=datetime(2025, 12, 31), max_value=datetime(2026, 5, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))


@dataclass
class Data:
    now: datetime
    zone: ZoneInfo
    activities: list[dict[str, Any]]  # stored documents of live activities
    messages: list[dict[str, Any]]  # stored documents of live messages
    opportunities: list[dict[str, Any]]  # stored documents of opportunities

    def local(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    @property
    def today(self) -> date:
        return self.local(self.now)


def _instant(today: date, days: int, minute: int, zone: ZoneInfo) -> datetime:
    local = datetime.combine(today + timedelta(days=days), time(minute // 60, minute % 60))
    return local.replace(tzinfo=zone).astimezone(UTC)


def _activity_doc(i: int, spec: dict[str, Any], now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    today = now.astimezone(zone).date()
    day = today + timedelta(days=spec["date"])
    due = None if spec["due"] is None else (day + timedelta(days=spec["due"] % 8)).isoformat()
    completed = spec["completed"]
    return {
        "id": f"act_{i:04d}",
        "source": spec["source"],
        "type": spec["type"],
        "subject": f"a{i}",
        "user_id": spec["user_id"],
        "user_name": f"N-{spec['user_id']}",
        "date": day.isoformat(),
        "due_date": due,
        "start_time": None,
        "priority": spec["priority"],
        "state": spec["state"],
        "contact_id": spec["contact_id"],
        "contact_name": f"Contact {spec['contact_id']}" if spec["contact_id"] else None,
        "related": {"model": LEAD, "id": spec["lead"], "name": None} if spec["lead"] else None,
        "created_by": "alice",
        "created_at": _instant(today, *spec["created"], zone),
        "updated_at": now,
        "completed_at": None
        if completed is None
        else _instant(date.fromisoformat(due) if due else day, completed[0], completed[1], zone),
        "version": 1,
        "start_sort": "24:00:00",
        "due_sort": due or "9999-12-31",
        "occurred_at": datetime.combine(day, datetime.min.time(), tzinfo=UTC),
    }


def _message_doc(i: int, spec: dict[str, Any], now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    model, record_id = spec["record"]
    return dict(
        timeline.message_document(
            external_id=i,
            res_model=model,
            res_id=record_id,
            record_name=f"Partner {record_id}" if model == "res.partner" else f"Lead {record_id}",
            date=_instant(now.astimezone(zone).date(), *spec["at"], zone),
            message_type=spec["type"],
            body="<p>x</p>",
            author_uid=spec["author_uid"],
        )
    )


def _opportunity_doc(external_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"odoo_opportunity_{external_id}",
        "external_id": int(external_id),
        "name": f"Lead {external_id}",
        "contact_id": spec["contact_id"],
        "contact_name": f"Contact {spec['contact_id']}" if spec["contact_id"] else None,
        "user_id": spec["user_id"],
        "user_name": None,
        "stage": "New",
        "lead_type": spec["lead_type"],
        "probability": spec["probability"],
        "active": spec["active"],
    }


async def _fill(
    store: Store, acts: list, msgs: list, opps: list, now: datetime, zone: ZoneInfo
) -> Data:
    act_docs = [_activity_doc(i, s, now, zone) for i, s in enumerate(acts)]
    msg_docs = [_message_doc(i + 1, s, now, zone) for i, s in enumerate(msgs)]
    opp_docs = [_opportunity_doc(LEADS[i], s) for i, s in enumerate(opps) if s["present"]]
    for source in SOURCES:
        mine = [d for d in act_docs if d["source"] == source]
        if mine:
            await store.envelopes.insert_many(TENANT, "activity", source, mine, now=now)
    await store.envelopes.upsert_many(TENANT, "message", "odoo", msg_docs, now=now)
    await store.envelopes.upsert_many(TENANT, "opportunity", "odoo", opp_docs, now=now)
    # Another tenant's data, which must never count.
    await store.envelopes.upsert_many("other", "message", "odoo", msg_docs, now=now)
    await store.envelopes.insert_many("other", "activity", "local", act_docs, now=now)
    dead_acts = [d["id"] for d, s in zip(act_docs, acts, strict=True) if s["deleted"]]
    dead_msgs = [d["id"] for d, s in zip(msg_docs, msgs, strict=True) if s["deleted"]]
    await store.envelopes.deactivate_many(TENANT, "activity", dead_acts, now=now)
    await store.envelopes.deactivate_many(TENANT, "message", dead_msgs, now=now)
    return Data(
        now=now,
        zone=zone,
        activities=[d for d, s in zip(act_docs, acts, strict=True) if not s["deleted"]],
        messages=[d for d, s in zip(msg_docs, msgs, strict=True) if not s["deleted"]],
        opportunities=opp_docs,
    )


async def _with_store(acts, msgs, opps, now, tz, check) -> None:
    store_settings = make_settings()
    store = open_store(store_settings)
    try:
        data = await _fill(store, acts, msgs, opps, now, ZoneInfo(tz))
        await check(store, data)
    finally:
        if not store.embedded:
            await store.client.drop_database(store_settings.mongodb_db)
        await store.close()


def person(user_id: str | None, caller: Principal) -> str | None:
    return caller.sub if user_id in caller.identities else user_id


def visible(user_id: str | None, caller: Principal) -> bool:
    return caller.is_manager or user_id in caller.identities


def window_of(data: Data, since_back: int, length: int) -> tuple[date, date]:
    since = data.today - timedelta(days=since_back)
    return since, since + timedelta(days=length)


COMMON = {
    "acts": st.lists(activity, min_size=10, max_size=30),
    "msgs": st.lists(message, min_size=10, max_size=30),
    "opps": st.lists(opportunity, min_size=3, max_size=3),
    "now": instants,
    "tz": st.sampled_from(ZONES),
    "caller": st.sampled_from([ME, BOSS]),
    "since_back": st.integers(min_value=0, max_value=45),
    "length": st.integers(min_value=0, max_value=50),
}
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------- volume


def _monday(day: date) -> date:
    return day - timedelta(days=day.isoweekday() - 1)


def volume_reference(
    data: Data,
    caller: Principal,
    since: date,
    until: date,
    interval: str,
    group_by: str,
    kinds: Sequence[str],
) -> tuple[list[date], dict[date, Counter[str]]]:
    start_of = {
        "day": lambda d: d,
        "week": _monday,
        "month": lambda d: d.replace(day=1),
    }[interval]
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    starts = sorted({start_of(d) for d in days})
    counts: dict[date, Counter[str]] = defaultdict(Counter)
    for a in data.activities if "activity" in kinds else []:
        day = date.fromisoformat(a["date"])
        if since <= day <= until and visible(a["user_id"], caller):
            key = {"user": person(a["user_id"], caller), "kind": "activity"}.get(group_by)
            counts[start_of(day)][key or a[group_by]] += 1
    for m in data.messages if "message" in kinds else []:
        day = data.local(m["date"])
        if m["message_type"] == "notification" or not since <= day <= until:
            continue
        if not visible(m["user_id"], caller):
            continue
        key = {
            "user": person(m["user_id"], caller) or "external",
            "kind": "message",
            "source": "odoo",
        }.get(group_by, "message")
        counts[start_of(day)][key] += 1
    return starts, counts


@FAST
@given(
    **COMMON,
    interval=st.sampled_from(["day", "week", "month"]),
    group_by=st.sampled_from(["type", "user", "source", "state", "priority", "kind"]),
    kinds=st.sampled_from([(), ("activity",), ("message",), ("activity", "message")]),
)
async def test_volume_matches_a_plain_python_count(
    acts, msgs, opps, now, tz, caller, since_back, length, interval, group_by, kinds
):
    async def check(store: Store, data: Data) -> None:
        since, until = window_of(data, since_back, length)
        usage = begin_usage()
        got = await analytics.volume(
            store,
            caller,
            zone=data.zone,
            now=now,
            interval=interval,
            group_by=group_by,
            since=since,
            until=until,
            kinds=kinds,
        )
        assert usage.commands == 1
        starts, counts = volume_reference(
            data, caller, since, until, interval, group_by, kinds or ("activity", "message")
        )
        assert [b.start for b in got.buckets] == starts
        for bucket in got.buckets:
            assert {k: n for k, n in bucket.counts.items() if n} == dict(counts[bucket.start])
            assert bucket.total == sum(counts[bucket.start].values())
            assert set(bucket.counts) == set(got.totals)
        assert {k: n for k, n in got.totals.items() if n} == dict(sum(counts.values(), Counter()))

    await _with_store(acts, msgs, opps, now, tz, check)


# ---------------------------------------------------------------------------- team


def team_reference(data: Data, caller: Principal, since: date, until: date) -> dict[str, Any]:
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    names: dict[str, set[str]] = defaultdict(set)
    for a in data.activities:
        if not visible(a["user_id"], caller):
            continue
        who = person(a["user_id"], caller)
        created = since <= data.local(a["created_at"]) <= until
        done_at = a["completed_at"]
        done_day = data.local(done_at) if done_at else None
        completed = a["state"] == "done" and done_day is not None and since <= done_day <= until
        is_open = a["state"] != "done"
        if not (created or is_open or (done_day and since <= done_day <= until)):
            continue
        row = rows[who]
        names[who].add(a["user_name"])
        row["created"] += created
        row["completed"] += completed
        if completed and a["due_date"] and done_day:
            lateness = (done_day - date.fromisoformat(a["due_date"])).days
            row["with_due"] += 1
            row["on_time"] += lateness <= 0

            row["late"] += lateness > 0
            row["days_late"] += max(0, lateness)
        row["open"] += is_open
        row["overdue"] += is_open and bool(a["due_date"]) and a["due_date"] < data.today.isoformat()
    if not caller.is_manager:
        rows.setdefault(caller.sub, Counter())
    return {"rows": rows, "names": names}


def _figures(row: Counter[str]) -> dict[str, Any]:
    return {
        "created": row["created"],
        "completed": row["completed"],
        "completed_on_time": row["on_time"],
        "on_time_rate": row["on_time"] / row["with_due"] if row["with_due"] else None,
        "avg_days_late": round(row["days_late"] / row["late"], 2) if row["late"] else None,
        "open": row["open"],
        "overdue": row["overdue"],
    }


@FAST
@given(**COMMON)
async def test_team_matches_a_plain_python_count(
    acts, msgs, opps, now, tz, caller, since_back, length
):
    async def check(store: Store, data: Data) -> None:
        since, until = window_of(data, since_back, length)
        usage = begin_usage()
        got = await analytics.team(store, caller, zone=data.zone, now=now, since=since, until=until)
        assert usage.commands == 1
        ref = team_reference(data, caller, since, until)
        expected = [
            {
                "user_id": who,
                "user_name": max(ref["names"][who]) if ref["names"][who] else None,
                **_figures(row),
            }
            for who, row in sorted(ref["rows"].items())
        ]
        assert [u.model_dump() for u in got.users] == expected
        assert got.totals.model_dump() == _figures(sum(ref["rows"].values(), Counter()))

    await _with_store(acts, msgs, opps, now, tz, check)


# ---------------------------------------------------------------------------- response times


def response_reference(
    data: Data, caller: Principal, since: date, until: date, group_by: str
) -> dict[str | None, dict[str, Any]]:
    owners = {o["external_id"]: person(o["user_id"], caller) for o in data.opportunities}
    threads: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for m in data.messages:
        if m["message_type"] != "notification" and m["res_model"]:
            threads[(m["res_model"], m["res_id"])].append(m)
    times: dict[str | None, list[float | None]] = defaultdict(list)
    for (model, record_id), thread in threads.items():
        thread.sort(key=lambda m: (m["date"], m["id"]))
        for i, m in enumerate(thread):
            if m["message_type"] != "email" or m["user_id"] is not None:
                continue
            if not since <= data.local(m["date"]) <= until:
                continue
            reply = next((r for r in thread[i + 1 :] if r["user_id"] is not None), None)
            if reply is not None:
                key = person(reply["user_id"], caller)
                seconds: float | None = (reply["date"] - m["date"]).total_seconds()
            else:
                key = owners.get(int(record_id)) if model == LEAD else None
                seconds = None
            if not caller.is_manager and key != caller.sub:
                continue
            times[None if group_by == "none" else key].append(seconds)
    if group_by == "none" or not caller.is_manager:
        times.setdefault(None if group_by == "none" else caller.sub, [])
    result = {}
    for key, values in times.items():
        answered = [v for v in values if v is not None]
        result[key] = {
            "key": key,
            "answered": len(answered),
            "unanswered": len(values) - len(answered),
            "median_seconds": analytics.median(answered),
            "p90_seconds": analytics.p90(answered),
        }
    return result


@FAST
@given(**COMMON, group_by=st.sampled_from(["user", "none"]))
async def test_response_times_match_a_plain_python_walk(
    acts, msgs, opps, now, tz, caller, since_back, length, group_by
):
    async def check(store: Store, data: Data) -> None:
        since, until = window_of(data, since_back, length)
        usage = begin_usage()
        got = await analytics.response_times(
            store,
            caller,
            zone=data.zone,
            now=now,
            opportunity_model=LEAD,
            group_by=group_by,
            since=since,
            until=until,
        )
        assert usage.commands == 1
        ref = response_reference(data, caller, since, until, group_by)
        assert {g.key: g.model_dump() for g in got.groups} == ref

    await _with_store(acts, msgs, opps, now, tz, check)


# ---------------------------------------------------------------------------- engagement


def engagement_reference(
    data: Data, caller: Principal, since: date, until: date
) -> list[dict[str, Any]]:
    lead_contact = {str(o["external_id"]): o["contact_id"] for o in data.opportunities}
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"touch": Counter(), "at": [], "open": 0, "overdue": 0, "names": set()}
    )
    for o in data.opportunities:
        if o["contact_id"]:
            rows[o["contact_id"]]["names"].add(o["contact_name"])
    for a in data.activities:
        if not a["contact_id"] or not visible(a["user_id"], caller):
            continue
        row = rows[a["contact_id"]]
        row["names"].add(a["contact_name"])
        if a["state"] == "done":
            at = a["completed_at"] or a["occurred_at"]
            row["at"].append(at)
            if since <= data.local(at) <= until:
                row["touch"][a["type"]] += 1
        else:
            row["open"] += 1
            row["overdue"] += bool(a["due_date"]) and a["due_date"] < data.today.isoformat()
    for m in data.messages:
        if m["message_type"] == "notification" or not visible(m["user_id"], caller):
            continue
        if m["res_model"] == "res.partner":
            contact = m["res_id"]
            rows[contact]["names"].add(m["record_name"])
        else:
            contact = lead_contact.get(m["res_id"])
        if contact is None:
            continue
        rows[contact]["at"].append(m["date"])
        if since <= data.local(m["date"]) <= until:
            rows[contact]["touch"]["message"] += 1
    items = []
    for contact, row in rows.items():
        touches = sum(row["touch"].values())
        if not touches and not row["open"]:
            continue
        last = max(row["at"], default=None)
        days = max(0, (data.today - data.local(last)).days) if last else None
        recent = sum(data.local(at) >= data.today - timedelta(days=89) for at in row["at"])
        score = (
            round(100 * (0.6 * math.exp(-days / 30) + 0.4 * min(1, recent / 12)))
            if days is not None
            else 0
        )
        names = {n for n in row["names"] if n}
        items.append(
            {
                "contact_id": contact,
                "contact_name": max(names) if names else None,
                "touchpoints": touches,
                "by_channel": {c: row["touch"][c] for c in analytics.CHANNELS},
                "last_touch_at": last,
                "days_since_last_touch": days,
                "open_activities": row["open"],
                "overdue_activities": row["overdue"],
                "score": score,
            }
        )
    return items


ENGAGEMENT_ORDER = {
    "-score": lambda i: (-i["score"], i["contact_id"]),
    "score": lambda i: (i["score"], i["contact_id"]),
    "-last_touch_at": lambda i: (
        -(i["last_touch_at"] or analytics.EPOCH).timestamp(),
        i["contact_id"],
    ),
    "last_touch_at": lambda i: ((i["last_touch_at"] or analytics.EPOCH), i["contact_id"]),
}


@FAST
@given(**COMMON, sort=st.sampled_from(list(ENGAGEMENT_ORDER)), limit=st.integers(1, 3))
async def test_engagement_matches_a_plain_python_count_on_every_page(
    acts, msgs, opps, now, tz, caller, since_back, length, sort, limit
):
    async def check(store: Store, data: Data) -> None:
        since, until = window_of(data, since_back, length)
        pages, cursor = [], None
        for _ in range(20):
            usage = begin_usage()
            page = await analytics.engagement(
                store,
                caller,
                zone=data.zone,
                now=now,
                opportunity_model=LEAD,
                since=since,
                until=until,
                sort=sort,
                limit=limit,
                cursor=cursor,
            )
            assert usage.commands == 1
            assert len(page.items) <= limit
            pages.extend(i.model_dump() for i in page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        expected = sorted(
            engagement_reference(data, caller, since, until), key=ENGAGEMENT_ORDER[sort]
        )
        assert pages == expected

    await _with_store(acts, msgs, opps, now, tz, check)


# ---------------------------------------------------------------------------- stale


# Registered records (PUT /records) sharing ids with the synced leads, and activities and
# messages on them: only registered sale.opportunity records are opportunities.
REGISTERED_KEYS = [("sale.opportunity", i) for i in (*LEADS[:2], "r3")] + [("sale.quot", "1")]
registered = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(REGISTERED_KEYS),
            "user_id": st.sampled_from([None, "odoo:7", "bob"]),
            "contact_id": st.one_of(st.none(), st.sampled_from(CONTACTS)),
        }
    ),
    max_size=4,
    unique_by=lambda r: r["key"],
)


async def _fill_registered(
    store: Store, data: Data, regs: list, reg_acts: list, reg_msgs: list
) -> tuple[Data, list[dict[str, Any]]]:
    """Store the registered records and the activities and messages on them; (the data with
    those live activities and messages, the records)."""
    now, zone = data.now, data.zone
    records = []
    for spec in regs:
        model, record_id = spec["key"]
        doc = {
            "id": f"registered_{model}_{record_id}",
            "model": model,
            "record_id": record_id,
            "name": f"{model} {record_id}",
            "contact_id": spec["contact_id"],
            "contact_name": f"Contact {spec['contact_id']}" if spec["contact_id"] else None,
            "user_id": spec["user_id"],
        }
        await store.registered_records.put(TENANT, "registered_record", doc, now=now)
        records.append(doc)
    acts = []
    for i, (spec, (model, record_id)) in enumerate(reg_acts):
        doc = _activity_doc(i, spec, now, zone)
        doc["id"] = f"act_r{i:04d}"
        doc["related"] = {"model": model, "id": record_id, "name": None}
        acts.append(doc)
    msgs = []
    for i, (spec, (model, record_id)) in enumerate(reg_msgs):
        doc = _message_doc(1000 + i, {**spec, "record": (LEAD, record_id)}, now, zone)
        doc = dict(doc, res_model=model, related={**doc["related"], "model": model})
        msgs.append(doc)
    if acts:
        await store.envelopes.insert_many(TENANT, "activity", "local", acts, now=now)
    if msgs:
        await store.envelopes.upsert_many(TENANT, "message", "odoo", msgs, now=now)
    dead_acts = [d["id"] for d, (s, _) in zip(acts, reg_acts, strict=True) if s["deleted"]]
    dead_msgs = [d["id"] for d, (s, _) in zip(msgs, reg_msgs, strict=True) if s["deleted"]]
    await store.envelopes.deactivate_many(TENANT, "activity", dead_acts, now=now)
    await store.envelopes.deactivate_many(TENANT, "message", dead_msgs, now=now)
    live_acts = [d for d, (s, _) in zip(acts, reg_acts, strict=True) if not s["deleted"]]
    live_msgs = [d for d, (s, _) in zip(msgs, reg_msgs, strict=True) if not s["deleted"]]
    return (
        replace(
            data,
            activities=[*data.activities, *live_acts],
            messages=[*data.messages, *live_msgs],
        ),
        records,
    )


def stale_reference(
    data: Data, caller: Principal, days: int, records: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """Open synced opportunities (crm.lead) and registered sale.opportunity records (no stage:
    open), visible to the caller, with no open activity and no touchpoint for `days` days."""
    candidates = []
    for o in data.opportunities:
        if o["active"] is False or o["probability"] == 100 or o["lead_type"] == "lead":
            continue
        candidates.append((LEAD, str(o["external_id"]), o))
    candidates += [
        (r["model"], r["record_id"], r) for r in records if r["model"] == "sale.opportunity"
    ]
    items = []
    for model, record_id, o in candidates:
        if not visible(o["user_id"], caller):
            continue
        on_it = [
            a
            for a in data.activities
            if a["related"] and (a["related"]["model"], a["related"]["id"]) == (model, record_id)
        ]
        if any(a["state"] != "done" for a in on_it):
            continue
        touches = [a["completed_at"] or a["occurred_at"] for a in on_it]
        touches += [
            m["date"]
            for m in data.messages
            if m["res_model"] == model
            and m["res_id"] == record_id
            and m["message_type"] != "notification"
        ]
        last = max(touches, default=None)
        since_days = max(0, (data.today - data.local(last)).days) if last else None
        if since_days is not None and since_days < days:
            continue
        items.append(
            {
                "related": {"model": model, "id": record_id, "name": o["name"]},
                "contact_id": o["contact_id"],
                "contact_name": o["contact_name"],
                "user_id": o["user_id"],
                "last_touch_at": last,
                "days_since_last_touch": since_days,
            }
        )
    return sorted(
        items,
        key=lambda i: (
            i["last_touch_at"] or analytics.EPOCH,
            f"{i['related']['model']},{i['related']['id']}",
        ),
    )


@FAST
@given(
    **COMMON,
    days=st.integers(min_value=1, max_value=40),
    regs=registered,
    reg_acts=st.lists(st.tuples(activity, st.sampled_from(REGISTERED_KEYS)), max_size=8),
    reg_msgs=st.lists(st.tuples(message, st.sampled_from(REGISTERED_KEYS)), max_size=8),
)
async def test_stale_matches_a_plain_python_walk(
    acts, msgs, opps, now, tz, caller, since_back, length, days, regs, reg_acts, reg_msgs
):
    async def check(store: Store, data: Data) -> None:
        data, records = await _fill_registered(store, data, regs, reg_acts, reg_msgs)
        usage = begin_usage()
        got = await analytics.stale(
            store, caller, zone=data.zone, now=now, opportunity_model=LEAD, days=days
        )
        assert usage.commands == 1
        assert [i.model_dump() for i in got.items] == stale_reference(data, caller, days, records)
        assert got.has_more is False

    await _with_store(acts, msgs, opps, now, tz, check)
