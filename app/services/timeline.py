"""The timeline: activities and Odoo chatter messages in one chronological stream.

Both kinds live in the serving collection and carry the same sort keys in `data`: `occurred_at`
(an aware UTC instant, never null) and `id` (unique across kinds: it is the serving id). So one
query over `entity_type in (activity, message)`, sorted by (occurred_at, id), merges them, and a
keyset cursor on those two keys pages through ties and both kinds without gaps or duplicates.

Filters that only one kind has select within that kind: `type` narrows activities and
`message_type` narrows messages. When `kind` is not given, a filter on one kind only also
leaves the other kind out (`?type=call` answers calls, not calls and every message); give
`kind` explicitly to keep both (`?type=call&kind=activity&kind=message`: calls and all
messages). `user_id` is the activity's assignee or the message author's user identity; `q`
searches subject and description (activities) or subject and body text (messages); `since` is
inclusive and `until` exclusive.

This module also builds the stored message document (`message_document`) for the Odoo sync.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.errors import ValidationFailed
from app.schemas.chatter import SYSTEM_AUTHOR, SanitizedHtml, html_to_text, sanitize_html
from app.schemas.common import RECORD_ID_PATTERN, RELATED_MODELS
from app.schemas.timeline import (
    KINDS,
    MessageDocument,
    MessagePage,
    MessageRead,
    RecordRef,
    StoredRelated,
    TimelineItem,
    TimelinePage,
)
from app.services import activity_read, records
from app.services import cursor as keyset
from app.services.auth import Principal
from app.services.clock import utc_instant, utc_ms
from app.store import Store
from app.store.conditions import after, all_of, contains_text, one_of, within

ENTITY_TYPES = {"activity": records.ACTIVITY, "message": records.MESSAGE}
SUMMARY_CHARS = 200
_RECORD_ID = re.compile(RECORD_ID_PATTERN)


def timeline_sort(order: str) -> list[tuple[str, int]]:
    direction = -1 if order == "desc" else 1
    return [("occurred_at", direction), ("id", direction)]


@dataclass(frozen=True)
class TimelineFilters:
    """Filters of GET /timeline; every one becomes a database condition."""

    related: tuple[str, str] | None = None  # (model, id)
    kinds: Sequence[str] = ()
    types: Sequence[str] = ()
    message_types: Sequence[str] = ()
    user_ids: Sequence[str] = ()
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None


def record_ref(model: str, record_id: str, *, opportunity_model: str) -> tuple[str, str]:
    """A record addressed in a path: a related model of the contract or the opportunity
    model, and a well-formed id; 422 otherwise."""
    if model not in RELATED_MODELS and model != opportunity_model:
        raise ValidationFailed(
            f"Unknown model {model!r}; expected one of "
            f"{sorted({*RELATED_MODELS, opportunity_model})}",
            loc=("path", "model"),
            msg="unknown model",
        )
    if not _RECORD_ID.match(record_id):
        raise ValidationFailed(
            "A record id is 1-64 letters, digits, '_', '-' or '.'",
            loc=("path", "id"),
            msg="invalid record id",
        )
    return model, record_id


def _kinds(filters: TimelineFilters) -> list[str]:
    if filters.kinds:
        return [k for k in KINDS if k in filters.kinds]
    kinds = []
    if filters.types or not filters.message_types:
        kinds.append("activity")
    if filters.message_types or not filters.types:
        kinds.append("message")
    return kinds


def timeline_query(filters: TimelineFilters) -> tuple[list[str], list[dict[str, Any]]]:
    """(entity types, conditions) selecting the filtered stream, without any cursor."""
    kinds = _kinds(filters)
    conds: list[dict[str, Any]] = []
    # Kind-specific conditions; `type` exists on activities only and `message_type` on
    # messages only (MessageDocument), which is what tells the kinds apart inside `data`.
    by_kind = {
        "activity": one_of("type", filters.types),
        "message": one_of("message_type", filters.message_types),
    }
    if len(kinds) == 1 and by_kind[kinds[0]]:
        conds.append(by_kind[kinds[0]])
    elif len(kinds) == 2 and (by_kind["activity"] or by_kind["message"]):
        conds.append(
            {
                "$or": [
                    by_kind["activity"] or {"type": {"$exists": True}},
                    by_kind["message"] or {"message_type": {"$exists": True}},
                ]
            }
        )
    if filters.related:
        model, record_id = filters.related
        conds.append({"related.model": model, "related.id": record_id})
    if filters.user_ids:
        conds.append(one_of("user_id", filters.user_ids))
    if filters.source:
        conds.append({"source": filters.source})
    since, until = filters.since, filters.until
    window = within(
        "occurred_at",
        gte=utc_instant(since) if since else None,
        lt=utc_instant(until) if until else None,
    )
    if window:
        conds.append(window)
    if filters.q:
        conds.append(contains_text(filters.q, ("subject", "description", "body_text")))
    return [ENTITY_TYPES[k] for k in kinds], conds


async def _page(
    store: Store,
    tenant: str,
    entity_types: list[str],
    conds: list[dict[str, Any]],
    *,
    order: str,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One query: the page after `cursor` plus one row that tells whether another page exists."""
    keys = timeline_sort(order)
    scope = f"timeline:{order}"
    page_conds = list(conds)
    if cursor:
        page_conds.append(after(keys, keyset.decode_cursor(cursor, scope, len(keys))))
    rows = await store.envelopes.find(
        tenant, entity_types, all_of(page_conds), sort=keys, limit=limit + 1
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, keyset.encode_cursor(scope, keyset.sort_values(rows[-1], keys))


def _summary(text: str | None) -> str | None:
    if not text:
        return None
    flat = " ".join(text.split())
    if len(flat) <= SUMMARY_CHARS:
        return flat or None
    return flat[: SUMMARY_CHARS - 1].rstrip() + "…"


def _item(data: Mapping[str, Any], today: str) -> TimelineItem:
    related = RecordRef.model_validate(data["related"]) if data.get("related") else None
    if data["entity_type"] == records.MESSAGE:
        message = MessageRead.model_validate(data)
        return TimelineItem(
            kind="message",
            id=message.id,
            occurred_at=data["occurred_at"],
            title=message.subject or message.subtype or message.message_type.capitalize(),
            summary=_summary(message.body_text),
            related=related,
            message=message,
        )
    activity = activity_read.to_read(data, today)
    return TimelineItem(
        kind="activity",
        id=activity.id,
        occurred_at=data["occurred_at"],
        title=activity.subject,
        summary=_summary(activity.description or activity.body or activity.notes),
        related=related,
        activity=activity,
    )


async def read_timeline(
    store: Store,
    user: Principal,
    filters: TimelineFilters,
    *,
    today: str,
    order: str = "desc",
    limit: int = 50,
    cursor: str | None = None,
) -> TimelinePage:
    """One page of the merged stream, newest first by default: one database command."""
    entity_types, conds = timeline_query(filters)
    rows, next_cursor = await _page(
        store, user.tenant, entity_types, conds, order=order, limit=limit, cursor=cursor
    )
    return TimelinePage(items=[_item(r, today) for r in rows], next_cursor=next_cursor)


async def read_messages(
    store: Store,
    user: Principal,
    filters: TimelineFilters,
    *,
    order: str = "desc",
    limit: int = 50,
    cursor: str | None = None,
) -> MessagePage:
    """One page of a record's chatter plus `count`, the number of its messages matching the
    filters over all pages: two database commands (a find and a count)."""
    filters = dataclasses.replace(filters, kinds=("message",), types=())
    entity_types, conds = timeline_query(filters)
    rows, next_cursor = await _page(
        store, user.tenant, entity_types, conds, order=order, limit=limit, cursor=cursor
    )
    count = await store.envelopes.count(user.tenant, entity_types, all_of(conds))
    return MessagePage(
        messages=[MessageRead.model_validate(r) for r in rows],
        count=count,
        next_cursor=next_cursor,
    )


def timeline_filters(
    user: Principal,
    *,
    related: tuple[str, str] | None = None,
    kinds: Sequence[str] = (),
    types: Sequence[str] = (),
    message_types: Sequence[str] = (),
    user_id: str | None = None,
    source: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
) -> TimelineFilters:
    """Query values → filters; `user_id=me` is any of the caller's identities. An empty
    window (`until` not after `since`) is no error: it selects nothing."""
    return TimelineFilters(
        related=related,
        kinds=tuple(kinds),
        types=tuple(types),
        message_types=tuple(message_types),
        user_ids=user.user_ids(user_id),
        source=source,
        since=since,
        until=until,
        q=q or None,
    )


# ---------------------------------------------------------------------------- stored messages


def _aware_utc_ms(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (Odoo's naive values are UTC)")
    return utc_ms(value)


def message_document(
    *,
    external_id: int,
    res_model: str | None,
    res_id: int | str | None,
    date: datetime,
    message_type: str,
    body: str | None,
    body_text: str | None = None,
    record_name: str | None = None,
    subtype: str | None = None,
    author_id: int | str | None = None,
    author_name: str | None = None,
    author_uid: int | None = None,
    email_from: str | None = None,
    subject: str | None = None,
    updated_at: datetime | None = None,
) -> MessageDocument:
    """The stored `data` of an Odoo chatter message (`mail.message`), for
    `store.envelopes.upsert_many(tenant, "message", "odoo", docs, now=...)`.

    The keyword names are those of `connectors.odoo.normalize.OdooMessage`, so the sync can
    call `message_document(**message._asdict(), author_uid=...)`.

    Args:
        external_id: the mail.message id.
        res_model, res_id: the record it is posted on (Odoo's `model`, `res_id`).
        date: when it was posted, aware (Odoo's naive datetimes are UTC).
        message_type: Odoo's message_type ("comment", "email", "notification", ...).
        body: the HTML body; sanitized here (`schemas.chatter.sanitize_html`) unless it is
            already a `SanitizedHtml` (what that sanitizer returns), so a stored body is safe to
            render whoever built it.
        body_text: the body as plain text; derived from the body when not given.
        record_name: the record's display name.
        subtype: the subtype's name ("Note", "Discussions", ...).
        author_id, author_name: the author partner; author_name is "System" when none.
        author_uid: the res.users id of the author when known; becomes `user_id` "odoo:<uid>".
        email_from, subject: as in Odoo.
        updated_at: Odoo's write_date; defaults to `date`.

    Returns:
        The document; its `id` is the serving id `odoo_message_<external_id>`.

    Raises:
        ValueError: `date` or `updated_at` is naive.
    """
    posted_at = _aware_utc_ms(date, "date")
    # Only the sanitizer makes a SanitizedHtml; any other string (or None) is cleaned here.
    clean = str(body) if type(body) is SanitizedHtml else str(sanitize_html(body or ""))
    record_id = None if res_id is None else str(res_id)
    related: StoredRelated | None = (
        {"model": res_model, "id": record_id, "name": record_name or None}
        if res_model and record_id
        else None
    )
    return MessageDocument(
        id=records.odoo_message_id(external_id),
        external_id=external_id,
        source="odoo",
        res_model=res_model or None,
        res_id=record_id,
        record_name=record_name or None,
        date=posted_at,
        occurred_at=posted_at,
        message_type=message_type,
        subtype=subtype or None,
        author_id=str(author_id) if author_id else None,
        author_name=author_name or SYSTEM_AUTHOR,
        email_from=email_from or None,
        subject=subject or None,
        body=clean,
        body_text=html_to_text(clean) if body_text is None else body_text,
        related=related,
        user_id=f"odoo:{author_uid}" if author_uid else None,
        updated_at=_aware_utc_ms(updated_at, "updated_at") if updated_at else posted_at,
    )
