"""Change feed benchmark: N SSE clients on one service process while activities are written at a
steady rate.

    python -m bench.events_bench                          # 50 then 500 clients, 5 writes/s, 15 s
    python -m bench.events_bench --clients 500 --rate 20 --duration 30
    MONGODB_URI=mongodb://localhost:27017 python -m bench.events_bench   # on a real MongoDB

For each client count it starts the service in a subprocess (uvicorn on loopback, the store
chosen by MONGODB_URI as in production, embedded otherwise), opens N `GET /api/v1/events` streams
from this process, then POSTs activities at `--rate` per second for `--duration` seconds and
reports:
- delivery latency p50/p99: from the moment a POST is sent to the moment a client reads its event
  (over every client and event; includes the write itself and this process's own scheduling);
- events/s delivered to all clients together, streams dropped;
- the service's RSS (idle, then with N clients at the end of the run) and per client;
- store commands per second and per write, from the service's own Prometheus counter: the
  reader's polls are one query per poll per tenant, so this must not grow with N.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

TENANT = "bench"
JWT_SECRET = "bench-secret-0123456789-0123456789-abcdef"
_SUBJECT = re.compile(r'"subject":"b(\d+)"')
_COMMANDS = re.compile(r"^store_commands_total\{[^}]*\} ([\d.e+]+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env() -> dict[str, str]:
    return {
        **os.environ,
        "JWT_SECRET": JWT_SECRET,
        "APP_ENV": "development",
        "SCHEDULER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "EVENTS_CLIENT_QUEUE": "1000",
    }


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            "--backlog",
            "4096",
        ],
        env=server_env(),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the service exited during start-up")
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the service did not become ready")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def store_commands(http: httpx.AsyncClient, base: str) -> float:
    text = (await http.get(f"{base}/metrics")).text
    return sum(float(v) for v in _COMMANDS.findall(text))


def token() -> str:
    from pydantic import SecretStr

    from app.config import Settings
    from app.services.auth import mint_token

    settings = Settings(_env_file=None, jwt_secret=SecretStr(JWT_SECRET))  # type: ignore[call-arg]
    return mint_token(
        settings, sub="bench", tenant=TENANT, roles=["user"], expires_in=timedelta(hours=2)
    )


@dataclass
class Run:
    sent_at: dict[int, float] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    received: int = 0
    connected: int = 0
    dropped: int = 0
    expected_clients: int = 0
    all_connected: asyncio.Event = field(default_factory=asyncio.Event)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


async def client(http: httpx.AsyncClient, base: str, headers: dict[str, str], run: Run) -> None:
    try:
        async with http.stream("GET", f"{base}/api/v1/events", headers=headers) as response:
            response.raise_for_status()
            run.connected += 1
            if run.connected == run.expected_clients:
                run.all_connected.set()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                now = time.perf_counter()
                run.received += 1
                found = _SUBJECT.search(line)
                if found and (sent := run.sent_at.get(int(found.group(1)))) is not None:
                    run.latencies.append(now - sent)
        if not run.stop.is_set():
            run.dropped += 1
    except (httpx.HTTPError, asyncio.CancelledError):
        if not run.stop.is_set():
            run.dropped += 1


async def writer(
    http: httpx.AsyncClient,
    base: str,
    headers: dict[str, str],
    run: Run,
    rate: float,
    seconds: float,
) -> int:
    interval, started, n = 1 / rate, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        run.sent_at[n] = time.perf_counter()
        response = await http.post(
            f"{base}/api/v1/activities", json={"type": "call", "subject": f"b{n}"}, headers=headers
        )
        response.raise_for_status()
        n += 1
        await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
    return n


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(clients: int, rate: float, seconds: float) -> dict[str, Any]:
    proc, base = start_server()
    try:
        headers = {"Authorization": f"Bearer {token()}"}
        limits = httpx.Limits(max_connections=clients + 20, max_keepalive_connections=clients + 20)
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(30, read=None), limits=limits) as streams,
            httpx.AsyncClient(timeout=30) as api,
        ):
            await asyncio.sleep(0.5)
            rss_idle = rss_mib(proc.pid)
            run = Run(expected_clients=clients)
            tasks = [
                asyncio.create_task(client(streams, base, headers, run)) for _ in range(clients)
            ]
            async with asyncio.timeout(60):
                await run.all_connected.wait()
            await asyncio.sleep(1.0)  # every stream subscribed to the reader
            commands_before, started = await store_commands(api, base), time.perf_counter()
            server_cpu, client_cpu = cpu_seconds(proc.pid), time.process_time()
            writes = await writer(api, base, headers, run, rate, seconds)
            await asyncio.sleep(1.0)  # the last events reach every client
            elapsed = time.perf_counter() - started
            server_cpu = cpu_seconds(proc.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
            commands = await store_commands(api, base) - commands_before
            rss_loaded = rss_mib(proc.pid)
            run.stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return {
            "clients": clients,
            "connected": run.connected,
            "writes": writes,
            "events_received": run.received,
            "expected": writes * clients,
            "dropped": run.dropped,
            "p50_ms": percentile(run.latencies, 0.5) * 1000,
            "p99_ms": percentile(run.latencies, 0.99) * 1000,
            "mean_ms": statistics.fmean(run.latencies) * 1000 if run.latencies else float("nan"),
            "events_per_s": run.received / elapsed,
            "rss_idle_mib": rss_idle,
            "rss_mib": rss_loaded,
            "rss_per_client_kib": (rss_loaded - rss_idle) * 1024 / clients,
            "store_cmds_per_s": commands / elapsed,
            "store_cmds_per_write": commands / max(writes, 1),
            "server_cpu_pct": 100 * server_cpu / elapsed,
            "client_cpu_pct": 100 * client_cpu / elapsed,
            "writes_per_s": writes / elapsed,
            "server_cpu_us_per_event": 1e6 * server_cpu / max(run.received, 1),
        }
    finally:
        stop_server(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="50,500", help="comma-separated client counts")
    parser.add_argument("--rate", type=float, default=5.0, help="activity writes per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of writing")
    args = parser.parse_args(argv)
    engine = "mongodb" if os.environ.get("MONGODB_URI") else "embedded"
    load = os.getloadavg()[0]
    print(
        f"store: {engine}; {args.rate:g} writes/s for {args.duration:g} s; "
        f"{os.cpu_count()} CPUs, load average {load:.1f} before the run",
        flush=True,
    )
    rows = []
    for count in (int(c) for c in args.clients.split(",")):
        row = asyncio.run(measure(count, args.rate, args.duration))
        rows.append(row)
        print(
            f"{row['clients']:>4} clients: received {row['events_received']}/{row['expected']} "
            f"(dropped streams {row['dropped']}), latency p50 {row['p50_ms']:.1f} ms "
            f"p99 {row['p99_ms']:.1f} ms, {row['events_per_s']:.0f} events/s, "
            f"RSS {row['rss_idle_mib']:.0f} -> {row['rss_mib']:.0f} MiB "
            f"({row['rss_per_client_kib']:.0f} KiB/client), store {row['store_cmds_per_s']:.1f} "
            f"cmds/s ({row['store_cmds_per_write']:.2f} per write); "
            f"writes {row['writes_per_s']:.1f}/s; "
            f"CPU service {row['server_cpu_pct']:.0f}% ({row['server_cpu_us_per_event']:.0f} µs "
            f"per delivered event), clients {row['client_cpu_pct']:.0f}%",
            flush=True,
        )
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        print(
            f"store commands/s at {last['clients']} vs {first['clients']} clients: "
            f"x{last['store_cmds_per_s'] / first['store_cmds_per_s']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
