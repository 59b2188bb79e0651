"""Follow-up plans of each tenant (the built-in ones are not stored: see services.plans)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.store.repository import Repository


def _key(tenant_id: str, plan_id: str) -> str:
    return f"{tenant_id}:{plan_id}"


def _plan(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k not in ("_id", "tenant_id")}


class Plans(Repository):
    async def insert(self, tenant_id: str, plan: Mapping[str, Any]) -> None:
        await self.collection.insert_one(
            {"_id": _key(tenant_id, plan["id"]), "tenant_id": tenant_id, **plan}
        )

    async def get(self, tenant_id: str, plan_id: str) -> dict[str, Any] | None:
        doc = await self.collection.find_one(
            {"_id": _key(tenant_id, plan_id), "tenant_id": tenant_id}
        )
        return _plan(doc) if doc else None

    async def list(self, tenant_id: str, *, limit: int) -> list[dict[str, Any]]:
        docs = await self.collection.find(
            {"tenant_id": tenant_id}, sort=[("name", 1), ("id", 1)], limit=limit
        )
        return [_plan(d) for d in docs]

    async def count(self, tenant_id: str) -> int:
        return await self.collection.count({"tenant_id": tenant_id})

    async def update(
        self, tenant_id: str, plan_id: str, changes: Mapping[str, Any], *, now: datetime
    ) -> dict[str, Any] | None:
        doc = await self.collection.find_one_and_update(
            {"_id": _key(tenant_id, plan_id), "tenant_id": tenant_id},
            {"$set": {**changes, "updated_at": now}, "$inc": {"version": 1}},
        )
        return _plan(doc) if doc else None

    async def delete(self, tenant_id: str, plan_id: str) -> bool:
        deleted = await self.collection.delete_many(
            {"_id": _key(tenant_id, plan_id), "tenant_id": tenant_id}
        )
        return deleted > 0
