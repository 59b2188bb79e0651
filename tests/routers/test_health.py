"""Operations endpoints and cross-cutting HTTP behaviour: problem+json, request ids, metrics."""

from __future__ import annotations

import logging


async def test_liveness_and_readiness(client):
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}


async def test_readiness_is_503_when_the_store_fails(client, store, monkeypatch):
    async def broken() -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(store, "ping", broken)
    response = await client.get("/health/ready")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "store down" not in response.text


async def test_metrics_are_prometheus_text(client, auth):
    await client.get("/api/v1/activities", headers=auth())
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "http_requests_total" in response.text and "store_commands_total" in response.text


async def test_request_id_is_echoed_or_generated(client):
    echoed = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health/live", headers={"X-Request-ID": "bad id;<script>"})
    assert generated.headers["x-request-id"] and "script" not in generated.headers["x-request-id"]


async def test_server_timing_counts_store_commands(client, auth):
    response = await client.get("/api/v1/activities", headers=auth())
    timing = response.headers["server-timing"]
    assert 'desc="1 commands"' in timing and "app;dur=" in timing


async def test_unknown_route_and_method_are_problem_json(client, auth):
    missing = await client.get("/api/v1/nothing-here", headers=auth())
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong = await client.put("/api/v1/activities", headers=auth())
    assert wrong.status_code == 405
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["status"] == 405


async def test_oversized_body_is_413_and_writes_nothing(client, auth, settings):
    big = b'{"type": "call", "subject": "' + b"x" * settings.max_body_bytes + b'"}'
    response = await client.post(
        "/api/v1/activities", content=big, headers={**auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"

    async def chunks():
        yield b'{"type": "call", "subject": "'
        for _ in range(settings.max_body_bytes // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    chunked = await client.post(
        "/api/v1/activities",
        content=chunks(),
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413
    listing = await client.get(
        "/api/v1/activities", params={"include_total": "true"}, headers=auth()
    )
    assert listing.json()["total"] == 0


async def test_unexpected_errors_are_500_problem_without_internals(
    client, auth, store, monkeypatch, caplog
):
    async def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(store.envelopes, "find", explode)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/activities", headers=auth())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text


async def test_me_reports_identities(client, auth):
    response = await client.get("/api/v1/me", headers=auth("alice", odoo_uid=7, tz="Asia/Dubai"))
    assert response.status_code == 200
    body = response.json()
    assert body["identities"] == ["alice", "odoo:7"] and body["tenant"] == "acme"
    assert (await client.get("/api/v1/me")).status_code == 401
