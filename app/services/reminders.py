"""Reminders: notifications kept in step with their activities, and delivered exactly once.

One notification document per reminder occurrence: `_id` is `"<tenant>:<id>"` with
`id = ntf_<hash(activity id, recipient, send_at)>`. The same activity, recipient and time always
name the same document, so saving an activity again never duplicates a reminder, and a moved
reminder is a *new* document: one already sent is never touched or sent again.

Keeping in step (`sync_for_activities`, called by the activities service after every write, one
ordered bulk write): while an activity has `send_reminder`, is not done and not deleted, each
recipient (`user_id` and every `other_users` member) gets the document for `notif_time`
(inserted, refreshed while pending, revived if cancelled); every other pending document of the
activity is cancelled. Every document records the activity version that last wrote it
(`activity_version`) and a write only touches documents no newer than itself; a sync that then
finds its activity already at a newer version cancels what it left pending. Concurrent edits can
therefore never leave two pending reminders for one recipient: only the newest edit's survive.

Delivering (`deliver_due`, run by the scheduler on every replica): a worker claims one due
document at a time with one `find_one_and_update` (pending and `next_attempt_at <= now`, or
sending with an expired lease → sending, `claimed_by`, `lease_until`); only the claimer may then
record the outcome. A send is cut off at SMTP_TIMEOUT_SECONDS, at most half the lease (Settings
checks it), so no one else can claim a reminder while it is being sent; a worker that dies
releases it when the lease expires. Retries go back to pending with a later `next_attempt_at`;
`send_at` keeps the time the reminder was meant for.

In-app: a notification is listed for its recipient once due (`send_at <= now`) in every status
but cancelled. The in-app channel never waits for e-mail: a reminder whose e-mail is being
retried, or failed, is still a reminder the user should see.

This module decides; the notifications repository (`app/store/notifications.py`) turns each
decision into its MongoDB commands.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from app.config import Settings
from app.connectors.smtp import Mailer, MailError, MailRejected, SmtpMailer
from app.errors import NotificationNotFound
from app.schemas.notification import NotificationPage, NotificationRead
from app.services import cursor as keyset
from app.services import events, records
from app.services.auth import Principal
from app.services.clock import Clock, utc_ms
from app.store import Store
from app.store.notifications import (
    CANCELLED,
    FAILED,
    IN_APP_ORDER,
    PENDING,
    SENDING,
    SENT,
    ActivityReminders,
    Recipient,
)

logger = logging.getLogger("app.reminders")

NOTIFS_PER_ACTIVITY = 200
_KNOWN_EMAILS_LIMIT = 500
# One plain address: no list separator, quoting or comment that could add or hide a recipient.
_ATOM = r"[^@\s,;:<>()\[\]\\\"]+"
_EMAIL = re.compile(rf"^{_ATOM}@{_ATOM}\.{_ATOM}$")
_LIST_SCOPE = "notifications"


def notification_id(activity_id: str, recipient: str, send_at: datetime) -> str:
    key = f"{activity_id}\x1f{recipient}\x1f{utc_ms(send_at).isoformat(timespec='milliseconds')}"
    return f"ntf_{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def wants_reminder(activity: Mapping[str, Any]) -> bool:
    return (
        bool(activity.get("send_reminder"))
        and activity.get("notif_time") is not None
        and activity.get("state") != "done"
        and not activity.get("deleted_at")
    )


def recipients_of(activity: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys([activity["user_id"], *(activity.get("other_users") or ())]))


def _usable_email(value: Any) -> str | None:
    """A plain address to send to, or None. `Name <addr>` (as Odoo may hold it) gives `addr`."""
    if not isinstance(value, str):
        return None
    address = parseaddr(value)[1] if "<" in value else value.strip()
    return address if len(address) <= 254 and _EMAIL.match(address) else None


def _snapshot(activity: Mapping[str, Any]) -> dict[str, Any]:
    """What the e-mail says about the activity, as of the last write."""
    related = activity.get("related") or None
    related_label = None
    if related:
        related_label = related.get("name") or f"{related['model']},{related['id']}"
    return {
        "subject": activity["subject"],
        "type": activity.get("type"),
        "date": activity["date"],
        "start_time": activity.get("start_time"),
        "end_time": activity.get("end_time"),
        "location": activity.get("location"),
        "related": related_label,
        "contact": activity.get("contact_name") or activity.get("contact_id"),
        "description": activity.get("description"),
    }


# ---------------------------------------------------------------------------- keeping in step


async def sync_for_activities(
    store: Store,
    actor: Principal,
    activities: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    before: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """Make the pending notifications of `activities` (as just written) match them.

    `before` holds the same activities as read before the write; None means they were just
    created (no notification can exist yet, and no one else knows their ids).
    An activity that neither had nor has a reminder costs nothing.
    """
    fresh = before is None
    previous = {b["id"]: b for b in before or ()}
    relevant = [
        a for a in activities if wants_reminder(a) or wants_reminder(previous.get(a["id"], {}))
    ]
    if not relevant:
        return
    now = utc_ms(now)
    emails = await _recipient_emails(store, actor, relevant, fresh=fresh)
    wanted = [_wanted(actor.tenant, activity, emails) for activity in relevant]
    await store.notifications.keep_in_step(wanted, now=now, fresh=fresh)
    if not fresh:
        await _cancel_superseded(store, actor.tenant, relevant, now=now)


def _wanted(
    tenant: str, activity: Mapping[str, Any], emails: Mapping[tuple[str, str], str | None]
) -> ActivityReminders:
    """The reminders `activity` wants: one per recipient at `notif_time`, or none."""
    activity_id = activity["id"]
    send_at = utc_ms(activity["notif_time"]) if wants_reminder(activity) else None
    recipients: dict[str, Recipient] = {}
    if send_at is not None:
        for user_id in recipients_of(activity):
            nid = notification_id(activity_id, user_id, send_at)
            recipients[nid] = Recipient(nid, user_id, emails.get((activity_id, user_id)))
    return ActivityReminders(
        tenant_id=tenant,
        activity_id=activity_id,
        version=activity["version"],
        title=f"Reminder: {activity['subject']}",
        snapshot=_snapshot(activity),
        send_at=send_at,
        recipients=list(recipients.values()),
    )


async def _cancel_superseded(
    store: Store, tenant: str, written: Sequence[Mapping[str, Any]], *, now: datetime
) -> None:
    """After a sync: if its activity moved on meanwhile (a newer write, or deleted), what this
    sync left pending may be stale. Cancel anything older than the activity's current version;
    the newer write's own sync (before or after this) keeps what it wants."""
    found = await store.envelopes.get_many(tenant, records.ACTIVITY, [a["id"] for a in written])
    latest = {a["id"]: a["version"] for a in found}
    superseded: dict[str, int | None] = {}
    for activity in written:
        current = latest.get(activity["id"])
        if current is None and not activity.get("deleted_at"):
            superseded[activity["id"]] = None  # deleted by someone else meanwhile
        elif current is not None and current > activity["version"]:
            superseded[activity["id"]] = current
    if superseded:
        # Two writes (pending, sending) per activity, as the log has always counted them.
        logger.info("reminder sync overtaken by a newer edit", extra={"ops": 2 * len(superseded)})
        await store.notifications.cancel_superseded(tenant, superseded, now=now)


