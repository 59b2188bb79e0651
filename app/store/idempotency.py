"""Idempotency keys: one document per (tenant, caller, key), claimed atomically.

The claim is ONE conditional upsert on the key's deterministic `_id`: it inserts the key, or
takes over one that expired; when an unexpired one exists the upsert collides on `_id`
(DuplicateKeyError) and the existing claim is returned instead. Two racing requests therefore
never both claim a key, on MongoDB or on the embedded engine. Expired keys are purged by the
service's clock (`purge_expired`, a caller's own keys), not by a TTL index on the wall clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from app.store.repository import Repository


class IdempotencyKeys(Repository):
    async def claim(
        self, key_id: str, record: Mapping[str, Any], *, now: datetime
    ) -> tuple[bool, dict[str, Any]]:
        """(True, record) when this call claimed `key_id`, else (False, the live claim)."""
        for _ in range(3):
            try:
                claimed = await self.collection.find_one_and_update(
                    {"_id": key_id, "expires_at": {"$lte": now}},
                    {"$set": dict(record)},
                    upsert=True,
                )
                return True, claimed or dict(record)
            except DuplicateKeyError:
                existing = await self.collection.find_one({"_id": key_id})
                if existing is not None:
                    return False, existing
                # Expired and removed between the two commands: claim again.
        raise RuntimeError(f"idempotency key {key_id!r} could not be claimed")

    async def purge_expired(self, tenant_id: str, user_id: str, *, now: datetime) -> int:
        """Remove a caller's expired keys (one command, served by `by_user_expires`)."""
        return await self.collection.delete_many(
            {"tenant_id": tenant_id, "user_id": user_id, "expires_at": {"$lte": now}}
        )

    async def release(self, key_id: str, claim_id: str) -> None:
        """Give up a claim whose work failed, so the key can be used again."""
        await self.collection.delete_many({"_id": key_id, "claim_id": claim_id})
