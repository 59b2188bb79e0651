"""Per-request accounting of store commands: how many, and how long, measured in one place.

Observers (`observe_commands`) also see what each command asked of its collection: the filters,
the sort and the indexes created. The test suite records query shapes this way and checks them
against the declared indexes (tests/index_coverage.py); nothing is described when no one looks.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Command:
    """What one store command asked of a collection."""

    collection: str
    operation: str
    filters: tuple[Mapping[str, Any], ...] = ()
    sort: tuple[tuple[str, int], ...] = ()
    indexes: tuple[Mapping[str, Any], ...] = ()  # create_indexes: each index's `key` and `name`


CommandObserver = Callable[[Command], None]
_observers: list[CommandObserver] = []


def observe_commands(observer: CommandObserver) -> Callable[[], None]:
    """Call `observer` with every command issued from now on; returns the function that stops it."""
    _observers.append(observer)
    return lambda: _observers.remove(observer)


def observing() -> bool:
    return bool(_observers)


def describe(
    collection: str,
    operation: str,
    filters: Sequence[Mapping[str, Any]] = (),
    sort: Sequence[tuple[str, int]] | None = None,
    indexes: Sequence[Mapping[str, Any]] = (),
) -> Command | None:
    """The command as observers see it; None (nothing built) when no one observes."""
    if not _observers:
        return None
    return Command(collection, operation, tuple(filters), tuple(sort or ()), tuple(indexes))


@asynccontextmanager
async def timed(operation: str, command: Command | None = None) -> AsyncIterator[None]:
    if command is not None:
        for observer in tuple(_observers):
            observer(command)
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
