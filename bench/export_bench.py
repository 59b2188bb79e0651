"""Export and calendar feed benchmark: CSV/XLSX exports at two sizes, a 2,000-event feed.

    python -m bench.export_bench                   # 2k and 20k activities
    python -m bench.export_bench --sizes 2000      # one size
    MONGODB_URI=mongodb://localhost:27017 python -m bench.export_bench   # on a real MongoDB

Each size runs in its own process (`--child`): it loads N activities, then exports all of them
through the real app (a raw ASGI call, nothing buffered) as CSV and as XLSX, and reports:
- rows/s over the whole response, time to the first byte and to the first data row;
- peak RSS while the export runs (the kernel's high-water mark, reset before each export through
  /proc/self/clear_refs) and its growth over the RSS before the export, after a warm-up export;
- the Python heap's peak above its level before the export (tracemalloc, a third run): exact,
  where RSS moves by allocator arenas. On the embedded store the process also holds the data set
  (10x more at 20k), so the flat-memory check (≤ 1.2x from 2k to 20k) is on the heap peak; on
  MongoDB the data is in the server and the absolute peak RSS is comparable too.
A last process loads 2,000 activities of one user and times their calendar feed
(`GET /calendar/<token>.ics`, no Authorization): time per request and events per feed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.services.activities import SORTS
from app.services.auth import mint_token
from app.services.clock import FrozenClock
from app.store import open_store
from app.store.timing import STORE_SECONDS

TENANT = "bench"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
FEED_RUNS = 5
CSV_BOM = b"\xef\xbb\xbf"
_DB_MS = re.compile(r"db;dur=([\d.]+)")


def bench_settings() -> Settings:
    uri = os.environ.get("MONGODB_URI")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        app_env="development",
        jwt_secret=SecretStr("bench-secret-" + "x" * 32),
        default_tz="UTC",
        mongodb_uri=SecretStr(uri) if uri else None,
        mongodb_db=f"bench_export_{uuid.uuid4().hex[:8]}",
        scheduler_enabled=False,
        log_level="WARNING",
    )


# ------------------------------------------------------------------------------ memory


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM (the peak RSS) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


# ------------------------------------------------------------------------------ one request


async def asgi_get(
    app: Callable[..., Any], path: str, query: str, headers: dict[str, str]
) -> dict[str, Any]:
    """One GET through the ASGI app: status, bytes, time to first byte and to the first chunk
    that carries data rows (after the CSV header), total time. The body is counted, not kept."""
    started = time.perf_counter()
    figures: dict[str, Any] = {"bytes": 0, "chunks": 0, "ttfb": None, "first_rows": None}
    done = asyncio.Event()
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            figures["status"] = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                at = time.perf_counter() - started
                figures["chunks"] += 1
                figures["bytes"] += len(body)
                if figures["ttfb"] is None:
                    figures["ttfb"] = at
                header_only = body.startswith(CSV_BOM) and body.count(b"\r\n") == 1
                if figures["first_rows"] is None and not header_only:
                    figures["first_rows"] = at
            if not message.get("more_body"):
                figures["total"] = time.perf_counter() - started
                done.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("bench", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    return figures


async def with_app(settings: Settings, load: Callable[[Any], Any], work: Callable[..., Any]) -> Any:
    store = open_store(settings)
    await store.ensure_indexes()
    try:
        await load(store)
        app = create_app(settings, store=store, clock=FrozenClock(NOW), configure_logs=False)
        async with app.router.lifespan_context(app) as state:

            async def with_state(scope: Any, receive: Any, send: Any) -> None:
                await app({**scope, "state": dict(state or {})}, receive, send)

            return await work(with_state, store)
    finally:
        if not store.embedded:
            await store.client.drop_database(settings.mongodb_db)
        await store.close()


# ------------------------------------------------------------------------------ children


async def export_child(size: int) -> dict[str, Any]:
    from bench.data import load_activities

    settings = bench_settings()
    token = mint_token(settings, sub="rep-1", tenant=TENANT)
    headers = {"Authorization": f"Bearer {token}"}

    async def load(store: Any) -> None:
        await load_activities(store, settings, tenant=TENANT, count=size, now=NOW)

    async def work(app: Any, store: Any) -> dict[str, Any]:
        page = settings.export_page_size
        results: dict[str, Any] = {"size": size, "page_size": page}
        for fmt in ("csv", "xlsx"):
            # a first export warms the code paths and the allocator's arenas; the second is
            # measured
            await asgi_get(app, "/api/v1/activities/export", f"format={fmt}", headers)
            gc.collect()
            rss_before = _status_kb("VmRSS")
            store_before = store_seconds()
            reset_peak_rss()
            figures = await asgi_get(app, "/api/v1/activities/export", f"format={fmt}", headers)
            peak = _status_kb("VmHWM")
            assert figures["status"] == 200, figures
            results[fmt] = {
                **figures,
                "rows_per_s": size / figures["total"],
                "store_s": store_seconds() - store_before,
                "rss_before_mb": rss_before / 1024,
                "peak_rss_mb": peak / 1024,
                "growth_mb": (peak - rss_before) / 1024,
            }
            # RSS moves by whole allocator arenas; the Python heap's high-water mark above its
            # level before the export is exact (a third run: tracing slows it down)
            results[fmt]["heap_peak_mb"] = await traced_peak_mb(
                asgi_get(app, "/api/v1/activities/export", f"format={fmt}", headers)
            )
        # The store's own share: one page read alone at this size (on the embedded engine a
        # scan and sort of every document).
        results["store_page_heap_mb"] = await traced_peak_mb(
            store.envelopes.find(TENANT, "activity", {}, sort=SORTS["date"], limit=page + 1)
        )
        return results

    result: dict[str, Any] = await with_app(settings, load, work)
    return result


async def traced_peak_mb(work: Any) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await work
        return (tracemalloc.get_traced_memory()[1] - base) / 1e6
    finally:
        tracemalloc.stop()


def store_seconds() -> float:
    """Seconds spent in store commands so far in this process (the store's own histogram)."""
    return sum(
        sample.value
        for metric in STORE_SECONDS.collect()
        for sample in metric.samples
        if sample.name.endswith("_sum")
    )


async def calendar_child(size: int) -> dict[str, Any]:
    from bench.data import load_activities

    settings = bench_settings()
    token = mint_token(settings, sub="rep-1", tenant=TENANT)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def load(store: Any) -> None:
        await load_activities(store, settings, tenant=TENANT, count=size, now=NOW, reps=1)

    async def work(app: Any, store: Any) -> dict[str, Any]:
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.post(
                "/api/v1/calendar/feeds?tz=Europe/Berlin",
                json={"name": "My activities", "filters": {"user_id": "me"}},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            url = response.json()["url"]
            path = url[url.index("/api/v1/") :]
            times, db_ms, events, size_bytes = [], [], 0, 0
            # the first request renders; the next ones find the feed unchanged (same ETag) and
            # serve the cached rendering; the last pair sends If-None-Match (a 304)
            for _ in range(FEED_RUNS + 1):
                started = time.perf_counter()
                feed = await client.get(path)
                times.append(time.perf_counter() - started)
                db_ms.append(float(_DB_MS.search(feed.headers["server-timing"])[1]))
                assert feed.status_code == 200
                events, size_bytes = feed.content.count(b"BEGIN:VEVENT"), len(feed.content)
            started = time.perf_counter()
            unchanged = await client.get(path, headers={"If-None-Match": feed.headers["etag"]})
            not_modified_ms = (time.perf_counter() - started) * 1000
            assert unchanged.status_code == 304
        return {
            "size": size,
            "events": events,
            "bytes": size_bytes,
            "first_ms": times[0] * 1000,
            "first_db_ms": db_ms[0],
            "median_ms": statistics.median(times[1:]) * 1000,
            "median_db_ms": statistics.median(db_ms[1:]),
            "not_modified_ms": not_modified_ms,
        }

    result: dict[str, Any] = await with_app(settings, load, work)
    return result


# ------------------------------------------------------------------------------ parent


def run_child(kind: str, size: int) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.export_bench", "--child", kind, "--size", str(size)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--calendar-size", type=int, default=2000)
    parser.add_argument("--child", choices=["export", "calendar"])
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    if args.child:
        child = export_child if args.child == "export" else calendar_child
        print(json.dumps(asyncio.run(child(args.size))))
        return

    engine = "MongoDB (MONGODB_URI)" if os.environ.get("MONGODB_URI") else "embedded (mongomock)"
    print(f"store: {engine}; one process per size\n")
    results = [run_child("export", size) for size in args.sizes]
    print(
        "| N | format | rows/s | total s | store s | ours s | first byte ms | first rows ms "
        "| chunks | MB out | peak RSS MB | RSS growth MB | heap peak MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        for fmt in ("csv", "xlsx"):
            f = result[fmt]
            print(
                f"| {result['size']:,} | {fmt} | {f['rows_per_s']:,.0f} | {f['total']:.2f} "
                f"| {f['store_s']:.2f} | {f['total'] - f['store_s']:.2f} "
                f"| {f['ttfb'] * 1000:,.1f} | {f['first_rows'] * 1000:,.1f} | {f['chunks']} "
                f"| {f['bytes'] / 1e6:.2f} | {f['peak_rss_mb']:.0f} | {f['growth_mb']:.1f} "
                f"| {f['heap_peak_mb']:.1f} |"
            )
    for result in results:
        print(
            f"one store page alone at {result['size']:,} ({result['page_size']} rows): "
            f"{result['store_page_heap_mb']:.1f} MB heap peak"
        )
    if len(results) > 1:
        small, large = results[0], results[-1]
        for fmt in ("csv", "xlsx"):
            heap = large[fmt]["heap_peak_mb"] / small[fmt]["heap_peak_mb"]
            peak = large[fmt]["peak_rss_mb"] / small[fmt]["peak_rss_mb"]
            print(
                f"{fmt} {large['size']:,} vs {small['size']:,}: heap peak during the export "
                f"{heap:.2f}x ({'OK' if heap <= 1.2 else 'ABOVE'} 1.2x); RSS growth "
                f"{small[fmt]['growth_mb']:.1f} -> {large[fmt]['growth_mb']:.1f} MB; absolute "
                f"peak RSS {peak:.2f}x (the process holds the data set on the embedded store)"
            )
    feed = run_child("calendar", args.calendar_size)
    print(
        f"\ncalendar feed of one user with {feed['size']:,} activities ({feed['events']:,} events, "
        f"{feed['bytes'] / 1e6:.2f} MB): first request {feed['first_ms']:,.0f} ms "
        f"(store {feed['first_db_ms']:,.0f} ms; renders), unchanged feed median "
        f"{feed['median_ms']:,.0f} ms over {FEED_RUNS} (store {feed['median_db_ms']:,.0f} ms; "
        f"cached rendering), If-None-Match 304 {feed['not_modified_ms']:,.0f} ms"
    )


if __name__ == "__main__":
    main()
