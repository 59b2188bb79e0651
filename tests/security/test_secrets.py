"""Secrets never leave the process: a run with Odoo and SMTP failures, every response and every
log line captured, and the JWT secret, Odoo password, Odoo API key and SMTP password nowhere."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.main import create_app
from app.services import reminders
from app.services.auth import mint_token
from app.store import open_store
from tests.conftest import LifespanApp
from tests.odoo_sim import OdooSim, running_sim
from tests.sync_support import TENANT, sync_settings

JWT_SECRET = "jwt-secret-CANARY-7f3a9c1e5b2d4f6a8c0e"
ODOO_PASSWORD = "odoo-password-CANARY-41d2"
ODOO_API_KEY = "odoo-apikey-CANARY-93be"
SMTP_PASSWORD = "smtp-password-CANARY-5c6f"
SECRETS = (JWT_SECRET, ODOO_PASSWORD, ODOO_API_KEY, SMTP_PASSWORD)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("protocol", ["xmlrpc", "json2"])
async def test_no_secret_in_any_response_or_log(protocol, clock, caplog):
    caplog.set_level(logging.DEBUG)
    sim = OdooSim.generate(
        activities=30, messages=40, seed=5, version=19, password=ODOO_PASSWORD, api_key=ODOO_API_KEY
    )
    seen: list[str] = []

    async with running_sim(sim) as url:
        settings = sync_settings(
            sim,
            url,
            protocol=protocol,
            odoo_tenant=TENANT,
            jwt_secret=SecretStr(JWT_SECRET),
            scheduler_enabled=False,
            smtp_host="127.0.0.1",
            smtp_port=_closed_port(),
            smtp_user="mailer",
            smtp_password=SecretStr(SMTP_PASSWORD),
            smtp_from="service@example.com",
            smtp_starttls=False,
            smtp_timeout_seconds=1.0,
            reminder_lease_seconds=5.0,
            reminder_max_attempts=2,
            reminder_retry_base_seconds=1.0,
        )
        store = open_store(settings)
        application = create_app(settings, store=store, clock=clock, configure_logs=False)
        async with application.router.lifespan_context(application) as state:
            app = LifespanApp(application, dict(state or {}))
            ops = {
                "Authorization": "Bearer "
                + mint_token(
                    settings,
                    sub="olivia",
                    tenant=TENANT,
                    roles=["ops", "user"],
                    expires_in=timedelta(hours=1),
                )
            }
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

                async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
                    response = await client.request(method, f"/api/v1{path}", **kwargs)
                    seen.append(f"{response.status_code} {response.headers} {response.text}")
                    return response

                async def sync_once() -> dict[str, Any]:
                    started = await call("POST", "/sync/odoo", headers=ops)
                    assert started.status_code == 202, started.text
                    await state["sync"].wait_idle()
                    run = await call("GET", f"/sync/runs/{started.json()['run_id']}", headers=ops)
                    return dict(run.json())

                # Odoo failures: a server error echoing the password, gateway errors past the
                # retries, then credentials that no longer work.
                sim.rpc_fault(
                    f"AccessError: login with password {ODOO_PASSWORD} and key "
                    f"{ODOO_API_KEY} refused",
                    exception="odoo.exceptions.UserError",
                    on_call=2,
                    method="search_read",
                )
                echoed = await sync_once()
                # The server's message reaches the run's errors, with the secrets masked.
                assert echoed["status"] == "failed" and "refused" in " ".join(echoed["errors"])
                sim.clear_faults()
                sim.fail_status(502, on_call=3, times=10, method="search_read")
                assert (await sync_once())["status"] == "failed"
                sim.clear_faults()
                sim.password, sim.api_key = "rotated-password", "rotated-key"
                failed = await sync_once()
                assert failed["status"] == "failed" and failed["errors"]
                await call("GET", "/sync/status", headers=ops)
                await call("GET", "/sync/runs", headers=ops)

                # SMTP failures: a reminder due now, the mail server down, retries exhausted.
                created = await call(
                    "POST",
                    "/activities",
                    headers=ops,
                    json={
                        "type": "call",
                        "subject": "Remind me",
                        "send_reminder": True,
                        "notif_time": clock.now().isoformat(),
                        "notif_email": "rep@example.com",
                    },
                )
                assert created.status_code == 201
                channel = reminders.email_channel(settings)
                for _ in range(settings.reminder_max_attempts + 1):
                    await reminders.deliver_due(
                        store, channel, owner="w1", clock=clock, settings=settings
                    )
                    clock.advance(timedelta(minutes=5))
                detail = await call("GET", f"/activities/{created.json()['id']}", headers=ops)
                assert [n["status"] for n in detail.json()["notifs"]] == ["failed"]
                await call("GET", "/notifications", headers=ops)

                # Authentication failures.
                await call("GET", "/activities", headers={"Authorization": "Bearer nonsense"})
                await call(
                    "GET",
                    "/activities",
                    headers={
                        "Authorization": "Bearer "
                        + mint_token(settings, sub="x", expires_in=timedelta(seconds=-1))
                    },
                )

    logs = caplog.text + "\n".join(str(record.__dict__) for record in caplog.records)
    assert "SMTP" in logs or "smtp" in logs, "the SMTP failure was logged"
    for secret in SECRETS:
        assert all(secret not in text for text in seen), f"{secret[:12]}... in a response"
        assert secret not in logs, f"{secret[:12]}... in the logs"
