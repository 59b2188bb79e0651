"""GET /events over real HTTP (uvicorn on loopback): resume without loss or duplicates across a
reconnect, across two service instances sharing one store, and across a restart; filters,
isolation, heartbeats, reset."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from httpx_sse import aconnect_sse

from app.config import Settings
from app.main import create_app
from app.services import retention
from app.services.clock import FrozenClock
from app.store import Store
from tests.conftest import make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings(events_poll_seconds=0.05, events_heartbeat_seconds=0.2)


@asynccontextmanager
async def serving(settings: Settings, store: Store, clock: FrozenClock) -> AsyncIterator[str]:
    """The app on a real server on 127.0.0.1 (its lifespan runs: its own reader)."""
    app = create_app(settings, store=store, clock=clock, configure_logs=False)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn only exposes a flag
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def base(settings: Settings, store: Store, clock: FrozenClock) -> AsyncIterator[str]:
    async with serving(settings, store, clock) as url:
        yield url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def read_events(
    http: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    count: int,
    *,
    last_event_id: int | None = None,
    params: dict[str, Any] | None = None,
    while_open: Callable[[], Any] | None = None,
) -> list[tuple[str, int, dict[str, Any]]]:
    """Open a stream, optionally write while it is open, read `count` events, hang up."""
    if last_event_id is not None:
        headers = {**headers, "Last-Event-ID": str(last_event_id)}
    received: list[tuple[str, int, dict[str, Any]]] = []
    async with asyncio.timeout(10):
        async with aconnect_sse(
            http, "GET", f"{url}/api/v1/events", headers=headers, params=params
        ) as source:
            assert source.response.status_code == 200
            assert source.response.headers["content-type"].startswith("text/event-stream")
            if while_open is not None:
                await while_open()
            async for sse in source.aiter_sse():
                if not sse.data:
                    # A heartbeat comment: httpx-sse dispatches it as an empty event once an id
                    # was seen (the spec says not to dispatch an event without data).
                    continue
                received.append((sse.event, int(sse.id), json.loads(sse.data)))
                if len(received) == count:
                    break
    return received


async def create(http: httpx.AsyncClient, url: str, headers: dict[str, str], n: int) -> list[str]:
    ids = []
    for i in range(n):
        response = await http.post(
            f"{url}/api/v1/activities",
            json={"type": "call", "subject": f"Call {i}", "related_id": "crm.lead,9"},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return ids


def ids_of(events: list[tuple[str, int, dict[str, Any]]]) -> list[int]:
    return [event_id for _, event_id, _ in events]


async def test_stream_sends_each_change_once_in_id_order(base, http, auth):
    alice = auth("alice")

    async def write() -> None:
        (first,) = await create(http, base, alice, 1)
        await http.patch(f"{base}/api/v1/activities/{first}", json={"state": "done"}, headers=alice)
        await http.delete(f"{base}/api/v1/activities/{first}", headers=alice)

    events = await read_events(http, base, alice, 3, last_event_id=0, while_open=write)
    assert ids_of(events) == [1, 2, 3]
    assert [e[0] for e in events] == ["message"] * 3  # plain events: EventSource.onmessage
    assert [e[2]["type"] for e in events] == [
        "activity.created",
        "activity.updated",
        "activity.deleted",
    ]
    created = events[0][2]
    assert created["id"] == 1 and created["related"]["id"] == "9"
    assert created["data"]["subject"] == "Call 0" and created["data"]["user_id"] == "alice"


async def test_resume_after_a_reconnect_loses_and_repeats_nothing(base, http, auth):
    alice = auth("alice")
    await create(http, base, alice, 3)
    first = await read_events(http, base, alice, 2, last_event_id=0)
    assert ids_of(first) == [1, 2]

    await create(http, base, alice, 2)  # while disconnected
    resumed = await read_events(
        http,
        base,
        alice,
        4,
        last_event_id=first[-1][1],
        while_open=lambda: create(http, base, alice, 1),  # and while connected again
    )
    assert ids_of(resumed) == [3, 4, 5, 6]


async def test_two_instances_sharing_the_store_stream_every_change(
    settings, store, clock, http, auth
):
    alice = auth("alice")
    async with serving(settings, store, clock) as a, serving(settings, store, clock) as b:

        async def write_on_both() -> None:
            for _ in range(3):
                await create(http, a, alice, 1)
                await create(http, b, alice, 1)

        on_a = asyncio.create_task(read_events(http, a, alice, 6, last_event_id=0))
        on_b = await read_events(http, b, alice, 6, last_event_id=0, while_open=write_on_both)
        assert ids_of(on_b) == [1, 2, 3, 4, 5, 6]
        assert ids_of(await on_a) == [1, 2, 3, 4, 5, 6]
        assert [e[2]["data"]["subject"] for e in on_b] == ["Call 0"] * 6

        # A client that read part of it on one instance resumes on the other.
        await create(http, a, alice, 2)
        part = await read_events(http, a, alice, 1, last_event_id=6)
        rest = await read_events(http, b, alice, 1, last_event_id=part[-1][1])
        assert ids_of(part) + ids_of(rest) == [7, 8]


async def test_resume_after_a_restart(settings, store, clock, http, auth):
    alice = auth("alice")
    async with serving(settings, store, clock) as before:
        await create(http, before, alice, 3)
        seen = await read_events(http, before, alice, 2, last_event_id=0)
    async with serving(settings, store, clock) as after:
        await create(http, after, alice, 1)
        resumed = await read_events(http, after, alice, 2, last_event_id=seen[-1][1])
    assert ids_of(seen) + ids_of(resumed) == [1, 2, 3, 4]


async def test_filters_tenant_isolation_and_user_id_me(base, http, auth):
    alice, bob, eve = auth("alice"), auth("bob"), auth("eve", tenant="evil")
    await create(http, base, bob, 1)  # 1: bob's
    await create(http, base, alice, 1)  # 2: alice's
    await create(http, base, eve, 1)  # evil's own 1
    response = await http.post(
        f"{base}/api/v1/activities",
        json={"type": "note", "subject": "Elsewhere", "related_id": "res.partner,5"},
        headers=alice,
    )  # 3: alice's, on another record
    assert response.status_code == 201

    mine = await read_events(http, base, alice, 2, last_event_id=0, params={"user_id": "me"})
    assert ids_of(mine) == [2, 3]
    on_lead = await read_events(
        http, base, bob, 2, last_event_id=0, params={"related": "crm.lead,9"}
    )
    assert ids_of(on_lead) == [1, 2]
    theirs = await read_events(http, base, eve, 1, last_event_id=0)
    assert theirs[0][2]["data"]["subject"] == "Call 0" and theirs[0][1] == 1


async def test_heartbeat_comments_keep_an_idle_stream_alive(base, http, auth):
    comments = 0
    async with asyncio.timeout(5):
        async with http.stream("GET", f"{base}/api/v1/events", headers=auth("alice")) as response:
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    comments += 1
                if comments == 2:
                    break
    assert comments == 2


async def test_an_expired_id_starts_with_reset_then_new_events(
    base, http, auth, store, settings, clock
):
    alice = auth("alice")
    await create(http, base, alice, 3)
    clock.advance(timedelta(hours=settings.events_retention_hours, minutes=1))
    await retention.purge(store, settings, now=clock.now())
    await create(http, base, alice, 1)  # 4

    events = await read_events(
        http, base, alice, 2, last_event_id=1, while_open=lambda: create(http, base, alice, 1)
    )
    assert events[0][0] == "reset" and events[0][1] == 4
    assert (events[1][0], events[1][1]) == ("message", 5)


async def test_bad_requests(base, http, auth):
    assert (await http.get(f"{base}/api/v1/events")).status_code == 401
    bad_id = await http.get(
        f"{base}/api/v1/events", headers={**auth("alice"), "Last-Event-ID": "abc"}
    )
    assert bad_id.status_code == 422
    bad_kind = await http.get(f"{base}/api/v1/events", params={"kind": "x"}, headers=auth())
    assert bad_kind.status_code == 422
    assert bad_kind.headers["content-type"] == "application/problem+json"