async def _recipient_emails(
    store: Store, actor: Principal, activities: Sequence[Mapping[str, Any]], *, fresh: bool
) -> dict[tuple[str, str], str | None]:
    """Where each recipient's e-mail goes: `notif_email` for the assignee, else the caller's own
    `email` claim when the recipient is the caller, else the synced Odoo user's address for an
    `odoo:<n>` recipient, else the address a previous reminder of the activity already used."""
    emails: dict[tuple[str, str], str | None] = {}
    odoo_users: dict[str, str] = {}
    for activity in activities:
        if not wants_reminder(activity):
            continue
        for recipient in recipients_of(activity):
            email = None
            if recipient == activity["user_id"]:
                email = _usable_email(activity.get("notif_email"))
            if email is None and recipient in actor.identities:
                email = _usable_email(actor.email)
            if email is None and (key := records.user_record_key(recipient)):
                odoo_users[key] = recipient
            emails[(activity["id"], recipient)] = email
    if odoo_users:
        found = await store.envelopes.get_many(actor.tenant, records.USER, list(odoo_users))
        by_recipient = {odoo_users[u["id"]]: _usable_email(u.get("email")) for u in found}
        for (activity_id, recipient), email in emails.items():
            if email is None and by_recipient.get(recipient):
                emails[(activity_id, recipient)] = by_recipient[recipient]
    missing = [pair for pair, email in emails.items() if email is None]
    if missing and not fresh:
        earlier = await store.notifications.known_emails(
            actor.tenant,
            sorted({a for a, _ in missing}),
            sorted({r for _, r in missing}),
            limit=_KNOWN_EMAILS_LIMIT,
        )
        for doc in earlier:
            pair = (doc["activity_id"], doc["user_id"])
            if pair in emails and emails[pair] is None:
                emails[pair] = doc["email"]
    return emails


