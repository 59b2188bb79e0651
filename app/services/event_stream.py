"""Streaming the change log: one reader per process, fanned out to every stream client.

The reader (`EventReader`, started and stopped by the app's lifespan) keeps a position per tenant
that has stream clients. It polls the log every EVENTS_POLL_SECONDS (and at once when this process
appended events), ONE query per tenant with clients, and puts each new event in the bounded queue
of every client whose filters match. Clients never query the store for live events; only their
own catch-up after a `Last-Event-ID` reads it (the ids between theirs and the reader's position at
the moment they joined), which also lets them resume an event the reader passed long ago.

Ids are reserved before their events are inserted (`store/events.py`), so an id can show up
after a higher one. The reader only moves over an id it has seen, or over a gap that stayed
open GAP_GRACE_SECONDS (its writer died between reserving and inserting: the id will never
exist). Events behind a gap wait for it, so every client receives ids in increasing order and a
resume by the last id received loses nothing.

A client whose queue is full (it reads slower than events arrive) is dropped: its stream ends
and it reconnects with its last id, catching up from the store. Queued events are shared objects
(the JSON text rendered once by the writer), so a client costs at most EVENTS_CLIENT_QUEUE
references.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from pydantic_core import to_json

from app.config import Settings
from app.schemas.events import EVENT_TYPES, EventQuery
from app.services.auth import Principal
from app.store import Store

logger = logging.getLogger("app.events")

POLL_BATCH = 500
CATCH_UP_PAGE = 500
# A reserved id not inserted after this long is taken as lost (its writer died).
GAP_GRACE_SECONDS = 2.0
# How far below the newest event a new tenant position looks for ids still being written.
INITIAL_LOOKBACK = 1000
# Polls triggered by local appends are at least this far apart (bursts coalesce).
MIN_POLL_GAP_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    seq: int
    type: str
    related: tuple[str, str] | None
    user_ids: frozenset[str]
    item: StreamItem

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> LoggedEvent:
        related = (doc["related_model"], doc["related_id"]) if doc.get("related_model") else None
        return cls(
            doc["seq"],
            doc["type"],
            related,
            frozenset(doc.get("user_ids") or ()),
            StreamItem.of(doc["seq"], doc["payload"]),
        )


@dataclass(frozen=True)
class StreamFilter:
    """What one client asked for; `None` means any."""

    types: frozenset[str] | None = None
    related: tuple[str, str] | None = None
    user_ids: frozenset[str] | None = None

    @classmethod
    def of(cls, query: EventQuery, user: Principal) -> StreamFilter:
        types = None
        if query.kind:
            types = frozenset(
                t for t in EVENT_TYPES if any(t == k or t.split(".")[0] == k for k in query.kind)
            )
        related = None
        if query.related:
            model, _, record_id = query.related.partition(",")
            related = (model, record_id)
        user_ids = frozenset(user.user_ids(query.user_id)) if query.user_id else None
        return cls(types, related, user_ids)

    def matches(self, event: LoggedEvent) -> bool:
        return (
            (self.types is None or event.type in self.types)
            and (self.related is None or event.related == self.related)
            and (self.user_ids is None or not self.user_ids.isdisjoint(event.user_ids))
        )

    def where(self) -> dict[str, Any]:
        """The same filter as a store condition (for a client's catch-up)."""
        where: dict[str, Any] = {}
        if self.types is not None:
            where["type"] = {"$in": sorted(self.types)}
        if self.related is not None:
            where["related_model"], where["related_id"] = self.related
        if self.user_ids is not None:
            where["user_ids"] = {"$in": sorted(self.user_ids)}
        return where


@dataclass(eq=False)
class Subscriber:
    tenant: str
    filter: StreamFilter
    queue: asyncio.Queue[LoggedEvent | None]
    # The reader's position when this client joined: later events come through the queue.
    joined_at: int = 0
    dropped: bool = False


@dataclass
class _TenantFeed:
    position: int
    subscribers: set[Subscriber] = field(default_factory=set)
    gap_seen_at: float | None = None


class EventReader:
    """The process's one reader of the change log; owned by the app's lifespan."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.poll_seconds = settings.events_poll_seconds
        self.queue_size = settings.events_client_queue
        self._feeds: dict[str, _TenantFeed] = {}
        self._joining = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.polls = 0
        self.dropped = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.store.events.subscribe(self._appended)
        self._task = asyncio.create_task(self._run(), name="events-reader")

    async def stop(self) -> None:
        self.store.events.unsubscribe(self._appended)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for feed in self._feeds.values():
            for subscriber in list(feed.subscribers):
                self._close(subscriber)
        self._feeds.clear()

    def _appended(self, tenant: str) -> None:
        if tenant in self._feeds:
            self._wake.set()

    @property
    def subscribers(self) -> int:
        return sum(len(feed.subscribers) for feed in self._feeds.values())

    # -- clients ----------------------------------------------------------------------------

    async def subscribe(self, tenant: str, stream_filter: StreamFilter) -> Subscriber:
        subscriber = Subscriber(tenant, stream_filter, asyncio.Queue(maxsize=self.queue_size))
        async with self._joining:
            feed = self._feeds.get(tenant)
            if feed is None:
                feed = _TenantFeed(position=await self._starting_position(tenant))
                self._feeds[tenant] = feed
            # No await between reading the position and joining: the reader cannot hand out
            # events in between, so the client gets everything after `joined_at` in its queue.
            subscriber.joined_at = feed.position
            feed.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        feed = self._feeds.get(subscriber.tenant)
        if feed is None:
            return
        feed.subscribers.discard(subscriber)
        if not feed.subscribers:
            del self._feeds[subscriber.tenant]

    async def _starting_position(self, tenant: str) -> int:
        """The newest visible id, or, when an id just below it is still missing (its writer
        reserved it but has not inserted it yet), the id below that hole: the gap rules then
        apply to it. Holes between events written further apart than GAP_GRACE_SECONDS are
        old and final."""
        newest = await self.store.events.latest(tenant, limit=INITIAL_LOOKBACK)
        if not newest:
            return 0
        recent_since = newest[0]["occurred_at"] - timedelta(seconds=GAP_GRACE_SECONDS)
        position = newest[0]["seq"]
        for above, below in itertools.pairwise(newest):
            if above["occurred_at"] < recent_since:
                break
            if below["seq"] != above["seq"] - 1:
                position = below["seq"]
        return int(position)

    # -- the reader -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_seconds):
                    await self._wake.wait()
            self._wake.clear()
            for tenant, feed in list(self._feeds.items()):
                try:
                    await self._poll(tenant, feed)
                except Exception:
                    logger.exception("change log poll failed", extra={"tenant": tenant})
            await asyncio.sleep(MIN_POLL_GAP_SECONDS)

    async def _poll(self, tenant: str, feed: _TenantFeed) -> None:
        while True:
            self.polls += 1
            docs = await self.store.events.after(tenant, feed.position, limit=POLL_BATCH)
            ready = self._contiguous(feed, docs)
            if ready:
                # From here to the end of the fan-out nothing awaits (see `subscribe`).
                feed.position = ready[-1].seq
                self._fan_out(feed, ready)
            if len(docs) < POLL_BATCH or not ready:
                return

    def _contiguous(
        self, feed: _TenantFeed, docs: Sequence[Mapping[str, Any]]
    ) -> list[LoggedEvent]:
        ready: list[LoggedEvent] = []
        expected = feed.position + 1
        for doc in docs:
            if doc["seq"] != expected:
                now = time.monotonic()
                if feed.gap_seen_at is None:
                    feed.gap_seen_at = now
                if now - feed.gap_seen_at < GAP_GRACE_SECONDS:
                    return ready
                logger.warning(
                    "change log ids never written; skipped",
                    extra={"from_id": expected, "to_id": doc["seq"] - 1},
                )
            feed.gap_seen_at = None
            ready.append(LoggedEvent.from_doc(doc))
            expected = doc["seq"] + 1
        return ready

    def _fan_out(self, feed: _TenantFeed, events: Iterable[LoggedEvent]) -> None:
        subscribers = list(feed.subscribers)
        for event in events:
            for subscriber in subscribers:
                if subscriber.dropped or not subscriber.filter.matches(event):
                    continue
                try:
                    subscriber.queue.put_nowait(event)
                except asyncio.QueueFull:
                    self.dropped += 1
                    self._close(subscriber)
                    feed.subscribers.discard(subscriber)

    @staticmethod
    def _close(subscriber: Subscriber) -> None:
        """End a client's stream: empty its queue (it resumes from the store) and wake it."""
        subscriber.dropped = True
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)


