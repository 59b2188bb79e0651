"""Calendar feeds: secret subscription URLs that put a user's activities in their calendar.

Google Calendar, Outlook and Apple Calendar subscribe to a URL and poll it without any header,
so the URL's token is the credential: 256 random bits (`secrets`), shown once, stored only as
its SHA-256 (a database dump reveals no working URL). Revoking a feed takes effect on the next
poll.

A feed holds the activities matching its filters (any GET /activities filter) that are open, or
done within the last 30 days, as RFC 5545 VEVENTs built with the `icalendar` library:
- `UID` stable per activity, `SEQUENCE` = its version, so clients update an edited one in place;
- times in the owner's zone (the request's zone when the feed was made) as `TZID` with its
  `VTIMEZONE`; an activity without a start time is an all-day event (`VALUE=DATE`);
- a `VALARM` when a reminder is set (`notif_time`, relative to the start);
- `X-WR-CALNAME`/`NAME`, and `REFRESH-INTERVAL`/`X-PUBLISHED-TTL` as the polling hint.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone

from app.config import Settings
from app.errors import Conflict, NotFound
from app.schemas.calendar import (
    CalendarFeedCreate,
    CalendarFeedCreated,
    CalendarFeedFilters,
    CalendarFeedList,
    CalendarFeedRead,
)
from app.services import activities
from app.services import cursor as keyset
from app.services.auth import Principal
from app.services.clock import today_in, utc_ms, zone
from app.store import Store
from app.store import conditions as query_conditions

TOKEN_BYTES = 32  # 256 bits
MAX_FEEDS_PER_USER = 50
DONE_WINDOW = timedelta(days=30)
DEFAULT_DURATION = timedelta(minutes=30)
SORT = activities.SORTS["-date"]  # the newest dates first: what a capped feed keeps
PRODID = "-//Activity Service//Calendar feed//EN"
RENDERED_FEEDS_BYTES = 32 * 1024 * 1024


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _to_read(feed: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": feed["id"],
        "name": feed["name"],
        "filters": CalendarFeedFilters.model_validate(feed["filters"]),
        "tz": feed["tz"],
        "created_at": feed["created_at"],
    }


async def create_feed(
    store: Store,
    user: Principal,
    payload: CalendarFeedCreate,
    *,
    tz: str,
    url_base: str,
    now: datetime,
) -> CalendarFeedCreated:
    """Mint a feed; its URL (`url_base` + token + `.ics`) is in this answer and nowhere else."""
    if await store.calendar_feeds.count_of(user.tenant, user.sub) >= MAX_FEEDS_PER_USER:
        raise Conflict(f"At most {MAX_FEEDS_PER_USER} calendar feeds per user; revoke one first")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = {
        "id": f"feed_{uuid.uuid4().hex}",
        "tenant_id": user.tenant,
        "owner_id": user.sub,
        # `user_id=me` in the filters means the owner's identities when the feed is read
        "owner_identities": list(user.identities),
        "name": payload.name,
        "filters": payload.filters.saved(),
        "tz": tz,
        "created_at": utc_ms(now),
    }
    await store.calendar_feeds.insert(token_hash(token), feed)
    return CalendarFeedCreated(**_to_read(feed), url=f"{url_base}{token}.ics")


async def list_feeds(store: Store, user: Principal) -> CalendarFeedList:
    feeds = await store.calendar_feeds.list_of(user.tenant, user.sub, limit=MAX_FEEDS_PER_USER)
    return CalendarFeedList(items=[CalendarFeedRead(**_to_read(f)) for f in feeds])


async def revoke_feed(store: Store, user: Principal, feed_id: str, *, now: datetime) -> None:
    if not await store.calendar_feeds.revoke(user.tenant, user.sub, feed_id, now=utc_ms(now)):
        raise NotFound(f"Calendar feed {feed_id!r} not found")


async def feed_for_token(store: Store, token: str) -> dict[str, Any]:
    """The live feed a token opens; 404 for an unknown or revoked one."""
    feed = await store.calendar_feeds.by_token_hash(token_hash(token))
    if feed is None:
        raise NotFound("Calendar feed not found")
    return feed


def feed_owner(feed: Mapping[str, Any]) -> Principal:
    """The owner as the feed's queries see them (no token at hand: what the feed saved)."""
    return Principal(
        sub=feed["owner_id"],
        tenant=feed["tenant_id"],
        roles=frozenset(),
        tz=feed["tz"],
        identities=tuple(feed["owner_identities"]),
    )


async def feed_activities(
    store: Store,
    feed: Mapping[str, Any],
    filters: activities.ActivityFilters,
    *,
    now: datetime,
    page_size: int,
    max_events: int,
) -> list[dict[str, Any]]:
    """The feed's activities: matching its filters, open or done in the last 30 days, newest
    dates first, at most `max_events`; read in keyset pages."""
    today = today_in(zone(feed["tz"]), now).isoformat()
    recent = {
        "$or": [
            {"state": {"$ne": "done"}},
            {"completed_at": {"$gte": utc_ms(now - DONE_WINDOW)}},
        ]
    }
    conditions = [*activities.filter_conditions(filters, today), recent]
    found: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while len(found) < max_events:
        page_conditions = (
            [*conditions, query_conditions.after(SORT, after)] if after else conditions
        )
        limit = min(page_size, max_events - len(found))
        rows = await store.envelopes.find(
            feed["tenant_id"],
            activities.ENTITY,
            query_conditions.all_of(page_conditions),
            sort=SORT,
            limit=limit,
        )
        found.extend(rows)
        if len(rows) < limit:
            break
        after = keyset.sort_values(rows[-1], SORT)
    return found


