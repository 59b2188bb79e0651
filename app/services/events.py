"""Recording changes: every writer appends one event per change to the tenant's change log.

Writers call one function per change site, right after the change is written:
- the activities service: `record_activities` (created, updated, deleted; a batch is one call);
- the Odoo sync: `record_synced` around each page's bulk upsert and `record_sync_removed` around
  its deactivations (both context managers: they read what the page is about to replace, so a
  re-read record that did not change emits nothing), `record_sync_finished` at the end of a run;
- the reminder worker: `record_notification_due` when a reminder falls due.

The event is appended *after* the change, not in the same write: the change log is its own
collection, and neither a bulk write nor the embedded engine spans two collections (no
transactions there). A request is acknowledged only after its event is appended, so a crash in
between loses at most the event of a change its client never saw acknowledged.

Until a tenant's first sync has finished, the sync's per-record events are not written: its one
`sync.finished` says "everything changed".

Each append reserves a block of ids from the tenant's counter (one command) and inserts the
events (one command); then the tenant's webhooks get one delivery per matching event (one bulk
write, and nothing at all when no webhook listens: their list is cached per process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json

from app.schemas.sync import SyncRun
from app.services import activity_read, records, webhooks
from app.services.clock import utc_ms, zone
from app.store import Store

_MESSAGE_FIELDS = (
    "id",
    "external_id",
    "res_model",
    "res_id",
    "record_name",
    "date",
    "message_type",
    "subtype",
    "author_id",
    "author_name",
    "email_from",
    "subject",
    "body",
    "body_text",
)
# Entity types whose changes are events (users, partners, leads and types are not).
_KIND_OF_ENTITY = {records.ACTIVITY: "activity", records.MESSAGE: "message"}


@dataclass(frozen=True)
class Change:
    """One event to append: its type, what it is about, whose it is, and the object."""

    type: str
    related: Mapping[str, Any] | None
    user_ids: Sequence[str]
    data: Any


async def append(store: Store, tenant: str, changes: Sequence[Change], *, now: datetime) -> None:
    """Append `changes` to the tenant's log, numbered in order, then enqueue webhook calls."""
    if not changes:
        return
    occurred_at = utc_ms(now)
    # A clock at the calendar's end (tests of year-9999 activities) keeps events to its end.
    expires_at = (
        occurred_at + store.events.retention
        if occurred_at <= datetime.max.replace(tzinfo=occurred_at.tzinfo) - store.events.retention
        else datetime.max.replace(tzinfo=occurred_at.tzinfo)
    )
    first = await store.events.reserve(tenant, len(changes))
    docs = []
    for seq, change in enumerate(changes, start=first):
        related = _related_ref(change.related)
        body = {
            "type": change.type,
            "occurred_at": occurred_at,
            "id": seq,
            "related": related,
            "data": change.data,
        }
        docs.append(
            {
                "seq": seq,
                "type": change.type,
                "related_model": related["model"] if related else None,
                "related_id": related["id"] if related else None,
                "user_ids": list(dict.fromkeys(u for u in change.user_ids if u)),
                "occurred_at": occurred_at,
                "expires_at": expires_at,
                "payload": to_json(body).decode(),
            }
        )
    await store.events.insert(tenant, docs)
    await webhooks.enqueue(store, tenant, docs, now=occurred_at)


