"""Fixtures for the Odoo connector tests: a simulator per test, served over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.connectors.odoo import OdooClient, OdooConfig, connect_odoo
from tests.odoo_sim import OdooSim, connector_config, running_sim

# Small and fast: tests never wait for real backoff.
FAST = {"backoff_base_seconds": 0.001, "timeout_seconds": 2.0, "max_retries": 2}


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> OdooSim:
    """Odoo ``SIM_VERSION`` of the test module (default 17), or the version given by
    ``@pytest.mark.parametrize("sim", [19], indirect=True)``."""
    version = getattr(request, "param", getattr(request.module, "SIM_VERSION", 17))
    return OdooSim.generate(activities=150, messages=400, seed=11, version=version)


@pytest.fixture(params=["xmlrpc", "json2"])
def protocol(request: pytest.FixtureRequest) -> str:
    """Both transports (JSON-2 needs a simulated Odoo 19)."""
    return str(request.param)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
async def odoo_url(sim: OdooSim) -> AsyncIterator[str]:
    async with running_sim(sim) as base_url:
        yield base_url


ConfigFactory = Callable[..., OdooConfig]
ClientFactory = Callable[..., Awaitable[OdooClient]]


@pytest.fixture
def make_config(sim: OdooSim, odoo_url: str) -> ConfigFactory:
    def build(**overrides: Any) -> OdooConfig:
        return connector_config(sim, odoo_url, **{**FAST, **overrides})

    return build


@pytest.fixture
def connect(make_config: ConfigFactory, http: httpx.AsyncClient) -> ClientFactory:
    async def build(**overrides: Any) -> OdooClient:
        return await connect_odoo(make_config(**overrides), http)

    return build