# ---------------------------------------------------------------------------- reading


def to_read(doc: Mapping[str, Any]) -> NotificationRead:
    status = PENDING if doc["status"] == SENDING else doc["status"]
    return NotificationRead.model_validate({**doc, "status": status})


async def notifications_of_activity(
    store: Store, tenant: str, activity_id: str
) -> list[NotificationRead]:
    """The activity's reminders (all but cancelled ones), by time then recipient; bounded."""
    docs = await store.notifications.of_activity(tenant, activity_id, limit=NOTIFS_PER_ACTIVITY)
    return [to_read(d) for d in docs]


async def list_mine(
    store: Store,
    user: Principal,
    *,
    now: datetime,
    unread: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> NotificationPage:
    """The caller's in-app notifications (any of their identities) that are due, newest first."""
    after = keyset.decode_cursor(cursor, _LIST_SCOPE, len(IN_APP_ORDER)) if cursor else None
    docs = await store.notifications.due_for(
        user.tenant,
        user.identities,
        now=utc_ms(now),
        unread_only=unread,
        after_values=after,
        limit=limit + 1,
    )
    next_cursor = None
    if len(docs) > limit:
        docs = docs[:limit]
        next_cursor = keyset.encode_cursor(_LIST_SCOPE, keyset.sort_values(docs[-1], IN_APP_ORDER))
    return NotificationPage(items=[to_read(d) for d in docs], next_cursor=next_cursor)


async def mark_read(store: Store, user: Principal, notification_id: str, *, now: datetime) -> None:
    """Mark one of the caller's notifications read (idempotent); anyone else's is not found."""
    if not await store.notifications.mark_read(
        user.tenant, notification_id, user.identities, now=utc_ms(now)
    ):
        raise NotificationNotFound(notification_id)


# ---------------------------------------------------------------------------- e-mail

_DEFAULT_TEMPLATE = "templates/reminder_email.txt"
_SAMPLE = {
    "title": "Reminder: Demo",
    "subject": "Demo",
    "type": "meeting",
    "date": "2026-01-20",
    "time": "14:00 - 15:00",
    "start_time": "14:00",
    "end_time": "15:00",
    "location": "Room A",
    "related": "ACME opportunity",
    "contact": "Jane Doe",
    "description": "",
    "recipient": "alice",
}


@dataclass(frozen=True)
class ReminderTemplate:
    """A `string.Template` e-mail: an optional first line `Subject: ...`, then the body.

    Placeholders: $title, $subject, $type, $date, $time, $start_time, $end_time, $location,
    $related, $contact, $description, $recipient.
    """

    subject: Template
    body: Template

    @classmethod
    def parse(cls, text: str) -> ReminderTemplate:
        first, _, rest = text.partition("\n")
        if first.lower().startswith("subject:"):
            template = cls(Template(first[len("subject:") :].strip()), Template(rest.lstrip("\n")))
        else:
            template = cls(Template("$title"), Template(text))
        try:
            template.render(_SAMPLE)
        except KeyError as exc:
            known = ", ".join(f"${k}" for k in _SAMPLE)
            raise ValueError(f"unknown placeholder ${exc.args[0]} (known: {known})") from None
        return template

    @classmethod
    def load(cls, path: Path | None = None) -> ReminderTemplate:
        """REMINDER_TEMPLATE, or the template that ships with the service. Read once, at start."""
        if path is None:
            text = resources.files("app").joinpath(_DEFAULT_TEMPLATE).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        try:
            return cls.parse(text)
        except ValueError as exc:
            raise ValueError(f"reminder e-mail template {path or 'default'}: {exc}") from None

    def render(self, values: Mapping[str, str]) -> tuple[str, str]:
        return self.subject.substitute(values), self.body.substitute(values)


@dataclass(frozen=True)
class EmailChannel:
    mailer: Mailer
    template: ReminderTemplate
    sender: str


def email_channel(settings: Settings, mailer: Mailer | None = None) -> EmailChannel | None:
    """The e-mail channel, or None (in-app only) when SMTP is not configured: said once, here."""
    template = ReminderTemplate.load(settings.reminder_template)
    if mailer is None:
        if settings.smtp_host is None:
            logger.warning(
                "SMTP_HOST is not set: reminders are delivered in-app only, without e-mail"
            )
            return None
        mailer = SmtpMailer.from_settings(settings)
    return EmailChannel(mailer, template, settings.smtp_from or "activity-service@localhost")


def _short_time(value: str | None) -> str | None:
    return value[:5] if value else None


def _template_values(doc: Mapping[str, Any]) -> dict[str, str]:
    activity = doc.get("activity") or {}
    start, end = _short_time(activity.get("start_time")), _short_time(activity.get("end_time"))
    when = f"{start} - {end}" if start and end else (start or "all day")
    return {
        "title": doc["title"],
        "subject": activity.get("subject") or "",
        "type": activity.get("type") or "activity",
        "date": activity.get("date") or "",
        "time": when,
        "start_time": start or "",
        "end_time": end or "",
        "location": activity.get("location") or "-",
        "related": activity.get("related") or "-",
        "contact": activity.get("contact") or "-",
        "description": activity.get("description") or "",
        "recipient": doc["user_id"],
    }


def compose_email(doc: Mapping[str, Any], channel: EmailChannel, *, now: datetime) -> EmailMessage:
    subject, body = channel.template.render(_template_values(doc))
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())  # one line, whatever the activity's subject
    message["From"] = channel.sender
    message["To"] = doc["email"]
    message["Date"] = format_datetime(now.astimezone(UTC))
    # The same id on every attempt lets a mail system drop a copy re-sent after a lost worker.
    domain = parseaddr(channel.sender)[1].partition("@")[2] or "activity-service"
    message["Message-ID"] = f"<{doc['id']}@{domain}>"
    message.set_content(body)
    return message


