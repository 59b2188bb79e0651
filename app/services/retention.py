"""Retention of the change log and of finished webhook deliveries (a scheduled job)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from app.config import Settings
from app.store import Store

logger = logging.getLogger("app.events")

# Finished deliveries (delivered or failed) stay readable in the deliveries log this long.
DELIVERIES_KEPT = timedelta(days=7)


async def purge(store: Store, settings: Settings, *, now: datetime) -> dict[str, int]:
    """Delete events past EVENTS_RETENTION_HOURS (MongoDB's TTL index does it too, the embedded
    engine only here) and deliveries finished more than a week ago."""
    purged = {
        "events": await store.events.purge(now=now),
        "deliveries": await store.webhook_deliveries.purge(finished_before=now - DELIVERIES_KEPT),
    }
    if any(purged.values()):
        logger.info("change log purged", extra=purged)
    return purged