class RenderedFeeds:
    """The last calendar rendered per feed, by its ETag, within `max_bytes` (least recently
    used first out). Calendar clients poll unchanged feeds; icalendar takes ~1 ms an event to
    build and serialise, so an unchanged feed is served from here (per process)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, feed_id: str, etag: str) -> bytes | None:
        entry = self._entries.get(feed_id)
        if entry is None or entry[0] != etag:
            return None
        self._entries.move_to_end(feed_id)
        return entry[1]

    def put(self, feed_id: str, etag: str, body: bytes) -> None:
        old = self._entries.pop(feed_id, None)
        if old is not None:
            self._bytes -= len(old[1])
        if len(body) > self.max_bytes:
            return
        self._entries[feed_id] = (etag, body)
        self._bytes += len(body)
        while self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= len(dropped)


RENDERED = RenderedFeeds(max_bytes=RENDERED_FEEDS_BYTES)


def feed_etag(feed: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], refresh: int) -> str:
    """Changes whenever the calendar would: the feed's own fields or any event's activity
    (every change bumps its version and updated_at) or the set of events."""
    digest = hashlib.sha256(f"{feed['id']}|{feed['name']}|{feed['tz']}|{refresh}".encode())
    for row in rows:
        digest.update(f"|{row['id']}:{row['version']}:{row['updated_at'].isoformat()}".encode())
    return f'"{digest.hexdigest()[:32]}"'


async def render_feed(
    store: Store,
    feed: Mapping[str, Any],
    filters: activities.ActivityFilters,
    *,
    now: datetime,
    settings: Settings,
) -> tuple[str, bytes]:
    """The feed as an iCalendar document, and its ETag."""
    rows = await feed_activities(
        store,
        feed,
        filters,
        now=now,
        page_size=settings.export_page_size,
        max_events=settings.calendar_max_events,
    )
    etag = feed_etag(feed, rows, settings.calendar_refresh_minutes)
    body = RENDERED.get(feed["id"], etag)
    if body is None:
        refresh = timedelta(minutes=settings.calendar_refresh_minutes)
        # Building and serialising thousands of components is CPU work: off the event loop.
        body = await asyncio.to_thread(
            build_calendar, feed["name"], feed["tenant_id"], zone(feed["tz"]), rows, refresh
        )
        RENDERED.put(feed["id"], etag, body)
    return etag, body


# ---------------------------------------------------------------------------- iCalendar


@lru_cache(maxsize=64)
def _vtimezone(tz: ZoneInfo, first_year: int, last_year: int) -> Timezone:
    # Generated from zoneinfo's transitions over the years the events span; costly, so cached.
    return Timezone.from_tzinfo(
        tz, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )


def activity_uid(tenant: str, activity_id: str) -> str:
    return f"{activity_id}.{tenant}@activity-service"


def _event(tenant: str, tz: ZoneInfo, data: Mapping[str, Any]) -> Event:
    event = Event()
    event.add("uid", activity_uid(tenant, data["id"]))
    event.add("sequence", int(data["version"]))
    event.add("dtstamp", data["updated_at"])
    event.add("last-modified", data["updated_at"])
    event.add("summary", data["subject"])
    if data.get("description"):
        event.add("description", data["description"])
    if data.get("location"):
        event.add("location", data["location"])
    event.add("categories", [data["type"]])
    day = date.fromisoformat(data["date"])
    start_time = data.get("start_time")
    if start_time:
        start = datetime.combine(day, time.fromisoformat(start_time), tzinfo=tz)
        end_time = data.get("end_time")
        end = (
            datetime.combine(day, time.fromisoformat(end_time), tzinfo=tz)
            if end_time and end_time > start_time
            else start + DEFAULT_DURATION
        )
        event.add("dtstart", start)
        event.add("dtend", end)
    else:
        start = datetime.combine(day, time(0), tzinfo=tz)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    if data.get("send_reminder") and data.get("notif_time"):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"Reminder: {data['subject']}")
        alarm.add("trigger", data["notif_time"] - start)
        event.add_component(alarm)
    return event


def build_calendar(
    name: str,
    tenant: str,
    tz: ZoneInfo,
    rows: Sequence[Mapping[str, Any]],
    refresh: timedelta,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", tz.key)
    calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", f"PT{int(refresh.total_seconds() // 60)}M")
    events = [_event(tenant, tz, row) for row in rows]
    timed_years = [int(row["date"][:4]) for row in rows if row.get("start_time")]
    if timed_years and tz.key != "UTC":
        first, last = max(min(timed_years) - 1, 1), min(max(timed_years) + 1, 9998)
        calendar.add_component(_vtimezone(tz, first, last))
    for event in events:
        calendar.add_component(event)
    return bytes(calendar.to_ical())
