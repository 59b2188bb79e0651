"""Export and calendar feed benchmark: CSV/XLSX exports at two sizes, a 2,000-event feed.

    python -m bench.export_bench                   # 2k and 20k activities
    python -m bench.export_bench --sizes 2000      # one size
    MONGODB_URI=mongodb://localhost:27017 python -m bench.export_bench   # on a real MongoDB

Each size runs in its own process (`--child`): it loads N activities, then exports all of them
through the real app (a raw ASGI call, nothing buffered) as CSV and as XLSX, and reports:
- rows/s over the whole response, time to the first byte and to the first data row;
- peak RSS while the export runs (the kernel's high-water mark, reset before each export through
  /proc/self/clear_refs) and its growth over the RSS before the export. On the embedded store the
  process also holds the data set itself (about 10x more at 20k), so the flat-memory check is on
  the growth: ≤ 1.2x from 2k to 20k. On MongoDB the data is in the server and the absolute peak
  is comparable too.
A last process loads 2,000 activities of one user and times their calendar feed
(`GET /calendar/<token>.ics`, no Authorization): time per request and events per feed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.services.auth import mint_token
from app.services.clock import FrozenClock
from app.store import open_store

TENANT = "bench"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)
FEED_RUNS = 5
CSV_BOM = b"\xef\xbb\xbf"


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

            return await work(with_state)
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

    async def work(app: Any) -> dict[str, Any]:
        results: dict[str, Any] = {"size": size, "page_size": settings.export_page_size}
        for fmt in ("csv", "xlsx"):
            gc.collect()
            rss_before = _status_kb("VmRSS")
            reset_peak_rss()
            figures = await asgi_get(app, "/api/v1/activities/export", f"format={fmt}", headers)
            peak = _status_kb("VmHWM")
            assert figures["status"] == 200, figures
            results[fmt] = {
                **figures,
                "rows_per_s": size / figures["total"],
                "rss_before_mb": rss_before / 1024,
                "peak_rss_mb": peak / 1024,
                "growth_mb": (peak - rss_before) / 1024,
            }
        return results

    result: dict[str, Any] = await with_app(settings, load, work)
    return result


async def calendar_child(size: int) -> dict[str, Any]:
    from bench.data import load_activities

    settings = bench_settings()
    token = mint_token(settings, sub="rep-1", tenant=TENANT)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def load(store: Any) -> None:
        await load_activities(store, settings, tenant=TENANT, count=size, now=NOW, reps=1)

    async def work(app: Any) -> dict[str, Any]:
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
            times, events, size_bytes = [], 0, 0
            for _ in range(FEED_RUNS + 1):  # the first builds the VTIMEZONE cache: a warm-up
                started = time.perf_counter()
                feed = await client.get(path)
                times.append(time.perf_counter() - started)
                assert feed.status_code == 200
                events, size_bytes = feed.content.count(b"BEGIN:VEVENT"), len(feed.content)
        return {
            "size": size,
            "events": events,
            "bytes": size_bytes,
            "first_ms": times[0] * 1000,
            "median_ms": statistics.median(times[1:]) * 1000,
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
        "| N | format | rows/s | total s | first byte ms | first rows ms | chunks | MB out "
        "| RSS before MB | peak RSS MB | growth MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for result in results:
        for fmt in ("csv", "xlsx"):
            f = result[fmt]
            print(
                f"| {result['size']:,} | {fmt} | {f['rows_per_s']:,.0f} | {f['total']:.2f} "
                f"| {f['ttfb'] * 1000:,.1f} | {f['first_rows'] * 1000:,.1f} | {f['chunks']} "
                f"| {f['bytes'] / 1e6:.2f} | {f['rss_before_mb']:.0f} | {f['peak_rss_mb']:.0f} "
                f"| {f['growth_mb']:.1f} |"
            )
    if len(results) > 1:
        small, large = results[0], results[-1]
        for fmt in ("csv", "xlsx"):
            growth = large[fmt]["growth_mb"] / max(small[fmt]["growth_mb"], 0.1)
            peak = large[fmt]["peak_rss_mb"] / small[fmt]["peak_rss_mb"]
            verdict = "OK" if growth <= 1.2 else "ABOVE 1.2x"
            print(
                f"{fmt}: RSS growth during the export {large['size']:,} vs {small['size']:,}: "
                f"{growth:.2f}x ({verdict}); absolute peak {peak:.2f}x (includes the data set "
                "on the embedded store)"
            )
    feed = run_child("calendar", args.calendar_size)
    print(
        f"\ncalendar feed of one user with {feed['size']:,} activities: {feed['events']:,} events, "
        f"{feed['bytes'] / 1e6:.2f} MB, median {feed['median_ms']:,.0f} ms per request over "
        f"{FEED_RUNS} (first request {feed['first_ms']:,.0f} ms, builds the VTIMEZONE cache)"
    )


if __name__ == "__main__":
    main()
