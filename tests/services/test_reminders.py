"""Reminders: kept in step with activity writes, delivered exactly once over real SMTP."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from app.schemas.activity import ActivityCreate, ActivityUpdate
from app.services import activities, records, reminders
from app.services.auth import Principal
from app.services.clock import FrozenClock
from app.store import Store, begin_usage
from tests.conftest import make_settings
from tests.smtp import SmtpServer, free_port

TENANT = "acme"


def person(sub: str = "alice", *, email: str | None = None, **extra: Any) -> Principal:
    odoo_uid = extra.pop("odoo_uid", None)
    identities = (sub, f"odoo:{odoo_uid}") if odoo_uid is not None else (sub,)
    return Principal(
        sub=sub,
        tenant=extra.pop("tenant", TENANT),
        roles=frozenset(extra.pop("roles", ("user",))),
        email=email,
        odoo_uid=odoo_uid,
        identities=identities,
        **extra,
    )


ALICE = person("alice", email="alice@acme.test")


async def create(
    store: Store, settings: Settings, clock: FrozenClock, user: Principal = ALICE, **fields: Any
) -> dict[str, Any]:
    payload = ActivityCreate.model_validate({"type": "call", "subject": "Follow up", **fields})
    [doc] = await activities.create_activities(
        store, user, [payload], settings=settings, now=clock.now()
    )
    return doc


async def patch(
    store: Store,
    settings: Settings,
    clock: FrozenClock,
    activity_id: str,
    user: Principal = ALICE,
    **fields: Any,
) -> dict[str, Any]:
    return await activities.update_activity(
        store,
        user,
        activity_id,
        ActivityUpdate.model_validate(fields),
        if_match=None,
        settings=settings,
        now=clock.now(),
    )


async def notifications(store: Store, activity_id: str) -> list[dict[str, Any]]:
    return await store.notifications.collection.find(
        {"tenant_id": TENANT, "activity_id": activity_id},
        sort=[("send_at", 1), ("user_id", 1)],
        limit=1000,
    )


def pending(docs: list[dict[str, Any]]) -> dict[str, list[datetime]]:
    """recipient → send_at of every pending (or being sent) notification."""
    found: dict[str, list[datetime]] = {}
    for doc in docs:
        if doc["status"] in ("pending", "sending"):
            found.setdefault(doc["user_id"], []).append(doc["send_at"])
    return found


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def smtp_settings(server: SmtpServer, **overrides: Any) -> Settings:
    return make_settings(**server.settings(**overrides))


async def deliver(
    store: Store, settings: Settings, clock: FrozenClock, owner: str = "worker-1"
) -> reminders.DeliveryStats:
    channel = reminders.email_channel(settings)
    return await reminders.deliver_due(store, channel, owner=owner, clock=clock, settings=settings)


# ---------------------------------------------------------------------------- delivery


async def test_reminder_is_emailed_once_with_subject_and_recipients(
    store, settings, clock, smtp_server
):
    await store.envelopes.upsert_many(
        TENANT,
        records.USER,
        "odoo",
        [{"id": records.odoo_user_id(7), "user_id": "odoo:7", "email": "olga@acme.test"}],
        now=clock.now(),
    )
    activity = await create(
        store,
        settings,
        clock,
        type="meeting",
        subject="Demo for ACME",
        date="2026-01-20",
        start_time="09:30:00",
        end_time="10:30:00",
        location="Board room",
        related={"model": "sale.opportunity", "id": "42", "name": "ACME expansion"},
        contact_name="Jane Doe",
        send_reminder=True,
        notif_email="alice.reminders@acme.test",
        other_users=["odoo:7", "bob"],
    )
    assert activity["notif_time"] == at("2026-01-20T09:30:00Z")

    stats = await deliver(store, smtp_settings(smtp_server), clock)

    assert (stats.claimed, stats.sent, stats.emailed) == (3, 3, 2)
    received = smtp_server.inbox.messages()
    assert sorted(r.rcpt_tos[0] for r in received) == [
        "alice.reminders@acme.test",
        "olga@acme.test",
    ]
    for item in received:
        message = item.message
        assert message["Subject"] == "Reminder: Demo for ACME"
        assert item.mail_from == "reminders@acme.test"
        body = message.get_content()
        for expected in ("2026-01-20", "09:30 - 10:30", "Board room", "ACME expansion", "Jane"):
            assert expected in body
    docs = {d["user_id"]: d for d in await notifications(store, activity["id"])}
    assert {d["status"] for d in docs.values()} == {"sent"}
    assert docs["bob"]["channels"] == ["in_app"]  # no address known for bob: in-app only
    assert docs["alice"]["channels"] == ["in_app", "email"]
    assert all(d["sent_at"] == clock.now() for d in docs.values())

    clock.advance(timedelta(hours=1))
    again = await deliver(store, smtp_settings(smtp_server), clock)
    assert again.claimed == 0 and len(smtp_server.inbox.messages()) == 2


async def test_two_workers_racing_send_each_reminder_exactly_once(
    store, settings, clock, smtp_server
):
    payloads = [
        ActivityCreate.model_validate(
            {
                "type": "call",
                "subject": f"Call #{n}",
                "date": "2026-01-20",
                "send_reminder": True,
                "notif_email": f"rep{n}@acme.test",
            }
        )
        for n in range(200)
    ]
    await activities.create_activities(store, ALICE, payloads, settings=settings, now=clock.now())
    mail = smtp_settings(smtp_server, reminder_batch=1000)
    channel = reminders.email_channel(mail)

    first, second = await asyncio.gather(
        reminders.deliver_due(store, channel, owner="w1", clock=clock, settings=mail),
        reminders.deliver_due(store, channel, owner="w2", clock=clock, settings=mail),
    )

    received = smtp_server.inbox.messages()
    assert len(received) == 200
    assert len({r.message["Subject"] for r in received}) == 200
    assert len({r.message["Message-ID"] for r in received}) == 200
    assert first.sent + second.sent == 200 and first.lost == second.lost == 0
    assert first.sent > 0 and second.sent > 0  # they really raced
    assert await store.notifications.collection.count({"status": "sent"}) == 200


async def test_future_reminders_wait_for_their_time(store, settings, clock):
    activity = await create(
        store, settings, clock, send_reminder=True, notif_time="2026-01-20T12:00:00Z"
    )
    assert (await deliver(store, settings, clock)).claimed == 0
    clock.set(at("2026-01-20T12:00:00Z"))
    assert (await deliver(store, settings, clock)).sent == 1
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "sent" and doc["channels"] == ["in_app"]


async def test_no_smtp_configured_means_in_app_only_with_one_warning(
    store, settings, clock, caplog
):
    await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    with caplog.at_level(logging.WARNING, logger="app.reminders"):
        channel = reminders.email_channel(settings)
        stats = await reminders.deliver_due(
            store, channel, owner="w", clock=clock, settings=settings
        )
    assert channel is None
    assert (stats.sent, stats.emailed, stats.failed) == (2, 0, 0)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "SMTP_HOST" in warnings[0].getMessage()


async def test_smtp_down_retries_with_backoff_then_fails(store, settings, clock):
    down = make_settings(
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_starttls=False,
        smtp_from="reminders@acme.test",
        smtp_user="mailer",
        smtp_password="s3cret-smtp-password",
        smtp_timeout_seconds=5,
        reminder_max_attempts=3,
        reminder_retry_base_seconds=60,
    )
    activity = await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    send_at = at("2026-01-20T06:00:00Z")

    assert (await deliver(store, down, clock)).retried == 1
    [doc] = await notifications(store, activity["id"])
    assert (doc["status"], doc["attempts"]) == ("pending", 1)
    assert doc["next_attempt_at"] == clock.now() + timedelta(seconds=60)
    assert doc["send_at"] == send_at  # the time shown to users does not move

    clock.advance(timedelta(seconds=59))
    assert (await deliver(store, down, clock)).claimed == 0  # backing off
    clock.advance(timedelta(seconds=1))
    assert (await deliver(store, down, clock)).retried == 1
    [doc] = await notifications(store, activity["id"])
    assert doc["attempts"] == 2 and doc["next_attempt_at"] == clock.now() + timedelta(minutes=2)

    clock.advance(timedelta(minutes=2))
    assert (await deliver(store, down, clock)).failed == 1
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "failed" and doc["attempts"] == 3
    assert "unavailable" in doc["last_error"] and "s3cret" not in doc["last_error"]
    clock.advance(timedelta(days=1))
    assert (await deliver(store, down, clock)).claimed == 0  # failed is final

    unchanged = await activities.get_activity(store, ALICE, activity["id"])
    assert unchanged["version"] == 1 and unchanged["send_reminder"] is True


async def test_permanent_rejection_fails_at_once(store, settings, clock, smtp_server):
    smtp_server.inbox.reply = "550 5.1.1 Mailbox unavailable"
    activity = await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    stats = await deliver(store, smtp_settings(smtp_server), clock)
    assert (stats.failed, stats.retried) == (1, 0)
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "failed" and doc["last_error"].startswith("SMTP 550")


async def test_temporary_rejection_is_retried_then_delivered(store, settings, clock, smtp_server):
    smtp_server.inbox.reply = "451 4.3.0 Try again later"
    mail = smtp_settings(smtp_server, reminder_retry_base_seconds=30)
    activity = await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    assert (await deliver(store, mail, clock)).retried == 1

    smtp_server.inbox.reply = None
    clock.advance(timedelta(seconds=30))
    assert (await deliver(store, mail, clock)).emailed == 1
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "sent" and doc["attempts"] == 2
    assert len(smtp_server.inbox.messages()) == 1


async def test_a_dead_workers_claim_is_taken_over_when_its_lease_expires(
    store, settings, clock, smtp_server
):
    mail = smtp_settings(smtp_server, reminder_lease_seconds=60)
    activity = await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    lease = timedelta(seconds=60)
    claimed = await reminders.claim_next(store, owner="dead", now=clock.now(), lease=lease)
    assert claimed is not None  # ... and the worker dies before sending

    assert (await deliver(store, mail, clock, owner="alive")).claimed == 0  # still leased
    clock.advance(lease)
    assert (await deliver(store, mail, clock, owner="alive")).emailed == 1
    [doc] = await notifications(store, activity["id"])
    assert (doc["status"], doc["claimed_by"], doc["attempts"]) == ("sent", "alive", 2)
    assert len(smtp_server.inbox.messages()) == 1


async def test_cancelled_while_being_sent_is_not_retried(store, settings, clock, smtp_server):
    mail = smtp_settings(smtp_server)
    activity = await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    lease = timedelta(seconds=mail.reminder_lease_seconds)
    assert await reminders.claim_next(store, owner="dead", now=clock.now(), lease=lease)
    await patch(store, settings, clock, activity["id"], send_reminder=False)
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "sending" and doc["cancel_requested"] is True

    clock.advance(lease)
    assert (await deliver(store, mail, clock)).cancelled == 1
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "cancelled" and smtp_server.inbox.messages() == []


async def test_catch_up_on_start_up_sends_a_missed_reminder_once(
    store, settings, clock, smtp_server
):
    # Created while the service was "down": its time (06:00) passed before start-up (10:00).
    activity = await create(store, settings, clock, send_reminder=True, date="2026-01-20")
    running = make_settings(
        **smtp_server.settings(scheduler_enabled=True, reminder_poll_seconds=3600),
        mongodb_db=settings.mongodb_db,
    )

    for _ in range(2):  # start, deliver, stop; then start again: nothing more to send
        service = create_app(running, store=store, clock=clock, configure_logs=False)
        async with service.router.lifespan_context(service):
            for _ in range(250):
                if smtp_server.inbox.messages():
                    break
                await asyncio.sleep(0.02)
            [doc] = await notifications(store, activity["id"])
            for _ in range(250):
                if doc["status"] == "sent":
                    break
                await asyncio.sleep(0.02)
                [doc] = await notifications(store, activity["id"])

    assert doc["status"] == "sent"
    [received] = smtp_server.inbox.messages()
    assert received.rcpt_tos == ["alice@acme.test"]


# ---------------------------------------------------------------------------- keeping in step


async def test_one_pending_notification_per_recipient_at_notif_time(store, settings, clock):
    activity = await create(
        store,
        settings,
        clock,
        date="2026-02-15",
        start_time="14:00:00",
        send_reminder=True,
        other_users=["bob", "carol", "alice"],  # the assignee once, not twice
    )
    docs = await notifications(store, activity["id"])
    assert pending(docs) == {r: [at("2026-02-15T14:00:00Z")] for r in ("alice", "bob", "carol")}
    doc = docs[0]
    assert doc["title"] == "Reminder: Follow up" and doc["read"] is False
    assert doc["sent_at"] is None and doc["attempts"] == 0 and doc["last_error"] is None
    assert doc["claimed_by"] is None and doc["lease_until"] is None
    emails = {d["user_id"]: d["email"] for d in docs}
    assert emails == {"alice": "alice@acme.test", "bob": None, "carol": None}

    # Saving other fields again keeps the same documents, refreshed.
    await patch(store, settings, clock, activity["id"], subject="Call back", notes="n")
    again = await notifications(store, activity["id"])
    assert [d["_id"] for d in again] == [d["_id"] for d in docs]
    assert {d["title"] for d in again} == {"Reminder: Call back"}


async def test_date_change_moves_pending_and_leaves_sent_untouched(store, settings, clock):
    activity = await create(store, settings, clock, date="2026-01-20", send_reminder=True)
    await deliver(store, settings, clock)
    [sent] = await notifications(store, activity["id"])
    assert sent["status"] == "sent"

    await patch(store, settings, clock, activity["id"], date="2026-01-22")
    await patch(store, settings, clock, activity["id"], date="2026-01-23")
    docs = await notifications(store, activity["id"])
    assert pending(docs) == {"alice": [at("2026-01-23T06:00:00Z")]}
    [still_sent] = [d for d in docs if d["_id"] == sent["_id"]]
    assert still_sent == sent
    assert [d["status"] for d in docs] == ["sent", "cancelled", "pending"]

    # An explicit notif_time wins over the date default and moves the reminder again.
    await patch(store, settings, clock, activity["id"], notif_time="2026-01-23T05:00:00Z")
    assert pending(await notifications(store, activity["id"])) == {
        "alice": [at("2026-01-23T05:00:00Z")]
    }
    clock.set(at("2026-01-23T05:00:00Z"))
    assert (await deliver(store, settings, clock)).sent == 1


@pytest.mark.parametrize(
    "change",
    [{"send_reminder": False}, {"state": "done"}, "delete"],
    ids=["send_reminder_off", "done", "deleted"],
)
async def test_turning_off_finishing_or_deleting_cancels_pending(store, settings, clock, change):
    activity = await create(
        store, settings, clock, date="2026-01-25", send_reminder=True, other_users=["bob"]
    )
    if change == "delete":
        await activities.delete_activity(store, ALICE, activity["id"], now=clock.now())
    else:
        await patch(store, settings, clock, activity["id"], **change)
    docs = await notifications(store, activity["id"])
    assert [d["status"] for d in docs] == ["cancelled", "cancelled"]
    clock.set(at("2026-01-26T00:00:00Z"))
    assert (await deliver(store, settings, clock)).claimed == 0


async def test_turning_a_reminder_back_on_revives_it(store, settings, clock):
    activity = await create(store, settings, clock, date="2026-01-25", send_reminder=True)
    await patch(store, settings, clock, activity["id"], send_reminder=False)
    await patch(store, settings, clock, activity["id"], send_reminder=True)
    [doc] = await notifications(store, activity["id"])
    assert doc["status"] == "pending" and doc["send_at"] == at("2026-01-25T06:00:00Z")


async def test_other_users_changes_add_and_cancel_per_recipient(store, settings, clock):
    activity = await create(
        store, settings, clock, date="2026-01-25", send_reminder=True, other_users=["bob", "carol"]
    )
    await patch(store, settings, clock, activity["id"], other_users=["carol", "dan"])
    docs = await notifications(store, activity["id"])
    when = [at("2026-01-25T06:00:00Z")]
    assert pending(docs) == {"alice": when, "carol": when, "dan": when}
    assert [d["status"] for d in docs if d["user_id"] == "bob"] == ["cancelled"]

    # A new assignee takes over the assignee's reminder.
    await patch(store, settings, clock, activity["id"], user_id="erin", other_users=[])
    assert pending(await notifications(store, activity["id"])) == {"erin": when}


async def test_batch_create_writes_all_notifications_in_one_command(store, settings, clock):
    payloads = [
        ActivityCreate.model_validate(
            {"type": "task", "subject": f"T{n}", "send_reminder": True, "other_users": ["bob"]}
        )
        for n in range(50)
    ]
    usage = begin_usage()
    docs = await activities.create_activities(
        store, ALICE, payloads, settings=settings, now=clock.now()
    )
    # One insert of the activities, one bulk write of 100 reminders; the change log: one id
    # reservation, one insert of 50 events, one read of the tenant's webhooks (then cached).
    assert usage.commands == 2 + 3
    stored = store.notifications.collection
    assert await stored.count({"tenant_id": TENANT, "status": "pending"}) == 100
    assert {d["activity_id"] for d in await stored.find({}, limit=200)} == {d["id"] for d in docs}


async def test_activities_without_reminders_cost_no_extra_commands(store, settings, clock):
    activity = await create(store, settings, clock)
    usage = begin_usage()
    await patch(store, settings, clock, activity["id"], notes="nothing to remind")
    await activities.delete_activity(store, ALICE, activity["id"], now=clock.now())
    # Read + conditional write, twice; each change's event: reserve + insert (the tenant's
    # webhooks were read, and cached, by the create).
    assert usage.commands == 4 + 2 * 2
    assert await store.notifications.collection.count({}) == 0


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
async def test_edits_whose_syncs_run_in_any_order_leave_only_the_newest_reminders(
    store, settings, clock, monkeypatch, order
):
    """Four edits race: each one's reminder sync may run after a newer edit's. In every order,
    no recipient ever has two pending reminders, and only the newest edit's remain."""
    activity = await create(store, settings, clock, date="2026-01-25", send_reminder=True)
    delayed: list[tuple[list[Any], list[Any]]] = []

    async def later(store_: Store, actor: Principal, docs: Any, *, now: datetime, before: Any):
        delayed.append((list(docs), list(before)))

    with monkeypatch.context() as patched:
        patched.setattr(reminders, "sync_for_activities", later)
        for day, others in (("2026-01-26", ["bob"]), ("2026-01-27", []), ("2026-01-28", ["cy"])):
            await patch(store, settings, clock, activity["id"], date=day, other_users=others)
        # The newest edit keeps the time: it wants the very documents the previous one wrote.
        await patch(store, settings, clock, activity["id"], subject="Moved")

    for index in order:
        docs, before = delayed[index]
        await reminders.sync_for_activities(store, ALICE, docs, now=clock.now(), before=before)
        current = pending(await notifications(store, activity["id"]))
        assert all(len(times) == 1 for times in current.values()), (order, current)
    newest = [at("2026-01-28T06:00:00Z")]
    docs = await notifications(store, activity["id"])
    assert pending(docs) == {"alice": newest, "cy": newest}
    assert {d["title"] for d in docs if d["status"] == "pending"} == {"Reminder: Moved"}


