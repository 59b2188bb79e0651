"""Shared fixtures: settings, a store per test (embedded, or real MongoDB when MONGODB_TEST_URI is
set), a frozen clock, the real app behind an ASGI transport with its lifespan run, tokens."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app
from app.services.auth import mint_token
from app.services.clock import FrozenClock
from app.store import Store, open_store
from tests.smtp import SmtpServer, running_smtp_server

# Every query the app issues in the session is checked against the declared indexes at its end.
pytest_plugins = ["tests.index_coverage"]

JWT_SECRET = "test-secret-0123456789-0123456789-abcdef"
FROZEN_AT = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)

TokenFactory = Callable[..., str]


def make_settings(**overrides: Any) -> Settings:
    uri = os.environ.get("MONGODB_TEST_URI")
    values: dict[str, Any] = {
        "app_env": "test",
        "jwt_secret": SecretStr(JWT_SECRET),
        "default_tz": "UTC",
        "mongodb_uri": SecretStr(uri) if uri else None,
        # A database per test keeps tests independent on a shared MongoDB server.
        "mongodb_db": f"test_{uuid.uuid4().hex[:12]}",
        "odoo_url": None,
        # Tests call the scheduled jobs' service functions themselves, at the time they choose.
        "scheduler_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    opened = open_store(settings)
    await opened.ensure_indexes()
    try:
        yield opened
    finally:
        if not opened.embedded:
            await opened.client.drop_database(settings.mongodb_db)
        await opened.close()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    with running_smtp_server() as server:
        yield server


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


class LifespanApp:
    """Runs the app's lifespan once and hands its state to every request, as a server does."""

    def __init__(self, app: Any, state: dict[str, Any]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope = {**scope, "state": dict(self.state)}
        await self.app(scope, receive, send)


@pytest.fixture
async def app(settings: Settings, store: Store, clock: FrozenClock) -> AsyncIterator[Any]:
    application = create_app(settings, store=store, clock=clock, configure_logs=False)
    async with application.router.lifespan_context(application) as state:
        yield LifespanApp(application, dict(state or {}))


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
def token(settings: Settings, clock: FrozenClock) -> TokenFactory:
    def factory(
        sub: str = "alice",
        *,
        tenant: str = "acme",
        roles: list[str] | None = None,
        expires_in: timedelta = timedelta(hours=1),
        **claims: Any,
    ) -> str:
        # Signed against the real clock: PyJWT checks exp/nbf with the system time.
        return mint_token(
            settings,
            sub=sub,
            tenant=tenant,
            roles=roles or ["user"],
            expires_in=expires_in,
            **claims,
        )

    return factory


@pytest.fixture
def auth(token: TokenFactory) -> Callable[..., dict[str, str]]:
    """Headers for a caller: `auth("bob", tenant="other", roles=["manager"])`."""

    def headers(sub: str = "alice", **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(sub, **kwargs)}"}

    return headers