# ---------------------------------------------------------------------------- delivering


@dataclass
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    emailed: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    lost: int = 0  # our claim expired and someone else holds it now


async def claim_next(
    store: Store, *, owner: str, now: datetime, lease: timedelta
) -> dict[str, Any] | None:
    """Atomically take the most overdue deliverable notification, or None."""
    return await store.notifications.claim_due(utc_ms(now), owner, lease=lease)


async def deliver_due(
    store: Store,
    channel: EmailChannel | None,
    *,
    owner: str,
    clock: Clock,
    settings: Settings,
    stopping: asyncio.Event | None = None,
) -> DeliveryStats:
    """Deliver due reminders, one claim at a time, up to REMINDER_BATCH. Safe to run on any
    number of workers at once: each notification is delivered by the one that claimed it."""
    stats = DeliveryStats()
    lease = timedelta(seconds=settings.reminder_lease_seconds)
    for _ in range(settings.reminder_batch):
        if stopping is not None and stopping.is_set():
            break
        doc = await claim_next(store, owner=owner, now=clock.now(), lease=lease)
        if doc is None:
            break
        stats.claimed += 1
        await _deliver(
            store, doc, channel, owner=owner, clock=clock, settings=settings, stats=stats
        )
    if stats.claimed:
        logger.info("reminders delivered", extra={"owner": owner, **asdict(stats)})
    return stats