async def test_a_late_sync_after_delete_cancels_what_it_wrote(store, settings, clock):
    activity = await create(store, settings, clock, date="2026-01-25", send_reminder=True)
    moved = await patch(store, settings, clock, activity["id"], date="2026-01-30")
    await activities.delete_activity(store, ALICE, activity["id"], now=clock.now())
    await reminders.sync_for_activities(store, ALICE, [moved], now=clock.now(), before=[moved])
    assert pending(await notifications(store, activity["id"])) == {}


async def test_recipient_address_comes_from_their_own_token_or_odoo(store, settings, clock):
    await store.envelopes.upsert_many(
        TENANT,
        records.USER,
        "odoo",
        [
            {"id": records.odoo_user_id(8), "user_id": "odoo:8", "email": "Olga <olga@acme.test>"},
            {"id": records.odoo_user_id(9), "user_id": "odoo:9", "email": "x,y@acme.test"},
        ],
        now=clock.now(),
    )
    activity = await create(
        store,
        settings,
        clock,
        date="2026-01-25",
        send_reminder=True,
        other_users=["odoo:8", "odoo:9"],
    )
    # A manager moves it: the new reminders keep the address alice's own token gave.
    manager = person("mia", email="mia@acme.test", roles=("manager",))
    await patch(store, settings, clock, activity["id"], user=manager, date="2026-01-26")
    docs = [d for d in await notifications(store, activity["id"]) if d["status"] == "pending"]
    assert {d["user_id"]: d["email"] for d in docs} == {
        "alice": "alice@acme.test",
        "odoo:8": "olga@acme.test",
        "odoo:9": None,  # not one plain address: in-app only
    }


