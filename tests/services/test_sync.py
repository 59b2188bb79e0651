"""The Odoo sync against the simulator over real HTTP: exact first sync, idempotence, incremental
edits, deletions, faults, leases, RPC and write counts, secrets."""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.connectors.odoo.normalize import html_to_text
from app.errors import SyncAlreadyRunning
from app.schemas.activity import ActivityPage
from app.schemas.sync import ModelCounts, SyncRun
from app.services import activities, activity_read, records
from app.services.clock import FrozenClock
from app.services.scheduler import app_jobs
from app.services.sync import SyncRunner, lease_key
from app.store import Store
from tests.odoo_sim import OdooSim, running_sim
from tests.sync_support import (
    ENTITY_OF,
    MODELS,
    TENANT,
    expected_rows,
    page_calls,
    stored,
    stored_ids,
    sync_settings,
)

PAGE = 25
KIND_OF_TYPE = {
    "Email": "email",
    "Call": "call",
    "Meeting": "meeting",
    "To-Do": "task",
    "Upload Document": "task",
    "WhatsApp Message": "whatsapp",
    "Note": "note",
    "Event": "event",
}


@pytest.fixture
def protocol() -> str:
    return "json2"


@pytest.fixture
def sim() -> OdooSim:
    return OdooSim.generate(activities=120, messages=300, seed=5, version=19)


@pytest.fixture
async def odoo_url(sim: OdooSim) -> AsyncIterator[str]:
    async with running_sim(sim) as url:
        yield url


@pytest.fixture
def settings(sim: OdooSim, odoo_url: str, protocol: str) -> Settings:
    return sync_settings(sim, odoo_url, protocol, odoo_page_size=PAGE)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def runner(
    store: Store, settings: Settings, clock: FrozenClock, http: httpx.AsyncClient
) -> AsyncIterator[SyncRunner]:
    sync_runner = SyncRunner(store, settings, clock, http)
    yield sync_runner
    await sync_runner.aclose()


async def sync(runner: SyncRunner, clock: FrozenClock, **options: Any) -> SyncRun:
    """One foreground run, a minute after the previous one."""
    clock.advance(timedelta(minutes=1))
    return await runner.run(**options)


async def assert_store_matches(sim: OdooSim, settings: Settings, store: Store) -> None:
    for model, rows in expected_rows(sim, settings).items():
        assert await stored_ids(store, ENTITY_OF[model]) == set(rows), model


async def inactive_count(store: Store) -> int:
    return await store.envelopes.collection.count({"tenant_id": TENANT, "is_active": False})


async def model_state(store: Store, model: str) -> dict[str, Any] | None:
    state = await store.leases.holder(lease_key(TENANT)) or {}
    for entry in state.get("watermarks", []):
        if entry["model"] == model:
            return dict(entry)
    return None


async def watermark(store: Store, model: str) -> tuple[datetime, int] | None:
    entry = await model_state(store, model)
    if entry is None or entry["write_date"] is None:
        return None
    return entry["write_date"].replace(tzinfo=UTC), entry["id"]


def record_name(sim: OdooSim, model: str, record_id: int) -> str:
    return sim.table(model)[record_id]["name"]


