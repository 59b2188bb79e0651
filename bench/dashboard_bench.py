"""Dashboard and timeline benchmark: latency and store commands per request at two data sizes.

    python -m bench.dashboard_bench                      # 1k and 20k activities, embedded store
    python -m bench.dashboard_bench --sizes 1000 5000 --runs 10
    MONGODB_URI=mongodb://localhost:27017 python -m bench.dashboard_bench   # a real MongoDB

For each size it loads the activities (through the service code the API uses) plus one chatter
message per ten activities into a fresh store, then sends GET /dashboard/summary, the agenda and
the first GET /timeline page through the real app (httpx ASGITransport) and reads
`Server-Timing`: the store commands per request and the milliseconds spent in the store (`db`)
and in our own code (`app`). On the embedded store the `db` share measures mongomock, which
scans the collection on every command (STORE.md); the figures that hold on any engine are the
commands per request, which must not grow with the data, and the `app` milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import re
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from typing import Any

import httpx
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.schemas.activity import ActivityCreate
from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES
from app.services import activities, records, timeline
from app.services.auth import Principal, mint_token
from app.services.clock import FrozenClock
from app.store import Store, open_store

TENANT = "bench"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
PAGE = 1000
REPS = 20
ENDPOINTS = {
    "dashboard summary": "/api/v1/dashboard/summary?tz=Asia/Dubai",
    "dashboard agenda": "/api/v1/dashboard/agenda?tz=Asia/Dubai",
    "timeline, 1st page": "/api/v1/timeline?limit=50",
}
_TIMING = re.compile(r'db;dur=([\d.]+);desc="(\d+) commands", app;dur=([\d.]+)')


def bench_settings() -> Settings:
    uri = os.environ.get("MONGODB_URI")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="development",
        jwt_secret=SecretStr("bench-secret-" + "x" * 32),
        default_tz="UTC",
        mongodb_uri=SecretStr(uri) if uri else None,
        mongodb_db=f"bench_dashboard_{uuid.uuid4().hex[:8]}",
    )


def _rep(n: int) -> Principal:
    return Principal(sub=f"rep-{n}", tenant=TENANT, roles=frozenset({"user"}), identities=())


async def load(store: Store, settings: Settings, count: int, seed: int = 1) -> int:
    """`count` activities over 20 reps and +-60 days, and count // 10 chatter messages."""
    rng = random.Random(seed)
    today = NOW.date()
    for start in range(0, count, PAGE):
        payloads = []
        for _ in range(min(PAGE, count - start)):
            day = today + timedelta(days=rng.randint(-60, 60))
            due = None if rng.random() < 0.15 else day + timedelta(days=rng.randint(0, 7))
            payloads.append(
                ActivityCreate(
                    type=rng.choice(ACTIVITY_TYPES),  # type: ignore[arg-type]
                    subject=f"Bench activity {start}",
                    user_id=f"rep-{rng.randint(1, REPS)}",
                    date=day,
                    due_date=due,
                    start_time=wall_time(rng.randint(7, 18)) if rng.random() < 0.6 else None,
                    state=rng.choice(ACTIVITY_STATES),  # type: ignore[arg-type]
                    priority=rng.choice(("high", "normal", "low")),  # type: ignore[arg-type]
                    related_id=f"crm.lead,{rng.randint(1, 2000)}",  # type: ignore[call-arg]
                )
            )
        await activities.create_activities(
            store, _rep(start // PAGE % REPS + 1), payloads, settings=settings, now=NOW
        )
    messages = [
        timeline.message_document(
            external_id=n,
            res_model="crm.lead",
            res_id=rng.randint(1, 2000),
            date=NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 120)),
            message_type=rng.choice(("comment", "email", "notification")),
            body="<p>Synthetic <b>chatter</b> message</p>",
            author_name="Bench Author",
        )
        for n in range(1, count // 10 + 1)
    ]
    for start in range(0, len(messages), PAGE):
        await store.envelopes.upsert_many(
            TENANT, records.MESSAGE, "odoo", messages[start : start + PAGE], now=NOW
        )
    return len(messages)


@asynccontextmanager
async def serving(settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with its lifespan run once, its state handed to every request."""
    app = create_app(settings, store=store, clock=FrozenClock(NOW), configure_logs=False)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            yield client


@dataclass
class Figures:
    median_ms: float
    p95_ms: float
    db_ms: float
    app_ms: float
    commands: set[int]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


async def measure(client: httpx.AsyncClient, path: str, token: str, runs: int) -> Figures:
    headers = {"Authorization": f"Bearer {token}"}
    await client.get(path, headers=headers)  # warm-up
    total, db, app, commands = [], [], [], set()
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        total.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        timing = _TIMING.search(response.headers["server-timing"])
        assert timing, response.headers["server-timing"]
        db.append(float(timing[1]))
        commands.add(int(timing[2]))
        app.append(float(timing[3]))
    return Figures(
        statistics.median(total),
        percentile(total, 0.95),
        statistics.median(db),
        statistics.median(app),
        commands,
    )


async def run_size(count: int, runs: int) -> tuple[int, dict[str, Figures]]:
    settings = bench_settings()
    store = open_store(settings)
    try:
        await store.ensure_indexes()
        started = time.perf_counter()
        messages = await load(store, settings, count)
        print(
            f"  loaded {count:,} activities + {messages:,} messages "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        token = mint_token(
            settings, sub="rep-1", tenant=TENANT, roles=["user"], expires_in=timedelta(hours=1)
        )
        async with serving(settings, store) as client:
            return messages, {
                name: await measure(client, path, token, runs) for name, path in ENDPOINTS.items()
            }
    finally:
        if not store.embedded:
            await store.client.drop_database(settings.mongodb_db)
        await store.close()


def _commands(figures: Figures) -> str:
    return "/".join(str(c) for c in sorted(figures.commands))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 20_000])
    parser.add_argument("--runs", type=int, default=10, help="requests per endpoint and size")
    args = parser.parse_args()
    logging.getLogger("app").setLevel(logging.ERROR)
    engine = "MongoDB (MONGODB_URI)" if os.environ.get("MONGODB_URI") else "embedded (mongomock)"
    print(f"dashboard bench: store={engine}, runs={args.runs} per endpoint, cores={os.cpu_count()}")
    results: dict[int, dict[str, Figures]] = {}
    for count in args.sizes:
        print(f"size {count:,}:", flush=True)
        _, results[count] = await run_size(count, args.runs)
    print()
    header = (
        f"{'activities':>10}  {'endpoint':<20} {'median ms':>9} {'p95 ms':>8} "
        f"{'db ms':>8} {'app ms':>7} {'commands/req':>12}"
    )
    print(header)
    print("-" * len(header))
    for count, by_endpoint in results.items():
        for name, f in by_endpoint.items():
            print(
                f"{count:>10,}  {name:<20} {f.median_ms:>9.1f} {f.p95_ms:>8.1f} "
                f"{f.db_ms:>8.1f} {f.app_ms:>7.1f} {_commands(f):>12}"
            )
    smallest, largest = min(results), max(results)
    print()
    print(f"store commands per request, {largest:,} vs {smallest:,} activities:")
    for name in ENDPOINTS:
        small, large = results[smallest][name], results[largest][name]
        ratio = max(large.commands) / max(max(small.commands), 1)
        verdict = "constant" if small.commands == large.commands else "GROWS"
        print(
            f"  {name:<20} {_commands(small)} -> {_commands(large)}  "
            f"(ratio {ratio:.2f}, {verdict} in the number of activities)"
        )


if __name__ == "__main__":
    asyncio.run(main())