def _related_ref(related: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not related or not related.get("model") or related.get("id") in (None, ""):
        return None
    return {"model": related["model"], "id": str(related["id"]), "name": related.get("name")}


def _today(tz: str, now: datetime) -> str:
    return now.astimezone(zone(tz)).date().isoformat()


def _activity_owners(doc: Mapping[str, Any]) -> list[str]:
    return [doc.get("user_id") or "", *(doc.get("other_users") or ())]


def _change(kind: str, action: str, doc: Mapping[str, Any], *, today: str) -> Change:
    if action == "deleted":
        data: Any = {"id": doc["id"]}
    elif kind == "activity":
        data = activity_read.read_item(doc, today)
    else:
        data = {name: doc.get(name) for name in _MESSAGE_FIELDS}
    owners = _activity_owners(doc) if kind == "activity" else [doc.get("user_id") or ""]
    return Change(f"{kind}.{action}", doc.get("related"), owners, data)


# ---------------------------------------------------------------------------- the API


async def record_activities(
    store: Store,
    tenant: str,
    action: str,
    docs: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    tz: str = "UTC",
) -> None:
    """`activity.<action>` for each written activity (as stored); urgency as of today in `tz`."""
    today = _today(tz, now)
    await append(
        store, tenant, [_change("activity", action, d, today=today) for d in docs], now=now
    )


# ---------------------------------------------------------------------------- the Odoo sync


@asynccontextmanager
async def record_synced(
    store: Store,
    tenant: str,
    entity_type: str,
    docs: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
    tz: str = "UTC",
) -> AsyncIterator[None]:
    """Wrap the sync's upsert of one page: `<kind>.created` for documents that were not there,
    `<kind>.updated` for those that changed, nothing for those re-read unchanged.

    Costs one `_id` lookup of the page's documents before the write; nothing for entity types
    that have no events, or before the tenant's first sync finished.
    """
    kind = _KIND_OF_ENTITY.get(entity_type)
    if kind is None or not docs or not await store.events.synced_once(tenant):
        yield
        return
    before = {
        d["id"]: d
        for d in await store.envelopes.get_many(tenant, entity_type, [str(d["id"]) for d in docs])
    }
    yield
    today = _today(tz, now)
    changes = []
    for doc in docs:
        previous = before.get(str(doc["id"]))
        if previous is None:
            changes.append(_change(kind, "created", doc, today=today))
        elif _differs(previous, doc):
            changes.append(_change(kind, "updated", doc, today=today))
    await append(store, tenant, changes, now=now)


def _differs(stored: Mapping[str, Any], written: Mapping[str, Any]) -> bool:
    return any(k != "entity_type" and written.get(k) != v for k, v in stored.items()) or any(
        k not in stored for k in written
    )


@asynccontextmanager
async def record_sync_removed(
    store: Store,
    tenant: str,
    entity_type: str,
    serving_ids: Sequence[str],
    *,
    now: datetime,
) -> AsyncIterator[None]:
    """Wrap the sync's deactivation of documents gone from Odoo: `<kind>.deleted` for each one
    that was still visible (read first, for its related record and owner)."""
    kind = _KIND_OF_ENTITY.get(entity_type)
    if kind is None or not serving_ids or not await store.events.synced_once(tenant):
        yield
        return
    visible = await store.envelopes.get_many(
        tenant, entity_type, list(serving_ids), fields=("related", "user_id", "other_users")
    )
    yield
    await append(store, tenant, [_change(kind, "deleted", d, today="") for d in visible], now=now)


async def record_sync_finished(store: Store, tenant: str, run: SyncRun, *, now: datetime) -> None:
    """`sync.finished` with the run as the API shows it; a success ends the tenant's first sync."""
    data = run.model_dump(mode="json")
    await append(store, tenant, [Change("sync.finished", None, (), data)], now=now)
    if run.status == "succeeded" and not await store.events.synced_once(tenant):
        await store.events.mark_synced(tenant)


# ---------------------------------------------------------------------------- reminders


async def record_notification_due(
    store: Store, notification: Mapping[str, Any], *, now: datetime
) -> None:
    """`notification.due` for its recipient, about the activity's related record."""
    tenant = notification["tenant_id"]
    activity = await store.envelopes.get(tenant, records.ACTIVITY, notification["activity_id"])
    data = {
        "id": notification["id"],
        "activity_id": notification["activity_id"],
        "user_id": notification["user_id"],
        "title": notification["title"],
        "send_at": notification["send_at"],
        "status": "pending",
        "read": bool(notification.get("read")),
        "sent_at": notification.get("sent_at"),
    }
    related = activity.get("related") if activity else None
    change = Change("notification.due", related, [notification["user_id"]], data)
    await append(store, tenant, [change], now=now)
