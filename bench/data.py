"""Synthetic data for the benchmarks, written through the same service code the API uses."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from app.config import Settings
from app.schemas.activity import ActivityCreate
from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES
from app.services import activities
from app.services.auth import Principal
from app.store import Store

PAGE = 500
REPS = 20


def _rep(tenant: str, n: int) -> Principal:
    return Principal(
        sub=f"rep-{n}",
        tenant=tenant,
        roles=frozenset({"user"}),
        name=f"Rep {n}",
        tz="UTC",
        identities=(f"rep-{n}",),
    )


async def load_activities(
    store: Store,
    settings: Settings,
    *,
    tenant: str,
    count: int,
    now: datetime,
    seed: int = 1,
    reps: int = REPS,
) -> None:
    """`count` activities spread over `reps` reps (rep-1...) and ±60 days, in bulk inserts of
    500."""
    rng = random.Random(seed)
    today = now.date()
    for start in range(0, count, PAGE):
        size = min(PAGE, count - start)
        payloads = []
        for _ in range(size):
            day = today + timedelta(days=rng.randint(-60, 60))
            payloads.append(
                ActivityCreate.model_validate(
                    {
                        "type": rng.choice(ACTIVITY_TYPES),
                        "subject": f"Bench activity {rng.randint(1, 10**6)}",
                        "user_id": f"rep-{rng.randint(1, reps)}",
                        "date": day,
                        "due_date": None
                        if rng.random() < 0.15
                        else day + timedelta(days=rng.randint(0, 7)),
                        "start_time": time(rng.randint(7, 18)) if rng.random() < 0.6 else None,
                        "state": rng.choice(ACTIVITY_STATES),
                        "priority": rng.choice(("high", "normal", "low")),
                        "related": {"model": "crm.lead", "id": str(rng.randint(1, 2000))},
                        "description": "Synthetic benchmark activity",
                    }
                )
            )
        await activities.create_activities(
            store, _rep(tenant, start // PAGE % reps + 1), payloads, settings=settings, now=now
        )


async def load_messages(
    store: Store, *, tenant: str, count: int, now: datetime, seed: int = 2
) -> None:
    """`count` chatter messages on 2,000 leads over the last 120 days, as the sync stores them,
    in bulk upserts of 500."""
    from app.services.records import MESSAGE
    from app.services.timeline import message_document

    rng = random.Random(seed)
    for first in range(1, count + 1, PAGE):
        docs = [
            message_document(
                external_id=n,
                res_model="crm.lead",
                res_id=rng.randint(1, 2000),
                record_name="Bench lead",
                date=now - timedelta(minutes=rng.randint(0, 60 * 24 * 120)),
                message_type=rng.choice(("comment", "email", "notification")),
                subtype="Note",
                author_id=rng.randint(1, 50),
                author_name="Bench Author",
                body="<p>Synthetic <b>chatter</b> message</p>",
                body_text="Synthetic chatter message",
                updated_at=now,
            )
            for n in range(first, min(first + PAGE, count + 1))
        ]
        await store.envelopes.upsert_many(tenant, MESSAGE, "odoo", docs, now=now)
