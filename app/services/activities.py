"""Activity rules: defaults, contact auto-fill, edit rights, lifecycle, search.

Activities are stored as envelopes' `data` with calendar dates and wall-clock times as text
(`YYYY-MM-DD`, `HH:MM:SS`) and three derived keys written with them:
- `start_sort`: start_time or "24:00:00", so all-day items sort last within a day;
- `due_sort`: due_date or "9999-12-31", a non-null scalar sort key (STORE.md);
- `occurred_at`: date + start_time in the tenant's DEFAULT_TZ, the timeline's instant.
Nothing time-dependent (urgency, days overdue) is stored: it is computed per request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from pydantic_core import to_json

from app.config import Settings
from app.errors import (
    ActivityNotFound,
    Conflict,
    Forbidden,
    PreconditionFailed,
    ValidationFailed,
)
from app.schemas.activity import ActivityCreate, ActivityDetail, ActivityUpdate
from app.schemas.common import Related
from app.services import cursor as keyset
from app.services import events, followups, records, reminders
from app.services.activity_read import read_item, urgency_of
from app.services.auth import Principal
from app.services.clock import local_to_utc, utc_ms, zone
from app.store import Store
from app.store.conditions import after, all_of, contains_text, one_of, within

ENTITY = records.ACTIVITY
NO_DUE_SORT = "9999-12-31"
ALL_DAY_SORT = "24:00:00"
DEFAULT_REMINDER_TIME = time(6, 0)

SORTS: dict[str, list[tuple[str, int]]] = {
    "date": [("date", 1), ("start_sort", 1), ("id", 1)],
    "-date": [("date", -1), ("start_sort", -1), ("id", -1)],
    "due_date": [("due_sort", 1), ("start_sort", 1), ("id", 1)],
    "-due_date": [("due_sort", -1), ("start_sort", -1), ("id", -1)],
    "updated_at": [("updated_at", 1), ("start_sort", 1), ("id", 1)],
    "-updated_at": [("updated_at", -1), ("start_sort", -1), ("id", -1)],
}


@dataclass(frozen=True)
class ActivityFilters:
    """Search filters of GET /activities; every one becomes a database condition."""

    types: Sequence[str] = ()
    states: Sequence[str] = ()
    state_not: Sequence[str] = ()
    user_ids: Sequence[str] = ()
    priority: Sequence[str] = ()
    source: str | None = None
    contact_id: str | None = None
    related: Related | None = None
    date_from: date | None = None
    date_to: date | None = None
    due_before: date | None = None
    due_after: date | None = None
    urgency: Sequence[str] = ()
    q: str | None = None
    series_id: str | None = None


@dataclass(frozen=True)
class ActivityPageResult:
    items: list[dict[str, Any]]  # `read_item`s: ActivityRead fields, ready to serialize
    next_cursor: str | None
    total: int | None = None

    def to_json(self) -> bytes:
        """The page as `ActivityPage` serializes it (`total` only when counted): one pydantic-core
        call, no re-validation."""
        page: dict[str, Any] = {"items": self.items, "next_cursor": self.next_cursor}
        if self.total is not None:
            page["total"] = self.total
        return to_json(page)


@dataclass
class _Lookups:
    """Related records and users needed to fill defaults, fetched in one query per kind."""

    related: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)


# ---------------------------------------------------------------------------- reading
def urgency_condition(urgencies: Sequence[str], today: str) -> dict[str, Any]:
    """A database condition selecting activities in any of `urgencies` as of `today`."""
    open_ = {"state": {"$ne": "done"}}
    by_urgency = {
        "done": {"state": "done"},
        "no_due_date": {**open_, "due_date": None},
        # `$lt`/`$gt` on a string only match strings (type bracketing), never a null due date.
        "overdue": {**open_, "due_date": {"$lt": today}},
        "today": {**open_, "due_date": today},
        "upcoming": {**open_, "due_date": {"$gt": today}},
    }
    return {"$or": [by_urgency[u] for u in dict.fromkeys(urgencies)]}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def filter_conditions(filters: ActivityFilters, today: str) -> list[dict[str, Any]]:
    conds = [
        one_of("type", filters.types),
        one_of("state", filters.states),
        one_of("user_id", filters.user_ids),
        one_of("priority", filters.priority),
    ]
    if filters.state_not:
        conds.append({"state": {"$nin": list(filters.state_not)}})
    if filters.source:
        conds.append({"source": filters.source})
    if filters.contact_id:
        conds.append({"contact_id": filters.contact_id})
    if filters.related:
        conds.append({"related.model": filters.related.model, "related.id": filters.related.id})
    conds.append(within("date", gte=_iso(filters.date_from), lte=_iso(filters.date_to)))
    conds.append(within("due_date", lt=_iso(filters.due_before), gt=_iso(filters.due_after)))
    if filters.urgency:
        conds.append(urgency_condition(filters.urgency, today))
    if filters.q:
        conds.append(contains_text(filters.q, ("subject", "description")))
    if filters.series_id:
        conds.append({"series_id": filters.series_id})
    return [c for c in conds if c]


async def get_activity(store: Store, user: Principal, activity_id: str) -> dict[str, Any]:
    data = await store.envelopes.get(user.tenant, ENTITY, activity_id)
    if data is None:
        raise ActivityNotFound(activity_id)
    return data


async def get_activity_detail(
    store: Store, user: Principal, activity_id: str, *, today: str
) -> ActivityDetail:
    """One activity with its reminder notifications (`notifs`, one extra bounded query)."""
    data = await get_activity(store, user, activity_id)
    notifs = await reminders.notifications_of_activity(store, user.tenant, activity_id)
    urgency, days_overdue = urgency_of(data, today)
    return ActivityDetail.model_validate(
        {**data, "urgency": urgency, "days_overdue": days_overdue, "notifs": notifs}
    )


async def search_activities(
    store: Store,
    user: Principal,
    filters: ActivityFilters,
    *,
    today: str,
    sort: str = "date",
    limit: int = 50,
    cursor: str | None = None,
    include_total: bool = False,
) -> ActivityPageResult:
    keys = SORTS[sort]
    conditions = filter_conditions(filters, today)
    page_conditions = list(conditions)
    if cursor:
        page_conditions.append(after(keys, keyset.decode_cursor(cursor, sort, len(keys))))
    rows = await store.envelopes.find(
        user.tenant, ENTITY, all_of(page_conditions), sort=keys, limit=limit + 1
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = keyset.encode_cursor(sort, keyset.sort_values(rows[-1], keys))
    total = (
        await store.envelopes.count(user.tenant, ENTITY, all_of(conditions))
        if include_total
        else None
    )
    return ActivityPageResult([read_item(r, today) for r in rows], next_cursor, total)


# ---------------------------------------------------------------------------- writing


def _stored_value(value: Any) -> Any:
    if isinstance(value, BaseModel):  # related, next_activity
        return value.model_dump()
    if isinstance(value, datetime):
        return utc_ms(value)
    if isinstance(value, date | time):
        return value.isoformat()
    return value


def derived_keys(data: Mapping[str, Any], tenant_zone: ZoneInfo) -> dict[str, Any]:
    start = data.get("start_time")
    return {
        "start_sort": start or ALL_DAY_SORT,
        "due_sort": data.get("due_date") or NO_DUE_SORT,
        "occurred_at": local_to_utc(
            date.fromisoformat(data["date"]),
            time.fromisoformat(start) if start else None,
            tenant_zone,
        ),
    }


def can_edit(user: Principal, data: Mapping[str, Any]) -> bool:
    if user.is_manager:
        return True
    mine = set(user.identities)
    return (
        data.get("user_id") in mine
        or data.get("created_by") in mine
        or bool(mine.intersection(data.get("other_users") or ()))
    )


def default_notif_time(data: Mapping[str, Any], assignee_zone: ZoneInfo) -> datetime:
    """date + (start_time or 06:00:00), in the assignee's zone."""
    start = data.get("start_time")
    at = time.fromisoformat(start) if start else DEFAULT_REMINDER_TIME
    return local_to_utc(date.fromisoformat(data["date"]), at, assignee_zone)


