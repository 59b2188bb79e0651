"""The store: the only package that knows collection names, envelopes, `_id`s and indexes.

It picks MongoDB (`MONGODB_URI`) or the embedded in-memory engine once, in `open_store`.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from app.config import Settings
from app.store.collection import TimedCollection
from app.store.envelopes import Envelopes, envelope_id
from app.store.timing import StoreUsage, begin_usage, current_usage, timed

__all__ = [
    "Envelopes",
    "Store",
    "StoreUsage",
    "TimedCollection",
    "begin_usage",
    "current_usage",
    "envelope_id",
    "open_store",
]

logger = logging.getLogger("app.store")

A, D = ASCENDING, DESCENDING
_SCOPE = [("tenant_id", A), ("entity_type", A), ("is_active", A)]

# Indexes that serve the search route's sorts (each ends with the tie-breakers), its most
# selective filters, the dashboard, the timeline and the sync. Served on MongoDB; the embedded
# engine ignores them. No unique secondary index: `_id` is the natural key (STORE.md).
SERVING_INDEXES = [
    IndexModel([*_SCOPE, ("data.date", A), ("data.start_sort", A), ("data.id", A)], name="by_date"),
    IndexModel(
        [*_SCOPE, ("data.due_sort", A), ("data.start_sort", A), ("data.id", A)], name="by_due_date"
    ),
    IndexModel(
        [*_SCOPE, ("data.updated_at", A), ("data.start_sort", A), ("data.id", A)],
        name="by_updated_at",
    ),
    IndexModel(
        [*_SCOPE, ("data.user_id", A), ("data.date", A), ("data.start_sort", A), ("data.id", A)],
        name="by_user_date",
    ),
    IndexModel(
        [*_SCOPE, ("data.user_id", A), ("data.state", A), ("data.due_sort", A)],
        name="by_user_state_due",
    ),
    IndexModel([*_SCOPE, ("data.state", A), ("data.due_sort", A)], name="by_state_due"),
    IndexModel(
        [
            *_SCOPE,
            ("data.related.model", A),
            ("data.related.id", A),
            ("data.occurred_at", D),
            ("data.id", D),
        ],
        name="by_related_occurred",
    ),
    IndexModel([*_SCOPE, ("data.contact_id", A), ("data.date", A)], name="by_contact"),
    IndexModel([*_SCOPE, ("data.occurred_at", D), ("data.id", D)], name="by_occurred"),
    # Analytics (services/analytics.py): team windows on created_at / completed_at (all, or one
    # person's), messages by record kind (engagement, stale, response times use the
    # related-model and occurred_at indexes above).
    IndexModel([*_SCOPE, ("data.created_at", A)], name="by_created_at"),
    IndexModel([*_SCOPE, ("data.completed_at", A)], name="by_completed_at"),
    IndexModel([*_SCOPE, ("data.user_id", A), ("data.created_at", A)], name="by_user_created_at"),
    IndexModel(
        [*_SCOPE, ("data.user_id", A), ("data.completed_at", A)], name="by_user_completed_at"
    ),
    IndexModel([*_SCOPE, ("data.user_id", A), ("data.occurred_at", A)], name="by_user_occurred"),
    IndexModel(
        [("tenant_id", A), ("entity_type", A), ("source", A), ("serving_id", A)],
        name="by_source_serving_id",
    ),
    # The sync's sweep: active envelopes of a source not stamped by the latest full run.
    IndexModel(
        [("tenant_id", A), ("entity_type", A), ("source", A), ("is_active", A), ("sync_seq", A)],
        name="by_source_sync_seq",
    ),
]


class Store:
    """Owns the client and hands out timed collections."""

    def __init__(self, client: Any, settings: Settings, *, embedded: bool) -> None:
        self.client = client
        self.embedded = embedded
        db = client[settings.mongodb_db]
        self.db = db
        self.envelopes = Envelopes(TimedCollection(db[settings.serving_collection]))
        self.sync_runs = TimedCollection(db["sync_runs"])
        self.leases = TimedCollection(db["leases"])
        self.notifications = TimedCollection(db["notifications"])

    async def ping(self) -> None:
        async with timed("ping"):
            await self.db.command("ping")

    async def ensure_indexes(self) -> None:
        """Idempotent: creating an existing index with the same spec is a no-op."""
        await self.envelopes.collection.create_indexes(SERVING_INDEXES)
        await self.sync_runs.create_indexes(
            [IndexModel([("tenant_id", A), ("started_at", D)], name="by_tenant_started")]
        )
        await self.notifications.create_indexes(
            [
                # The delivery claim: due pending ones, and sending ones whose lease expired.
                IndexModel([("status", A), ("next_attempt_at", A)], name="by_status_next_attempt"),
                IndexModel(
                    [("tenant_id", A), ("user_id", A), ("send_at", D)], name="by_user_send_at"
                ),
                IndexModel([("tenant_id", A), ("activity_id", A)], name="by_activity"),
            ]
        )

    async def close(self) -> None:
        result = self.client.close()
        if hasattr(result, "__await__"):
            await result


def open_store(settings: Settings) -> Store:
    """Choose the engine once: MongoDB when `MONGODB_URI` is set, else the embedded store."""
    if settings.mongodb_uri is not None:
        from pymongo import AsyncMongoClient

        client: Any = AsyncMongoClient(
            settings.mongodb_uri.get_secret_value(), tz_aware=True, appname="activity-service"
        )
        return Store(client, settings, embedded=False)
    if settings.app_env == "production":
        # Settings already refuse this; kept here so the store can never be opened that way.
        raise RuntimeError("APP_ENV=production requires MONGODB_URI")
    from app.store.embedded import create_embedded_client

    logger.warning(
        "MONGODB_URI is not set: using the EMBEDDED IN-MEMORY store. All data is ephemeral "
        "and lost on restart. Set MONGODB_URI for anything but development and tests."
    )
    return Store(create_embedded_client(), settings, embedded=True)
