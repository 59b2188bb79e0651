"""What every run guarantees (API.md, "Odoo sync (ops)"), on both protocols, against a simulator
that behaves and costs like Odoo: done history, names that follow their records, late commits,
the chatter's defaults, and server work linear in what a run reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.schemas.sync import SyncRun
from app.services import activity_read, records
from app.services.clock import FrozenClock
from app.services.sync import SyncRunner
from app.store import Store
from tests.odoo_sim import OdooSim, running_sim
from tests.sync_support import (
    ENTITY_OF,
    MODELS,
    expected_rows,
    stored,
    stored_ids,
    sync_settings,
)

PAGE = 25
CALL, EMAIL = 2, 1  # Odoo 17+ keeps done calls archived (keep_done) and deletes done emails


@pytest.fixture
def sim() -> OdooSim:
    return OdooSim.generate(activities=120, messages=300, seed=5, version=19)


@pytest.fixture
async def settings(sim: OdooSim, protocol: str) -> AsyncIterator[Settings]:
    async with running_sim(sim) as url:
        yield sync_settings(sim, url, protocol, odoo_page_size=PAGE)


@pytest.fixture
async def runner(store: Store, settings: Settings, clock: FrozenClock) -> AsyncIterator[SyncRunner]:
    async with httpx.AsyncClient() as http:
        sync_runner = SyncRunner(store, settings, clock, http)
        yield sync_runner
        await sync_runner.aclose()


async def sync(runner: SyncRunner, clock: FrozenClock, **options: Any) -> SyncRun:
    clock.advance(timedelta(minutes=1))
    run = await runner.run(**options)
    assert run.status == "succeeded", run.errors
    return run


async def assert_store_matches(sim: OdooSim, settings: Settings, store: Store) -> None:
    for model, rows in expected_rows(sim, settings).items():
        assert await stored_ids(store, ENTITY_OF[model]) == set(rows), model


def open_activity(sim: OdooSim, type_id: int, *, skip: set[int] = frozenset()) -> int:  # type: ignore[assignment]
    return next(
        aid
        for aid, row in sim.table("mail.activity").items()
        if row.get("active", True) and row["activity_type_id"][0] == type_id and aid not in skip
    )


both = pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])


# ---------------------------------------------------------------------------- done history


@both
async def test_done_activities_keep_their_history_and_deleted_ones_disappear(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    kept, deleted = open_activity(sim, CALL), open_activity(sim, EMAIL)
    unlinked = open_activity(sim, EMAIL, skip={deleted})
    sim.advance(60)
    kept_message = sim.mark_done(kept, feedback="Customer agreed")
    deleted_message = sim.mark_done(deleted, feedback="Offer sent")
    sim.unlink("mail.activity", unlinked)  # deleted without being done
    assert kept in sim.table("mail.activity") and deleted not in sim.table("mail.activity")

    run = await sync(runner, clock)

    assert run.counts["mail.activity"].deactivated == 1
    docs = await stored(store, records.ACTIVITY)
    for activity_id, message_id, feedback in (
        (kept, kept_message, "Customer agreed"),
        (deleted, deleted_message, "Offer sent"),
    ):
        doc = docs[f"odoo_activity_{activity_id}"]
        assert doc["state"] == "done" and doc["feedback"] == feedback
        posted = sim.table("mail.message")[message_id]["date"]
        assert doc["completed_at"] is not None
        assert doc["completed_at"].date().isoformat() == posted[:10]
        read = activity_read.to_read(doc, today="2026-01-20")
        assert read.urgency == "done" and read.feedback == feedback
    assert f"odoo_activity_{unlinked}" not in docs
    await assert_store_matches(sim, settings, store)
    # the history is stable: the next run neither re-reads nor removes it
    again = await sync(runner, clock)
    assert again.counts["mail.activity"].fetched == 0
    assert again.counts["mail.activity"].deactivated == 0
    assert f"odoo_activity_{deleted}" in await stored(store, records.ACTIVITY)


@pytest.mark.parametrize("protocol", ["json2"])
async def test_archived_done_activities_take_the_feedback_of_their_done_message(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)

    docs = await stored(store, records.ACTIVITY)
    archived = [aid for aid, row in sim.table("mail.activity").items() if not row["active"]]
    assert archived
    for aid in archived:  # the generator's done messages say "Feedback: Done by <id>"
        assert docs[f"odoo_activity_{aid}"]["feedback"] == f"Done by {aid}"
        assert docs[f"odoo_activity_{aid}"]["state"] == "done"


@pytest.mark.parametrize("protocol", ["xmlrpc"])
async def test_odoo_16_deletes_every_done_activity_and_history_keeps_them_all(
    store: Store, clock: FrozenClock, protocol: str
) -> None:
    sim = OdooSim.generate(activities=80, messages=100, seed=2, version=16)
    async with running_sim(sim) as url, httpx.AsyncClient() as http:
        runner = SyncRunner(store, sync_settings(sim, url, protocol), clock, http)
        await sync(runner, clock)
        call, email = open_activity(sim, CALL), open_activity(sim, EMAIL)
        sim.advance(60)
        sim.mark_done(call, feedback="Talked")
        sim.mark_done(email)

        await sync(runner, clock)

    docs = await stored(store, records.ACTIVITY)
    assert call not in sim.table("mail.activity") and email not in sim.table("mail.activity")
    assert docs[f"odoo_activity_{call}"]["state"] == "done"
    assert docs[f"odoo_activity_{call}"]["feedback"] == "Talked"
    assert docs[f"odoo_activity_{email}"]["state"] == "done"
    assert docs[f"odoo_activity_{email}"]["feedback"] is None


# ---------------------------------------------------------------------------- names


@both
async def test_names_follow_their_records_though_odoo_does_not_touch_activities(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    activity_rows = sim.table("mail.activity").values()
    lead = next(
        r["res_id"]
        for r in activity_rows
        if r["res_model"] == "crm.lead" and sim.table("crm.lead")[r["res_id"]]["partner_id"]
    )
    partner = sim.table("crm.lead")[lead]["partner_id"][0]
    uid = next(r["user_id"][0] for r in activity_rows if r["user_id"])
    author = next(r["author_id"][0] for r in sim.table("mail.message").values() if r["author_id"])
    sim.advance(60)
    sim.edit("crm.lead", lead, name="Renamed opportunity")
    sim.edit("res.partner", partner, name="Renamed Partner")
    sim.edit("res.users", uid, name="Renamed User")
    if author != partner:
        sim.edit("res.partner", author, name="Renamed Author")

    run = await sync(runner, clock)

    # only the renamed records were read; the names reached every document showing them
    assert run.counts["mail.activity"].fetched == run.counts["mail.message"].fetched == 0
    names = {
        p: row["name"] for p, row in sim.table("res.partner").items() if p in (partner, author)
    }
    docs = (await stored(store, records.ACTIVITY)).values()
    on_lead = [
        d for d in docs if d["related"] == {**d["related"], "model": "crm.lead", "id": str(lead)}
    ]
    assert on_lead and {d["related"]["name"] for d in on_lead} == {"Renamed opportunity"}
    assert {d["contact_name"] for d in on_lead} == {"Renamed Partner"}
    assert {d["user_name"] for d in docs if d["user_id"] == f"odoo:{uid}"} == {"Renamed User"}
    messages = (await stored(store, records.MESSAGE)).values()
    assert {
        m["related"]["name"]
        for m in messages
        if m["related"]["model"] == "crm.lead" and m["related"]["id"] == str(lead)
    } <= {"Renamed opportunity"}
    assert {m["author_name"] for m in messages if m["author_id"] == str(author)} == {names[author]}
    opportunity = (await stored(store, records.OPPORTUNITY))[f"odoo_opportunity_{lead}"]
    assert opportunity["name"] == "Renamed opportunity"
    assert opportunity["contact_name"] == "Renamed Partner"


# ---------------------------------------------------------------------------- late commits


@both
async def test_a_late_commit_dated_before_the_watermark_is_picked_up(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    sim.advance(60)
    lead = next(iter(sim.table("crm.lead")))
    slow = sim.transaction()  # an import that started now and commits later
    late_message = slow.create(
        "mail.message",
        {"model": "crm.lead", "res_id": lead, "message_type": "comment", "body": "<p>late</p>"},
    )
    late_activity = open_activity(sim, EMAIL)
    slow.edit("mail.activity", late_activity, summary="Imported late")
    sim.advance(2)
    quick = open_activity(sim, CALL)
    sim.edit("mail.activity", quick, summary="Committed first")
    await sync(runner, clock)  # reads the quick one: the watermark is 2 s after the slow start
    slow.commit()

    run = await sync(runner, clock)

    assert run.counts["mail.activity"].fetched == 1  # the late one; the quick one is unchanged
    assert run.counts["mail.message"].fetched == 1
    docs = await stored(store, records.ACTIVITY)
    assert docs[f"odoo_activity_{late_activity}"]["subject"] == "Imported late"
    assert late_message in await stored_ids(store, records.MESSAGE)
    await assert_store_matches(sim, settings, store)
    # idempotent: the overlap lists them again, nothing is read or written again
    again = await sync(runner, clock)
    assert all(c.fetched == c.upserted == 0 for c in again.counts.values())


# ---------------------------------------------------------------------------- chatter


@pytest.mark.parametrize("protocol", ["json2"])
async def test_the_chatter_defaults_to_what_odoo_shows_on_leads_and_partners(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)

    docs = (await stored(store, records.MESSAGE)).values()
    assert {d["message_type"] for d in docs} == {
        "comment",
        "email",
        "notification",
        "auto_comment",
    }
    assert {d["related"]["model"] for d in docs} == {"crm.lead", "res.partner"}
    inbox = [
        mid
        for mid, r in sim.table("mail.message").items()
        if r["message_type"] == "user_notification"
    ]
    assert inbox and not set(inbox) & {d["external_id"] for d in docs}


# ---------------------------------------------------------------------------- server work


@both
async def test_server_work_is_linear_in_what_a_run_reads(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    full = await sync(runner, clock)

    read = sum(c.fetched for c in full.counts.values())
    assert sim.examined() <= 3 * read
    for model in MODELS:
        table = len(sim.table(model))
        # the id pages walk the table once and the count scans it once: no scan per page
        assert sim.examined(model=model, method="search_read") <= table + _lookups(sim, model)
        assert sim.examined(model=model, method="search_count") == table
    assert not any("not in" in str(call.params.get("domain")) for call in sim.call_log)
    assert not any("write_date" in str(call.params.get("order")) for call in sim.call_log)

    sim.reset_calls()
    sim.advance(60)
    edited = list(sim.table("mail.message"))[:7]
    sim.edit_many("mail.message", edited, subject="Edited")
    incremental = await sync(runner, clock)

    assert incremental.counts["mail.message"].fetched == 7
    # each table scanned twice (the changes since the window start, the count), whatever
    # the number of pages; the changed records read by id
    for model in MODELS:
        extra = 7 if model == "mail.message" else 0
        assert sim.examined(model=model) == 2 * len(sim.table(model)) + extra, model


def _lookups(sim: OdooSim, model: str) -> int:
    """Rows examined by done-message lookups (by record, Odoo's (model, res_id) index)."""
    return sum(
        call.examined
        for call in sim.call_log
        if call.model == model and "mail_activity_type_id" in str(call.params.get("domain"))
    )


@pytest.mark.parametrize("protocol", ["json2"])
async def test_an_edit_behind_a_long_full_pass_is_read_by_the_next_run(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    ids = sorted(sim.table("mail.activity"))
    edits: list[int] = []

    def progress(model: str, counts: Any, done: bool) -> None:
        if model == "mail.activity" and counts.fetched and not edits:
            # behind the walk, then (two hours later: longer than the overlap) ahead of it
            sim.edit("mail.activity", ids[0], summary="Edited behind the pass")
            sim.advance(7200)
            sim.edit("mail.activity", ids[-1], summary="Edited ahead of the pass")
            edits.append(ids[0])

    clock.advance(timedelta(minutes=1))
    full = await runner.run(progress=progress)
    assert full.status == "succeeded" and edits
    assert (await stored(store, records.ACTIVITY))[f"odoo_activity_{ids[0]}"]["subject"] != (
        "Edited behind the pass"
    )

    run = await sync(runner, clock)

    assert run.counts["mail.activity"].fetched == 1  # listed with everything, read alone
    docs = await stored(store, records.ACTIVITY)
    assert docs[f"odoo_activity_{ids[0]}"]["subject"] == "Edited behind the pass"
    assert docs[f"odoo_activity_{ids[-1]}"]["subject"] == "Edited ahead of the pass"
    again = await sync(runner, clock)  # and from then on, the window after the watermark
    assert again.counts["mail.activity"].fetched == 0