async def _lookups(
    store: Store,
    tenant: str,
    relateds: Sequence[Related],
    user_ids: Sequence[str],
    opportunity_model: str,
) -> _Lookups:
    found = _Lookups()
    by_entity: dict[str, dict[str, tuple[str, str]]] = {}
    for rel in relateds:
        key = records.related_record_key(rel.model, rel.id, opportunity_model)
        if key:
            by_entity.setdefault(key[0], {})[key[1]] = (rel.model, rel.id)
    for entity_type, wanted in by_entity.items():
        for rec in await store.envelopes.get_many(tenant, entity_type, list(wanted)):
            found.related[wanted[rec["id"]]] = rec
    user_keys = {k: uid for uid in set(user_ids) if (k := records.user_record_key(uid))}
    for rec in await store.envelopes.get_many(tenant, records.USER, list(user_keys)):
        found.users[user_keys[rec["id"]]] = rec
    return found


def _assignee_zone(
    user: Principal, assignee: str, lookups: _Lookups, settings: Settings
) -> ZoneInfo:
    if assignee in user.identities and user.tz:
        return zone(user.tz)
    synced_tz = lookups.users.get(assignee, {}).get("tz")
    if synced_tz:
        try:
            return zone(synced_tz)
        except ValidationFailed:
            pass  # a bad tz in Odoo must not block the activity
    return zone(settings.default_tz)


