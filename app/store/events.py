"""The change log: per-tenant events numbered by a counter document, kept for a retention period.

Event documents are `{_id: "<tenant>:<seq>", tenant_id, seq, type, related_model, related_id,
user_ids, occurred_at, expires_at, ttl_at, payload}`; `payload` is the event's JSON text,
rendered once by the writer and sent as it is to every stream client and webhook.

Numbering: one counter document per tenant (`event_counters`, `_id` = tenant). A writer reserves a
block of ids with ONE `find_one_and_update($inc: {seq: n}, upsert)`, atomic on every engine and
across replicas, then inserts its events with ONE `insert_many`. Ids are therefore unique and
strictly increasing per tenant in reservation order; they may become *visible* out of order (two
writers reserve 5-7 and 8, the second inserts first) and an id whose writer died between the two
commands is never written. Readers handle both (see `services/event_stream.py`). A time-based or
ObjectId scheme would not be strictly increasing across replicas (clock skew), and a `max(seq)+1`
read races.

The counter document also records whether the tenant's first Odoo sync has finished (`synced`):
until it has, the sync's per-record events are not written (one `sync.finished` stands for them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from app.store.collection import TimedCollection

# Called with the tenant after events were appended in this process (wakes the local reader).
AppendListener = Callable[[str], None]


def event_key(tenant_id: str, seq: int) -> str:
    return f"{tenant_id}:{seq}"


class EventLog:
    """Typed access to the change log and its counters."""

    def __init__(
        self, events: TimedCollection, counters: TimedCollection, *, retention: timedelta
    ) -> None:
        self.events = events
        self.retention = retention
        self.counters = counters
        self._listeners: set[AppendListener] = set()
        self._synced: set[str] = set()  # tenants known to have finished a sync (monotonic)

    # -- writing ----------------------------------------------------------------------------

    async def reserve(self, tenant_id: str, count: int) -> int:
        """Reserve `count` consecutive ids; returns the first."""
        counter = await self.counters.find_one_and_update(
            {"_id": tenant_id}, {"$inc": {"seq": count}}, upsert=True
        )
        assert counter is not None
        return int(counter["seq"]) - count + 1

    async def insert(self, tenant_id: str, docs: Sequence[Mapping[str, Any]]) -> None:
        """Insert events numbered by `reserve` (each with its `seq`), then wake local readers."""
        # MongoDB's TTL monitor compares with the server's wall clock, not the service clock
        # (frozen in tests): it gets a wall-clock expiry of its own. `expires_at` (service time)
        # is what the purge and the reset rule use.
        ttl_at = datetime.now(UTC) + self.retention
        await self.events.insert_many(
            [
                {
                    "_id": event_key(tenant_id, doc["seq"]),
                    "tenant_id": tenant_id,
                    **doc,
                    "ttl_at": ttl_at,
                }
                for doc in docs
            ]
        )
        for listener in list(self._listeners):
            listener(tenant_id)

    def subscribe(self, listener: AppendListener) -> None:
        self._listeners.add(listener)

    def unsubscribe(self, listener: AppendListener) -> None:
        self._listeners.discard(listener)

    # -- reading ----------------------------------------------------------------------------

    async def after(
        self,
        tenant_id: str,
        seq: int,
        *,
        limit: int,
        through: int | None = None,
        where: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Events with ids in (seq, through], oldest first, matching `where`; at most `limit`."""
        ids: dict[str, int] = {"$gt": seq}
        if through is not None:
            ids["$lte"] = through
        return await self.events.find(
            {"tenant_id": tenant_id, **(where or {}), "seq": ids},
            sort=[("seq", 1)],
            limit=limit,
            projection={"_id": 0},
        )

    async def latest(
        self, tenant_id: str, *, at_most: int | None = None, limit: int = 1
    ) -> list[dict[str, Any]]:
        """The newest events (with ids <= `at_most` when given), newest first."""
        where: dict[str, Any] = {"tenant_id": tenant_id}
        if at_most is not None:
            where["seq"] = {"$lte": at_most}
        return await self.events.find(
            where,
            sort=[("seq", -1)],
            limit=limit,
            projection={"_id": 0, "seq": 1, "occurred_at": 1},
        )

    async def head(self, tenant_id: str) -> int:
        """The highest id reserved so far (0 when none)."""
        counter = await self.counters.find_one({"_id": tenant_id})
        return int(counter["seq"]) if counter else 0

    # -- the first sync ---------------------------------------------------------------------

    async def synced_once(self, tenant_id: str) -> bool:
        if tenant_id in self._synced:
            return True
        counter = await self.counters.find_one({"_id": tenant_id})
        if counter and counter.get("synced"):
            self._synced.add(tenant_id)
            return True
        return False

    async def mark_synced(self, tenant_id: str) -> None:
        await self.counters.update_one(
            {"_id": tenant_id},
            {"$set": {"synced": True}, "$setOnInsert": {"seq": 0}},
            upsert=True,
        )
        self._synced.add(tenant_id)

    # -- retention --------------------------------------------------------------------------

    async def purge(self, *, now: datetime) -> int:
        """Delete expired events (MongoDB's TTL index does it too; the embedded engine does not)."""
        return await self.events.delete_many({"expires_at": {"$lt": now}})
