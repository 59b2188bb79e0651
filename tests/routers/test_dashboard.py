"""GET /dashboard/summary and /dashboard/agenda: buckets as of today in the request tz."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

API = "/api/v1"
BUCKETS = ("overdue", "due_today", "upcoming", "no_due_date", "completed")


async def batch(client: Any, headers: dict[str, str], items: list[dict[str, Any]]) -> list[str]:
    response = await client.post(f"{API}/activities/batch", json={"items": items}, headers=headers)
    assert response.status_code == 201, response.text
    return list(response.json()["ids"])


async def summary(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/dashboard/summary", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert sum(body[b] for b in BUCKETS) == body["total"]
    return body


async def agenda(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/dashboard/agenda", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def commands(response: Any) -> int:
    timing = response.headers["server-timing"]
    return int(timing.split('desc="', 1)[1].split(" ", 1)[0])


def buckets(body: dict[str, Any]) -> dict[str, int]:
    return {b: body[b] for b in BUCKETS}


def task(**fields: Any) -> dict[str, Any]:
    return {"type": "task", "subject": fields.pop("subject", "t"), **fields}


# The same stored data is read from Dubai and Los Angeles; "today" differs between them.
DUE_19, DUE_20, DUE_21 = (
    task(subject="due 19", date="2026-01-15", due_date="2026-01-19"),
    task(subject="due 20", date="2026-01-15", due_date="2026-01-20"),
    task(subject="due 21", date="2026-01-15", due_date="2026-01-21"),
)


async def test_summary_counts_every_bucket_breakdown_and_flag(client, auth):
    # Frozen at 2026-01-20T10:00Z, read in UTC: today is 2026-01-20.
    await batch(
        client,
        auth(),
        [
            task(type="call", date="2026-01-10", due_date="2026-01-19", priority="high"),
            task(type="call", date="2026-01-20", due_date="2026-01-20", state="in_progress"),
            task(type="email", date="2026-01-27", due_date="2026-01-28", state="waiting"),
            task(type="email", date="2026-01-28", due_date=None, priority="high"),
            task(type="meeting", date="2026-01-21", due_date="2026-01-18", state="done"),
            task(type="note", date="2026-01-22", state="done", priority="high"),
            task(type="task", date="2026-01-19", due_date="2026-02-01", priority="low"),
        ],
    )
    body = await summary(client, auth(), tz="UTC")
    assert body["tz"] == "UTC" and body["today"] == "2026-01-20"
    assert body["total"] == 7
    assert buckets(body) == {
        "overdue": 1,
        "due_today": 1,
        "upcoming": 2,
        "no_due_date": 1,
        "completed": 2,
    }
    # Open with date in [2026-01-20, 2026-01-27]: the second and third; done ones never.
    assert body["this_week"] == 2
    assert body["high_priority"] == 2  # the done high-priority note is not counted
    assert body["by_type"] == {
        "email": 2,
        "whatsapp": 0,
        "call": 2,
        "meeting": 1,
        "note": 1,
        "event": 0,
        "task": 1,
    }
    assert body["by_state"] == {"new": 3, "in_progress": 1, "done": 2, "waiting": 1, "deferred": 0}
    assert body["by_priority"] == {"high": 3, "normal": 3, "low": 1}
    assert body["by_source"] == {"local": 7, "odoo": 0}


async def test_empty_tenant_has_every_key_at_zero(client, auth):
    body = await summary(client, auth())
    assert body["total"] == 0 and set(buckets(body).values()) == {0}
    assert body["by_type"] == dict.fromkeys(
        ["email", "whatsapp", "call", "meeting", "note", "event", "task"], 0
    )
    assert body["by_state"] == dict.fromkeys(
        ["new", "in_progress", "done", "waiting", "deferred"], 0
    )
    assert body["by_priority"] == {"high": 0, "normal": 0, "low": 0}
    assert body["by_source"] == {"local": 0, "odoo": 0}


@pytest.mark.parametrize(
    "instant",
    [
        # Dubai (UTC+4) at 02:00 on the 20th; Los Angeles (UTC-8) at 14:00 on the 19th.
        datetime(2026, 1, 19, 22, 0, tzinfo=UTC),
        # Los Angeles at 23:00 on the 19th; Dubai at 11:00 on the 20th.
        datetime(2026, 1, 20, 7, 0, tzinfo=UTC),
    ],
)
async def test_dubai_and_los_angeles_reps_see_their_own_today(client, auth, clock, instant):
    await batch(client, auth(), [DUE_19, DUE_20, DUE_21])
    clock.set(instant)
    dubai = await summary(client, auth(), tz="Asia/Dubai")
    los_angeles = await summary(client, auth(), tz="America/Los_Angeles")
    assert dubai["today"] == "2026-01-20" and los_angeles["today"] == "2026-01-19"
    assert buckets(dubai) == {**buckets(dubai), "overdue": 1, "due_today": 1, "upcoming": 1}
    assert buckets(los_angeles) == {
        **buckets(los_angeles),
        "overdue": 0,
        "due_today": 1,
        "upcoming": 2,
    }
    # The agenda agrees with the summary, and with the urgency on every activity read.
    dubai_agenda = await agenda(client, auth(), tz="Asia/Dubai")
    assert [a["subject"] for a in dubai_agenda["overdue"]] == ["due 19"]
    assert [a["subject"] for a in dubai_agenda["today"]] == ["due 20"]
    la_agenda = await agenda(client, auth(), tz="America/Los_Angeles")
    assert la_agenda["overdue"] == []
    assert [(a["subject"], a["urgency"]) for a in la_agenda["today"]] == [("due 19", "today")]


@pytest.mark.parametrize(
    ("tz", "instant", "today"),
    [
        # Kiritimati (UTC+14): the first zone into a new day.
        ("Pacific/Kiritimati", datetime(2026, 1, 20, 9, 59, tzinfo=UTC), "2026-01-20"),
        ("Pacific/Kiritimati", datetime(2026, 1, 20, 10, 0, tzinfo=UTC), "2026-01-21"),
        # The last minute before midnight, and midnight, in Los Angeles (UTC-8).
        ("America/Los_Angeles", datetime(2026, 1, 21, 7, 59, tzinfo=UTC), "2026-01-20"),
        ("America/Los_Angeles", datetime(2026, 1, 21, 8, 0, tzinfo=UTC), "2026-01-21"),
        ("Asia/Dubai", datetime(2026, 1, 20, 19, 59, 59, tzinfo=UTC), "2026-01-20"),
        ("Asia/Dubai", datetime(2026, 1, 20, 20, 0, tzinfo=UTC), "2026-01-21"),
        # New York springs forward on 2026-03-08 (UTC-5 → UTC-4): midnight after it is 04:00Z.
        ("America/New_York", datetime(2026, 3, 8, 4, 59, tzinfo=UTC), "2026-03-07"),
        ("America/New_York", datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "2026-03-08"),
        ("America/New_York", datetime(2026, 3, 9, 3, 59, tzinfo=UTC), "2026-03-08"),
        ("America/New_York", datetime(2026, 3, 9, 4, 0, tzinfo=UTC), "2026-03-09"),
        # Berlin springs forward on 2026-03-29 (UTC+1 → UTC+2) and falls back on 2026-10-25.
        ("Europe/Berlin", datetime(2026, 3, 29, 21, 59, tzinfo=UTC), "2026-03-29"),
        ("Europe/Berlin", datetime(2026, 3, 29, 22, 0, tzinfo=UTC), "2026-03-30"),
        ("Europe/Berlin", datetime(2026, 10, 25, 22, 59, tzinfo=UTC), "2026-10-25"),
        ("Europe/Berlin", datetime(2026, 10, 25, 23, 0, tzinfo=UTC), "2026-10-26"),
    ],
)
async def test_today_flips_at_local_midnight(client, auth, clock, tz, instant, today):
    await batch(
        client,
        auth(),
        [task(subject=d, date="2026-01-01", due_date=d) for d in ("2026-01-20", "2026-01-21")]
        + [task(subject=d, date="2026-01-01", due_date=d) for d in ("2026-03-08", "2026-03-09")]
        + [task(subject=d, date="2026-01-01", due_date=d) for d in ("2026-03-29", "2026-03-30")]
        + [task(subject=d, date="2026-01-01", due_date=d) for d in ("2026-10-25", "2026-10-26")]
        + [task(subject="2026-03-07", date="2026-01-01", due_date="2026-03-07")],
    )
    clock.set(instant)
    body = await summary(client, auth(), tz=tz)
    assert body["today"] == today and body["tz"] == tz
    due = ["2026-01-20", "2026-01-21", "2026-03-07", "2026-03-08", "2026-03-09"]
    due += ["2026-03-29", "2026-03-30", "2026-10-25", "2026-10-26"]
    assert body["overdue"] == sum(d < today for d in due)
    assert body["due_today"] == sum(d == today for d in due)
    assert body["upcoming"] == sum(d > today for d in due)
    listed = await agenda(client, auth(), tz=tz)
    assert [a["due_date"] for a in listed["today"]] == [d for d in due if d == today]
    assert listed["date"] == today


async def test_zone_comes_from_query_then_token_then_default(client, auth, clock):
    await batch(client, auth(), [DUE_19, DUE_20])
    clock.set(datetime(2026, 1, 19, 22, 0, tzinfo=UTC))
    assert (await summary(client, auth()))["tz"] == "UTC"  # DEFAULT_TZ of the test settings
    from_token = await summary(client, auth(tz="Asia/Dubai"))
    assert from_token["tz"] == "Asia/Dubai" and from_token["today"] == "2026-01-20"
    from_query = await summary(client, auth(tz="Asia/Dubai"), tz="America/Los_Angeles")
    assert from_query["tz"] == "America/Los_Angeles" and from_query["today"] == "2026-01-19"


@pytest.mark.parametrize("path", ["/dashboard/summary", "/dashboard/agenda"])
async def test_unknown_zone_is_422(client, auth, path):
    response = await client.get(f"{API}{path}", params={"tz": "Mars/Olympus"}, headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["loc"] == ["query", "tz"]


async def test_user_filter_me_means_any_of_my_identities(client, auth):
    await batch(
        client,
        auth("alice", odoo_uid=7),
        [
            task(user_id="alice", date="2026-01-10", due_date="2026-01-19"),
            task(user_id="odoo:7", date="2026-01-10", due_date="2026-01-20"),
            task(user_id="bob", date="2026-01-10", due_date="2026-01-19"),
            task(user_id="odoo:8", date="2026-01-10", state="done"),
        ],
    )
    mine = await summary(client, auth("alice", odoo_uid=7), user_id="me")
    assert (mine["total"], mine["overdue"], mine["due_today"]) == (2, 1, 1)
    assert (await summary(client, auth("alice"), user_id="me"))["total"] == 1
    bob = await summary(client, auth("alice"), user_id="bob")
    assert (bob["total"], bob["overdue"]) == (1, 1)
    assert (await summary(client, auth("alice")))["total"] == 4
    their_agenda = await agenda(client, auth("alice", odoo_uid=7), user_id="me")
    assert [a["user_id"] for a in their_agenda["overdue"]] == ["alice"]
    assert [a["user_id"] for a in their_agenda["today"]] == ["odoo:7"]


async def test_other_tenants_deleted_and_done_activities_are_not_counted(client, auth):
    ids = await batch(client, auth(), [task(due_date="2026-01-19"), task(due_date="2026-01-19")])
    await batch(client, auth("mallory", tenant="evil"), [task(due_date="2026-01-19")] * 3)
    deleted = await client.delete(f"{API}/activities/{ids[0]}", headers=auth())
    assert deleted.status_code == 204
    body = await summary(client, auth())
    assert (body["total"], body["overdue"]) == (1, 1)
    listed = await agenda(client, auth())
    assert [a["id"] for a in listed["overdue"]] == [ids[1]]
    evil = await summary(client, auth("mallory", tenant="evil"))
    assert (evil["total"], evil["overdue"]) == (3, 3)
    assert (await summary(client, auth("nobody", tenant="empty")))["total"] == 0


async def test_agenda_orders_today_by_start_time_all_day_last(client, auth):
    await batch(
        client,
        auth(),
        [
            task(subject="all day", date="2026-01-20"),
            task(subject="15:00", date="2026-01-20", start_time="15:00:00"),
            task(subject="due today", date="2026-01-02", due_date="2026-01-20"),
            task(subject="08:30", date="2026-01-20", start_time="08:30:00"),
            task(subject="done", date="2026-01-20", start_time="07:00:00", state="done"),
            task(subject="tomorrow", date="2026-01-21", start_time="07:00:00"),
        ],
    )
    listed = await agenda(client, auth())
    subjects = [a["subject"] for a in listed["today"]]
    assert subjects[:2] == ["08:30", "15:00"]
    assert sorted(subjects[2:]) == ["all day", "due today"]
    assert listed["overdue"] == [] and listed["has_more"] == {"today": False, "overdue": False}


async def test_agenda_lists_overdue_most_overdue_first_with_days_overdue(client, auth):
    await batch(
        client,
        auth(),
        [
            task(subject="2 days", due_date="2026-01-18"),
            task(subject="9 days", due_date="2026-01-11", state="waiting"),
            task(subject="1 day", due_date="2026-01-19", start_time="09:00:00"),
            task(subject="done", due_date="2026-01-01", state="done"),
            task(subject="no due date", date="2026-01-01"),
        ],
    )
    listed = await agenda(client, auth())
    assert [(a["subject"], a["days_overdue"], a["urgency"]) for a in listed["overdue"]] == [
        ("9 days", 9, "overdue"),
        ("2 days", 2, "overdue"),
        ("1 day", 1, "overdue"),
    ]


async def test_agenda_is_bounded_by_limit(client, auth):
    await batch(client, auth(), [task(date="2026-01-09", due_date="2026-01-10")] * 7)
    await batch(client, auth(), [task(date="2026-01-20") for _ in range(3)])
    listed = await agenda(client, auth(), limit=5)
    assert len(listed["overdue"]) == 5 and len(listed["today"]) == 3
    assert listed["has_more"] == {"today": False, "overdue": True}
    for limit in (0, 201):
        response = await client.get(
            f"{API}/dashboard/agenda", params={"limit": limit}, headers=auth()
        )
        assert response.status_code == 422


@pytest.mark.parametrize("size", [3, 150])
async def test_store_commands_per_request_do_not_grow_with_data(client, auth, size):
    await batch(
        client,
        auth(),
        [
            task(due_date=f"2026-01-{10 + i % 15:02d}", state=("done" if i % 4 == 0 else "new"))
            for i in range(size)
        ],
    )
    response = await client.get(f"{API}/dashboard/summary", headers=auth())
    assert response.status_code == 200 and response.json()["total"] == size
    assert commands(response) == 1  # one aggregation, whatever the data size
    response = await client.get(f"{API}/dashboard/agenda", headers=auth())
    assert commands(response) == 2  # one bounded query per list


async def test_summary_is_one_store_command(store, auth, settings):
    from app.services import dashboard
    from app.services.auth import verify_token
    from app.services.clock import zone
    from app.store import begin_usage

    user = verify_token(auth()["Authorization"].split()[1], settings)
    usage = begin_usage()
    body = await dashboard.summarize(
        store, user, zone=zone("Asia/Dubai"), now=datetime(2026, 1, 20, tzinfo=UTC)
    )
    assert usage.commands == 1 and body.total == 0


async def test_dashboard_needs_a_token(client):
    for path in ("/dashboard/summary", "/dashboard/agenda"):
        response = await client.get(f"{API}{path}")
        assert response.status_code == 401
