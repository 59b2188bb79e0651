"""Webhooks: admin CRUD, Standard Webhooks signatures checked by an independent implementation
(the `standardwebhooks` package), at-least-once delivery to a real HTTP server on loopback with
retries and backoff, one worker per attempt, and the SSRF guard."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.main import create_app
from app.services import retention, webhooks
from tests.conftest import LifespanApp, make_settings

ADMIN = {"roles": ["admin"]}


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that answers from a script and keeps what it gets."""

    url: str = ""
    port: int = 0
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self) -> tuple[int, dict[str, str]]:
        return self.script.pop(0) if self.script else (200, {})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            state.requests.append(
                {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            time.sleep(state.delay)
            status, headers = state.answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        webhook_allow_http=True,
        webhook_allowed_hosts="127.0.0.1",
        webhook_retry_base_seconds=10,
        webhook_timeout_seconds=1,
        webhook_lease_seconds=5,
    )


@pytest.fixture
async def http(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_seconds, follow_redirects=False
    ) as client:
        yield client


async def subscribe(client, auth, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": url, "events": events or ["activity.*"], "description": "CRM"},
        headers=auth("root", **ADMIN),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def create_activity(client, auth, subject: str = "Call", **user: Any) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/activities", json={"type": "call", "subject": subject}, headers=auth(**user)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def deliver(store, http, clock, settings, owner: str = "w1") -> webhooks.DeliveryStats:
    return await webhooks.deliver_due(store, http, owner=owner, clock=clock, settings=settings)


async def deliveries(client, auth, webhook_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/webhooks/{webhook_id}/deliveries", headers=auth("root", **ADMIN)
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


# ---------------------------------------------------------------------------- CRUD


async def test_admin_creates_lists_and_deletes_webhooks(client, auth, receiver):
    created = await subscribe(client, auth, receiver.url)
    assert created["secret"].startswith("whsec_") and created["id"].startswith("wh_")
    assert created["events"] == ["activity.*"]

    listed = await client.get("/api/v1/webhooks", headers=auth("root", **ADMIN))
    assert listed.status_code == 200
    assert [w["id"] for w in listed.json()["items"]] == [created["id"]]
    assert "secret" not in listed.json()["items"][0]  # shown only once

    for roles in (["manager"], ["user"]):
        assert (await client.get("/api/v1/webhooks", headers=auth(roles=roles))).status_code == 403
    other = auth("root", tenant="other", **ADMIN)
    assert (await client.get("/api/v1/webhooks", headers=other)).json()["items"] == []
    path = f"/api/v1/webhooks/{created['id']}"
    assert (await client.get(f"{path}/deliveries", headers=other)).status_code == 404
    assert (await client.delete(path, headers=other)).status_code == 404

    assert (await client.delete(path, headers=auth("root", **ADMIN))).status_code == 204
    assert (await client.delete(path, headers=auth("root", **ADMIN))).status_code == 404


# ---------------------------------------------------------------------------- delivering


async def test_each_event_is_posted_with_a_valid_standard_webhooks_signature(
    client, auth, receiver, store, http, clock, settings
):
    hook = await subscribe(client, auth, receiver.url)
    activity = await create_activity(client, auth, "Signed")
    await create_activity(client, auth, "Not theirs", tenant="other")

    stats = await deliver(store, http, clock, settings)

    assert stats.delivered == 1 and len(receiver.requests) == 1
    request = receiver.requests[0]
    # An independent implementation of the spec checks the signature.
    payload = Webhook(hook["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "activity.created" and payload["id"] == 1
    assert payload["data"]["id"] == activity["id"] and payload["data"]["subject"] == "Signed"
    tampered = request["body"].replace(b"Signed", b"Forged")
    with pytest.raises(Exception, match="signature"):
        Webhook(hook["secret"]).verify(tampered, request["headers"])
    with pytest.raises(Exception, match="signature"):
        Webhook(webhooks.new_secret()).verify(request["body"], request["headers"])
    (logged,) = await deliveries(client, auth, hook["id"])
    assert logged["id"] == request["headers"]["webhook-id"]
    assert logged["status"] == "delivered" and logged["attempts"] == 1
    assert logged["attempt_log"][0]["status_code"] == 200


async def test_a_receiver_failing_twice_gets_the_event_exactly_once_more(
    client, auth, receiver, store, http, clock, settings
):
    hook = await subscribe(client, auth, receiver.url)
    receiver.script = [(500, {}), (503, {})]
    await create_activity(client, auth)

    await deliver(store, http, clock, settings)  # attempt 1: 500
    await deliver(store, http, clock, settings)  # not due yet: nothing
    assert len(receiver.requests) == 1
    clock.advance(timedelta(seconds=10))  # backoff 10 s
    await deliver(store, http, clock, settings)  # attempt 2: 503
    clock.advance(timedelta(seconds=10))
    await deliver(store, http, clock, settings)  # 20 s not yet elapsed
    assert len(receiver.requests) == 2
    clock.advance(timedelta(seconds=10))
    await deliver(store, http, clock, settings)  # attempt 3: 200
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        await deliver(store, http, clock, settings)

    assert len(receiver.requests) == 3
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    for request in receiver.requests:
        Webhook(hook["secret"]).verify(request["body"], request["headers"])
    (logged,) = await deliveries(client, auth, hook["id"])
    assert logged["status"] == "delivered" and logged["attempts"] == 3
    assert [a["status_code"] for a in logged["attempt_log"]] == [500, 503, 200]


async def test_retries_back_off_exponentially_for_24_hours_then_fail(
    client, auth, receiver, store, http, clock, settings
):
    hook = await subscribe(client, auth, receiver.url)
    receiver.script = [(500, {})] * 100
    await create_activity(client, auth)
    started = clock.now()
    attempt_times = []
    for _ in range(40):
        if (await deliver(store, http, clock, settings)).claimed:
            attempt_times.append(clock.now())
        clock.advance(timedelta(minutes=30))
    (logged,) = await deliveries(client, auth, hook["id"])
    assert logged["status"] == "failed" and logged["next_attempt_at"] is None
    gaps = [(b - a).total_seconds() for a, b in zip(attempt_times, attempt_times[1:], strict=False)]
    assert gaps == sorted(gaps)  # never shorter than the one before
    assert attempt_times[-1] - started <= timedelta(hours=24)
    assert len(receiver.requests) == logged["attempts"] == len(attempt_times)


async def test_each_attempt_is_claimed_by_one_worker(
    client, auth, receiver, store, http, clock, settings
):
    await subscribe(client, auth, receiver.url)
    response = await client.post(
        "/api/v1/activities/batch",
        json={"items": [{"type": "call", "subject": f"C{n}"} for n in range(12)]},
        headers=auth(),
    )
    assert response.status_code == 201
    await asyncio.gather(*(deliver(store, http, clock, settings, owner=f"w{n}") for n in range(3)))
    ids = [r["headers"]["webhook-id"] for r in receiver.requests]
    assert len(ids) == 12 and len(set(ids)) == 12
    events = sorted(json.loads(r["body"])["id"] for r in receiver.requests)
    assert events == list(range(1, 13))


async def test_redirects_are_not_followed(client, auth, receiver, store, http, clock, settings):
    hook = await subscribe(client, auth, receiver.url)
    receiver.script = [(307, {"location": f"http://127.0.0.1:{receiver.port}/elsewhere"})]
    await create_activity(client, auth)
    await deliver(store, http, clock, settings)
    assert [r["path"] for r in receiver.requests] == ["/hook"]
    (logged,) = await deliveries(client, auth, hook["id"])
    assert logged["status"] == "pending" and logged["last_status_code"] == 307


async def test_a_slow_receiver_times_out_and_is_retried(
    client, auth, receiver, store, http, clock, settings
):
    hook = await subscribe(client, auth, receiver.url)
    receiver.delay = 1.5  # WEBHOOK_TIMEOUT_SECONDS is 1
    await create_activity(client, auth)
    await deliver(store, http, clock, settings)
    (logged,) = await deliveries(client, auth, hook["id"])
    assert logged["status"] == "pending" and logged["last_error"] == "timed out"


async def test_only_subscribed_event_types_are_delivered(
    client, auth, receiver, store, http, clock, settings
):
    await subscribe(client, auth, receiver.url, events=["activity.deleted"])
    activity = await create_activity(client, auth)
    await client.delete(f"/api/v1/activities/{activity['id']}", headers=auth())
    await deliver(store, http, clock, settings)
    assert [json.loads(r["body"])["type"] for r in receiver.requests] == ["activity.deleted"]


# ---------------------------------------------------------------------------- SSRF


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Host names resolved by the test (anything else: the real resolver, i.e. none here)."""
    answers: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    real = loop.getaddrinfo

    async def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [(2, 1, 6, "", (answers[host], port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # plain http
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://192.168.1.10/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://100.64.0.1/x",
        "https://internal.example.com/x",  # resolves to a private address
        "https://nowhere.invalid/x",  # does not resolve
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
    ],
)
async def test_unsafe_targets_are_refused_at_creation(store, clock, token, url, fake_dns):
    fake_dns.update({"hooks.example.com": "93.184.216.34", "internal.example.com": "10.0.0.7"})
    strict = make_settings()  # https only, no allowed hosts
    application = create_app(strict, store=store, clock=clock, configure_logs=False)
    async with application.router.lifespan_context(application) as state:
        transport = httpx.ASGITransport(app=LifespanApp(application, dict(state or {})))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = {"Authorization": f"Bearer {token('root', roles=['admin'])}"}
            response = await client.post(
                "/api/v1/webhooks", json={"url": url, "events": ["*"]}, headers=headers
            )
            assert response.status_code == 422, response.text
            assert response.json()["errors"][0]["loc"] == ["body", "url"]
            fine = await client.post(
                "/api/v1/webhooks",
                json={"url": "https://hooks.example.com/x", "events": ["*"]},
                headers=headers,
            )
            assert fine.status_code == 201


async def test_a_host_that_rebinds_to_loopback_is_refused_at_delivery(
    client, auth, receiver, store, http, clock, settings, fake_dns
):
    fake_dns["rebind.example.com"] = "93.184.216.34"
    hook = await subscribe(client, auth, f"http://rebind.example.com:{receiver.port}/hook")
    fake_dns["rebind.example.com"] = "127.0.0.1"
    await create_activity(client, auth)
    await deliver(store, http, clock, settings)
    assert receiver.requests == []
    (logged,) = await deliveries(client, auth, hook["id"])
    assert logged["status"] == "pending" and logged["last_error"].startswith("refused")


async def test_an_allowed_host_is_called_at_the_address_that_was_checked(
    client, auth, receiver, store, http, clock, settings, fake_dns, monkeypatch
):
    monkeypatch.setattr(settings, "webhook_allowed_hosts", "127.0.0.1,hooks.internal")
    fake_dns["hooks.internal"] = "127.0.0.1"
    await subscribe(client, auth, f"http://hooks.internal:{receiver.port}/hook")
    await create_activity(client, auth)
    await deliver(store, http, clock, settings)
    (request,) = receiver.requests
    assert request["headers"]["host"] == f"hooks.internal:{receiver.port}"


async def test_finished_deliveries_are_purged_after_a_week(
    client, auth, receiver, store, http, clock, settings
):
    hook = await subscribe(client, auth, receiver.url)
    await create_activity(client, auth)
    await deliver(store, http, clock, settings)
    receiver.script = [(500, {})]
    await create_activity(client, auth)  # stays pending: retried, never purged
    await deliver(store, http, clock, settings)
    clock.advance(timedelta(days=6))
    purged = await retention.purge(store, settings, now=clock.now())
    assert purged == {"events": 2, "deliveries": 0}  # events keep 72 h, deliveries a week
    assert len(await deliveries(client, auth, hook["id"])) == 2
    clock.advance(timedelta(days=2))
    purged = await retention.purge(store, settings, now=clock.now())
    assert purged == {"events": 0, "deliveries": 1}
    assert [d["status"] for d in await deliveries(client, auth, hook["id"])] == ["pending"]