# ---------------------------------------------------------------------------- template


async def test_custom_template_is_used(store, settings, clock, smtp_server, tmp_path):
    template = tmp_path / "reminder.txt"
    template.write_text("Subject: [CRM] $subject on $date\n\nHi $recipient, $time at $location.\n")
    mail = smtp_settings(smtp_server, reminder_template=template)
    await create(
        store, settings, clock, date="2026-01-20", start_time="09:00:00", send_reminder=True
    )
    await deliver(store, mail, clock)
    [received] = smtp_server.inbox.messages()
    assert received.message["Subject"] == "[CRM] Follow up on 2026-01-20"
    assert received.message.get_content().strip() == "Hi alice, 09:00 at -."


def test_a_template_with_an_unknown_placeholder_is_refused_at_start(tmp_path):
    template = tmp_path / "bad.txt"
    template.write_text("Hello $nobody\n")
    with pytest.raises(ValueError, match=r"\$nobody"):
        reminders.ReminderTemplate.load(template)


def test_default_template_renders_every_field():
    template = reminders.ReminderTemplate.load()
    subject, body = template.render(
        {
            **dict.fromkeys(
                (
                    "title",
                    "subject",
                    "type",
                    "date",
                    "time",
                    "start_time",
                    "end_time",
                    "location",
                    "related",
                    "contact",
                    "description",
                    "recipient",
                ),
                "x",
            ),
            "title": "Reminder: Demo",
        }
    )
    assert subject == "Reminder: Demo" and "Where:" in body


