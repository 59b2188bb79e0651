"""Version, authentication and protocol selection, over HTTP against the simulator."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import ValidationError

from app.connectors.odoo import (
    Json2Client,
    OdooAuthFailed,
    OdooConfig,
    OdooFault,
    XmlRpcClient,
    connect_odoo,
)
from app.connectors.odoo.normalize import ACTIVITY_FIELDS, fields_for
from tests.connectors.conftest import ClientFactory, ConfigFactory
from tests.odoo_sim import DEFAULT_API_KEY, DEFAULT_PASSWORD, OdooSim


@pytest.mark.parametrize("sim", [16, 17, 18, 19], indirect=True)
async def test_xmlrpc_reports_version_and_uid_on_every_version(
    sim: OdooSim, connect: ClientFactory
) -> None:
    client = await connect(protocol="xmlrpc")

    version = await client.server_version()
    assert client.protocol == "xmlrpc"
    assert version.major == sim.version
    assert version.version == f"{sim.version}.0"
    assert client.uid == sim.uid == await client.authenticate()


@pytest.mark.parametrize("sim", [19], indirect=True)
async def test_auto_picks_json2_on_odoo_19_with_an_api_key(connect: ClientFactory) -> None:
    client = await connect(protocol="auto")

    assert isinstance(client, Json2Client)
    assert client.protocol == "json2"
    assert (await client.server_version()).major == 19
    assert client.uid == 2


@pytest.mark.parametrize("sim", [19], indirect=True)
async def test_auto_falls_back_to_xmlrpc_without_an_api_key(connect: ClientFactory) -> None:
    client = await connect(protocol="auto", api_key=None)

    assert isinstance(client, XmlRpcClient)


@pytest.mark.parametrize("sim", [16, 17, 18], indirect=True)
async def test_auto_uses_xmlrpc_before_odoo_19_even_with_an_api_key(
    sim: OdooSim, connect: ClientFactory
) -> None:
    client = await connect(protocol="auto")

    assert client.protocol == "xmlrpc"
    assert (await client.server_version()).major == sim.version


async def test_explicit_protocol_wins(connect: ClientFactory) -> None:
    # Odoo 17 has no JSON-2: asking for it explicitly fails instead of silently switching.
    with pytest.raises(OdooFault) as caught:
        await connect(protocol="json2")

    assert caught.value.code == 404


async def test_xmlrpc_accepts_an_api_key_as_password(connect: ClientFactory) -> None:
    client = await connect(protocol="xmlrpc", password=None)

    assert client.uid == 2


async def test_bad_password_fails_once_with_exact_message_and_no_secret(
    sim: OdooSim, connect: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app.connectors.odoo")
    wrong = "wrong-password-ZX81"

    with pytest.raises(OdooAuthFailed) as caught:
        await connect(protocol="xmlrpc", password=wrong, api_key=None)

    error = caught.value
    assert str(error) == f"Odoo authentication failed for user admin on database {sim.db}"
    assert wrong not in str(error) and wrong not in repr(error)
    assert wrong not in caplog.text
    assert sim.count(method="authenticate") == 1  # never retried


@pytest.mark.parametrize("sim", [19], indirect=True)
async def test_bad_api_key_is_a_401_auth_failure_without_retry(
    sim: OdooSim, connect: ClientFactory
) -> None:
    wrong = "not-the-key-1234567890"

    with pytest.raises(OdooAuthFailed) as caught:
        await connect(protocol="json2", api_key=wrong)

    assert "Odoo authentication failed for user admin on database" in str(caught.value)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value)
    assert sim.count(protocol="json2", model="res.users") == 1


async def test_password_change_after_connect_is_an_auth_failure(
    sim: OdooSim, connect: ClientFactory
) -> None:
    client = await connect(protocol="xmlrpc")
    sim.password = "rotated"
    sim.api_key = None

    with pytest.raises(OdooAuthFailed):
        await client.search_count("res.partner", [])
    assert sim.count(method="search_count") == 1


async def test_unknown_database_is_a_fault_not_a_retry(
    sim: OdooSim, connect: ClientFactory
) -> None:
    with pytest.raises(OdooFault) as caught:
        await connect(protocol="xmlrpc", db="nope")

    assert 'database "nope" does not exist' in caught.value.fault
    assert sim.count(method="authenticate") == 1


def test_config_never_shows_secrets(make_config: ConfigFactory) -> None:
    config = make_config()

    for text in (repr(config), str(config), str(config.model_dump())):
        assert DEFAULT_PASSWORD not in text
        assert DEFAULT_API_KEY not in text


@pytest.mark.parametrize(
    "overrides",
    [
        {"url": "ftp://odoo.example.com"},
        {"url": "https://user:pw@odoo.example.com"},
        {"password": None, "api_key": None},
        {"protocol": "json2", "api_key": None},
        {"protocol": "xmlrpc", "username": None},
    ],
)
def test_config_rejects_unusable_settings(overrides: dict[str, object]) -> None:
    values: dict[str, object] = {
        "url": "https://odoo.example.com",
        "db": "prod",
        "username": "bot",
        "password": "pw",
        "api_key": "key",
    }
    values.update(overrides)

    with pytest.raises(ValidationError):
        OdooConfig.model_validate(values)


async def test_client_repr_has_no_secret(
    connect: ClientFactory, http: httpx.AsyncClient, make_config: ConfigFactory
) -> None:
    client = await connect()

    assert DEFAULT_PASSWORD not in repr(client)
    assert DEFAULT_API_KEY not in repr(client)
    assert client.config == make_config()
    # the connector borrows the caller's client and never closes it
    assert not http.is_closed
    await connect_odoo(make_config(), http)


@pytest.mark.parametrize("sim", [16], indirect=True)
async def test_odoo_16_has_no_done_activities_and_the_field_list_knows(
    sim: OdooSim, connect: ClientFactory
) -> None:
    client = await connect(protocol="xmlrpc")
    major = (await client.server_version()).major

    with pytest.raises(OdooFault):
        await client.search_read("mail.activity", [], list(ACTIVITY_FIELDS), limit=1)
    rows = await client.search_read(
        "mail.activity", [], fields_for("mail.activity", major), limit=3
    )

    assert rows and all("active" not in row and "date_done" not in row for row in rows)
    # on 16 search()'s first parameter is "args": the connector sends the domain positionally
    assert await client.search_ids("mail.activity", [], limit=2)