async def assignee_zone(
    store: Store, user: Principal, assignee: str, settings: Settings
) -> ZoneInfo:
    """The zone an assignee's dates and reminders are in (token tz, synced tz, DEFAULT_TZ)."""
    lookups = await _lookups(store, user.tenant, [], [assignee], settings.opportunity_model)
    return _assignee_zone(user, assignee, lookups, settings)


def _user_name(user: Principal, assignee: str, lookups: _Lookups) -> str | None:
    if assignee in user.identities and user.name:
        return user.name
    name = lookups.users.get(assignee, {}).get("name")
    return str(name) if name else None


def _fill_related(data: dict[str, Any], lookups: _Lookups, contact_given: bool) -> None:
    related = data.get("related")
    if not related:
        return
    record = lookups.related.get((related["model"], related["id"]))
    if record is None:
        return
    if record.get("name"):  # a known record's name wins: it follows the record
        data["related"] = {**related, "name": record["name"]}
    if contact_given:
        return
    if related["model"] == "res.partner":
        data["contact_id"], data["contact_name"] = related["id"], record.get("name")
    elif record.get("contact_id"):
        data["contact_id"], data["contact_name"] = record["contact_id"], record.get("contact_name")


def _apply_reminder_default(
    data: dict[str, Any], user: Principal, lookups: _Lookups, settings: Settings
) -> None:
    """Keep an automatic notif_time in step with date/start_time/assignee; keep explicit ones."""
    if data.get("send_reminder") and (
        data.get("notif_time") is None or data.get("notif_time_auto")
    ):
        zone_ = _assignee_zone(user, data["user_id"], lookups, settings)
        data["notif_time"] = default_notif_time(data, zone_)
        data["notif_time_auto"] = True


