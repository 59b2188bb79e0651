"""The change log and its reader, without HTTP: what each writer appends, the first sync's one
event, the reader's fan-out (one query per poll whatever the number of clients), ids that show
up out of order, slow clients, resets."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.schemas.activity import ActivityCreate, ActivityUpdate
from app.schemas.events import EventQuery
from app.services import activities, event_stream, reminders, retention
from app.services.auth import Principal
from app.services.clock import FrozenClock
from app.services.event_stream import EventReader, StreamFilter
from app.services.sync import SyncRunner
from app.store import Store, open_store
from tests.conftest import make_settings
from tests.odoo_sim import OdooSim, running_sim
from tests.sync_support import TENANT, expected_rows, sync_settings

ALICE = Principal(
    sub="alice", tenant=TENANT, roles=frozenset({"user"}), identities=("alice", "odoo:7")
)


async def logged(store: Store, tenant: str = TENANT) -> list[dict[str, Any]]:
    docs = await store.events.after(tenant, 0, limit=10_000)
    return [json.loads(d["payload"]) for d in docs]


async def create(store: Store, settings: Settings, clock: FrozenClock, **fields: Any) -> dict:
    payload = ActivityCreate.model_validate({"type": "call", "subject": "Call", **fields})
    (doc,) = await activities.create_activities(
        store, ALICE, [payload], settings=settings, now=clock.now()
    )
    return doc


# ---------------------------------------------------------------------------- writers


async def test_api_changes_append_one_event_each_in_order(store, settings, clock):
    first = await create(store, settings, clock, related_id="crm.lead,9")
    batch = await activities.create_activities(
        store,
        ALICE,
        [ActivityCreate.model_validate({"type": "task", "subject": f"T{n}"}) for n in range(3)],
        settings=settings,
        now=clock.now(),
    )
    await activities.update_activity(
        store,
        ALICE,
        first["id"],
        ActivityUpdate.model_validate({"state": "done"}),
        if_match=None,
        settings=settings,
        now=clock.now(),
    )
    await activities.delete_activity(store, ALICE, first["id"], now=clock.now())

    events = await logged(store)
    assert [e["id"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e["type"] for e in events] == ["activity.created"] * 4 + [
        "activity.updated",
        "activity.deleted",
    ]
    assert [e["data"]["id"] for e in events[1:4]] == [d["id"] for d in batch]
    assert events[0]["related"] == {"model": "crm.lead", "id": "9", "name": None}
    assert events[0]["data"]["subject"] == "Call" and events[0]["data"]["urgency"] == "no_due_date"
    assert events[4]["data"]["state"] == "done" and events[4]["data"]["version"] == 2
    assert events[5]["data"] == {"id": first["id"]}
    assert events[5]["related"]["id"] == "9"  # a deletion can still be filtered by record
    assert events[0]["occurred_at"] == "2026-01-20T10:00:00Z"
    assert await logged(store, "other") == []


async def test_a_due_reminder_appends_notification_due_once(store, settings, clock):
    activity = await create(
        store,
        settings,
        clock,
        related_id="crm.lead,9",
        send_reminder=True,
        notif_time="2026-01-20T11:00:00Z",
    )
    clock.advance(timedelta(hours=2))
    for _ in range(2):
        await reminders.deliver_due(store, None, owner="w1", clock=clock, settings=settings)

    due = [e for e in await logged(store) if e["type"] == "notification.due"]
    assert len(due) == 1
    assert due[0]["data"]["activity_id"] == activity["id"]
    assert due[0]["data"]["user_id"] == "alice"
    assert due[0]["related"]["id"] == "9"


# ---------------------------------------------------------------------------- the sync


@pytest.fixture
def sim() -> OdooSim:
    return OdooSim.generate(activities=30, messages=60, seed=11, version=19)


@pytest.fixture
async def sync_runner(sim: OdooSim, clock: FrozenClock) -> AsyncIterator[SyncRunner]:
    async with running_sim(sim) as url, httpx.AsyncClient() as http:
        settings = sync_settings(sim, url, odoo_page_size=20)
        store = open_store(settings)
        await store.ensure_indexes()
        runner = SyncRunner(store, settings, clock, http)
        yield runner
        await runner.aclose()
        await store.close()


async def test_first_sync_emits_only_sync_finished_then_changes_one_each(
    sim: OdooSim, sync_runner: SyncRunner, clock: FrozenClock
) -> None:
    store = sync_runner.store
    clock.advance(timedelta(minutes=1))
    first = await sync_runner.run()
    assert first.status == "succeeded"
    events = await logged(store)
    assert [e["type"] for e in events] == ["sync.finished"]
    assert events[0]["data"]["run_id"] == first.run_id and events[0]["data"]["full"] is True

    # Nothing changed in Odoo: a full re-read writes every page again but emits no change.
    clock.advance(timedelta(minutes=1))
    await sync_runner.run(full=True)
    assert [e["type"] for e in await logged(store)] == ["sync.finished"] * 2

    activity_ids = list(sim.table("mail.activity"))
    # A lead's message (partners' chatter is synced too since the sync's chatter defaults).
    message_id = next(
        i
        for i in expected_rows(sim, sync_runner.settings)["mail.message"]
        if sim.table("mail.message")[i]["model"] == "crm.lead"
    )
    sim.advance(60)
    sim.edit("mail.activity", activity_ids[0], summary="Renegotiate")
    sim.unlink("mail.activity", activity_ids[1])
    sim.edit("mail.message", message_id, body="<p>Edited</p>")
    clock.advance(timedelta(minutes=1))
    await sync_runner.run(full=True)

    new = (await logged(store))[2:]
    by_type = {e["type"]: e for e in new}
    assert sorted(e["type"] for e in new) == [
        "activity.deleted",
        "activity.updated",
        "message.updated",
        "sync.finished",
    ]
    assert new[-1]["type"] == "sync.finished"
    assert by_type["activity.updated"]["data"]["subject"] == "Renegotiate"
    assert by_type["activity.deleted"]["data"] == {"id": f"odoo_activity_{activity_ids[1]}"}
    assert by_type["message.updated"]["data"]["body_text"] == "Edited"
    assert by_type["message.updated"]["related"]["model"] == "crm.lead"

    template = sim.table("mail.activity")[activity_ids[2]]
    created = sim.create(
        "mail.activity",
        {
            **{k: v for k, v in template.items() if k not in ("id", "create_date", "write_date")},
            "summary": "Brand new",
        },
    )
    clock.advance(timedelta(minutes=1))
    await sync_runner.run()
    latest = (await logged(store))[len(new) + 2 :]
    assert [e["type"] for e in latest] == ["activity.created", "sync.finished"]
    assert latest[0]["data"]["id"] == f"odoo_activity_{created}"


# ---------------------------------------------------------------------------- the reader


def query(**params: Any) -> EventQuery:
    return EventQuery.model_validate(params)


@pytest.fixture
async def reader(store: Store) -> AsyncIterator[EventReader]:
    event_reader = EventReader(
        store, make_settings(events_poll_seconds=0.02, events_client_queue=5)
    )
    event_reader.start()
    yield event_reader
    await event_reader.stop()


async def next_ids(subscriber: event_stream.Subscriber, count: int) -> list[int]:
    ids = []
    async with asyncio.timeout(5):
        while len(ids) < count:
            item = await subscriber.queue.get()
            assert item is not None
            ids.append(item.seq)
    return ids


async def test_one_query_per_poll_whatever_the_number_of_clients(
    store, settings, clock, reader, monkeypatch
):
    reads: list[str] = []
    real_after = store.events.after

    async def counted_after(tenant: str, seq: int, **kwargs: Any) -> list[dict[str, Any]]:
        reads.append(tenant)
        return await real_after(tenant, seq, **kwargs)

    monkeypatch.setattr(store.events, "after", counted_after)
    subscribers = [await reader.subscribe(TENANT, StreamFilter()) for _ in range(50)]
    polls = reader.polls
    for expected in range(1, 4):
        await create(store, settings, clock)
        for subscriber in subscribers:
            assert await next_ids(subscriber, 1) == [expected]
    await asyncio.sleep(0.1)
    # Every read of the log was one of the reader's polls: one per poll, not one per client.
    assert len(reads) == reader.polls - polls > 0
    assert set(reads) == {TENANT}


async def test_filters_decide_what_each_client_receives(store, settings, clock, reader):
    mine = await reader.subscribe(TENANT, StreamFilter.of(query(user_id="me"), ALICE))
    on_lead = await reader.subscribe(TENANT, StreamFilter.of(query(related="crm.lead,9"), ALICE))
    deletions = await reader.subscribe(
        TENANT, StreamFilter.of(query(kind=["activity.deleted"]), ALICE)
    )
    other_tenant = await reader.subscribe("other", StreamFilter())
    bob = Principal(sub="bob", tenant=TENANT, roles=frozenset({"user"}), identities=("bob",))

    a = await create(store, settings, clock, related_id="crm.lead,9")  # 1: alice's, on the lead
    payload = ActivityCreate.model_validate({"type": "call", "subject": "Bob's"})
    (b,) = await activities.create_activities(
        store, bob, [payload], settings=settings, now=clock.now()
    )
    await activities.delete_activity(store, ALICE, a["id"], now=clock.now())  # 3

    assert await next_ids(mine, 2) == [1, 3]
    assert await next_ids(on_lead, 2) == [1, 3]
    assert await next_ids(deletions, 1) == [3]
    await asyncio.sleep(0.1)
    assert mine.queue.empty() and other_tenant.queue.empty()


async def test_a_client_that_falls_behind_is_dropped_with_bounded_memory(
    store, settings, clock, reader
):
    slow = await reader.subscribe(TENANT, StreamFilter())
    fast = await reader.subscribe(TENANT, StreamFilter())
    received: list[int] = []
    for _ in range(8):
        await create(store, settings, clock)
        received += await next_ids(fast, 1)
    assert received == list(range(1, 9))
    assert slow.dropped and slow.queue.qsize() == 1  # only the end-of-stream marker
    assert await slow.queue.get() is None
    assert reader.subscribers == 1


async def test_ids_visible_out_of_order_are_delivered_in_order(store, reader, monkeypatch):
    subscriber = await reader.subscribe(TENANT, StreamFilter())
    log = store.events

    def doc(seq: int) -> dict[str, Any]:
        return {
            "seq": seq,
            "type": "activity.created",
            "related_model": None,
            "related_id": None,
            "user_ids": [],
            "occurred_at": None,
            "expires_at": None,
            "payload": json.dumps({"id": seq}),
        }

    slow_writer = await log.reserve(TENANT, 2)  # 1-2, inserted late
    fast_writer = await log.reserve(TENANT, 1)  # 3
    await log.insert(TENANT, [doc(fast_writer)])
    await asyncio.sleep(0.2)
    assert subscriber.queue.empty()  # 3 waits for 1-2
    await log.insert(TENANT, [doc(slow_writer), doc(slow_writer + 1)])
    assert await next_ids(subscriber, 3) == [1, 2, 3]

    # An id whose writer died is skipped after the grace period.
    monkeypatch.setattr(event_stream, "GAP_GRACE_SECONDS", 0.2)
    await log.reserve(TENANT, 1)  # 4: never written
    await log.insert(TENANT, [doc(await log.reserve(TENANT, 1))])
    assert await next_ids(subscriber, 1) == [5]


# ---------------------------------------------------------------------------- resuming


async def test_resume_reads_the_gap_from_the_store_then_goes_live(store, settings, clock, reader):
    for _ in range(3):
        await create(store, settings, clock)
    items = []
    async with asyncio.timeout(5):
        async for batch in event_stream.stream(reader, ALICE, query(), last_event_id=1):
            items.extend(batch)
            if len(items) == 2:
                await create(store, settings, clock)
            if len(items) == 3:
                break
    assert [(i.id, i.event) for i in items] == [(2, None), (3, None), (4, None)]


async def test_a_reader_behind_the_clients_id_does_not_send_it_again(store, settings, clock):
    """The client read up to 3 through another replica; this one's reader has not seen 1-3."""
    lagging = EventReader(store, make_settings(events_poll_seconds=60))
    lagging.start()
    try:
        await lagging.subscribe(TENANT, StreamFilter())  # its position: 0
        store.events.unsubscribe(lagging._appended)  # as if the writes happened elsewhere
        for _ in range(3):
            await create(store, settings, clock)

        async def first_item() -> event_stream.StreamItem:
            stream = event_stream.stream(lagging, ALICE, query(), last_event_id=3)
            async with contextlib.aclosing(stream):
                return (await anext(stream))[0]

        reading = asyncio.create_task(first_item())
        await asyncio.sleep(0.1)
        await create(store, settings, clock)
        lagging._wake.set()  # its next poll reads 1-4
        item = await asyncio.wait_for(reading, 5)
    finally:
        await lagging.stop()
    assert item.id == 4


async def test_an_id_older_than_the_retention_starts_with_reset(store, settings, clock, reader):
    for _ in range(3):
        await create(store, settings, clock)
    assert not await event_stream.needs_reset(store, TENANT, 0)
    assert not await event_stream.needs_reset(store, TENANT, 2)
    clock.advance(timedelta(hours=settings.events_retention_hours, seconds=1))
    await retention.purge(store, settings, now=clock.now())
    await create(store, settings, clock)  # 4 is kept
    assert await event_stream.needs_reset(store, TENANT, 1)  # 2 and 3 are gone
    assert not await event_stream.needs_reset(store, TENANT, 3)  # 4 follows at once
    assert await event_stream.needs_reset(store, TENANT, 99)  # never issued

    items = []
    async with asyncio.timeout(5):
        async for batch in event_stream.stream(reader, ALICE, query(), last_event_id=1):
            items.extend(batch)
            if len(items) == 1:
                await create(store, settings, clock)
            if len(items) == 2:
                break
    assert items[0].event == "reset" and items[0].id == 4
    assert (items[1].id, items[1].event) == (5, None)
