"""Per-request accounting of store commands: how many, and how long, measured in one place."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from prometheus_client import Counter, Histogram

STORE_COMMANDS = Counter("store_commands_total", "Store commands issued", ["operation"])
STORE_SECONDS = Histogram(
    "store_command_seconds",
    "Time spent in store commands",
    ["operation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


@dataclass
class StoreUsage:
    commands: int = 0
    seconds: float = 0.0


_usage: ContextVar[StoreUsage | None] = ContextVar("store_usage", default=None)


def begin_usage() -> StoreUsage:
    """Start counting store commands for the current task (a request, a job, a bench step)."""
    usage = StoreUsage()
    _usage.set(usage)
    return usage


def current_usage() -> StoreUsage | None:
    return _usage.get()


@asynccontextmanager
async def timed(operation: str) -> AsyncIterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        STORE_COMMANDS.labels(operation).inc()
        STORE_SECONDS.labels(operation).observe(elapsed)
        usage = _usage.get()
        if usage is not None:
            usage.commands += 1
            usage.seconds += elapsed
