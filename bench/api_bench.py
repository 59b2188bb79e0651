"""HTTP load benchmark of the API: wrk against uvicorn on loopback, at two data sizes.

    python -m bench.api_bench                 # 2k and 20k activities (+5x chatter messages)
    python -m bench.api_bench --sizes 2000 --duration 5
    MONGODB_URI=mongodb://localhost:27017 python -m bench.api_bench   # same, on a real MongoDB

For each size it starts the service in a subprocess (`serve` below) with the data loaded, then:
- drives every endpoint with wrk (16 connections) for req/s, p50 and p99;
- sends sequential requests (1 connection) and reads `Server-Timing` for the store commands per
  request and the milliseconds spent in the store (`db`) and in our own code (`app`).
The trivial authenticated endpoint `GET /api/v1/me` is the ceiling: same server, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ENDPOINTS = {
    "trivial (/me)": "/api/v1/me",
    "activities limit=50": "/api/v1/activities?limit=50",
    "activities me+new": "/api/v1/activities?user_id=me&state=new",
    "dashboard summary": "/api/v1/dashboard/summary",
    "timeline": "/api/v1/timeline",
}
TENANT = "bench"
_TIMING = re.compile(r'db;dur=([\d.]+);desc="(\d+) commands", app;dur=([\d.]+)')


def ensure_wrk() -> str:
    """The bench's setup step: wrk from the Debian packages."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk (Debian package)...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=True,
            capture_output=True,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is required: sudo apt-get install wrk")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------ server side


async def load_data(store: Any, settings: Any, activities: int, messages: int) -> None:
    from bench.data import load_activities, load_messages

    now = datetime.now(UTC)
    await load_activities(store, settings, tenant=TENANT, count=activities, now=now)
    await load_messages(store, tenant=TENANT, count=messages, now=now)


def serve(port: int, activities: int, messages: int) -> None:
    import uvicorn

    from app.config import get_settings
    from app.main import create_app
    from app.store import open_store

    settings = get_settings().model_copy(update={"log_level": "WARNING"})
    store = open_store(settings)

    async def prepare() -> None:
        await store.ensure_indexes()
        started = time.perf_counter()
        await load_data(store, settings, activities, messages)
        print(
            f"loaded {activities} activities + {messages} messages in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )

    config = uvicorn.Config(
        create_app(settings, store=store),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)

    async def main() -> None:
        await prepare()
        # The loaded data set is long-lived: keep the cyclic GC from re-scanning it on every
        # full collection (what a long-running server's heap looks like after start-up).
        gc.collect()
        gc.freeze()
        await server.serve()

    asyncio.run(main())


# ------------------------------------------------------------------------------ driver side


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    completed: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"unexpected wrk latency {text!r}")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6}[unit]


def run_wrk(wrk: str, url: str, token: str, duration: int, connections: int) -> WrkResult:
    out = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "60s",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    completed_match = re.search(r"(\d+) requests in", out)
    completed = int(completed_match.group(1)) if completed_match else 0
    if completed == 0 or "Latency Distribution" not in out:
        return WrkResult(0.0, 0.0, 0.0, 0, 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    distribution = out.split("Latency Distribution", 1)[1]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", distribution, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", distribution, re.M).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    errors = int(errors_match.group(1)) if errors_match else 0
    errors += int(timeouts.group(1)) if timeouts else 0
    return WrkResult(rps, p50, p99, errors, completed)


@dataclass
class Timing:
    commands: float  # medians over the sequential requests
    db_ms: float
    app_ms: float
    trivial_after_ms: float  # the trivial endpoint's app ms, each request sent right after one


def _timing(response: httpx.Response) -> tuple[float, float, float]:
    response.raise_for_status()
    match = _TIMING.search(response.headers["server-timing"])
    assert match, response.headers["server-timing"]
    return float(match.group(2)), float(match.group(1)), float(match.group(3))


