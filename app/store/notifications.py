"""The notifications collection: one document per reminder occurrence, keyed `"<tenant>:<id>"`.

The reminders service decides which reminders an activity wants and when to deliver them; this
repository turns those decisions into MongoDB commands: the ordered bulk write that keeps an
activity's documents in step, the atomic delivery claim, and the outcome writes fenced by the
claim. Every write and read here is served by an index of `NOTIFICATION_INDEXES`
(app/store/__init__.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.operations import UpdateMany, UpdateOne

from app.store.collection import WriteOp
from app.store.conditions import SortKeys, after
from app.store.envelopes import envelope_id
from app.store.repository import PENDING, SENDING, ClaimQueue

SENT, FAILED, CANCELLED = "sent", "failed", "cancelled"
# Every status the in-app channel shows (once due): all but cancelled.
IN_APP_STATUSES = [PENDING, SENDING, SENT, FAILED]
# The in-app list's order; its last key is unique, so a keyset cursor resumes exactly.
IN_APP_ORDER: SortKeys = [("send_at", -1), ("id", -1)]
_OF_ACTIVITY_ORDER: SortKeys = [("send_at", 1), ("user_id", 1), ("id", 1)]


@dataclass(frozen=True)
class Recipient:
    notification_id: str
    user_id: str
    email: str | None


@dataclass(frozen=True)
class ActivityReminders:
    """The reminders one activity wants as of its `version` (none: `recipients` is empty)."""

    tenant_id: str
    activity_id: str
    version: int
    title: str
    snapshot: Mapping[str, Any]  # what the e-mail says about the activity
    send_at: datetime | None
    recipients: Sequence[Recipient]


class Notifications(ClaimQueue):
    """Reminder documents: kept in step with their activities, claimed and delivered once."""

    # -- keeping in step ----------------------------------------------------------------------

    async def keep_in_step(
        self, wanted: Sequence[ActivityReminders], *, now: datetime, fresh: bool
    ) -> None:
        """One ordered bulk write: each wanted reminder is inserted (refreshed while pending,
        revived if cancelled, un-cancelled while sending); every other document of the activity
        is cancelled. Only documents no newer than the activity's version are touched.
        `fresh`: the activities were just created, so no document of theirs can exist yet."""
        ops: list[WriteOp] = []
        for activity in wanted:
            ops.extend(_step_ops(activity, now=now, fresh=fresh))
        await self.collection.bulk_write(ops, ordered=True)

    async def cancel_superseded(
        self, tenant_id: str, current_versions: Mapping[str, int | None], *, now: datetime
    ) -> None:
        """Cancel what is older than each activity's current version; all of an activity whose
        version is None (deleted meanwhile)."""
        ops: list[WriteOp] = []
        for activity_id, current in current_versions.items():
            scope = {"tenant_id": tenant_id, "activity_id": activity_id}
            if current is None:
                ops.extend(_cancel_ops(scope, None, now))
            else:
                older = {**scope, "activity_version": {"$lt": current}}
                ops.extend(_cancel_ops(older, current, now))
        await self.collection.bulk_write(ops, ordered=True)

    async def known_emails(
        self, tenant_id: str, activity_ids: Sequence[str], user_ids: Sequence[str], *, limit: int
    ) -> list[dict[str, Any]]:
        """`activity_id`, `user_id` and `email` of earlier reminders with an address, latest
        first."""
        return await self.collection.find(
            {
                "tenant_id": tenant_id,
                "activity_id": {"$in": list(activity_ids)},
                "user_id": {"$in": list(user_ids)},
                "email": {"$type": "string"},
            },
            sort=[("updated_at", -1)],
            limit=limit,
            projection={"activity_id": 1, "user_id": 1, "email": 1},
        )

    # -- reading ------------------------------------------------------------------------------

    async def of_activity(
        self, tenant_id: str, activity_id: str, *, limit: int
    ) -> list[dict[str, Any]]:
        """The activity's reminders but cancelled ones, by time, recipient and id."""
        return await self.collection.find(
            {"tenant_id": tenant_id, "activity_id": activity_id, "status": {"$ne": CANCELLED}},
            sort=_OF_ACTIVITY_ORDER,
            limit=limit,
        )

    async def due_for(
        self,
        tenant_id: str,
        user_ids: Sequence[str],
        *,
        now: datetime,
        unread_only: bool,
        after_values: Sequence[Any] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """The in-app notifications of `user_ids` due by `now`, in `IN_APP_ORDER`, after the
        row whose sort values are `after_values` (a page's last)."""
        where: dict[str, Any] = {
            "tenant_id": tenant_id,
            "user_id": {"$in": list(user_ids)},
            "send_at": {"$lte": now},
            "status": {"$in": IN_APP_STATUSES},
        }
        if unread_only:
            where["read"] = False
        if after_values is not None:
            where = {"$and": [where, after(IN_APP_ORDER, after_values)]}
        return await self.collection.find(where, sort=IN_APP_ORDER, limit=limit)

    async def mark_read(
        self, tenant_id: str, notification_id: str, user_ids: Sequence[str], *, now: datetime
    ) -> bool:
        """Mark it read (idempotent); False when it is not one of `user_ids`'."""
        matched = await self.collection.update_one(
            {
                "_id": envelope_id(tenant_id, notification_id),
                "tenant_id": tenant_id,
                "user_id": {"$in": list(user_ids)},
            },
            {"$set": {"read": True, "read_at": now}},
        )
        return matched > 0

    # -- delivering ---------------------------------------------------------------------------

    async def claim_due(
        self, now: datetime, owner: str, *, lease: timedelta
    ) -> dict[str, Any] | None:
        """Atomically take the most overdue deliverable notification for `owner`, or None."""
        return await self._claim_oldest_due(now, owner, lease, claimed_at=now)

    async def finish(
        self, claimed: Mapping[str, Any], owner: str, status: str, *, now: datetime, **fields: Any
    ) -> bool:
        """Record the outcome of `owner`'s claim; False when the claim was lost meanwhile."""
        done = await self.collection.update_one(
            _claim_of(claimed, owner),
            {"$set": {"status": status, "lease_until": None, "updated_at": now, **fields}},
        )
        return done > 0

    async def retry_later(
        self, claimed: Mapping[str, Any], owner: str, *, at: datetime, reason: str, now: datetime
    ) -> bool:
        """Release the claim back to pending, due again `at`; when a cancel was requested
        meanwhile, cancel it instead. False when it was cancelled."""
        mine = _claim_of(claimed, owner)
        released = {
            "claimed_by": None,
            "lease_until": None,
            "last_error": reason,
            "updated_at": now,
        }
        retried = await self.collection.update_one(
            {**mine, "cancel_requested": {"$ne": True}},
            {"$set": {**released, "status": PENDING, "next_attempt_at": at}},
        )
        if retried:
            return True
        await self.collection.update_one(
            mine, {"$set": {**released, "status": CANCELLED, "cancelled_at": now}}
        )
        return False


def _claim_of(claimed: Mapping[str, Any], owner: str) -> dict[str, Any]:
    return {"_id": claimed["_id"], "status": SENDING, "claimed_by": owner}


def _step_ops(activity: ActivityReminders, *, now: datetime, fresh: bool) -> list[WriteOp]:
    tenant, activity_id, version = activity.tenant_id, activity.activity_id, activity.version
    keys = [envelope_id(tenant, r.notification_id) for r in activity.recipients]
    ops: list[WriteOp] = []
    for key, recipient in zip(keys, activity.recipients, strict=True):
        send_at = activity.send_at
        ops.append(
            UpdateOne(
                {"_id": key},
                {
                    "$setOnInsert": {
                        "id": recipient.notification_id,
                        "tenant_id": tenant,
                        "activity_id": activity_id,
                        "user_id": recipient.user_id,
                        "title": activity.title,
                        "send_at": send_at,
                        "next_attempt_at": send_at,
                        "status": PENDING,
                        "read": False,
                        "read_at": None,
                        "sent_at": None,
                        "attempts": 0,
                        "last_error": None,
                        "claimed_by": None,
                        "lease_until": None,
                        "cancel_requested": False,
                        "channels": [],
                        "email": recipient.email,
                        "activity": activity.snapshot,
                        "activity_version": version,
                        "created_at": now,
                        "updated_at": now,
                    }
                },
                upsert=True,
            )
        )
        if fresh:
            continue
        no_newer = {"_id": key, "activity_version": {"$lte": version}}
        # An address learned earlier (e.g. from the recipient's own token) is kept, not nulled.
        current = {
            "title": activity.title,
            "activity": activity.snapshot,
            "activity_version": version,
            "updated_at": now,
            **({"email": recipient.email} if recipient.email else {}),
        }
        ops.append(UpdateOne({**no_newer, "status": PENDING}, {"$set": current}))
        revived = {
            **current,
            "status": PENDING,
            "next_attempt_at": send_at,
            "attempts": 0,
            "last_error": None,
            "claimed_by": None,
            "lease_until": None,
            "cancel_requested": False,
        }
        ops.append(UpdateOne({**no_newer, "status": CANCELLED}, {"$set": revived}))
        ops.append(
            UpdateOne(
                {**no_newer, "status": SENDING},
                {"$set": {"cancel_requested": False, "activity_version": version}},
            )
        )
    if not fresh:
        others = {
            "tenant_id": tenant,
            "activity_id": activity_id,
            "activity_version": {"$lte": version},
            "_id": {"$nin": keys},
        }
        ops.extend(_cancel_ops(others, version, now))
    return ops


def _cancel_ops(where: Mapping[str, Any], version: int | None, now: datetime) -> list[WriteOp]:
    """Cancel pending documents; ask the worker holding a `sending` one not to retry it."""
    stamp: dict[str, Any] = {"updated_at": now}
    if version is not None:
        stamp["activity_version"] = version  # no older write can revive them afterwards
    return [
        UpdateMany(
            {**where, "status": PENDING},
            {"$set": {**stamp, "status": CANCELLED, "cancelled_at": now}},
        ),
        UpdateMany({**where, "status": SENDING}, {"$set": {**stamp, "cancel_requested": True}}),
    ]
