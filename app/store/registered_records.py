"""Registered records: envelopes of the serving collection, like the synced opportunities.

They live next to the synced records so that one `_id` lookup per kind serves an activity's
`related` link whichever way the record is known (see `services.records.related_record_key`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.store.envelopes import envelope_id
from app.store.repository import Repository

ACTIVITY = "activity"


class RegisteredRecords(Repository):
    async def put(
        self, tenant_id: str, entity_type: str, doc: Mapping[str, Any], *, now: datetime
    ) -> bool:
        """Create or replace one record (its serving id is `doc["id"]`); True when created."""
        serving_id = str(doc["id"])
        previous = await self.collection.find_one_and_update(
            {"_id": envelope_id(tenant_id, serving_id)},
            {
                "$set": {
                    "tenant_id": tenant_id,
                    "serving_id": serving_id,
                    "entity_type": entity_type,
                    "source": "registered",
                    "is_active": True,
                    "last_aggregated": now,
                    "data": dict(doc),
                }
            },
            upsert=True,
            return_after=False,
        )
        return previous is None

    async def rename_on_activities(
        self, tenant_id: str, model: str, record_id: str, name: str, *, now: datetime
    ) -> int:
        """Show `name` as `related.name` on every activity of the record: one command, an
        equality filter served by the `by_related_occurred` index."""
        return await self.collection.update_many(
            {
                "tenant_id": tenant_id,
                "entity_type": ACTIVITY,
                "is_active": True,
                "data.related.model": model,
                "data.related.id": record_id,
            },
            {"$set": {"data.related.name": name, "last_aggregated": now}},
        )