def server_timing(base: str, path: str, token: str, samples: int, budget_seconds: float) -> Timing:
    """Medians of `Server-Timing` over sequential requests (1 connection): at least 3, then up
    to `samples` within `budget_seconds`. After each one, the trivial endpoint is requested too:
    its `app` then runs in the same state of the CPU caches as the endpoint's own code (the
    embedded engine's work for the request before evicts them; see bench/cache_bench.py)."""
    commands, db, app, trivial_after = [], [], [], []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        http.get(path)  # warm-up
        deadline = time.monotonic() + budget_seconds
        for n in range(samples):
            if n >= 3 and time.monotonic() > deadline:
                break
            cmds, db_ms, app_ms = _timing(http.get(path))
            commands.append(cmds)
            db.append(db_ms)
            app.append(app_ms)
            trivial_after.append(_timing(http.get(ENDPOINTS["trivial (/me)"]))[2])
    return Timing(*(statistics.median(v) for v in (commands, db, app, trivial_after)))


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("the bench server exited during start-up")
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("the bench server did not become ready")


def start_server(size: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.api_bench",
            "serve",
            "--port",
            str(port),
            "--activities",
            str(size),
            "--messages",
            str(size * 5),
        ],
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc)
    return proc, base


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def bench_size(wrk: str, size: int, args: argparse.Namespace, token: str) -> dict[str, Any]:
    """A fresh server per endpoint: requests wrk left queued on a slow endpoint (the embedded
    engine answers one at a time) must not delay the next endpoint's measurements."""
    results: dict[str, Any] = {}
    for name, path in ENDPOINTS.items():
        proc, base = start_server(size)
        try:
            timing = server_timing(base, path, token, args.samples, args.sample_seconds)
            load = run_wrk(wrk, base + path, token, args.duration, args.connections)
        finally:
            stop_server(proc)
        results[name] = {"timing": timing, "wrk": load}
        latency = (
            f"p50 {load.p50_ms:>8.1f} ms  p99 {load.p99_ms:>8.1f} ms"
            if load.completed
            else "no request completed within wrk's run"
        )
        print(
            f"  {size:>6} {name:<22} {load.rps:>8.1f} req/s  {latency}  "
            f"cmds {timing.commands:>3.0f}  db {timing.db_ms:>9.2f} ms  "
            f"app {timing.app_ms:>6.2f} ms (trivial right after: "
            f"{timing.trivial_after_ms:.2f} ms)  errors {load.errors}",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_bench")
    sub = parser.add_subparsers(dest="command")
    server = sub.add_parser("serve")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--activities", type=int, required=True)
    server.add_argument("--messages", type=int, required=True)
    parser.add_argument("--sizes", default="2000,20000")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--samples", type=int, default=15, help="sequential requests for timing")
    parser.add_argument(
        "--sample-seconds",
        type=float,
        default=30.0,
        help="time budget of the sequential requests per endpoint",
    )
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.port, args.activities, args.messages)
        return 0

    from app.config import get_settings
    from app.services.auth import mint_token

    wrk = ensure_wrk()
    token = mint_token(
        get_settings(), sub="rep-1", tenant=TENANT, roles=["user"], expires_in=timedelta(hours=4)
    )
    engine = "MongoDB" if os.environ.get("MONGODB_URI") else "embedded (mongomock)"
    print(
        f"API bench on {engine}; wrk -c{args.connections} -d{args.duration}s; "
        f"Server-Timing medians over {args.samples} sequential requests\n",
        flush=True,
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    runs = {size: bench_size(wrk, size, args, token) for size in sizes}

    print("\nSummary")
    for name in ENDPOINTS:
        commands = {size: r[name]["timing"].commands for size, r in runs.items()}
        same = "same" if len(set(commands.values())) == 1 else "DIFFERENT"
        parts = []
        for size, r in runs.items():
            load, timing = r[name]["wrk"], r[name]["timing"]
            spread = f"{load.p99_ms / load.p50_ms:.1f}x" if load.completed else "n/a"
            trivial = r["trivial (/me)"]["timing"].app_ms
            parts.append(
                f"@{size}: cmds {commands[size]:.0f}, p99/p50 {spread}, app/trivial "
                f"{timing.app_ms / max(trivial, 1e-9):.2f}x (back to back), "
                f"{timing.app_ms / max(timing.trivial_after_ms, 1e-9):.2f}x (right after)"
            )
        print(f"  {name:<22} commands/request {same} at every size")
        for part in parts:
            print(f"      {part}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
