"""Calendar feeds: one document per feed, keyed by the SHA-256 of its secret token.

The token itself is never stored: a database dump holds no working feed URL. Keying by the
hash makes the unauthenticated lookup (every calendar client's poll) a point read on `_id`.
Revoked feeds stay (`is_revoked`) and no lookup returns them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.store.collection import Sort
from app.store.repository import Repository

LIST_SORT: Sort = [("created_at", -1), ("id", -1)]


def _read(doc: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k != "_id"}


class CalendarFeeds(Repository):
    """Typed access to the `calendar_feeds` collection."""

    async def insert(self, token_hash: str, feed: Mapping[str, Any]) -> None:
        await self.collection.insert_one({**feed, "_id": token_hash, "is_revoked": False})

    async def by_token_hash(self, token_hash: str) -> dict[str, Any] | None:
        return _read(await self.collection.find_one({"_id": token_hash, "is_revoked": False}))

    async def count_of(self, tenant_id: str, owner_id: str) -> int:
        return await self.collection.count(
            {"tenant_id": tenant_id, "owner_id": owner_id, "is_revoked": False}
        )

    async def list_of(self, tenant_id: str, owner_id: str, *, limit: int) -> list[dict[str, Any]]:
        docs = await self.collection.find(
            {"tenant_id": tenant_id, "owner_id": owner_id, "is_revoked": False},
            sort=LIST_SORT,
            limit=limit,
        )
        return [feed for doc in docs if (feed := _read(doc)) is not None]

    async def revoke(self, tenant_id: str, owner_id: str, feed_id: str, *, now: datetime) -> bool:
        """True when a live feed of this owner was revoked."""
        matched = await self.collection.update_one(
            {"tenant_id": tenant_id, "owner_id": owner_id, "id": feed_id, "is_revoked": False},
            {"$set": {"is_revoked": True, "revoked_at": now}},
        )
        return matched > 0
