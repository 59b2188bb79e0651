"""GET /analytics/*: edges of the definitions, visibility, tenant isolation and 422s."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services import timeline
from app.store import Store

API = "/api/v1/analytics"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)  # the frozen clock (tests/conftest.py)


def activity(i: int, **fields: Any) -> dict[str, Any]:
    doc = {
        "id": f"act_{i}",
        "source": "local",
        "type": "call",
        "subject": "s",
        "user_id": "alice",
        "user_name": "Alice",
        "date": "2026-01-19",
        "due_date": None,
        "start_time": None,
        "priority": "normal",
        "state": "new",
        "contact_id": None,
        "contact_name": None,
        "related": None,
        "created_by": "alice",
        "created_at": NOW - timedelta(days=1),
        "updated_at": NOW,
        "completed_at": None,
        "version": 1,
        "start_sort": "24:00:00",
        "occurred_at": NOW - timedelta(days=1),
    }
    doc.update(fields)
    doc["due_sort"] = doc["due_date"] or "9999-12-31"
    return doc


def message(i: int, at: datetime, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "res_model": "crm.lead",
        "res_id": 9,
        "date": at,
        "message_type": "email",
        "body": "<p>x</p>",
        **fields,
    }
    return dict(timeline.message_document(external_id=i, **values))


def lead(external_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"odoo_opportunity_{external_id}",
        "external_id": external_id,
        "name": f"Lead {external_id}",
        "contact_id": "12",
        "contact_name": "Partner 12",
        "user_id": "odoo:7",
        "lead_type": "opportunity",
        "probability": 10.0,
        "active": True,
        **fields,
    }


async def put(store: Store, kind: str, docs: list[dict[str, Any]], tenant: str = "acme") -> None:
    await store.envelopes.upsert_many(tenant, kind, "local", docs, now=NOW)


async def get(client: Any, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---------------------------------------------------------------------------- volume


async def test_volume_has_every_iso_week_with_zeros_and_counts_messages_in_the_tz(
    client, auth, store
):
    await put(store, "activity", [activity(1, date="2026-01-05"), activity(2, date="2026-01-18")])
    # 2026-01-11T23:30Z is Monday 2026-01-12 00:30 in Berlin: the second ISO week there.
    await put(store, "message", [message(1, datetime(2026, 1, 11, 23, 30, tzinfo=UTC))])
    body = await get(
        client,
        "/volume",
        auth("boss", roles=["manager"]),
        interval="week",
        group_by="kind",
        since="2025-12-31",
        until="2026-01-20",
        tz="Europe/Berlin",
    )
    assert [b["start"] for b in body["buckets"]] == [
        "2025-12-29",
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
    ]
    assert [b["counts"] for b in body["buckets"]] == [
        {"activity": 0, "message": 0},
        {"activity": 1, "message": 0},
        {"activity": 1, "message": 1},
        {"activity": 0, "message": 0},
    ]
    assert body["totals"] == {"activity": 2, "message": 1}
    utc = await get(
        client,
        "/volume",
        auth("boss", roles=["manager"]),
        interval="week",
        group_by="kind",
        since="2025-12-31",
        until="2026-01-20",
        tz="UTC",
    )
    assert utc["buckets"][1]["counts"] == {"activity": 1, "message": 1}


async def test_volume_counts_a_dst_day_message_on_its_local_day(client, auth, store):
    # Berlin springs forward on 2026-03-29 (a 23-hour day): 22:30Z that day is already the 30th.
    at = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
    await put(store, "message", [message(1, at), message(2, at - timedelta(hours=1))])
    body = await get(
        client,
        "/volume",
        auth("boss", roles=["manager"]),
        interval="day",
        group_by="kind",
        since="2026-03-28",
        until="2026-03-30",
        tz="Europe/Berlin",
    )
    assert [b["total"] for b in body["buckets"]] == [0, 1, 1]


async def test_volume_user_sees_only_their_identities_as_one_person(client, auth, store):
    await put(
        store,
        "activity",
        [activity(1), activity(2, user_id="odoo:7"), activity(3, user_id="bob")],
    )
    await put(store, "activity", [activity(4)], tenant="other")
    headers = auth("alice", odoo_uid=7)
    body = await get(client, "/volume", headers, group_by="user", interval="month")
    assert body["totals"] == {"alice": 2}
    forbidden = await client.get(f"{API}/volume", params={"user_id": "bob"}, headers=headers)
    assert forbidden.status_code == 403
    boss = await get(client, "/volume", auth("boss", roles=["manager"]), group_by="user")
    assert {k: v for k, v in boss["totals"].items() if v} == {"alice": 1, "odoo:7": 1, "bob": 1}
    only_bob = await get(
        client, "/volume", auth("boss", roles=["admin"]), group_by="user", user_id="bob"
    )
    assert {k: v for k, v in only_bob["totals"].items() if v} == {"bob": 1}


# ---------------------------------------------------------------------------- team


async def test_team_on_time_is_judged_on_the_completion_date_in_the_tz(client, auth, store):
    # Completed 2026-01-19T22:30Z: still the 19th in UTC, already the 20th in Dubai (UTC+4).
    done_at = datetime(2026, 1, 19, 22, 30, tzinfo=UTC)
    await put(
        store,
        "activity",
        [
            activity(1, state="done", due_date="2026-01-19", completed_at=done_at),
            activity(2, state="done", due_date="2026-01-16", completed_at=done_at),
            activity(3, due_date="2026-01-19"),
            activity(4, user_id="bob", due_date="2026-01-25"),
        ],
    )
    headers = auth("alice")
    utc = await get(client, "/team", headers, tz="UTC")
    assert [u["user_id"] for u in utc["users"]] == ["alice"]
    alice = utc["users"][0]
    assert (alice["completed"], alice["completed_on_time"], alice["on_time_rate"]) == (2, 1, 0.5)
    assert (alice["avg_days_late"], alice["open"], alice["overdue"]) == (3.0, 1, 1)
    dubai = (await get(client, "/team", headers, tz="Asia/Dubai"))["users"][0]
    assert (dubai["completed_on_time"], dubai["avg_days_late"]) == (0, 2.5)
    boss = await get(client, "/team", auth("boss", roles=["manager"]))
    assert [u["user_id"] for u in boss["users"]] == ["alice", "bob"]
    assert boss["totals"]["open"] == 2


# ---------------------------------------------------------------------------- response times


async def test_response_times_pair_each_inbound_email_with_the_next_internal_message(
    client, auth, store
):
    t0 = datetime(2026, 1, 19, 9, 0, tzinfo=UTC)
    await put(store, "opportunity", [lead(9), lead(10, user_id="bob")])
    await put(
        store,
        "message",
        [
            message(1, t0),  # inbound, answered by message 4 (2 h)
            message(2, t0 + timedelta(hours=1)),  # inbound, answered by message 4 (1 h)
            message(
                3, t0 + timedelta(hours=1, minutes=30), message_type="notification", author_uid=8
            ),  # a notification answers nothing
            message(4, t0 + timedelta(hours=2), message_type="comment", author_uid=7),
            message(5, t0 + timedelta(hours=2), res_id=10),  # unanswered: bob owns lead 10
            # Same instant, larger id: the reply comes after the inbound one.
            message(6, t0 + timedelta(hours=2), res_id=10, message_type="comment", author_uid=8),
        ],
    )
    mine = await get(client, "/response-times", auth("alice", odoo_uid=7))
    assert mine["groups"] == [
        {
            "key": "alice",
            "answered": 2,
            "unanswered": 0,
            "median_seconds": 5400.0,
            "p90_seconds": 7200.0,
        }
    ]
    everyone = await get(client, "/response-times", auth("boss", roles=["manager"]))
    assert [(g["key"], g["answered"], g["unanswered"]) for g in everyone["groups"]] == [
        ("odoo:7", 2, 0),
        ("odoo:8", 1, 0),
    ]
    assert everyone["groups"][1]["median_seconds"] == 0.0
    overall = await get(client, "/response-times", auth("boss", roles=["manager"]), group_by="none")
    assert [(g["key"], g["answered"]) for g in overall["groups"]] == [(None, 3)]


# ---------------------------------------------------------------------------- engagement


async def test_engagement_score_recency_frequency_and_the_lead_contact(client, auth, store):
    await put(store, "opportunity", [lead(9, contact_id="12")])
    await put(
        store,
        "activity",
        [
            activity(1, contact_id="12", state="done", completed_at=NOW - timedelta(days=3)),
            activity(2, contact_id="12", due_date="2026-01-10"),
            # 150 days ago: beyond the database's day cap, the score is still exact.
            activity(3, contact_id="77", state="done", completed_at=NOW - timedelta(days=150)),
        ],
    )
    await put(store, "message", [message(1, NOW - timedelta(days=1))])  # on lead 9 -> contact 12
    body = await get(client, "/engagement", auth("boss", roles=["manager"]), since="2025-02-01")
    by_contact = {i["contact_id"]: i for i in body["items"]}
    twelve = by_contact["12"]
    assert twelve["touchpoints"] == 2
    assert twelve["by_channel"]["call"] == 1 and twelve["by_channel"]["message"] == 1
    assert (twelve["days_since_last_touch"], twelve["open_activities"]) == (1, 1)
    assert twelve["overdue_activities"] == 1
    assert twelve["score"] == round(100 * (0.6 * 2.718281828459045 ** (-1 / 30) + 0.4 * 2 / 12))
    old = by_contact["77"]
    assert old["days_since_last_touch"] == 150
    assert old["score"] == round(100 * (0.6 * 2.718281828459045 ** (-150 / 30) + 0.4 * 0))
    assert [i["contact_id"] for i in body["items"]] == ["12", "77"]
    one = await get(
        client, "/engagement", auth("boss", roles=["manager"]), contact_id="77", since="2025-08-01"
    )
    assert [i["contact_id"] for i in one["items"]] == ["77"]


async def test_engagement_last_90_days_start_at_local_midnight(client, auth, store):
    # Today is 2026-01-20 in UTC; the last 90 days start 2025-10-23 00:00 UTC.
    start = datetime(2025, 10, 23, tzinfo=UTC)
    done = [
        activity(i, contact_id="12", state="done", completed_at=start - timedelta(seconds=s))
        for i, s in enumerate([0, 0, 0, 0, 0, 0, 1])
    ]
    await put(store, "activity", done)
    body = await get(client, "/engagement", auth("alice"), tz="UTC", since="2025-10-01")
    # 6 recent touchpoints (the 7th is a second early): frequency term 0.4 × 6/12.
    days = (NOW.date() - start.date()).days
    expected = round(100 * (0.6 * 2.718281828459045 ** (-days / 30) + 0.4 * 6 / 12))
    assert body["items"][0]["score"] == expected


# ---------------------------------------------------------------------------- stale


async def test_stale_threshold_is_local_midnight_and_open_activities_exclude(client, auth, store):
    # days=14 as of 2026-01-20 in UTC: stale when last touched before 2026-01-07 00:00 UTC.
    threshold = datetime(2026, 1, 7, tzinfo=UTC)
    await put(
        store,
        "opportunity",
        [
            lead(1),
            lead(2),
            lead(3),
            lead(4),
            lead(5, probability=100.0),  # won
            lead(6, active=False),  # lost
            lead(7, user_id="bob"),
        ],
    )
    await put(
        store,
        "message",
        [
            message(1, threshold, res_id=1),  # exactly 13 days: not stale
            message(2, threshold - timedelta(milliseconds=1), res_id=2),  # 14 days: stale
            message(3, threshold - timedelta(days=30), res_id=4, message_type="notification"),
        ],
    )
    await put(
        store,
        "activity",
        [activity(1, related={"model": "crm.lead", "id": "3", "name": None})],  # open activity
    )
    boss = await get(client, "/stale", auth("boss", roles=["manager"]), tz="UTC")
    assert [i["related"]["id"] for i in boss["items"]] == ["4", "7", "2"]
    assert boss["items"][0]["last_touch_at"] is None
    assert boss["items"][2]["days_since_last_touch"] == 14
    mine = await get(client, "/stale", auth("alice", odoo_uid=7), tz="UTC")
    assert [i["related"]["id"] for i in mine["items"]] == ["4", "2"]
    other = await get(client, "/stale", auth("boss", tenant="other", roles=["manager"]))
    assert other["items"] == []


async def register(client: Any, headers: dict[str, str], model: str, record_id: str, **body: Any):
    response = await client.put(
        f"/api/v1/records/{model}/{record_id}",
        json={"name": f"{model} {record_id}", "user_id": "odoo:7", **body},
        headers=headers,
    )
    assert response.status_code == 201, response.text


def on(model: str, record_id: str) -> dict[str, Any]:
    return {"model": model, "id": record_id, "name": None}


async def test_stale_lists_registered_sale_opportunities_with_their_model(client, auth, store):
    boss = auth("boss", roles=["manager"])
    await register(client, boss, "sale.opportunity", "1", contact_id="p9", contact_name="ACME")
    await register(client, boss, "sale.opportunity", "2")  # a done activity 15 days ago
    await register(client, boss, "sale.opportunity", "3")  # an open activity: not stale
    await register(client, boss, "sale.opportunity", "4", user_id="bob")
    await register(client, boss, "sale.quot", "5")  # not an opportunity: never stale
    # The synced lead 1 was touched yesterday: only the registered opportunity 1 is stale.
    await put(store, "opportunity", [lead(1)])
    await put(store, "message", [message(1, NOW - timedelta(days=1), res_id=1)])
    done_at = NOW - timedelta(days=15)
    await put(
        store,
        "activity",
        [
            activity(1, related=on("sale.opportunity", "2"), state="done", completed_at=done_at),
            activity(2, related=on("sale.opportunity", "3")),
            # An open activity on a quotation with the same id leaves opportunity 4 stale.
            activity(3, related=on("sale.quot", "4")),
        ],
    )
    everyone = await get(client, "/stale", boss, tz="UTC")
    assert [(i["related"]["model"], i["related"]["id"]) for i in everyone["items"]] == [
        ("sale.opportunity", "1"),
        ("sale.opportunity", "4"),
        ("sale.opportunity", "2"),
    ]
    first, _, touched = everyone["items"]
    assert first == {
        "related": {"model": "sale.opportunity", "id": "1", "name": "sale.opportunity 1"},
        "contact_id": "p9",
        "contact_name": "ACME",
        "user_id": "odoo:7",
        "last_touch_at": None,
        "days_since_last_touch": None,
    }
    assert touched["days_since_last_touch"] == 15
    # A plain user sees only the records one of their identities owns.
    mine = await get(client, "/stale", auth("alice", odoo_uid=7), tz="UTC")
    assert [i["related"]["id"] for i in mine["items"]] == ["1", "2"]
    assert await get(client, "/stale", auth("bob"), tz="UTC") == {
        **mine,
        "items": [everyone["items"][1]],
    }


# ---------------------------------------------------------------------------- 422s


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/volume", {"since": "2026-01-21", "until": "2026-01-20"}),
        ("/volume", {"interval": "day", "since": "2025-01-01", "until": "2026-01-02"}),
        ("/volume", {"group_by": "colour"}),
        ("/volume", {"interval": "year"}),
        ("/volume", {"tz": "Mars/Olympus"}),
        ("/team", {"since": "2026-01-21", "until": "2026-01-20"}),
        ("/team", {"since": "2024-01-01", "until": "2026-01-01"}),
        ("/response-times", {"group_by": "type"}),
        ("/engagement", {"sort": "name"}),
        ("/engagement", {"cursor": "not-a-cursor"}),
        ("/stale", {"days": 0}),
    ],
)
async def test_bad_parameters_are_422_problems(client, auth, path, params):
    response = await client.get(f"{API}{path}", params=params, headers=auth())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"]


async def test_366_days_are_accepted(client, auth):
    response = await client.get(
        f"{API}/volume",
        params={"interval": "day", "since": "2024-01-01", "until": "2024-12-31"},
        headers=auth(),
    )
    assert response.status_code == 200
    assert len(response.json()["buckets"]) == 366


async def test_volume_filters_type_source_and_kind(client, auth, store):
    await put(
        store,
        "activity",
        [activity(1), activity(2, type="email"), activity(3, source="odoo", type="call")],
    )
    await put(store, "message", [message(1, NOW - timedelta(hours=1))])
    boss = auth("boss", roles=["manager"])
    calls = await get(client, "/volume", boss, type="call", group_by="kind")
    assert calls["totals"] == {"activity": 2}  # `type` without `kind`: activities only
    local_calls = await get(client, "/volume", boss, type="call", source="local")
    assert {k: v for k, v in local_calls["totals"].items() if v} == {"call": 1}
    both = await get(client, "/volume", boss, group_by="type", kind=["activity", "message"])
    assert {k: v for k, v in both["totals"].items() if v} == {"call": 2, "email": 1, "message": 1}