# ---------------------------------------------------------------------------- one client


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One thing to send: an event (`event` None) or the `reset` notice, with its SSE frame
    (rendered once, shared by every client that receives it)."""

    id: int
    data: str
    event: str | None = None
    frame: bytes = b""

    @classmethod
    def of(cls, event_id: int, data: str, event: str | None = None) -> StreamItem:
        # `data` is one line of compact JSON: one `data:` field.
        head = f"event: {event}\r\n" if event else ""
        frame = f"{head}id: {event_id}\r\ndata: {data}\r\n\r\n".encode()
        return cls(event_id, data, event, frame)


async def needs_reset(store: Store, tenant: str, last_id: int) -> bool:
    """Whether events after `last_id` may be gone (older than the retention) or the id is not
    one this tenant issued: then the client must reload instead of resuming."""
    if last_id > await store.events.head(tenant):
        return True
    if await store.events.latest(tenant, at_most=last_id):
        return False  # an event at or before it is kept, so everything after it is too
    following = await store.events.after(tenant, last_id, limit=1)
    if not following:
        return last_id < await store.events.head(tenant)
    return bool(following[0]["seq"] > last_id + 1)


async def stream(
    reader: EventReader,
    user: Principal,
    query: EventQuery,
    *,
    last_event_id: int | None,
) -> AsyncIterator[list[StreamItem]]:
    """The caller's events in id order, in batches (whatever is ready is sent at once): the
    catch-up after `last_event_id`, then live ones."""
    store, tenant = reader.store, user.tenant
    stream_filter = StreamFilter.of(query, user)
    subscriber = await reader.subscribe(tenant, stream_filter)
    try:
        last = subscriber.joined_at
        if last_event_id is not None:
            if await needs_reset(store, tenant, last_event_id):
                reason = {"reason": "Last-Event-ID is older than the retention or unknown"}
                yield [StreamItem.of(last, to_json(reason).decode(), event="reset")]
            else:
                async for page in _catch_up(store, tenant, stream_filter, last_event_id, last):
                    yield page
                # This process's reader may lag behind the one that served the client before
                # (another replica): what it still has to hand out up to that id was sent.
                last = max(last, last_event_id)
        queue = subscriber.queue
        while True:
            ready = [await queue.get()]
            while not queue.empty() and ready[-1] is not None:
                ready.append(queue.get_nowait())
            batch: list[StreamItem] = []
            for event in ready:
                if event is None:
                    if batch:
                        yield batch
                    return
                if event.seq > last:
                    last = event.seq
                    batch.append(event.item)
            if batch:
                yield batch
    finally:
        reader.unsubscribe(subscriber)


async def _catch_up(
    store: Store, tenant: str, stream_filter: StreamFilter, after: int, through: int
) -> AsyncIterator[list[StreamItem]]:
    where = stream_filter.where()
    while after < through:
        docs = await store.events.after(
            tenant, after, through=through, where=where, limit=CATCH_UP_PAGE
        )
        if docs:
            yield [StreamItem.of(doc["seq"], doc["payload"]) for doc in docs]
        if len(docs) < CATCH_UP_PAGE:
            return
        after = docs[-1]["seq"]
