"""The sync against an Odoo that keeps microseconds in write_date (PostgreSQL does) but shows
whole seconds: a mass write (one transaction, one timestamp for every record) pages through,
interrupted or not, without reading a record twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.services import records
from app.services.clock import FrozenClock
from app.services.sync import SyncRunner, lease_key
from app.store import Store
from tests.odoo_sim import OdooSim, running_sim
from tests.sync_support import TENANT, expected_rows, stored, sync_settings

PAGE = 25


@pytest.fixture
def sim() -> OdooSim:
    return OdooSim.generate(activities=120, messages=300, seed=5, version=19, subsecond=True)


@pytest.fixture
async def settings(sim: OdooSim, protocol: str) -> AsyncIterator[Settings]:
    async with running_sim(sim) as url:
        yield sync_settings(sim, url, protocol, odoo_page_size=PAGE)


@pytest.fixture
async def runner(store: Store, settings: Settings, clock: FrozenClock) -> AsyncIterator[Any]:
    async with httpx.AsyncClient() as http:
        sync_runner = SyncRunner(store, settings, clock, http)
        yield sync_runner
        await sync_runner.aclose()


async def sync(runner: SyncRunner, clock: FrozenClock) -> Any:
    clock.advance(timedelta(minutes=1))
    return await runner.run()


def mass_write(sim: OdooSim) -> tuple[int, int]:
    """One write() over every activity and every message, at a fractional second."""
    sim.advance(0.37)
    activity_ids = list(sim.table("mail.activity"))
    message_ids = list(sim.table("mail.message"))
    sim.edit_many("mail.activity", activity_ids, summary="Bulk reassignment")
    sim.edit_many("mail.message", message_ids, subject="Bulk")
    stamp = {row["write_date"] for row in sim.table("mail.activity").values()}
    assert len(stamp) == 1 and next(iter(stamp)).endswith(".370000")  # stored with microseconds
    return len(activity_ids), len(message_ids)


async def assert_all_rewritten(sim: OdooSim, settings: Settings, store: Store) -> None:
    activities = await stored(store, records.ACTIVITY)
    assert len(activities) == len(sim.table("mail.activity"))
    assert {doc["subject"] for doc in activities.values()} == {"Bulk reassignment"}
    messages = await stored(store, records.MESSAGE)
    assert len(messages) == len(expected_rows(sim, settings)["mail.message"])
    assert {doc["subject"] for doc in messages.values()} == {"Bulk"}


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_a_mass_write_pages_through_once(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    assert (await sync(runner, clock)).status == "succeeded"
    activities, _ = mass_write(sim)
    messages = len(expected_rows(sim, settings)["mail.message"])
    assert activities > PAGE and messages > PAGE

    run = await sync(runner, clock)

    assert run.status == "succeeded", run.errors
    # Every record of the one-second write read exactly once, over several pages.
    assert run.counts["mail.activity"].fetched == activities
    assert run.counts["mail.message"].fetched == messages
    await assert_all_rewritten(sim, settings, store)
    # The watermark stands after all of them: the next run reads nothing.
    again = await sync(runner, clock)
    assert again.counts["mail.activity"].fetched == 0
    assert again.counts["mail.message"].fetched == 0


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_a_run_interrupted_inside_the_second_resumes_where_it_stopped(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    assert (await sync(runner, clock)).status == "succeeded"
    activities, _ = mass_write(sim)
    # call 1 lists what changed, calls 2-3 read two pages, call 4 fails
    sim.fail_status(502, times=100, model="mail.activity", method="search_read", on_call=4)

    failed = await sync(runner, clock)

    assert failed.status == "failed"
    assert failed.counts["mail.activity"].upserted == 2 * PAGE  # two pages committed
    sim.clear_faults()
    resumed = await sync(runner, clock)
    assert resumed.status == "succeeded", resumed.errors
    # Only what the failed run had not committed is read again.
    assert resumed.counts["mail.activity"].fetched == activities - 2 * PAGE
    await assert_all_rewritten(sim, settings, store)


@pytest.mark.parametrize("protocol", ["json2"])
async def test_a_watermark_of_the_previous_release_is_taken_as_it_is(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    assert (await sync(runner, clock)).status == "succeeded"
    key = lease_key(TENANT)
    state = await store.leases.holder(key)
    assert state is not None
    # As the previous release saved it: (write_date, id) and the ids read in that second.
    legacy = [
        {"model": w["model"], "write_date": w["write_date"], "id": w["id"], "ids": [w["id"]]}
        for w in state["watermarks"]
    ]
    await store.leases.collection.update_one({"_id": key}, {"$set": {"watermarks": legacy}})
    sim.advance(60)
    edited = next(iter(sim.table("mail.activity")))
    sim.edit("mail.activity", edited, summary="After the upgrade")

    run = await sync(runner, clock)

    assert run.status == "succeeded" and not run.full, run.errors
    assert run.counts["mail.activity"].fetched == 1  # what changed, nothing else re-read
    assert (await stored(store, records.ACTIVITY))[f"odoo_activity_{edited}"]["subject"] == (
        "After the upgrade"
    )
