"""The sync's view of the serving collection: envelopes that mirror Odoo records.

Envelopes the sync writes carry `source: "odoo"` while the record exists in Odoo. A done
activity Odoo deleted after posting its done message stays readable (done history): its envelope
moves to `source: "odoo_history"`, so it is no longer counted among what Odoo has. This module
answers the sync's questions about them (how many, which ids), keeps history, and carries a
renamed record's name into the documents that show it, each with one command.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.operations import UpdateMany, UpdateOne

from app.store.envelopes import envelope_id
from app.store.repository import Repository

LIVE = "odoo"
HISTORY = "odoo_history"

A = ASCENDING
ODOO_MIRROR_INDEXES = [
    # The deletion sweep walks a type's mirrored ids in order.
    IndexModel(
        [
            ("tenant_id", A),
            ("entity_type", A),
            ("source", A),
            ("is_active", A),
            ("data.external_id", A),
        ],
        name="by_source_external_id",
    ),
    # A lead's new contact into its activities that had the old one.
    IndexModel(
        [
            ("tenant_id", A),
            ("entity_type", A),
            ("is_active", A),
            ("data.related.model", A),
            ("data.related.id", A),
            ("data.contact_id", A),
        ],
        name="by_related_contact",
    ),
    # A renamed partner's name into the messages it wrote.
    IndexModel(
        [("tenant_id", A), ("entity_type", A), ("is_active", A), ("data.author_id", A)],
        name="by_author",
    ),
]


@dataclass(frozen=True, slots=True)
class FieldUpdate:
    """Set `changes` (entity field names) on every active `entity_type` entity matching
    `where` (entity field names, equality only)."""

    entity_type: str
    where: Mapping[str, Any]
    changes: Mapping[str, Any]


class OdooMirror(Repository):
    """Questions and bulk updates about the envelopes mirroring one Odoo connection."""

    async def ensure_indexes(self) -> None:
        await self.collection.create_indexes(ODOO_MIRROR_INDEXES)

    async def count_live(self, tenant_id: str, entity_type: str) -> int:
        """Active envelopes of records Odoo still had when last seen."""
        return await self.collection.count(
            {"tenant_id": tenant_id, "entity_type": entity_type, "source": LIVE, "is_active": True}
        )

    async def live_ids(
        self, tenant_id: str, entity_type: str, *, after: int, limit: int
    ) -> list[int]:
        """Odoo ids of active live envelopes greater than `after`, ascending."""
        docs = await self.collection.find(
            {
                "tenant_id": tenant_id,
                "entity_type": entity_type,
                "source": LIVE,
                "is_active": True,
                "data.external_id": {"$gt": after},
            },
            sort=[("data.external_id", 1)],
            limit=limit,
            projection={"data.external_id": 1},
        )
        return [doc["data"]["external_id"] for doc in docs]

    async def keep_as_history(
        self, tenant_id: str, entity_type: str, docs: Sequence[Mapping[str, Any]], *, now: datetime
    ) -> int:
        """Replace these entities' data and keep them readable though Odoo deleted them."""
        ops = [
            UpdateOne(
                {"_id": envelope_id(tenant_id, str(doc["id"])), "is_active": True},
                {"$set": {"data": dict(doc), "source": HISTORY, "last_aggregated": now}},
            )
            for doc in docs
        ]
        return (await self.collection.bulk_write(ops))["modified"]

    async def update_fields(
        self, tenant_id: str, updates: Sequence[FieldUpdate], *, now: datetime
    ) -> int:
        """Apply every update in one bulk write; returns how many documents changed."""
        ops = [
            UpdateMany(
                {
                    "tenant_id": tenant_id,
                    "entity_type": update.entity_type,
                    "is_active": True,
                    **{f"data.{name}": value for name, value in update.where.items()},
                },
                {
                    "$set": {
                        **{f"data.{name}": value for name, value in update.changes.items()},
                        "last_aggregated": now,
                    }
                },
            )
            for update in updates
        ]
        return (await self.collection.bulk_write(ops))["modified"]