def test_retry_policy_settings_are_consistent():
    with pytest.raises(ValueError, match="REMINDER_LEASE_SECONDS"):
        make_settings(reminder_lease_seconds=30, smtp_timeout_seconds=30)
    with pytest.raises(ValueError, match="SMTP_FROM"):
        make_settings(smtp_host="mail.acme.test")
    with pytest.raises(ValueError, match="SMTP_FROM"):
        make_settings(smtp_host="mail.acme.test", smtp_from="Reminders")
    with pytest.raises(ValueError, match="SMTP_USER"):
        make_settings(smtp_user="u")
    secret = make_settings(
        smtp_host="mail.acme.test",
        smtp_from="r@acme.test",
        smtp_user="u",
        smtp_password="hunter2-password",
    )
    assert "hunter2" not in repr(secret) and "hunter2" not in str(secret.model_dump())


def test_notification_ids_are_deterministic():
    send_at = datetime(2026, 1, 20, 6, 0, 0, 123456, tzinfo=UTC)
    same = reminders.notification_id("act_1", "alice", send_at.replace(microsecond=123000))
    assert reminders.notification_id("act_1", "alice", send_at) == same
    assert reminders.notification_id("act_1", "bob", send_at) != same
    assert (
        Counter(
            reminders.notification_id("act_1", "alice", send_at + timedelta(minutes=m))
            for m in range(100)
        ).most_common(1)[0][1]
        == 1
    )
