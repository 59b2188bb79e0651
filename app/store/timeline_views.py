"""Saved timeline views: one document per view, keyed by `"<tenant>:<view id>"`.

A view is readable by its owner, by the users it is shared with and, when public, by everyone
in its tenant; soft-deleted views (`is_deleted`) are invisible to every read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.store.collection import Sort
from app.store.envelopes import envelope_id
from app.store.repository import Repository

# Listed by name, then id (unique): the keyset the list pages with.
LIST_SORT: Sort = [("name", 1), ("id", 1)]


def _read(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in ("_id", "tenant_id", "is_deleted")}


class TimelineViews(Repository):
    """Typed access to the `timeline_views` collection; every query is scoped to a tenant."""

    async def insert(self, tenant_id: str, view: Mapping[str, Any]) -> None:
        await self.collection.insert_one(
            {
                **view,
                "_id": envelope_id(tenant_id, view["id"]),
                "tenant_id": tenant_id,
                "is_deleted": False,
            }
        )

    async def get(self, tenant_id: str, view_id: str) -> dict[str, Any] | None:
        return _read(
            await self.collection.find_one(
                {
                    "_id": envelope_id(tenant_id, view_id),
                    "tenant_id": tenant_id,
                    "is_deleted": False,
                }
            )
        )

    async def visible_to(
        self,
        tenant_id: str,
        identities: Sequence[str],
        *,
        after: Mapping[str, Any] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Views owned by, shared with, or public to a user with these identities, by name;
        `after` is a keyset condition on LIST_SORT's keys."""
        visible = {
            "$or": [
                {"owner_id": {"$in": list(identities)}},
                {"shared_with": {"$in": list(identities)}},
                {"is_public": True},
            ]
        }
        where: dict[str, Any] = {"tenant_id": tenant_id, "is_deleted": False}
        where["$and"] = [visible, dict(after)] if after else [visible]
        docs = await self.collection.find(where, sort=LIST_SORT, limit=limit)
        return [view for doc in docs if (view := _read(doc)) is not None]

    async def update(
        self,
        tenant_id: str,
        view_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int,
        now: datetime,
        delete: bool = False,
    ) -> dict[str, Any] | None:
        """Apply `changes` and bump `version`, unless the view changed since it was read at
        `expected_version` (None then)."""
        return _read(
            await self.collection.find_one_and_update(
                {
                    "_id": envelope_id(tenant_id, view_id),
                    "tenant_id": tenant_id,
                    "is_deleted": False,
                    "version": expected_version,
                },
                {
                    "$set": {
                        **changes,
                        "updated_at": now,
                        **({"is_deleted": True} if delete else {}),
                    },
                    "$inc": {"version": 1},
                },
            )
        )
