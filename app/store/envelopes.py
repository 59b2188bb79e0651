"""The serving collection: envelopes keyed by a deterministic `_id`.

An envelope is `{_id, tenant_id, serving_id, entity_type, source, is_active, last_aggregated,
data}`, plus `sync_seq` when the Odoo sync wrote it. `_id` is `"<tenant>:<serving_id>"`, so every
point read, update and sync upsert filters on `_id` (O(1) on both engines) and `serving_id` is
unique per tenant by construction: no unique secondary index is needed (docs/STORE.md).

Services speak in the entity's own field names (`state`, `due_date`, ...); this module maps them
into `data.<field>` and adds the tenant / entity / active conditions to every query, so no caller
can forget tenant isolation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError
from pymongo.operations import UpdateOne

from app.store.collection import Sort
from app.store.repository import Repository

EntityTypes = str | Sequence[str]
# Envelope field: the sequence number of the sync run that last upserted it.
SYNC_SEQ = "sync_seq"


def envelope_id(tenant_id: str, serving_id: str) -> str:
    return f"{tenant_id}:{serving_id}"


def _in_data(where: Mapping[str, Any]) -> dict[str, Any]:
    """Prefix entity field names with `data.`; logical operators recurse."""
    mapped: dict[str, Any] = {}
    for key, value in where.items():
        if key in ("$and", "$or", "$nor"):
            mapped[key] = [_in_data(part) for part in value]
        elif key.startswith("$"):
            raise ValueError(f"unsupported top-level operator {key!r}")
        else:
            mapped[f"data.{key}"] = value
    return mapped


def _scope(tenant_id: str, entity_types: EntityTypes) -> dict[str, Any]:
    scope: dict[str, Any] = {"tenant_id": tenant_id, "is_active": True}
    if isinstance(entity_types, str):
        scope["entity_type"] = entity_types
    else:
        scope["entity_type"] = {"$in": list(entity_types)}
    return scope


def _data(envelope: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(envelope["data"])
    data["entity_type"] = envelope["entity_type"]
    return data


class Envelopes(Repository):
    """Typed access to the serving collection. Reads return the envelopes' `data` (plus
    `entity_type`); soft-deleted and inactive envelopes are invisible to every read."""

    async def get(self, tenant_id: str, entity_type: str, serving_id: str) -> dict[str, Any] | None:
        envelope = await self.collection.find_one(
            {"_id": envelope_id(tenant_id, serving_id), **_scope(tenant_id, entity_type)}
        )
        return _data(envelope) if envelope else None

    async def get_many(
        self,
        tenant_id: str,
        entity_type: str,
        serving_ids: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The entities with these serving ids; only `id` and `fields` of each when given."""
        if not serving_ids:
            return []
        ids = [envelope_id(tenant_id, sid) for sid in serving_ids]
        projection = (
            None
            if fields is None
            else {"entity_type": 1, "data.id": 1, **{f"data.{name}": 1 for name in fields}}
        )
        envelopes = await self.collection.find(
            {"_id": {"$in": ids}, **_scope(tenant_id, entity_type)},
            limit=len(ids),
            projection=projection,
        )
        return [_data(e) for e in envelopes]

    async def find(
        self,
        tenant_id: str,
        entity_types: EntityTypes,
        where: Mapping[str, Any],
        *,
        sort: Sort,
        limit: int,
    ) -> list[dict[str, Any]]:
        envelopes = await self.collection.find(
            {**_scope(tenant_id, entity_types), **_in_data(where)},
            sort=[(f"data.{field}", direction) for field, direction in sort],
            limit=limit,
        )
        return [_data(e) for e in envelopes]

    async def count(
        self, tenant_id: str, entity_types: EntityTypes, where: Mapping[str, Any]
    ) -> int:
        return await self.collection.count({**_scope(tenant_id, entity_types), **_in_data(where)})

    async def aggregate(
        self,
        tenant_id: str,
        entity_types: EntityTypes,
        where: Mapping[str, Any],
        pipeline: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """Run `pipeline` over the matching entities' `data` documents."""
        return await self.collection.aggregate(
            [
                {"$match": {**_scope(tenant_id, entity_types), **_in_data(where)}},
                {"$replaceRoot": {"newRoot": "$data"}},
                *pipeline,
            ]
        )

    async def aggregate_kinds(
        self,
        tenant_id: str,
        where_by_type: Mapping[str, Mapping[str, Any]],
        pipeline: Sequence[Mapping[str, Any]],
    ) -> list[dict[str, Any]]:
        """Run `pipeline` over the `data` of entities of several types, each type selected by its
        own condition; every document carries its `entity_type` (one command)."""
        branches = [
            {**_scope(tenant_id, entity_type), **_in_data(where)}
            for entity_type, where in where_by_type.items()
        ]
        match = branches[0] if len(branches) == 1 else {"$or": branches}
        return await self.collection.aggregate(
            [
                {"$match": match},
                {"$addFields": {"data.entity_type": "$entity_type"}},
                {"$replaceRoot": {"newRoot": "$data"}},
                *pipeline,
            ]
        )

    async def insert_many(
        self,
        tenant_id: str,
        entity_type: str,
        source: str,
        docs: Sequence[Mapping[str, Any]],
        *,
        now: datetime,
    ) -> None:
        """Insert new entities in one command; each doc must carry its serving id as `id`."""
        await self.collection.insert_many(
            [self._envelope(tenant_id, entity_type, source, doc, now) for doc in docs]
        )

    async def insert_absent(
        self,
        tenant_id: str,
        entity_type: str,
        source: str,
        docs: Sequence[Mapping[str, Any]],
        *,
        now: datetime,
    ) -> list[Mapping[str, Any]]:
        """Insert each doc unless its `_id` exists (even soft-deleted); returns the inserted.
        For deterministic ids: of two racing inserts of one id exactly one succeeds."""
        inserted = []
        for doc in docs:
            try:
                await self.collection.insert_one(
                    self._envelope(tenant_id, entity_type, source, doc, now)
                )
            except DuplicateKeyError:
                continue
            inserted.append(doc)
        return inserted

    async def update(
        self,
        tenant_id: str,
        entity_type: str,
        serving_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
        deactivate: bool = False,
        now: datetime,
    ) -> dict[str, Any] | None:
        """Apply `changes`, bump `version`; None when missing or `expected_version` mismatched."""
        filter: dict[str, Any] = {
            "_id": envelope_id(tenant_id, serving_id),
            **_scope(tenant_id, entity_type),
        }
        if expected_version is not None:
            filter["data.version"] = expected_version
        update: dict[str, Any] = {
            "$set": {
                **{f"data.{k}": v for k, v in changes.items()},
                "last_aggregated": now,
                **({"is_active": False} if deactivate else {}),
            },
            "$inc": {"data.version": 1},
        }
        envelope = await self.collection.find_one_and_update(filter, update)
        return _data(envelope) if envelope else None

    async def upsert_many(
        self,
        tenant_id: str,
        entity_type: str,
        source: str,
        docs: Sequence[Mapping[str, Any]],
        *,
        now: datetime,
        sync_seq: int | None = None,
    ) -> dict[str, int]:
        """Upsert a page of entities in one bulk write keyed by `_id` (the sync's write path).

        A re-seen entity is re-activated: it exists upstream again. `sync_seq` stamps the
        envelopes with the sync run that wrote them (see `not_synced_since`).
        """
        stamp = {} if sync_seq is None else {SYNC_SEQ: sync_seq}
        ops = [
            UpdateOne(
                {"_id": envelope_id(tenant_id, str(doc["id"]))},
                {
                    "$set": {
                        "tenant_id": tenant_id,
                        "serving_id": str(doc["id"]),
                        "entity_type": entity_type,
                        "source": source,
                        "is_active": True,
                        "last_aggregated": now,
                        "data": dict(doc),
                        **stamp,
                    }
                },
                upsert=True,
            )
            for doc in docs
        ]
        return await self.collection.bulk_write(ops, ordered=False)

    async def not_synced_since(
        self, tenant_id: str, entity_types: EntityTypes, source: str, *, sync_seq: int, limit: int
    ) -> list[dict[str, Any]]:
        """Active entities of `source` that no sync run numbered `sync_seq` or later upserted:
        after a run that re-read everything upstream, the candidates for deactivation.

        Bounded by `limit`; callers make progress by re-stamping or deactivating what they get.
        """
        envelopes = await self.collection.find(
            {
                **_scope(tenant_id, entity_types),
                "source": source,
                # `$not` also matches envelopes written before stamps existed (no field).
                SYNC_SEQ: {"$not": {"$gte": sync_seq}},
            },
            limit=limit,
            projection={"entity_type": 1, "data.id": 1, "data.external_id": 1},
        )
        return [_data(e) for e in envelopes]

    async def deactivate_many(
        self, tenant_id: str, entity_type: str, serving_ids: Sequence[str], *, now: datetime
    ) -> int:
        """Mark entities gone upstream; they vanish from every read."""
        if not serving_ids:
            return 0
        return await self.collection.update_many(
            {
                "_id": {"$in": [envelope_id(tenant_id, sid) for sid in serving_ids]},
                "tenant_id": tenant_id,
                "entity_type": entity_type,
                "is_active": True,
            },
            {"$set": {"is_active": False, "last_aggregated": now}},
        )

    @staticmethod
    def _envelope(
        tenant_id: str, entity_type: str, source: str, doc: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        serving_id = str(doc["id"])
        return {
            "_id": envelope_id(tenant_id, serving_id),
            "tenant_id": tenant_id,
            "serving_id": serving_id,
            "entity_type": entity_type,
            "source": source,
            "is_active": True,
            "last_aggregated": now,
            "data": dict(doc),
        }
