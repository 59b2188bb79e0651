"""Webhook subscriptions and their deliveries.

`webhooks`: `{_id: "<tenant>:<id>", id, tenant_id, url, events, description, secret, created_at,
created_by}`. The secret must be kept in clear: every delivery is signed with it.

`webhook_deliveries`: one document per (webhook, event), `_id` = `"<tenant>:<webhook id>:<seq>"`
so a delivery is never enqueued twice. Claimed for each attempt exactly as reminders are (one
`find_one_and_update` on due pending ones and expired `sending` ones); only the claimer records
the outcome.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo.operations import UpdateOne

from app.store.collection import TimedCollection
from app.store.repository import SENDING, ClaimQueue, Repository

DELIVERED, FAILED = "delivered", "failed"
# Active webhooks of a tenant are cached this long per process: a write does not pay a query to
# learn that nobody listens. Creating or deleting a webhook in this process clears the entry; a
# replica sees the change within this delay.
WEBHOOK_CACHE_SECONDS = 5.0
MAX_WEBHOOKS_PER_TENANT = 100
ATTEMPTS_KEPT = 20


def webhook_key(tenant_id: str, webhook_id: str) -> str:
    return f"{tenant_id}:{webhook_id}"


class Webhooks(Repository):
    def __init__(self, collection: TimedCollection) -> None:
        super().__init__(collection)
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}

    async def insert(self, tenant_id: str, doc: Mapping[str, Any]) -> None:
        await self.collection.insert_one(
            {"_id": webhook_key(tenant_id, doc["id"]), "tenant_id": tenant_id, **doc}
        )
        self._cache.pop(tenant_id, None)

    async def of_tenant(self, tenant_id: str) -> list[dict[str, Any]]:
        return await self.collection.find(
            {"tenant_id": tenant_id},
            sort=[("created_at", 1), ("id", 1)],
            limit=MAX_WEBHOOKS_PER_TENANT,
        )

    async def count(self, tenant_id: str) -> int:
        return await self.collection.count({"tenant_id": tenant_id})

    async def get(self, tenant_id: str, webhook_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one(
            {"_id": webhook_key(tenant_id, webhook_id), "tenant_id": tenant_id}
        )

    async def delete(self, tenant_id: str, webhook_id: str) -> bool:
        deleted = await self.collection.delete_many(
            {"_id": webhook_key(tenant_id, webhook_id), "tenant_id": tenant_id}
        )
        self._cache.pop(tenant_id, None)
        return deleted > 0

    async def cached_for(self, tenant_id: str) -> list[dict[str, Any]]:
        """The tenant's webhooks, from a per-process cache of WEBHOOK_CACHE_SECONDS."""
        entry = self._cache.get(tenant_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        hooks = await self.of_tenant(tenant_id)
        self._cache[tenant_id] = (time.monotonic() + WEBHOOK_CACHE_SECONDS, hooks)
        return hooks


class WebhookDeliveries(ClaimQueue):
    async def enqueue(self, tenant_id: str, deliveries: Sequence[Mapping[str, Any]]) -> None:
        """Insert deliveries idempotently (one bulk write; an existing one is left alone)."""
        await self.collection.bulk_write(
            [
                UpdateOne(
                    {"_id": f"{tenant_id}:{d['id']}"},
                    {"$setOnInsert": {"tenant_id": tenant_id, **d}},
                    upsert=True,
                )
                for d in deliveries
            ],
            ordered=False,
        )

    async def claim_next(
        self, *, owner: str, now: datetime, lease: timedelta
    ) -> dict[str, Any] | None:
        """Atomically take the most overdue delivery (pending and due, or its lease expired)."""
        return await self._claim_oldest_due(now, owner, lease)

    async def record(
        self,
        key: str,
        *,
        owner: str,
        status: str,
        attempt: Mapping[str, Any],
        fields: Mapping[str, Any],
    ) -> bool:
        """The outcome of an attempt, by its claimer only; False when the claim was lost."""
        changed = await self.collection.update_one(
            {"_id": key, "status": SENDING, "claimed_by": owner},
            {
                "$set": {"status": status, "claimed_by": None, "lease_until": None, **fields},
                "$push": {"attempt_log": {"$each": [dict(attempt)], "$slice": -ATTEMPTS_KEPT}},
            },
        )
        return changed > 0

    async def of_webhook(
        self, tenant_id: str, webhook_id: str, *, limit: int, before: int | None = None
    ) -> list[dict[str, Any]]:
        """The webhook's deliveries, newest event first."""
        where: dict[str, Any] = {"tenant_id": tenant_id, "webhook_id": webhook_id}
        if before is not None:
            where["event_id"] = {"$lt": before}
        return await self.collection.find(where, sort=[("event_id", -1)], limit=limit)

    async def purge(self, *, finished_before: datetime) -> int:
        return await self.collection.delete_many(
            {"status": {"$in": [DELIVERED, FAILED]}, "finished_at": {"$lt": finished_before}}
        )

    async def drop_webhook(self, tenant_id: str, webhook_id: str) -> int:
        return await self.collection.delete_many({"tenant_id": tenant_id, "webhook_id": webhook_id})
