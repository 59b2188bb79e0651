"""Calendar feeds: secret URLs, revocation, and an RFC 5545 feed read by two parsers."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar
import ics
import pytest

from app.config import Settings
from tests.conftest import FROZEN_AT, make_settings
from tests.routers.test_timeline import batch

API = "/api/v1"
FEEDS = f"{API}/calendar/feeds"


@pytest.fixture
def settings() -> Settings:
    # The smallest cap and page size, so one test can reach both.
    return make_settings(calendar_max_events=100, export_page_size=40)


async def create_feed(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(FEEDS, json={"name": "My activities", **body}, headers=headers)
    assert response.status_code == 201, response.text
    feed: dict[str, Any] = response.json()
    return feed


def feed_path(feed: dict[str, Any]) -> str:
    url: str = feed["url"]
    return url[url.index("/api/v1/") :]


async def read_calendar(client: Any, feed: dict[str, Any]) -> bytes:
    response = await client.get(feed_path(feed))  # no Authorization header
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return bytes(response.content)


def events_by_subject(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(e["SUMMARY"]): e for e in calendar.walk("VEVENT")}


async def test_a_feed_url_is_a_secret_stored_only_as_its_hash(client, auth, store):
    feed = await create_feed(client, auth())
    assert set(feed) >= {"id", "name", "url", "created_at"}
    assert feed["url"].startswith("http://test/api/v1/calendar/")
    token = feed["url"].removeprefix("http://test/api/v1/calendar/").removesuffix(".ics")
    assert len(token) >= 43  # 256 random bits, base64url

    [stored] = await store.calendar_feeds.collection.find({}, limit=10)
    assert stored["_id"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored)

    listed = (await client.get(FEEDS, headers=auth())).json()["items"]
    assert [f["id"] for f in listed] == [feed["id"]]
    assert "url" not in listed[0] and token not in repr(listed)
    assert (await client.get(FEEDS, headers=auth("bob"))).json()["items"] == []


async def test_revoking_stops_the_url_at_once(client, auth):
    feed = await create_feed(client, auth())
    await read_calendar(client, feed)
    for headers in (auth("bob"), auth("alice", tenant="other")):
        response = await client.delete(f"{FEEDS}/{feed['id']}", headers=headers)
        assert response.status_code == 404
    assert (await client.delete(f"{FEEDS}/{feed['id']}", headers=auth())).status_code == 204
    response = await client.get(feed_path(feed))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.delete(f"{FEEDS}/{feed['id']}", headers=auth())).status_code == 404
    assert (await client.get(FEEDS, headers=auth())).json()["items"] == []
    assert (await client.get(f"{API}/calendar/not-a-token.ics")).status_code == 404


async def test_feed_filters_are_validated_like_the_search_query_string(client, auth):
    for filters in ({"sort": "date"}, {"limit": 5}, {"type": "fax"}, {"x": 1}, {"related": "x"}):
        response = await client.post(FEEDS, json={"name": "f", "filters": filters}, headers=auth())
        assert response.status_code == 422, filters
        assert response.json()["errors"][0]["loc"][:2] == ["body", "filters"]
    assert (await client.post(FEEDS, json={"name": " "}, headers=auth())).status_code == 422


async def test_the_feed_holds_open_and_recently_done_activities_as_events(client, auth, clock):
    headers = auth(odoo_uid=7)
    clock.set(FROZEN_AT - timedelta(days=45))
    await batch(client, headers, [{"type": "call", "subject": "Done long ago", "state": "done"}])
    clock.set(FROZEN_AT - timedelta(days=10))
    await batch(client, headers, [{"type": "call", "subject": "Done lately", "state": "done"}])
    clock.set(FROZEN_AT)
    await batch(
        client,
        headers,
        [
            {
                "type": "call",
                "subject": "Spring forward call, with; punctuation",
                "date": "2026-03-08",  # DST starts in New York at 02:00 that day
                "start_time": "09:30:00",
                "end_time": "10:15:00",
                "location": "Room 1",
                "description": "Agenda:\nprices",
                "send_reminder": True,
            },
            {
                "type": "call",
                "subject": "Fall back call",
                "date": "2026-11-01",
                "start_time": "09:00:00",
            },
            {"type": "call", "subject": "All-day call", "date": "2026-01-22"},
            {"type": "meeting", "subject": "Not a call", "date": "2026-01-22"},
            {"type": "call", "subject": "Bob's call", "user_id": "bob"},
            {"type": "call", "subject": "My Odoo call", "user_id": "odoo:7"},
        ],
    )
    await batch(client, auth("eve", tenant="other"), [{"type": "call", "subject": "Other tenant"}])
    feed = await create_feed(
        client,
        auth(odoo_uid=7),
        name="Calls",
        filters={"type": "call", "user_id": "me"},
    )
    # the owner's zone: the request's, kept with the feed (no token when a client polls)
    response = await client.post(
        f"{FEEDS}?tz=America/New_York",
        json={"name": "Calls (NY)", "filters": {"type": ["call"], "user_id": "me"}},
        headers=headers,
    )
    assert response.status_code == 201
    ny_feed = response.json()
    assert ny_feed["tz"] == "America/New_York" and feed["tz"] == "UTC"

    body = await read_calendar(client, ny_feed)
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["X-WR-CALNAME"]) == "Calls (NY)"
    assert str(calendar["X-WR-TIMEZONE"]) == "America/New_York"
    assert calendar["REFRESH-INTERVAL"].to_ical() == b"PT30M"
    assert str(calendar["X-PUBLISHED-TTL"]) == "PT30M"
    [vtimezone] = calendar.walk("VTIMEZONE")
    assert str(vtimezone["TZID"]) == "America/New_York"
    events = events_by_subject(body)
    assert set(events) == {
        "Done lately",
        "Spring forward call, with; punctuation",
        "Fall back call",
        "All-day call",
        "My Odoo call",
    }
    spring = events["Spring forward call, with; punctuation"]
    start, end = spring.decoded("DTSTART"), spring.decoded("DTEND")
    assert spring["DTSTART"].params["TZID"] == "America/New_York"
    assert (start.replace(tzinfo=None), end.replace(tzinfo=None)) == (
        datetime(2026, 3, 8, 9, 30),
        datetime(2026, 3, 8, 10, 15),
    )
    assert start.astimezone(UTC) == datetime(2026, 3, 8, 13, 30, tzinfo=UTC)  # EDT, -04:00
    fall = events["Fall back call"].decoded("DTSTART")
    assert fall.astimezone(UTC) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)  # EST, -05:00
    assert str(spring["LOCATION"]) == "Room 1"
    assert str(spring["DESCRIPTION"]) == "Agenda:\nprices"
    # the reminder: 09:30 in the assignee's zone (UTC here: the token has no tz), as an alarm
    [alarm] = spring.walk("VALARM")
    assert alarm.decoded("TRIGGER") == datetime(2026, 3, 8, 9, 30, tzinfo=UTC) - start
    all_day = events["All-day call"]
    assert all_day["DTSTART"].params["VALUE"] == "DATE"
    assert all_day.decoded("DTSTART") == date(2026, 1, 22)
    assert all_day.decoded("DTEND") == date(2026, 1, 23)
    assert not all_day.walk("VALARM")

    # a second, independent parser reads the same events at the same instants
    parsed = {e.name: e for e in ics.Calendar(body.decode()).events}
    assert set(parsed) == set(events)
    assert parsed["Spring forward call, with; punctuation"].begin.datetime == start
    assert parsed["Spring forward call, with; punctuation"].begin.datetime.utcoffset() == timedelta(
        hours=-4
    )
    assert parsed["Fall back call"].begin.datetime.utcoffset() == timedelta(hours=-5)
    assert parsed["All-day call"].all_day
    assert {e.uid for e in parsed.values()} == {str(e["UID"]) for e in events.values()}


async def test_an_edited_activity_keeps_its_uid_and_raises_its_sequence(client, auth):
    [activity_id] = await batch(
        client,
        auth(),
        [{"type": "call", "subject": "Call", "date": "2026-01-21", "start_time": "08:00:00"}],
    )
    feed = await create_feed(client, auth())
    first = await client.get(feed_path(feed))
    before = events_by_subject(first.content)["Call"]
    # an unchanged feed answers 304 to its ETag (served from the rendered-feed cache otherwise)
    etag = first.headers["etag"]
    again = await client.get(feed_path(feed), headers={"If-None-Match": etag})
    assert (again.status_code, again.headers["etag"], again.content) == (304, etag, b"")
    response = await client.patch(
        f"{API}/activities/{activity_id}", json={"start_time": "11:00:00"}, headers=auth()
    )
    assert response.status_code == 200
    after = events_by_subject(await read_calendar(client, feed))["Call"]
    assert after["UID"] == before["UID"]
    assert (before["SEQUENCE"], after["SEQUENCE"]) == (1, 2)
    assert after.decoded("DTSTART").time() == time(11, 0)
    changed = await client.get(feed_path(feed), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    # deleting the activity removes it from the feed
    await client.delete(f"{API}/activities/{activity_id}", headers=auth())
    assert events_by_subject(await read_calendar(client, feed)) == {}


async def test_the_access_log_never_shows_a_feed_token(client, auth, caplog):
    feed = await create_feed(client, auth())
    token = feed_path(feed).removeprefix("/api/v1/calendar/").removesuffix(".ics")
    with caplog.at_level(logging.INFO, logger="app.http"):
        caplog.clear()  # only the two feed reads: the feed's creation logged too
        await read_calendar(client, feed)
        await client.get(f"{API}/calendar/{token}x.ics")
    paths = [getattr(r, "path", "") for r in caplog.records if r.name == "app.http"]
    assert len(paths) == 2
    assert all(p.endswith("/calendar/{feed_token}.ics") for p in paths), paths
    # the service's own records (the test client's httpx logs its request URL, token included)
    assert all(token not in r.getMessage() for r in caplog.records if r.name.startswith("app"))


async def test_a_feed_keeps_the_newest_dates_up_to_its_cap(client, auth):
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(105)]
    await batch(
        client,
        auth(),
        [{"type": "task", "subject": f"Task {d}", "date": d.isoformat()} for d in days],
    )
    feed = await create_feed(client, auth())
    events = events_by_subject(await read_calendar(client, feed))
    # read in pages of 40, capped at 100: the 5 oldest dates are left out
    assert set(events) == {f"Task {d}" for d in days[5:]}
