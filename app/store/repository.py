"""The base of the store's repositories: one per collection, with domain methods.

A repository is the only code that builds a collection's queries and writes; services call its
methods (`notifications.claim_due(now, owner, lease=...)`, `leases.acquire(key, ...)`) and never
see a collection or a pymongo operation. `collection` stays reachable for tests and benchmarks
that inspect or prepare raw documents.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.store.collection import TimedCollection

# The states of a claimed work item (reminder deliveries, webhook deliveries).
PENDING, SENDING = "pending", "sending"


class Repository:
    def __init__(self, collection: TimedCollection) -> None:
        self.collection = collection


class ClaimQueue(Repository):
    """Work items that workers across replicas take one at a time: `pending` ones that are due,
    and `sending` ones whose claim expired (a claimed item's `next_attempt_at` is its claim's
    end). Served by an index on (`status`, `next_attempt_at`)."""

    async def _claim_oldest_due(
        self, now: datetime, owner: str, lease: timedelta, **stamps: Any
    ) -> dict[str, Any] | None:
        """Atomically take the most overdue item for `owner` (one `find_one_and_update`)."""
        until = now + lease
        return await self.collection.find_one_and_update(
            {"status": {"$in": [PENDING, SENDING]}, "next_attempt_at": {"$lte": now}},
            {
                "$set": {
                    "status": SENDING,
                    "claimed_by": owner,
                    "lease_until": until,
                    "next_attempt_at": until,
                    **stamps,
                },
                "$inc": {"attempts": 1},
            },
            sort=[("next_attempt_at", 1)],
        )
