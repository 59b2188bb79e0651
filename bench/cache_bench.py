"""Why our `app` time grows with the data on the embedded store: the engine runs in our process.

    python -m bench.cache_bench                       # 50 and 2,000 activities (+5x messages)
    python -m bench.cache_bench --sizes 50,2000,20000 --requests 100

mongomock answers a query by running a lot of Python over every document of the collection, in
our own process: afterwards our code (FastAPI's routing, the JWT check, rendering) runs with the
CPU caches full of the engine's code and data. A MongoDB server does that work in its own
process, on its indexes. This bench shows the effect in process (ASGI, no network, `app` read
from `Server-Timing` as the API bench reads it): the trivial endpoint `GET /me` timed back to
back, then the same endpoint timed right after each `GET /activities?limit=50`. Identical code;
the only difference is the engine's work that ran just before it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import statistics
from datetime import UTC, datetime
from typing import Any

import httpx

TENANT = "bench"
PAGE = "/api/v1/activities?limit=50"
TRIVIAL = "/api/v1/me"
_APP = re.compile(r"app;dur=([\d.]+)")


async def measure(size: int, requests: int) -> None:
    from app.config import get_settings
    from app.main import create_app
    from app.services.auth import mint_token
    from app.store import open_store
    from bench.data import load_activities, load_messages

    settings = get_settings().model_copy(update={"log_level": "WARNING"})
    store = open_store(settings)
    await store.ensure_indexes()
    now = datetime.now(UTC)
    await load_activities(store, settings, tenant=TENANT, count=size, now=now)
    await load_messages(store, tenant=TENANT, count=5 * size, now=now)
    app = create_app(settings, store=store, configure_logs=False)
    token = mint_token(settings, sub="rep-1", tenant=TENANT)
    async with app.router.lifespan_context(app) as state:
        gc.collect()
        gc.freeze()

        async def served(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=served)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as http:

            async def app_ms(path: str) -> float:
                response = await http.get(path)
                response.raise_for_status()
                match = _APP.search(response.headers["server-timing"])
                assert match is not None
                return float(match.group(1))

            await app_ms(PAGE)  # warm-up
            alone = [await app_ms(TRIVIAL) for _ in range(requests)]
            page, after = [], []
            for _ in range(requests):
                page.append(await app_ms(PAGE))
                after.append(await app_ms(TRIVIAL))
    trivial, page_ms, trivial_after = (statistics.median(v) for v in (alone, page, after))
    print(
        f"{size:>7} {trivial:>15.3f} {trivial_after:>18.3f} {page_ms:>13.3f} "
        f"{page_ms / trivial:>15.2f}x {page_ms / trivial_after:>13.2f}x",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_bench")
    parser.add_argument("--sizes", default="50,2000", help="activities (and 5x messages)")
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per line")
    args = parser.parse_args(argv)
    print("app ms, medians of sequential requests")
    print(
        f"{'N':>7} {'/me back2back':>15} {'/me after a page':>18} {'50-item page':>13} "
        f"{'page/back2back':>16} {'page/after':>14}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        asyncio.run(measure(size, args.requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
