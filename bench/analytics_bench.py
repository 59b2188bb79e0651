"""Analytics benchmark: store commands and our own time per request, every route, two sizes.

    python -m bench.analytics_bench                      # 2k and 20k activities, embedded store
    python -m bench.analytics_bench --sizes 2000 --runs 5
    MONGODB_URI=mongodb://localhost:27017 python -m bench.analytics_bench   # a real MongoDB

For each size N it loads 2,000 opportunities (each with a contact), N activities on them
(through the service code the API uses: contacts are filled in from the opportunity) and N
chatter messages on them (a third emails from customers, the rest by 20 Odoo users), then sends
every analytics route as a manager through the real app (httpx ASGITransport) and reads
`Server-Timing`: store commands per request (must not grow with N) and our own milliseconds
(`app`, outside the store), beside the trivial endpoint (`GET /me`) measured in the same run,
right after each analytics request. p50/p99 are of the whole request; on the embedded store
they measure mongomock's scans (STORE.md), not this service.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from app.config import Settings
from app.gc_policy import apply_gc_policy
from app.services import records, timeline
from app.services.auth import mint_token
from app.store import Store, open_store
from bench.dashboard_bench import serving
from bench.data import load_activities

TENANT = "bench"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
LEADS = 2000
PAGE = 500
TRIVIAL = "/api/v1/me"
ROUTES = {
    "volume week/type": "/api/v1/analytics/volume?interval=week&group_by=type&tz=Europe/Berlin",
    "volume day/user": "/api/v1/analytics/volume?interval=day&group_by=user&tz=Europe/Berlin",
    "team": "/api/v1/analytics/team?tz=Europe/Berlin",
    "response-times": "/api/v1/analytics/response-times?group_by=user&tz=Europe/Berlin",
    "engagement": "/api/v1/analytics/engagement?limit=50&tz=Europe/Berlin",
    "stale": "/api/v1/analytics/stale?days=14&tz=Europe/Berlin",
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
        mongodb_db=f"bench_analytics_{uuid.uuid4().hex[:8]}",
    )


async def load(store: Store, settings: Settings, count: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    leads = [
        {
            "id": records.odoo_opportunity_id(n),
            "external_id": n,
            "name": f"Lead {n}",
            "contact_id": str(n % 500 + 1),
            "contact_name": f"Partner {n % 500 + 1}",
            "user_id": f"odoo:{n % 20 + 1}",
            "user_name": f"Rep {n % 20 + 1}",
            "stage": "New",
            "lead_type": "opportunity",
            "probability": 10.0,
            "active": True,
        }
        for n in range(1, LEADS + 1)
    ]
    for start in range(0, LEADS, PAGE):
        await store.envelopes.upsert_many(
            TENANT, records.OPPORTUNITY, "odoo", leads[start : start + PAGE], now=NOW
        )
    await load_activities(store, settings, tenant=TENANT, count=count, now=NOW)
    for first in range(1, count + 1, PAGE):
        docs = [
            timeline.message_document(
                external_id=n,
                res_model="crm.lead",
                res_id=rng.randint(1, LEADS),
                date=NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 120)),
                message_type=rng.choice(("comment", "email", "email", "notification")),
                body="<p>Synthetic <b>chatter</b> message</p>",
                body_text="Synthetic chatter message",
                author_name="Bench Author",
                author_uid=None if rng.random() < 0.33 else rng.randint(1, 20),
            )
            for n in range(first, min(first + PAGE, count + 1))
        ]
        await store.envelopes.upsert_many(TENANT, records.MESSAGE, "odoo", docs, now=NOW)


@dataclass
class Figures:
    total_ms: list[float] = field(default_factory=list)
    app_ms: list[float] = field(default_factory=list)
    db_ms: list[float] = field(default_factory=list)
    trivial_app_ms: list[float] = field(default_factory=list)
    commands: set[int] = field(default_factory=set)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _timing(response: httpx.Response) -> tuple[float, int, float]:
    match = _TIMING.search(response.headers["server-timing"])
    assert match, response.headers["server-timing"]
    return float(match[1]), int(match[2]), float(match[3])


async def measure(client: httpx.AsyncClient, path: str, headers: Any, runs: int) -> Figures:
    figures = Figures()
    (await client.get(path, headers=headers)).raise_for_status()  # warm-up
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path, headers=headers)
        figures.total_ms.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        db, commands, app = _timing(response)
        figures.db_ms.append(db)
        figures.app_ms.append(app)
        figures.commands.add(commands)
        trivial = await client.get(TRIVIAL, headers=headers)
        figures.trivial_app_ms.append(_timing(trivial)[2])
    return figures


async def run_size(count: int, runs: int) -> dict[str, Figures]:
    settings = bench_settings()
    store = open_store(settings)
    try:
        await store.ensure_indexes()
        started = time.perf_counter()
        await load(store, settings, count)
        print(
            f"  loaded {LEADS:,} opportunities, {count:,} activities, {count:,} messages "
            f"in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        token = mint_token(
            settings, sub="boss", tenant=TENANT, roles=["manager"], expires_in=timedelta(hours=2)
        )
        headers = {"Authorization": f"Bearer {token}"}
        results = {}
        async with serving(settings, store) as client:
            for name, path in ROUTES.items():
                results[name] = await measure(client, path, headers, runs)
                print(f"  {name}: done", flush=True)
        return results
    finally:
        if not store.embedded:
            await store.client.drop_database(settings.mongodb_db)
        await store.close()


def _commands(figures: Figures) -> str:
    return "/".join(str(c) for c in sorted(figures.commands))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 20_000])
    parser.add_argument("--runs", type=int, default=7, help="requests per route and size")
    args = parser.parse_args()
    logging.getLogger("app").setLevel(logging.ERROR)
    apply_gc_policy()  # as `python -m app serve` runs the service
    engine = "MongoDB (MONGODB_URI)" if os.environ.get("MONGODB_URI") else "embedded (mongomock)"
    print(f"analytics bench: store={engine}, runs={args.runs} per route, cores={os.cpu_count()}")
    results: dict[int, dict[str, Figures]] = {}
    for count in args.sizes:
        print(f"size {count:,}:", flush=True)
        results[count] = await run_size(count, args.runs)
    print()
    header = (
        f"{'N':>7}  {'route':<18} {'p50 ms':>8} {'p99 ms':>8} {'db ms':>8} {'cmds':>5} "
        f"{'app ms':>7} {'trivial app ms':>14} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for count, by_route in results.items():
        for name, f in by_route.items():
            app, trivial = statistics.median(f.app_ms), statistics.median(f.trivial_app_ms)
            print(
                f"{count:>7,}  {name:<18} {statistics.median(f.total_ms):>8.0f} "
                f"{percentile(f.total_ms, 0.99):>8.0f} {statistics.median(f.db_ms):>8.0f} "
                f"{_commands(f):>5} {app:>7.2f} {trivial:>14.2f} {app / trivial:>6.1f}"
            )
    smallest, largest = min(results), max(results)
    print()
    print(f"store commands per request, {largest:,} vs {smallest:,} activities:")
    for name in ROUTES:
        small, large = results[smallest][name], results[largest][name]
        verdict = "constant" if small.commands == large.commands else "GROWS"
        print(f"  {name:<18} {_commands(small)} -> {_commands(large)} ({verdict})")


if __name__ == "__main__":
    asyncio.run(main())
