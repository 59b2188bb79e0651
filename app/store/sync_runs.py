"""The `sync_runs` collection: one document per Odoo sync run, kept for `RUN_RETENTION`.

The sync speaks in runs (start, save counts, finish, list, get); this module alone knows the
collection, its queries and the indexes that serve them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from app.store.repository import Repository

A, D = ASCENDING, DESCENDING
SYNC_RUN_INDEXES = [
    # Newest runs first, with the run list's tie-breaker (replaces by_tenant_started).
    IndexModel([("tenant_id", A), ("started_at", D), ("_id", D)], name="by_tenant_started_id"),
    IndexModel([("tenant_id", A), ("status", A), ("started_at", D)], name="by_tenant_status"),
    IndexModel(
        [("tenant_id", A), ("status", A), ("full", A), ("started_at", D)],
        name="by_tenant_status_full",
    ),
]
ABANDONED = "abandoned: its worker stopped before finishing"


class SyncRuns(Repository):
    """Runs of the Odoo sync, per tenant."""

    async def ensure_indexes(self) -> None:
        await self.collection.create_indexes(SYNC_RUN_INDEXES)

    async def abandon_running(self, tenant_id: str, *, now: datetime) -> int:
        """Mark failed every run still `running` (call only while holding the tenant's lease:
        no run of the tenant can then be alive)."""
        return await self.collection.update_many(
            {"tenant_id": tenant_id, "status": "running"},
            {"$set": {"status": "failed", "finished_at": now, "errors": [ABANDONED]}},
        )

    async def start(
        self, tenant_id: str, run_id: str, *, trigger: str, full: bool, started_at: datetime
    ) -> None:
        await self.collection.insert_one(
            {
                "_id": run_id,
                "run_id": run_id,
                "tenant_id": tenant_id,
                "trigger": trigger,
                "status": "running",
                "started_at": started_at,
                "finished_at": None,
                "full": full,
                "counts": [],
                "errors": [],
            }
        )

    async def save_counts(self, run_id: str, counts: Sequence[Mapping[str, Any]]) -> None:
        await self.collection.update_one({"_id": run_id}, {"$set": {"counts": list(counts)}})

    async def finish(
        self,
        run_id: str,
        *,
        status: str,
        finished_at: datetime,
        counts: Sequence[Mapping[str, Any]],
        errors: Sequence[str],
    ) -> None:
        await self.collection.update_one(
            {"_id": run_id},
            {
                "$set": {
                    "status": status,
                    "finished_at": finished_at,
                    "counts": list(counts),
                    "errors": list(errors),
                }
            },
        )

    async def prune(self, tenant_id: str, *, started_before: datetime) -> int:
        """Delete finished runs that started before `started_before`."""
        return await self.collection.delete_many(
            {
                "tenant_id": tenant_id,
                "started_at": {"$lt": started_before},
                "status": {"$ne": "running"},
            }
        )

    async def latest(self, tenant_id: str) -> dict[str, Any] | None:
        found = await self.collection.find(
            {"tenant_id": tenant_id}, sort=[("started_at", -1)], limit=1
        )
        return found[0] if found else None

    async def latest_succeeded(
        self, tenant_id: str, *, full: bool | None = None
    ) -> dict[str, Any] | None:
        where: dict[str, Any] = {"tenant_id": tenant_id, "status": "succeeded"}
        if full is not None:
            where["full"] = full
        found = await self.collection.find(where, sort=[("started_at", -1)], limit=1)
        return found[0] if found else None

    async def count_succeeded_since(self, tenant_id: str, started_after: datetime) -> int:
        return await self.collection.count(
            {"tenant_id": tenant_id, "status": "succeeded", "started_at": {"$gt": started_after}}
        )

    async def newest(self, tenant_id: str, *, limit: int) -> list[dict[str, Any]]:
        return await self.collection.find(
            {"tenant_id": tenant_id}, sort=[("started_at", -1), ("_id", -1)], limit=limit
        )

    async def get(self, tenant_id: str, run_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": run_id, "tenant_id": tenant_id})
