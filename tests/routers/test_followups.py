"""Chained (`next_activity`) and recurring (`recurrence`) activities over HTTP."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.services.followups import add_days, next_occurrence

API = "/api/v1/activities"


async def create(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"type": "call", "subject": "Weekly check-in", **fields}
    response = await client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def done(client: Any, headers: dict[str, str], activity_id: str) -> dict[str, Any]:
    response = await client.patch(f"{API}/{activity_id}", json={"state": "done"}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def search(client: Any, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = await client.get(API, params={"limit": 200, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# ---------------------------------------------------------------------------- date arithmetic


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 1, 23), 1, date(2026, 1, 26)),  # Friday + 1 business day = Monday
        (date(2026, 1, 24), 1, date(2026, 1, 26)),  # Saturday + 1 = Monday
        (date(2026, 1, 24), 0, date(2026, 1, 26)),  # Saturday + 0 rolls to Monday
        (date(2026, 1, 21), 0, date(2026, 1, 21)),  # a weekday + 0 is itself
        (date(2026, 1, 21), 5, date(2026, 1, 28)),  # Wednesday + 5 = next Wednesday
        (date(2026, 1, 23), 10, date(2026, 2, 6)),
    ],
)
def test_business_days_skip_weekends(start: date, days: int, expected: date) -> None:
    assert add_days(start, days, business_days=True) == expected


def test_calendar_days_count_weekends() -> None:
    assert add_days(date(2026, 1, 23), 3) == date(2026, 1, 26)


def test_next_occurrence_consumes_count_and_respects_until() -> None:
    rule = "FREQ=WEEKLY;COUNT=3;BYDAY=MO"
    assert next_occurrence(rule, date(2026, 1, 19)) == (
        date(2026, 1, 26),
        "FREQ=WEEKLY;COUNT=2;BYDAY=MO",
    )
    assert next_occurrence("FREQ=WEEKLY;COUNT=1;BYDAY=MO", date(2026, 1, 26)) is None
    until = "FREQ=DAILY;UNTIL=20260121T000000"
    assert next_occurrence(until, date(2026, 1, 20)) == (date(2026, 1, 21), until)
    assert next_occurrence(until, date(2026, 1, 21)) is None


def test_weekday_rule_from_friday_skips_the_weekend() -> None:
    found = next_occurrence("FREQ=WEEKLY;BYDAY=MO,WE,FR", date(2026, 1, 23))
    assert found is not None and found[0] == date(2026, 1, 26)


def test_business_day_rule_across_new_year() -> None:
    rule = "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=10"
    assert next_occurrence(rule, date(2026, 12, 31)) == (
        date(2027, 1, 1),
        "FREQ=DAILY;COUNT=9;BYDAY=MO,TU,WE,TH,FR",
    )
    after_friday = next_occurrence(rule, date(2027, 1, 1))
    assert after_friday is not None and after_friday[0] == date(2027, 1, 4)


def test_monthly_rule_on_the_31st_skips_short_months() -> None:
    found = next_occurrence("FREQ=MONTHLY;BYMONTHDAY=31", date(2026, 1, 31))
    assert found is not None and found[0] == date(2026, 3, 31)


def test_first_occurrence_off_the_rule_counts_as_one() -> None:
    # RFC 5545: DTSTART is the first instance even when the rule would not produce it.
    found = next_occurrence("FREQ=WEEKLY;COUNT=2;BYDAY=MO", date(2026, 1, 21))  # a Wednesday
    assert found == (date(2026, 1, 26), "FREQ=WEEKLY;COUNT=1;BYDAY=MO")


# ---------------------------------------------------------------------------- next_activity


async def test_done_creates_next_activity_on_completion_date_in_assignees_zone(client, auth, clock):
    # 12:00Z on the 20th is already 01:00 on the 21st in Auckland (UTC+13).
    clock.set(datetime(2026, 1, 20, 12, 0, tzinfo=UTC))
    headers = auth("alice", tz="Pacific/Auckland")
    first = await create(
        client,
        headers,
        date="2026-01-15",
        related_id="sale.quot,77",
        contact_id="c1",
        contact_name="ACME",
        next_activity={
            "type": "meeting",
            "subject": "Next meeting",
            "offset_days": 2,
            "start_time": "09:30:00",
            "priority": "high",
        },
    )
    await done(client, headers, first["id"])
    [follow_up] = [a for a in await search(client, headers) if a["id"] != first["id"]]
    assert follow_up["date"] == "2026-01-23"
    assert follow_up["previous_id"] == first["id"]
    assert follow_up["type"] == "meeting" and follow_up["subject"] == "Next meeting"
    assert follow_up["start_time"] == "09:30:00" and follow_up["priority"] == "high"
    assert follow_up["related"]["model"] == "sale.quot" and follow_up["related"]["id"] == "77"
    assert (follow_up["contact_id"], follow_up["contact_name"]) == ("c1", "ACME")
    assert follow_up["user_id"] == "alice" and follow_up["state"] == "new"
    assert follow_up["series_id"] is None and follow_up["next_activity"] is None


async def test_next_activity_in_business_days_skips_the_weekend(client, auth, clock):
    clock.set(datetime(2026, 1, 23, 15, 0, tzinfo=UTC))  # a Friday
    headers = auth("alice", tz="UTC")
    first = await create(
        client,
        headers,
        next_activity={"type": "call", "subject": "Call", "offset_days": 1, "business_days": True},
    )
    await done(client, headers, first["id"])
    [follow_up] = [a for a in await search(client, headers) if a["id"] != first["id"]]
    assert follow_up["date"] == "2026-01-26"


async def test_next_activity_across_dst_gets_its_reminder_in_the_new_offset(client, auth, clock):
    # Done Friday 2026-03-06 at 23:30 in New York (04:30Z on the 7th): the completion date is
    # the 6th there, + 3 days = Monday the 9th, after the switch to EDT (09:00 = 13:00Z).
    clock.set(datetime(2026, 3, 7, 4, 30, tzinfo=UTC))
    headers = auth("alice", tz="America/New_York")
    first = await create(
        client,
        headers,
        date="2026-03-06",
        next_activity={
            "type": "call",
            "subject": "Call back",
            "offset_days": 3,
            "start_time": "09:00:00",
            "send_reminder": True,
        },
    )
    await done(client, headers, first["id"])
    [follow_up] = [a for a in await search(client, headers) if a["id"] != first["id"]]
    assert follow_up["date"] == "2026-03-09"
    assert follow_up["notif_time"] == "2026-03-09T13:00:00Z"


async def test_next_activity_is_created_once_even_when_reopened_and_done_again(client, auth):
    headers = auth("alice")
    first = await create(
        client, headers, next_activity={"type": "call", "subject": "Call", "offset_days": 1}
    )
    await done(client, headers, first["id"])
    reopened = await client.patch(f"{API}/{first['id']}", json={"state": "new"}, headers=headers)
    assert reopened.status_code == 200
    await done(client, headers, first["id"])
    assert len(await search(client, headers)) == 2


# ---------------------------------------------------------------------------- recurrence


async def test_recurring_series_consumes_count_and_lists_by_series_id(client, auth):
    headers = auth("alice")
    first = await create(
        client, headers, date="2026-01-19", due_date="2026-01-20",
        recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=3",
    )  # fmt: skip
    assert first["series_id"] == first["id"] and first["recurrence"] == (
        "FREQ=WEEKLY;COUNT=3;BYDAY=MO"
    )
    ids = [first["id"]]
    for expected_date, expected_count in (("2026-01-26", 2), ("2026-02-02", 1)):
        await done(client, headers, ids[-1])
        items = await search(client, headers, series_id=first["id"], state="new")
        [occurrence] = items
        assert occurrence["date"] == expected_date
        # The due date keeps its distance to the date (one day).
        assert (
            occurrence["due_date"]
            == (date.fromisoformat(expected_date) + timedelta(days=1)).isoformat()
        )
        assert occurrence["recurrence"] == f"FREQ=WEEKLY;COUNT={expected_count};BYDAY=MO"
        assert occurrence["previous_id"] == ids[-1]
        assert occurrence["series_id"] == first["id"]
        ids.append(occurrence["id"])
    await done(client, headers, ids[-1])  # the third and last: nothing follows
    series = await search(client, headers, series_id=first["id"])
    assert [a["id"] for a in series] == ids
    assert all(a["state"] == "done" for a in series)


async def test_until_ends_the_series(client, auth):
    headers = auth("alice")
    first = await create(client, headers, date="2026-01-20", recurrence="FREQ=DAILY;UNTIL=20260121")
    await done(client, headers, first["id"])
    [second] = await search(client, headers, series_id=first["id"], state="new")
    assert second["date"] == "2026-01-21"
    await done(client, headers, second["id"])
    assert len(await search(client, headers, series_id=first["id"])) == 2


async def test_deleting_an_occurrence_keeps_the_series_past(client, auth):
    headers = auth("alice")
    first = await create(client, headers, date="2026-01-19", recurrence="FREQ=WEEKLY;BYDAY=MO")
    await done(client, headers, first["id"])
    [second] = await search(client, headers, series_id=first["id"], state="new")
    assert (await client.delete(f"{API}/{second['id']}", headers=headers)).status_code == 204
    [past] = await search(client, headers, series_id=first["id"])
    assert past["id"] == first["id"] and past["state"] == "done"


async def test_occurrence_reminder_follows_dst_in_assignees_zone(client, auth):
    # New York moves to EDT on 2026-03-08: 09:00 is 14:00Z before and 13:00Z after.
    headers = auth("alice", tz="America/New_York")
    first = await create(
        client, headers, date="2026-03-02", start_time="09:00:00", send_reminder=True,
        recurrence="FREQ=WEEKLY;COUNT=2",
    )  # fmt: skip
    assert first["notif_time"] == "2026-03-02T14:00:00Z"
    await done(client, headers, first["id"])
    [second] = await search(client, headers, series_id=first["id"], state="new")
    assert second["date"] == "2026-03-09" and second["start_time"] == "09:00:00"
    assert second["notif_time"] == "2026-03-09T13:00:00Z"
    detail = (await client.get(f"{API}/{second['id']}", headers=headers)).json()
    assert [n["send_at"] for n in detail["notifs"]] == ["2026-03-09T13:00:00Z"]


async def test_two_patches_racing_to_done_create_each_follow_up_once(client, auth):
    headers = auth("alice")
    first = await create(
        client,
        headers,
        date="2026-01-19",
        recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=5",
        next_activity={"type": "email", "subject": "Recap", "offset_days": 0},
    )
    responses = await asyncio.gather(
        *(
            client.patch(f"{API}/{first['id']}", json={"state": "done"}, headers=headers)
            for _ in range(2)
        )
    )
    assert [r.status_code for r in responses] == [200, 200]
    everything = await search(client, headers)
    assert len(everything) == 3
    created = [a for a in everything if a["previous_id"] == first["id"]]
    assert sorted(a["type"] for a in created) == ["call", "email"]


async def test_adding_a_recurrence_later_starts_a_series(client, auth):
    headers = auth("alice")
    first = await create(client, headers, date="2026-01-19")
    patched = await client.patch(
        f"{API}/{first['id']}", json={"recurrence": "FREQ=DAILY;COUNT=2"}, headers=headers
    )
    assert patched.status_code == 200 and patched.json()["series_id"] == first["id"]
    await done(client, headers, first["id"])
    assert len(await search(client, headers, series_id=first["id"])) == 2


@pytest.mark.parametrize(
    "rule",
    [
        "FREQ=SECONDLY;COUNT=5",
        "FREQ=MINUTELY",
        "FREQ=HOURLY",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;COUNT=x",
        "WEEKLY",
        "",
        "DTSTART:20200101T000000\nRRULE:FREQ=DAILY",
        "FREQ=DAILY;BYHOUR=9",
        "FREQ=DAILY;COUNT=5000",
        "FREQ=DAILY;COUNT=2;COUNT=3",
        "FREQ=DAILY;UNTIL=20260101",  # ends before the activity's date (2026-01-20)
    ],
)
async def test_invalid_or_unbounded_rules_are_422(client, auth, rule):
    response = await client.post(
        API,
        json={"type": "call", "subject": "x", "date": "2026-01-20", "recurrence": rule},
        headers=auth("alice"),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_patch_with_until_before_date_is_422(client, auth):
    headers = auth("alice")
    first = await create(client, headers, date="2026-01-20")
    response = await client.patch(
        f"{API}/{first['id']}", json={"recurrence": "FREQ=DAILY;UNTIL=20260110"}, headers=headers
    )
    assert response.status_code == 422


async def test_negative_next_activity_offset_is_422(client, auth):
    response = await client.post(
        API,
        json={
            "type": "call",
            "subject": "x",
            "next_activity": {"type": "call", "subject": "y", "offset_days": -1},
        },
        headers=auth("alice"),
    )
    assert response.status_code == 422


async def test_follow_up_past_the_calendars_end_is_skipped_not_a_500(client, auth, clock):
    clock.set(datetime(9999, 12, 30, 12, 0, tzinfo=UTC))
    headers = auth("alice")
    first = await create(
        client,
        headers,
        date="9999-12-31",
        recurrence="FREQ=DAILY",
        next_activity={"type": "call", "subject": "Never", "offset_days": 5},
    )
    assert (await done(client, headers, first["id"]))["state"] == "done"
    assert len(await search(client, headers)) == 1
