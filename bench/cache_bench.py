"""Why `app` time grows with the data on the embedded store: the engine runs in our process.

    python -m bench.cache_bench                  # 50-item page and /me, sweeps of 0-128 MB
    python -m bench.cache_bench --requests 500 --sweeps 0,64

mongomock answers a query by walking every document of the collection in our own process; the
memory it touches evicts our code and data from the CPU caches, and the code that runs after
it (rendering the page) runs cold. A MongoDB server does that walk in another process, on its
indexes. This bench shows the effect in isolation, in process (ASGI, no network): the same app
and the same 50 stored activities (so the page and our code's work are identical), while each
store command also reads S MB of memory (a `bytearray.count`, no allocation) inside the store
module's timed block, i.e. billed as `db`, as the engine's own walk is. `app` is read from
`Server-Timing`, exactly as the API bench reads it.
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
_TIMING = re.compile(r'db;dur=([\d.]+);desc="(\d+) commands", app;dur=([\d.]+)')
PATHS = {"trivial (/me)": "/api/v1/me", "activities limit=50": "/api/v1/activities?limit=50"}


async def measure(requests: int, sweeps: list[int]) -> None:
    from app.config import get_settings
    from app.main import create_app
    from app.services.auth import mint_token
    from app.store import open_store
    from bench.data import load_activities

    settings = get_settings().model_copy(update={"log_level": "WARNING"})
    store = open_store(settings)
    await store.ensure_indexes()
    await load_activities(store, settings, tenant=TENANT, count=50, now=datetime.now(UTC))
    app = create_app(settings, store=store, configure_logs=False)
    token = mint_token(settings, sub="rep-1", tenant=TENANT)
    engine = store.envelopes.collection._collection  # the engine's collection object
    plain_find = engine.find
    sweep = bytearray(0)

    def find(*args: Any, **kwargs: Any) -> Any:
        # Called by the store module inside its timed block: the sweep is billed as `db`.
        sweep.count(b"x")  # reads every byte, allocates nothing
        return plain_find(*args, **kwargs)

    async with app.router.lifespan_context(app) as state:
        gc.collect()
        gc.freeze()

        async def served(scope: Any, receive: Any, send: Any) -> None:
            await app({**scope, "state": dict(state or {})}, receive, send)

        transport = httpx.ASGITransport(app=served)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://b", headers=headers
        ) as http:
            print(f"{'sweep':>8}  {'endpoint':<22} {'app ms':>7} {'db ms':>7}  app / trivial")
            for megabytes in sweeps:
                sweep = bytearray(megabytes * 1024 * 1024)
                engine.find = find
                try:
                    app_ms: dict[str, float] = {}
                    for name, path in PATHS.items():
                        apps, dbs = [], []
                        await http.get(path)  # warm-up
                        for _ in range(requests):
                            response = await http.get(path)
                            response.raise_for_status()
                            match = _TIMING.search(response.headers["server-timing"])
                            assert match is not None
                            dbs.append(float(match.group(1)))
                            apps.append(float(match.group(3)))
                        app_ms[name] = statistics.median(apps)
                        ratio = app_ms[name] / app_ms["trivial (/me)"]
                        print(
                            f"{megabytes:>5} MB  {name:<22} {app_ms[name]:>7.3f} "
                            f"{statistics.median(dbs):>7.2f}  {ratio:.2f}x",
                            flush=True,
                        )
                finally:
                    engine.find = plain_find


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache_bench")
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per line")
    parser.add_argument("--sweeps", default="0,8,32,64,128", help="MB read per store command")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.requests, [int(s) for s in args.sweeps.split(",")]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
