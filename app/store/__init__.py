"""The store: the only package that knows collection names, envelopes, `_id`s and indexes.

It picks MongoDB (`MONGODB_URI`) or the embedded in-memory engine once, in `open_store`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from app.config import Settings
from app.store.calendar_feeds import CalendarFeeds
from app.store.collection import TimedCollection
from app.store.envelopes import Envelopes, envelope_id
from app.store.events import EventLog
from app.store.idempotency import IdempotencyKeys
from app.store.leases import Leases
from app.store.notifications import Notifications
from app.store.odoo_mirror import OdooMirror
from app.store.plans import Plans
from app.store.registered_records import RegisteredRecords
from app.store.sync_runs import SyncRuns
from app.store.timeline_views import TimelineViews
from app.store.timing import StoreUsage, begin_usage, current_usage, timed
from app.store.webhooks import WebhookDeliveries, Webhooks

__all__ = [
    "Envelopes",
    "EventLog",
    "Leases",
    "Notifications",
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
    # GET /activities?series_id=: the occurrences of one recurring series, by date.
    IndexModel(
        [*_SCOPE, ("data.series_id", A), ("data.date", A), ("data.start_sort", A), ("data.id", A)],
        name="by_series_date",
    ),
    # Analytics (services/analytics.py): team windows on created_at / completed_at (all, or one
    # person's), messages by record kind (engagement, stale, response times use the
    # related-model and occurred_at indexes above).
    IndexModel([*_SCOPE, ("data.created_at", A)], name="by_created_at"),
    # GET /analytics/stale: registered records of one model (all, or some owners').
    IndexModel([*_SCOPE, ("data.model", A), ("data.user_id", A)], name="by_model_user"),
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
    # The sync's reads of every activity type or user of a tenant, in id order.
    IndexModel([*_SCOPE, ("data.id", A)], name="by_id"),
    # The sync's sweep: active envelopes of a source not stamped by the latest full run.
    IndexModel(
        [("tenant_id", A), ("entity_type", A), ("source", A), ("is_active", A), ("sync_seq", A)],
        name="by_source_sync_seq",
    ),
]

NOTIFICATION_INDEXES = [
    # The delivery claim: due pending ones, and sending ones whose lease expired.
    IndexModel([("status", A), ("next_attempt_at", A)], name="by_status_next_attempt"),
    # A user's in-app list, newest first, with its tie-breaker (replaces by_user_send_at).
    IndexModel([("tenant_id", A), ("user_id", A), ("send_at", D), ("id", D)], name="by_user_inbox"),
    # An activity's reminders in order, and the writes that keep them in step (replaces
    # by_activity).
    IndexModel(
        [("tenant_id", A), ("activity_id", A), ("send_at", A), ("user_id", A), ("id", A)],
        name="by_activity_send_at",
    ),
    # The address an earlier reminder of the activity went to, latest first.
    IndexModel(
        [("tenant_id", A), ("activity_id", A), ("user_id", A), ("updated_at", D)],
        name="by_activity_recipient",
    ),
]


# The change log: the reader's poll and catch-up (tenant, then id range), the same with each
# stream filter as an equality prefix, and the retention (a TTL index: MongoDB deletes expired
# events itself; the scheduled purge uses it too and does the embedded store's share).
EVENT_INDEXES = [
    IndexModel([("tenant_id", A), ("seq", A)], name="by_tenant_seq"),
    IndexModel([("tenant_id", A), ("type", A), ("seq", A)], name="by_tenant_type_seq"),
    IndexModel(
        [("tenant_id", A), ("related_model", A), ("related_id", A), ("seq", A)],
        name="by_tenant_related_seq",
    ),
    IndexModel([("tenant_id", A), ("user_ids", A), ("seq", A)], name="by_tenant_user_seq"),
    IndexModel([("ttl_at", A)], name="ttl", expireAfterSeconds=0),
    IndexModel([("expires_at", A)], name="by_expires_at"),
]

# Saved timeline views: the list's three ways of seeing a view (owner, shared, public), each
# then sorted by the list's keyset (name, id).
TIMELINE_VIEW_INDEXES = [
    IndexModel(
        [("tenant_id", A), ("is_deleted", A), (field, A), ("name", A), ("id", A)],
        name=f"by_{field}_name",
    )
    for field in ("owner_id", "shared_with", "is_public")
]

# Calendar feeds: a user's live feeds (list, count, revoke by id); lookups by token are on `_id`.
CALENDAR_FEED_INDEXES = [
    IndexModel(
        [("tenant_id", A), ("owner_id", A), ("is_revoked", A), ("created_at", D), ("id", D)],
        name="by_owner_created",
    ),
    IndexModel(
        [("tenant_id", A), ("owner_id", A), ("id", A), ("is_revoked", A)], name="by_owner_id"
    ),
]


class Store:
    """Owns the client and hands out one repository per collection."""

    def __init__(self, client: Any, settings: Settings, *, embedded: bool) -> None:
        self.client = client
        self.embedded = embedded
        db = client[settings.mongodb_db]
        self.db = db
        self.envelopes = Envelopes(TimedCollection(db[settings.serving_collection]))
        self.sync_runs = SyncRuns(TimedCollection(db["sync_runs"]))
        self.odoo_mirror = OdooMirror(self.envelopes.collection)
        self.leases = Leases(TimedCollection(db["leases"]))
        self.notifications = Notifications(TimedCollection(db["notifications"]))
        self.registered_records = RegisteredRecords(self.envelopes.collection)
        self.plans = Plans(TimedCollection(db["plans"]))
        self.idempotency = IdempotencyKeys(TimedCollection(db["idempotency_keys"]))
        self.events = EventLog(
            TimedCollection(db["events"]),
            TimedCollection(db["event_counters"]),
            retention=timedelta(hours=settings.events_retention_hours),
        )
        self.webhooks = Webhooks(TimedCollection(db["webhooks"]))
        self.webhook_deliveries = WebhookDeliveries(TimedCollection(db["webhook_deliveries"]))
        self.timeline_views = TimelineViews(TimedCollection(db["timeline_views"]))
        self.calendar_feeds = CalendarFeeds(TimedCollection(db["calendar_feeds"]))

    async def ping(self) -> None:
        async with timed("ping"):
            await self.db.command("ping")

    async def ensure_indexes(self) -> None:
        """Idempotent: creating an existing index with the same spec is a no-op."""
        await self.envelopes.collection.create_indexes(SERVING_INDEXES)
        await self.sync_runs.ensure_indexes()
        await self.odoo_mirror.ensure_indexes()
        await self.notifications.collection.create_indexes(NOTIFICATION_INDEXES)
        await self.plans.collection.create_indexes(
            [IndexModel([("tenant_id", A), ("name", A), ("id", A)], name="by_tenant_name")]
        )
        await self.idempotency.collection.create_indexes(
            [
                IndexModel(
                    [("tenant_id", A), ("user_id", A), ("expires_at", A)], name="by_user_expires"
                )
            ]
        )
        await self.events.events.create_indexes(EVENT_INDEXES)
        await self.webhooks.collection.create_indexes(
            [IndexModel([("tenant_id", A), ("created_at", A), ("id", A)], name="by_tenant_created")]
        )
        await self.webhook_deliveries.collection.create_indexes(
            [
                # The delivery claim, as for reminders.
                IndexModel([("status", A), ("next_attempt_at", A)], name="by_status_next_attempt"),
                IndexModel(
                    [("tenant_id", A), ("webhook_id", A), ("event_id", D)], name="by_webhook"
                ),
                IndexModel([("status", A), ("finished_at", A)], name="by_status_finished"),
            ]
        )
        await self.timeline_views.collection.create_indexes(TIMELINE_VIEW_INDEXES)
        await self.calendar_feeds.collection.create_indexes(CALENDAR_FEED_INDEXES)

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