async def _deliver(
    store: Store,
    doc: Mapping[str, Any],
    channel: EmailChannel | None,
    *,
    owner: str,
    clock: Clock,
    settings: Settings,
    stats: DeliveryStats,
) -> None:
    attempts, max_attempts = int(doc["attempts"]), settings.reminder_max_attempts

    async def finish(status: str, **fields: Any) -> bool:
        done = await store.notifications.finish(
            doc, owner, status, now=utc_ms(clock.now()), **fields
        )
        if not done:
            stats.lost += 1
            logger.warning(
                "reminder claim lost before its outcome was recorded",
                extra={"notification_id": doc["id"], "owner": owner},
            )
        return bool(done)

    if attempts > max_attempts:
        # Only reachable through expired leases: earlier holders died while sending it.
        if await finish(FAILED, last_error=f"gave up after {max_attempts} attempts"):
            stats.failed += 1
        return
    if doc.get("cancel_requested"):
        if await finish(CANCELLED, cancelled_at=utc_ms(clock.now())):
            stats.cancelled += 1
        return
    if attempts == 1:  # first time due: the in-app reminder shows from now on
        await events.record_notification_due(store, doc, now=clock.now())
    channels = ["in_app"]
    if channel is not None and doc.get("email"):
        try:
            await channel.mailer.send(compose_email(doc, channel, now=clock.now()))
        except MailRejected as exc:
            await _failed(finish, doc, str(exc), stats)
            return
        except MailError as exc:
            if attempts >= max_attempts:
                await _failed(finish, doc, f"{exc} (after {attempts} attempts)", stats)
                return
            await _retry_later(store, doc, owner, str(exc), clock=clock, settings=settings)
            stats.retried += 1
            return
        except (ValueError, TypeError) as exc:  # a message that cannot be built: not weather
            await _failed(finish, doc, f"cannot compose the e-mail: {exc}"[:300], stats)
            return
        channels.append("email")
        stats.emailed += 1
    if await finish(SENT, sent_at=utc_ms(clock.now()), channels=channels, last_error=None):
        stats.sent += 1


async def _failed(
    finish: Callable[..., Awaitable[bool]],
    doc: Mapping[str, Any],
    reason: str,
    stats: DeliveryStats,
) -> None:
    logger.warning("reminder e-mail failed", extra={"notification_id": doc["id"], "reason": reason})
    if await finish(FAILED, last_error=reason):
        stats.failed += 1


async def _retry_later(
    store: Store,
    doc: Mapping[str, Any],
    owner: str,
    reason: str,
    *,
    clock: Clock,
    settings: Settings,
) -> None:
    now = utc_ms(clock.now())
    delay = timedelta(
        seconds=settings.reminder_retry_base_seconds * 2 ** (int(doc["attempts"]) - 1)
    )
    logger.warning(
        "reminder e-mail deferred",
        extra={"notification_id": doc["id"], "reason": reason, "retry_in_s": delay.total_seconds()},
    )
    # Cancelled while we were trying: the repository cancels it instead of retrying.
    await store.notifications.retry_later(doc, owner, at=now + delay, reason=reason, now=now)