def odoo_stamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- a first sync


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_first_sync_matches_the_simulator_exactly(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    run = await sync(runner, clock)

    assert run.status == "succeeded" and run.full and run.errors == []
    expected = expected_rows(sim, settings)
    for model, rows in expected.items():
        assert run.counts[model] == ModelCounts(fetched=len(rows), upserted=len(rows)), model
    await assert_store_matches(sim, settings, store)
    assert await inactive_count(store) == 0


async def test_activities_are_stored_in_the_local_activity_shape(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)

    docs = await stored(store, records.ACTIVITY)
    leads = sim.table("crm.lead")
    done = no_deadline = 0
    for aid, row in sim.table("mail.activity").items():
        doc = docs[f"odoo_activity_{aid}"]
        type_name = row["activity_type_id"][1]
        deadline = row["date_deadline"] or None
        is_done = row["active"] is False or bool(row["date_done"])
        done += is_done
        no_deadline += deadline is None and not is_done
        assert doc["source"] == "odoo" and doc["external_id"] == aid
        assert doc["type"] == KIND_OF_TYPE[type_name]
        assert doc["subject"] == (row["summary"] or type_name)
        assert doc["user_id"] == (
            f"odoo:{row['user_id'][0]}" if row["user_id"] else "odoo:unassigned"
        )
        assert doc["user_name"] == (row["user_id"][1] if row["user_id"] else None)
        assert doc["due_date"] == deadline
        assert doc["date"] == (deadline or row["create_date"][:10])  # DEFAULT_TZ is UTC here
        assert doc["state"] == ("done" if is_done else "new")
        assert (doc["completed_at"] is not None) == is_done
        assert doc["related"] == {
            "model": row["res_model"],
            "id": str(row["res_id"]),
            "name": row["res_name"],
        }
        if row["res_model"] == "crm.lead" and leads[row["res_id"]]["partner_id"]:
            partner = leads[row["res_id"]]["partner_id"]
            assert (doc["contact_id"], doc["contact_name"]) == (str(partner[0]), partner[1])
        elif row["res_model"] == "res.partner":
            assert (doc["contact_id"], doc["contact_name"]) == (str(row["res_id"]), row["res_name"])
        else:
            assert doc["contact_id"] is None
        assert doc["description"] == (html_to_text(row["note"]) or None)
        assert doc["priority"] == "normal" and doc["version"] == 1
        assert doc["start_time"] is None and doc["send_reminder"] is False
        assert doc["other_users"] == []
        assert doc["updated_at"] == odoo_stamp(row["write_date"])
        assert doc["created_at"] == odoo_stamp(row["create_date"])
        # The API reads it like any local activity; urgency is computed, never stored.
        assert "urgency" not in doc
        read = activity_read.to_read(doc, today="2026-01-20")
        # List pages render stored documents without re-validating them: same JSON.
        page = activities.ActivityPageResult([activity_read.read_item(doc, "2026-01-20")], None)
        assert page.to_json() == ActivityPage(items=[read]).model_dump_json().encode()
        if is_done or deadline is None:
            assert read.urgency == ("done" if is_done else "no_due_date")
    assert done and no_deadline  # the data set has both kinds


async def test_opportunities_users_partners_and_messages_are_mapped(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)

    opportunities = await stored(store, records.OPPORTUNITY)
    for lid, row in sim.table("crm.lead").items():
        doc = opportunities[f"odoo_opportunity_{lid}"]
        partner = row["partner_id"]
        assert doc["name"] == row["name"]
        assert doc["contact_id"] == (str(partner[0]) if partner else None)
        assert doc["contact_name"] == (partner[1] if partner else row["partner_name"] or None)
        assert doc["stage"] == row["stage_id"][1] and doc["active"] == row["active"]
    users = await stored(store, records.USER)
    uid_of_partner = {}
    for uid, row in sim.table("res.users").items():
        doc = users[f"odoo_user_{uid}"]
        assert doc["user_id"] == f"odoo:{uid}" and doc["name"] == row["name"]
        assert doc["login"] == row["login"] and doc["tz"] == (row["tz"] or None)
        uid_of_partner[row["partner_id"][0]] = uid
    partners = await stored(store, records.PARTNER)
    assert {d["name"] for d in partners.values()} == {
        r["name"] for r in sim.table("res.partner").values()
    }
    messages = await stored(store, records.MESSAGE)
    for mid, row in expected_rows(sim, settings)["mail.message"].items():
        doc = messages[f"odoo_message_{mid}"]
        author = row["author_id"]
        assert doc["author_name"] == (author[1] if author else "System")
        assert doc["user_id"] == (
            f"odoo:{uid_of_partner[author[0]]}" if author and author[0] in uid_of_partner else None
        )
        assert doc["message_type"] == row["message_type"]
        assert doc["related"] == {
            "model": row["model"],
            "id": str(row["res_id"]),
            "name": record_name(sim, row["model"], row["res_id"]),
        }
        assert "<script" not in doc["body"] and "onerror" not in doc["body"]
        assert doc["date"] == odoo_stamp(row["date"])


# ---------------------------------------------------------------------------- incremental runs


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_a_run_with_no_change_re_reads_nothing_and_costs_two_calls_per_model(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    before = {entity: await stored(store, entity) for entity in ENTITY_OF.values()}
    # records written within the overlap before the watermark are listed again, not re-read
    sim.advance(60)
    sim.edit("mail.activity", next(iter(sim.table("mail.activity"))), summary="Edited")
    sim.edit("mail.message", next(iter(sim.table("mail.message"))), subject="Edited")
    await sync(runner, clock)
    before = {entity: await stored(store, entity) for entity in ENTITY_OF.values()}
    sim.reset_calls()

    run = await sync(runner, clock)

    assert run.status == "succeeded" and not run.full
    assert all(c == ModelCounts() for c in run.counts.values())
    # connect (version, auth) + per model: what changed since the window start, and a count
    assert sim.count() == 2 + 2 * len(MODELS)
    assert sim.count(method="search_count") == len(MODELS)
    assert {entity: await stored(store, entity) for entity in ENTITY_OF.values()} == before
    # the server scanned each table twice (the window listing, the count), nothing per page
    for model in MODELS:
        assert sim.examined(model=model) == 2 * len(sim.table(model)), model


async def test_incremental_run_reflects_edits_and_archives(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    open_ids = [aid for aid, row in sim.table("mail.activity").items() if row["active"]]
    edited = open_ids[0]
    # marked done: a Call is kept archived (keep_done), an Email deleted after its message
    archived = next(
        a for a in open_ids if sim.table("mail.activity")[a]["activity_type_id"][0] == 2
    )
    deleted = next(a for a in open_ids if sim.table("mail.activity")[a]["activity_type_id"][0] == 1)
    lead_id = next(lid for lid, row in sim.table("crm.lead").items() if row["partner_id"])
    new_partner = next(
        pid
        for pid in sim.table("res.partner")
        if pid != sim.table("crm.lead")[lead_id]["partner_id"][0]
    )
    message_id = next(iter(expected_rows(sim, settings)["mail.message"]))
    sim.advance(60)
    sim.edit(
        "mail.activity", edited, summary="Renegotiate the contract", date_deadline="2026-02-03"
    )
    sim.archive("mail.activity", archived)
    sim.mark_done(deleted, feedback="Offer accepted")
    sim.edit("crm.lead", lead_id, partner_id=new_partner)
    sim.edit("mail.message", message_id, body="<p>Edited</p><script>alert(1)</script>")

    run = await sync(runner, clock)

    assert run.status == "succeeded" and not run.full
    assert {m: c.fetched for m, c in run.counts.items()} == {
        "mail.activity.type": 0,
        "res.users": 0,
        "res.partner": 0,
        "crm.lead": 1,
        "mail.activity": 2,
        "mail.message": 3,  # the edited one and the two done messages
    }
    docs = await stored(store, records.ACTIVITY)
    assert docs[f"odoo_activity_{edited}"]["subject"] == "Renegotiate the contract"
    assert docs[f"odoo_activity_{edited}"]["due_date"] == "2026-02-03"
    assert docs[f"odoo_activity_{archived}"]["state"] == "done"
    assert docs[f"odoo_activity_{archived}"]["completed_at"] is not None
    assert docs[f"odoo_activity_{deleted}"]["state"] == "done"
    assert docs[f"odoo_activity_{deleted}"]["feedback"] == "Offer accepted"
    lead = (await stored(store, records.OPPORTUNITY))[f"odoo_opportunity_{lead_id}"]
    assert lead["contact_id"] == str(new_partner)
    # its activities, not re-read (Odoo did not touch them), take the lead's new contact
    on_lead = [
        d
        for d in docs.values()
        if d["related"]
        and d["related"]["id"] == str(lead_id)
        and d["related"]["model"] == "crm.lead"
    ]
    assert on_lead
    assert {(d["contact_id"], d["contact_name"]) for d in on_lead} == {
        (str(new_partner), sim.table("res.partner")[new_partner]["name"])
    }
    message = (await stored(store, records.MESSAGE))[f"odoo_message_{message_id}"]
    assert message["body"] == "<p>Edited</p>" and message["body_text"] == "Edited"
    await assert_store_matches(sim, settings, store)


async def test_many_records_sharing_one_write_date_across_page_boundaries(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    sim.advance(60)
    # 2.5 pages of activities written in the same second, plus new ones in that second.
    for aid in list(sim.table("mail.activity"))[: 2 * PAGE + PAGE // 2]:
        sim.edit("mail.activity", aid, summary=f"Bulk {aid}")
    for n in range(7):
        sim.create("mail.activity", {"summary": f"New {n}", "activity_type_id": 2,
                                     "res_model": "crm.lead", "res_id": 1})  # fmt: skip

    run = await sync(runner, clock)

    assert run.counts["mail.activity"].fetched == 2 * PAGE + PAGE // 2 + 7
    docs = await stored(store, records.ACTIVITY)
    assert sum(d["subject"].startswith("Bulk ") for d in docs.values()) == 2 * PAGE + PAGE // 2
    await assert_store_matches(sim, settings, store)


async def test_interrupted_run_resumes_where_it_stopped(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    sim.advance(60)
    new_ids = [
        sim.create(
            "mail.message",
            {
                "model": "crm.lead",
                "res_id": 1,
                "message_type": "comment",
                "body": f"<p>new {n}</p>",
            },
        )  # fmt: skip
        for n in range(60)
    ]
    before = await watermark(store, "mail.message")
    # call 1 lists what changed, call 2 reads page 1, call 3 (page 2) fails
    sim.fail_status(502, times=100, model="mail.message", method="search_read", on_call=3)

    failed = await sync(runner, clock)

    assert failed.status == "failed"
    assert failed.errors[0].startswith("mail.message page 2: Odoo unavailable")
    assert failed.counts["mail.message"] == ModelCounts(fetched=PAGE, upserted=PAGE)
    # An unfinished incremental pass does not move the watermark: what it wrote is stored with
    # its write_date, so the next run lists it again but does not read it again.
    assert await watermark(store, "mail.message") == before
    assert set(new_ids[:PAGE]) <= await stored_ids(store, records.MESSAGE)
    sim.clear_faults()
    sim.reset_calls()

    resumed = await sync(runner, clock)

    assert resumed.status == "succeeded"
    assert resumed.counts["mail.message"].fetched == 60 - PAGE
    reads = -(-(60 - PAGE) // PAGE)
    assert sim.count(model="mail.message", method="search_read") == 1 + reads
    await assert_store_matches(sim, settings, store)


# ---------------------------------------------------------------------------- deletions


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_every_run_reflects_deletions_cascades_included(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    activity_id = next(iter(sim.table("mail.activity")))
    message_id = next(iter(expected_rows(sim, settings)["mail.message"]))
    lead_id = next(
        lid
        for lid in sim.table("crm.lead")
        if any(r["res_id"] == lid for r in sim.table("mail.message").values())
    )
    partner_id = next(
        r["res_id"] for r in sim.table("mail.message").values() if r["model"] == "res.partner"
    )
    before = {model: set(rows) for model, rows in expected_rows(sim, settings).items()}
    sim.unlink("mail.activity", activity_id)  # deleted without a done message
    sim.unlink("mail.message", message_id)
    sim.unlink("crm.lead", lead_id)  # with its activities and chatter, write_dates untouched
    sim.unlink("res.partner", partner_id)
    after = {model: set(rows) for model, rows in expected_rows(sim, settings).items()}
    sim.reset_calls()

    run = await sync(runner, clock)

    assert run.status == "succeeded" and not run.full
    deactivated = {m: c.deactivated for m, c in run.counts.items() if c.deactivated}
    assert deactivated == {m: len(before[m] - after[m]) for m in MODELS if before[m] - after[m]}
    assert deactivated["mail.message"] > 2 and deactivated["mail.activity"] > 1
    assert (
        await store.envelopes.get(TENANT, records.ACTIVITY, f"odoo_activity_{activity_id}") is None
    )
    await assert_store_matches(sim, settings, store)
    # The counts disagreed for these models only: only they were swept, by id.
    swept = {call.model for call in sim.call_log if call.method == "search"}
    assert swept == {m for m in MODELS if before[m] - after[m]}


async def test_a_run_failing_while_reading_a_model_deactivates_none_of_it(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    await sync(runner, clock)
    activity_id = next(iter(sim.table("mail.activity")))
    sim.unlink("mail.activity", activity_id)
    # A model is reconciled right after it was read: a failure before that leaves it be.
    sim.fail_status(503, times=100, model="mail.activity", method="search_read", on_call=2)

    failed = await sync(runner, clock, full=True)

    assert failed.status == "failed" and all(c.deactivated == 0 for c in failed.counts.values())
    assert await inactive_count(store) == 0
    sim.clear_faults()
    recovered = await sync(runner, clock, full=True)
    assert recovered.status == "succeeded"
    assert recovered.counts["mail.activity"].deactivated == 1
    await assert_store_matches(sim, settings, store)


async def test_every_nth_run_is_a_full_one(
    sim: OdooSim, odoo_url: str, store: Store, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    runner = SyncRunner(store, sync_settings(sim, odoo_url, sync_reconcile_every=3), clock, http)

    fulls = [(await sync(runner, clock)).full for _ in range(7)]

    assert fulls == [True, False, False, True, False, False, True]


# ---------------------------------------------------------------------------- faults


# The chatter's id pages (not the done-message lookups activity pages make)
ID_PAGES = "'id', '>'"
FAULTS: dict[str, tuple[Callable[[OdooSim], Any], str]] = {
    "502": (
        lambda sim: sim.fail_status(
            502, times=100, model="mail.message", on_call=3, domain_contains=ID_PAGES
        ),
        "Odoo unavailable (mail.message.search_read) after 3 attempt(s): HTTP 502",
    ),
    "dropped connection": (
        lambda sim: sim.drop_connection(
            times=100, model="mail.message", on_call=3, domain_contains=ID_PAGES
        ),
        "Odoo unavailable (mail.message.search_read) after 3 attempt(s)",
    ),
    "slow beyond timeout": (
        lambda sim: sim.delay(
            5.0, times=100, model="mail.message", on_call=3, domain_contains=ID_PAGES
        ),
        "Odoo unavailable (mail.message.search_read) after 3 attempt(s): no complete answer",
    ),
    "fault mid-pagination": (
        lambda sim: sim.rpc_fault(
            "Simulated server crash",
            exception="builtins.Exception",
            model="mail.message",
            on_call=3,
            domain_contains=ID_PAGES,
        ),  # fmt: skip
        "Odoo fault: Exception: Simulated server crash",
    ),
}


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_fault_fails_the_run_cleanly_and_the_next_run_recovers(
    sim: OdooSim,
    odoo_url: str,
    protocol: str,
    store: Store,
    clock: FrozenClock,
    http: httpx.AsyncClient,
    fault: str,
) -> None:
    settings = sync_settings(sim, odoo_url, protocol, odoo_timeout_seconds=0.5)
    runner = SyncRunner(store, settings, clock, http)
    inject, message = FAULTS[fault]
    inject(sim)

    failed = await sync(runner, clock)

    assert failed.status == "failed"
    assert failed.errors[0].startswith("mail.message page 3: "), failed.errors
    assert message in failed.errors[0]
    # Consistent: the two committed pages are stored, the watermark is the last of them, and
    # nothing was deactivated.
    committed = sorted(expected_rows(sim, settings)["mail.message"])[: 2 * PAGE]
    assert await stored_ids(store, records.MESSAGE) == set(committed)
    # the full pass stands after its last committed page; the next run resumes it there
    state = await model_state(store, "mail.message")
    assert state is not None and state["full_after"] == committed[-1]
    assert await inactive_count(store) == 0
    sim.clear_faults()

    recovered = await sync(runner, clock)

    assert recovered.status == "succeeded" and recovered.errors == []
    assert (
        recovered.counts["mail.message"].fetched
        == len(expected_rows(sim, settings)["mail.message"]) - 2 * PAGE
    )  # resumed, not restarted
    await assert_store_matches(sim, settings, store)


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_bad_credentials_fail_fast_without_retries(
    sim: OdooSim,
    odoo_url: str,
    protocol: str,
    store: Store,
    clock: FrozenClock,
    http: httpx.AsyncClient,
) -> None:
    from pydantic import SecretStr

    wrong = "wrong-secret-value-123"
    settings = sync_settings(
        sim, odoo_url, protocol, odoo_password=SecretStr(wrong), odoo_api_key=SecretStr(wrong)
    )
    runner = SyncRunner(store, settings, clock, http)

    run = await sync(runner, clock)

    assert run.status == "failed"
    assert run.errors == [
        f"connect: Odoo authentication failed for user admin on database {sim.db}"
    ]
    auth_method = "authenticate" if protocol == "xmlrpc" else "context_get"
    assert sim.count(method=auth_method) == 1
    assert sim.count(method="search_read") == 0
    # The lease is free again: the next run may start.
    assert (await store.leases.holder(lease_key(TENANT)))["owner"] is None


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_a_hostile_answer_fails_fast_without_ballooning_memory(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    sim.xml_bomb(model="mail.activity", method="search_read")  # JSON-2: absurdly nested JSON
    tracemalloc.start()
    started = time.perf_counter()
    try:
        run = await sync(runner, clock)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert run.status == "failed"
    assert run.errors[0].startswith("mail.activity page 1: malformed")
    assert time.perf_counter() - started < 10
    assert peak < 64 * 1024 * 1024
    assert sim.count(model="mail.activity", method="search_read") == 1  # not retried


async def test_a_malformed_record_is_skipped_and_reported(
    sim: OdooSim, settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    bad = sim.create("crm.lead", {"name": "Broken", "expected_revenue": "a lot"})

    run = await sync(runner, clock)

    assert run.status == "succeeded"
    assert run.errors == [
        f"crm.lead: skipped: malformed crm.lead record id={bad}: not a number: str"
    ]
    assert run.counts["crm.lead"].fetched == run.counts["crm.lead"].upserted + 1
    assert bad not in await stored_ids(store, records.OPPORTUNITY)


async def test_secrets_never_appear_in_run_errors_or_logs(
    sim: OdooSim,
    store: Store,
    runner: SyncRunner,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert sim.api_key
    sim.rpc_fault(f"denied for {sim.password} / {sim.api_key}", model="mail.activity")

    with caplog.at_level(logging.DEBUG):
        run = await sync(runner, clock)

    assert run.status == "failed" and "***" in run.errors[0]
    for secret in (sim.password, sim.api_key):
        assert secret not in " ".join(run.errors)
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in str(record.__dict__)


# ---------------------------------------------------------------------------- mapping options


async def test_message_types_and_subtypes_can_be_excluded(
    sim: OdooSim, odoo_url: str, store: Store, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    settings = sync_settings(
        sim,
        odoo_url,
        odoo_message_types="comment,notification",
        odoo_message_excluded_subtypes="Stage changed",
    )
    runner = SyncRunner(store, settings, clock, http)

    run = await sync(runner, clock)

    kept = expected_rows(sim, settings)["mail.message"]
    in_types = [
        row
        for row in sim.table("mail.message").values()
        if row["model"] in ("crm.lead", "res.partner")
        and row["message_type"] in ("comment", "notification")
    ]
    # Odoo filters the excluded subtypes: what it counts is what the store keeps, so no
    # deletion sweep runs for it
    assert run.counts["mail.message"].fetched == run.counts["mail.message"].upserted == len(kept)
    assert len(in_types) > len(kept)
    assert sim.count(model="mail.message", method="search") == 0
    docs = (await stored(store, records.MESSAGE)).values()
    assert {d["message_type"] for d in docs} == {"comment", "notification"}
    assert "Stage Changed" not in {d["subtype"] for d in docs}


async def test_odoo_16_over_xmlrpc(
    store: Store, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    sim = OdooSim.generate(activities=60, messages=100, seed=2, version=16)
    async with running_sim(sim) as url:
        settings = sync_settings(sim, url, "xmlrpc")
        runner = SyncRunner(store, settings, clock, http)
        run = await sync(runner, clock)

    assert run.status == "succeeded", run.errors
    await assert_store_matches(sim, settings, store)
    states = {d["state"] for d in (await stored(store, records.ACTIVITY)).values()}
    assert states == {"new"}  # Odoo 16 deletes done activities


# ---------------------------------------------------------------------------- one run at a time


async def test_concurrent_triggers_start_one_run_and_name_it_to_the_others(
    runner: SyncRunner, store: Store
) -> None:
    results = await asyncio.gather(*(runner.start() for _ in range(5)), return_exceptions=True)

    started = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, SyncAlreadyRunning)]
    assert len(started) == 1 and len(refused) == 4
    assert {r.run_id for r in refused} == {started[0].run_id}
    await runner.wait_idle()
    runs = await store.sync_runs.newest(TENANT, limit=10)
    assert [r["status"] for r in runs] == ["succeeded"]


async def test_two_replicas_never_run_at_once(
    settings: Settings, store: Store, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    replicas = [SyncRunner(store, settings, clock, http, owner=f"replica-{n}") for n in range(2)]

    results = await asyncio.gather(*(r.run() for r in replicas), return_exceptions=True)

    assert sorted(type(r).__name__ for r in results) == ["SyncAlreadyRunning", "SyncRun"]


async def test_an_expired_lease_is_taken_over_and_its_run_marked_abandoned(
    settings: Settings, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    dead = await store.leases.acquire(
        lease_key(TENANT),
        owner="dead-worker",
        ttl_seconds=60,
        now=clock.now(),
        on_insert={"tenant_id": TENANT, "seq": 0, "watermarks": []},
        claim={"run_id": "dead-run"},
    )
    assert dead is not None
    await store.sync_runs.collection.insert_one(
        {"_id": "dead-run", "run_id": "dead-run", "tenant_id": TENANT, "status": "running",
         "started_at": clock.now(), "trigger": "manual", "full": True}
    )  # fmt: skip
    with pytest.raises(SyncAlreadyRunning) as held:
        await runner.run()
    assert held.value.run_id == "dead-run"

    clock.advance(timedelta(seconds=61))
    run = await runner.run()

    assert run.status == "succeeded"
    abandoned = await store.sync_runs.get(TENANT, "dead-run")
    assert abandoned is not None and abandoned["status"] == "failed"
    assert abandoned["errors"] == ["abandoned: its worker stopped before finishing"]


async def test_a_run_that_lost_its_lease_stops_without_moving_the_watermark(
    sim: OdooSim, store: Store, runner: SyncRunner, clock: FrozenClock
) -> None:
    takeovers: list[asyncio.Task[int]] = []

    def progress(model: str, counts: ModelCounts, done: bool) -> None:
        if model == "mail.activity" and counts.fetched and not takeovers:
            # Another worker takes the lease over (ours looked expired to it), between pages.
            takeovers.append(
                asyncio.create_task(
                    store.leases.collection.update_one(
                        {"_id": lease_key(TENANT)}, {"$set": {"owner": "usurper"}}
                    )
                )
            )

    clock.advance(timedelta(minutes=1))
    run = await runner.run(progress=progress)

    assert run.status == "failed"
    assert run.errors[0] == "lost the sync lease (another worker took over); stopping"
    # Page 2 was written (idempotent upserts) but the pass stayed after page 1.
    assert run.counts["mail.activity"].fetched == 2 * PAGE
    state = await model_state(store, "mail.activity")
    assert state is not None and state["full_after"] == sorted(sim.table("mail.activity"))[PAGE - 1]
    assert await model_state(store, "mail.message") is None
    state = await store.leases.holder(lease_key(TENANT))
    assert state is not None and state["owner"] == "usurper"  # ours never released theirs


async def test_a_stopping_service_ends_the_run_between_pages(
    runner: SyncRunner, clock: FrozenClock
) -> None:
    stopping = asyncio.Event()

    def progress(model: str, counts: ModelCounts, done: bool) -> None:
        if model == "res.partner":
            stopping.set()

    clock.advance(timedelta(minutes=1))
    run = await runner.run(progress=progress, stopping=stopping)

    assert run.status == "failed"
    assert run.errors[0].startswith("stopped: the service is shutting down")


# ---------------------------------------------------------------------------- cost


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_rpc_calls_are_pages_plus_a_constant_and_one_write_per_page(
    sim: OdooSim,
    settings: Settings,
    store: Store,
    runner: SyncRunner,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    collection = store.envelopes.collection
    writes: list[int] = []
    original = collection.bulk_write

    async def counting_bulk_write(ops: Any, **kwargs: Any) -> dict[str, int]:
        writes.append(len(ops))
        return await original(ops, **kwargs)

    monkeypatch.setattr(collection, "bulk_write", counting_bulk_write)

    run = await sync(runner, clock)

    assert run.status == "succeeded"
    sizes = {model: len(rows) for model, rows in expected_rows(sim, settings).items()}
    # The done messages of the archived done activities, looked up by record (Odoo's index)
    done_lookups = sum(
        1 for call in sim.call_log if "mail_activity_type_id" in str(call.params.get("domain"))
    )
    assert 0 < done_lookups <= page_calls(sizes["mail.activity"], PAGE)
    for model, size in sizes.items():
        pages = sim.count(model=model, method="search_read")
        lookups = done_lookups if model == "mail.message" else 0
        assert pages - lookups == page_calls(size, PAGE), model
    # connect + pages + one count per model (which agrees: no sweep)
    assert sim.count() == 2 + sum(page_calls(n, PAGE) for n in sizes.values()) + len(sizes) + (
        done_lookups
    )
    # One bulk write per non-empty page, of at most a page of upserts.
    assert len(writes) == sum(-(-size // PAGE) for size in sizes.values())
    assert max(writes) == PAGE and sum(writes) == sum(sizes.values())


# ---------------------------------------------------------------------------- scheduling


async def test_the_sync_job_is_registered_only_when_odoo_and_an_interval_are_set(
    store: Store, settings: Settings, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    def job_ids(**overrides: Any) -> list[str]:
        configured = settings.model_copy(update=overrides)
        runner = SyncRunner(store, configured, clock, http)
        jobs = app_jobs(store, configured, clock, email=None, owner="me", sync=runner)
        return [job.id for job in jobs]

    assert "sync.odoo" in job_ids(scheduler_enabled=True, sync_interval_seconds=300)
    assert "sync.odoo" not in job_ids(scheduler_enabled=True, sync_interval_seconds=0)
    assert "sync.odoo" not in job_ids(scheduler_enabled=True, odoo_url=None)


async def test_a_scheduled_run_is_skipped_when_a_run_started_recently(
    store: Store, settings: Settings, clock: FrozenClock, http: httpx.AsyncClient
) -> None:
    scheduled = settings.model_copy(
        update={"scheduler_enabled": True, "sync_interval_seconds": 300}
    )
    runner = SyncRunner(store, scheduled, clock, http)
    stopping = asyncio.Event()

    first = await runner.run_scheduled(stopping)
    clock.advance(timedelta(seconds=100))
    skipped = await runner.run_scheduled(stopping)
    clock.advance(timedelta(seconds=200))
    second = await runner.run_scheduled(stopping)

    assert first is not None and first.trigger == "scheduled" and first.status == "succeeded"
    assert skipped is None
    assert second is not None and second.status == "succeeded"
    # The interval trigger fires every 300 s from the runner's start, 300 s ago.
    assert runner.next_run_at() == clock.now() + timedelta(seconds=300)
