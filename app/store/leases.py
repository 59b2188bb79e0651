"""The leases collection: at most one holder of a named piece of work, taken over on expiry.

A lease is one document keyed by its name (e.g. `"acme:sync"`). It is claimed with one atomic
`find_one_and_update` that only matches when the lease is free or expired, so two replicas can
never both win. The holder renews it while it works and releases it at the end; a holder that
dies simply stops renewing, and the lease can be taken over once it expires.

The document may carry the holder's durable state too (the sync keeps its watermarks there):
`renew` writes it fenced by the owner, so a holder that lost its lease can no longer change it.
Every command filters on `_id`: no secondary index is needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from app.store.repository import Repository

# `expires_at` of a lease nobody holds: always in the past.
FREE = datetime(1970, 1, 1, tzinfo=UTC)


class Leases(Repository):
    async def acquire(
        self,
        key: str,
        *,
        owner: str,
        ttl_seconds: float,
        now: datetime,
        on_insert: Mapping[str, Any] | None = None,
        claim: Mapping[str, Any] | None = None,
        increment: Mapping[str, int] | None = None,
    ) -> dict[str, Any] | None:
        """Claim the lease `key` for `owner`; the lease document after the claim, or None when
        someone else holds an unexpired lease.

        Args:
            on_insert: fields of a lease document created by this call (e.g. the tenant).
            claim: fields set by a successful claim (e.g. the run it is for).
            increment: counters incremented by a successful claim (e.g. a run sequence number).
        """
        # Make sure the document exists (an `_id`-keyed upsert: idempotent, safe to race), so the
        # claim below is a plain conditional update that can never insert a second holder.
        await self.collection.update_one(
            {"_id": key},
            {"$setOnInsert": {**(on_insert or {}), "owner": None, "expires_at": FREE}},
            upsert=True,
        )
        update: dict[str, Any] = {
            "$set": {
                **(claim or {}),
                "owner": owner,
                "acquired_at": now,
                "expires_at": now + timedelta(seconds=ttl_seconds),
            }
        }
        if increment:
            update["$inc"] = dict(increment)
        return await self.collection.find_one_and_update(
            {"_id": key, "expires_at": {"$lte": now}}, update
        )

    async def renew(
        self,
        key: str,
        *,
        owner: str,
        ttl_seconds: float,
        now: datetime,
        changes: Mapping[str, Any] | None = None,
    ) -> bool:
        """Extend the lease and write `changes` with it, only if `owner` still holds it."""
        matched = await self.collection.update_one(
            {"_id": key, "owner": owner},
            {"$set": {**(changes or {}), "expires_at": now + timedelta(seconds=ttl_seconds)}},
        )
        return matched > 0

    async def release(
        self, key: str, *, owner: str, changes: Mapping[str, Any] | None = None
    ) -> bool:
        """Free the lease (writing `changes`) if `owner` still holds it."""
        matched = await self.collection.update_one(
            {"_id": key, "owner": owner},
            {"$set": {**(changes or {}), "owner": None, "expires_at": FREE}},
        )
        return matched > 0

    async def holder(self, key: str) -> dict[str, Any] | None:
        """The lease document as it is now (who holds it, and any state it carries)."""
        return await self.collection.find_one({"_id": key})