async def build_new_activities(
    store: Store,
    user: Principal,
    payloads: Sequence[ActivityCreate],
    *,
    settings: Settings,
    now: datetime,
    ids: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Validated input → stored documents, with every default of the contract applied;
    `ids` (one per payload) replace the generated ones (deterministic follow-up ids)."""
    now = utc_ms(now)
    caller_today = now.astimezone(zone(user.tz or settings.default_tz)).date()
    tenant_zone = zone(settings.default_tz)
    assignees = [p.user_id or user.sub for p in payloads]
    lookups = await _lookups(
        store,
        user.tenant,
        [p.related for p in payloads if p.related],
        assignees,
        settings.opportunity_model,
    )
    docs = []
    for index, (payload, assignee) in enumerate(zip(payloads, assignees, strict=True)):
        data = {k: _stored_value(v) for k, v in payload.model_dump(exclude={"related"}).items()}
        data["related"] = payload.related.model_dump() if payload.related else None
        activity_id = ids[index] if ids else records.new_local_activity_id()
        data.update(
            id=activity_id,
            source="local",
            external_id=None,
            user_id=assignee,
            user_name=_user_name(user, assignee, lookups),
            date=(payload.date or caller_today).isoformat(),
            other_users=list(dict.fromkeys(payload.other_users)),
            created_by=user.sub,
            created_at=now,
            updated_at=now,
            completed_at=now if payload.state == "done" else None,
            version=1,
            notif_time_auto=False,
            series_id=activity_id if payload.recurrence else None,
        )
        _fill_related(data, lookups, contact_given=payload.contact_id is not None)
        _apply_reminder_default(data, user, lookups, settings)
        data.update(derived_keys(data, tenant_zone))
        docs.append(data)
    return docs


async def create_activities(
    store: Store,
    user: Principal,
    payloads: Sequence[ActivityCreate],
    *,
    settings: Settings,
    now: datetime,
) -> list[dict[str, Any]]:
    """All or nothing: everything was validated before this point; one insert command."""
    docs = await build_new_activities(store, user, payloads, settings=settings, now=now)
    await insert_activities(store, user, docs, settings=settings, now=now)
    return docs


async def insert_activities(
    store: Store,
    user: Principal,
    docs: Sequence[dict[str, Any]],
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """Store built activities in one insert command, then their reminders and change events."""
    await store.envelopes.insert_many(user.tenant, ENTITY, "local", docs, now=utc_ms(now))
    await reminders.sync_for_activities(store, user, docs, now=now)
    await events.record_activities(
        store, user.tenant, "created", docs, now=now, tz=settings.default_tz
    )


def parse_if_match(value: str | None) -> int | None:
    """`"3"`, `W/"3"` or `3` → 3; `*` or absent → None (no precondition)."""
    if value is None or value.strip() == "*":
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed('If-Match must be the ETag of the activity, e.g. "3"')
    return int(tag)


async def _editable(store: Store, user: Principal, activity_id: str) -> dict[str, Any]:
    current = await get_activity(store, user, activity_id)
    if current.get("source") == "odoo":
        raise Conflict("This activity is owned by Odoo and cannot be changed here")
    if not can_edit(user, current):
        raise Forbidden("Only the owner, the creator, other users or a manager can change it")
    return current


_MAX_ATTEMPTS = 5


async def update_activity(
    store: Store,
    user: Principal,
    activity_id: str,
    patch: ActivityUpdate,
    *,
    if_match: str | None,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """Read, merge, write conditionally on the version read; retried on a concurrent write
    unless the client pinned a version with If-Match."""
    expected = parse_if_match(if_match)
    now = utc_ms(now)
    for _ in range(_MAX_ATTEMPTS):
        current = await _editable(store, user, activity_id)
        if expected is not None and current["version"] != expected:
            raise PreconditionFailed(
                f"The activity is at version {current['version']}, not {expected}"
            )
        changes = await _changes(store, user, current, patch, settings=settings, now=now)
        updated = await store.envelopes.update(
            user.tenant,
            ENTITY,
            activity_id,
            changes,
            expected_version=current["version"],
            now=now,
        )
        if updated is not None:
            await reminders.sync_for_activities(store, user, [updated], now=now, before=[current])
            await events.record_activities(
                store, user.tenant, "updated", [updated], now=now, tz=settings.default_tz
            )
            await followups.after_update(store, user, current, updated, settings=settings, now=now)
            return updated
        if expected is not None:
            raise PreconditionFailed("The activity was changed by someone else meanwhile")
    raise Conflict("The activity is being changed concurrently; retry")


async def _changes(
    store: Store,
    user: Principal,
    current: Mapping[str, Any],
    patch: ActivityUpdate,
    *,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    given = patch.model_fields_set
    changes = {k: _stored_value(getattr(patch, k)) for k in given}
    if "other_users" in changes:
        changes["other_users"] = list(dict.fromkeys(changes["other_users"]))
    merged = {**current, **changes}
    start, end = merged.get("start_time"), merged.get("end_time")
    if start and end and end < start:
        raise ValidationFailed("end_time must not be before start_time", loc=("body", "end_time"))
    lookups = await _lookups(
        store,
        user.tenant,
        [patch.related] if "related" in given and patch.related else [],
        [merged["user_id"]] if "user_id" in given else [],
        settings.opportunity_model,
    )
    if "user_id" in given:
        merged["user_name"] = _user_name(user, merged["user_id"], lookups)
    if "related" in given:
        _fill_related(merged, lookups, contact_given="contact_id" in given)
    if "notif_time" in given:
        merged["notif_time_auto"] = False
    if "state" in given and merged["state"] != current.get("state"):
        merged["completed_at"] = now if merged["state"] == "done" else None
    if "recurrence" in given or "date" in given:
        followups.check_recurrence(merged)
    if merged.get("recurrence") and not merged.get("series_id"):
        merged["series_id"] = merged["id"]
    _apply_reminder_default(merged, user, lookups, settings)
    merged.update(derived_keys(merged, zone(settings.default_tz)))
    merged["updated_at"] = now
    return {
        k: v
        for k, v in merged.items()
        if k not in ("entity_type", "version", "id") and current.get(k, ...) != v
    }


async def delete_activity(
    store: Store, user: Principal, activity_id: str, *, now: datetime
) -> dict[str, Any]:
    """Soft delete: the envelope stays (for audit and sync) but no read returns it."""
    now = utc_ms(now)
    for _ in range(_MAX_ATTEMPTS):
        current = await _editable(store, user, activity_id)
        deleted = await store.envelopes.update(
            user.tenant,
            ENTITY,
            activity_id,
            {"deleted_at": now, "deleted_by": user.sub, "updated_at": now},
            expected_version=current["version"],
            deactivate=True,
            now=now,
        )
        if deleted is not None:
            await reminders.sync_for_activities(store, user, [deleted], now=now, before=[current])
            await events.record_activities(store, user.tenant, "deleted", [deleted], now=now)
            return deleted
    raise Conflict("The activity is being changed concurrently; retry")
