"""Transient failures are retried, everything else fails fast and typed; hostile answers refused."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import AsyncIterator

import httpx
import pytest

from app.connectors.odoo import (
    OdooAccessError,
    OdooAuthFailed,
    OdooClient,
    OdooFault,
    OdooProtocolError,
    OdooUnavailable,
    connect_odoo,
)
from app.connectors.odoo.xmlrpc import parse_xmlrpc_response
from app.services.sync.pages import id_pages
from tests.connectors.conftest import ClientFactory, ConfigFactory
from tests.odoo_sim import OdooSim, _xml_bomb

SIM_VERSION = 19  # both transports

PAGE_FIELDS = ["id", "write_date", "summary"]


@pytest.fixture
async def client(connect: ClientFactory, protocol: str) -> AsyncIterator[OdooClient]:
    yield await connect(protocol=protocol)


async def read_page(client: OdooClient) -> list[dict[str, object]]:
    return await client.search_read("mail.activity", [], PAGE_FIELDS, limit=20)


@pytest.mark.parametrize("status", [502, 503, 504, 429])
async def test_transient_status_is_retried_then_succeeds(
    sim: OdooSim, client: OdooClient, protocol: str, status: int
) -> None:
    sim.fail_status(status, times=2, method="search_read")

    rows = await read_page(client)

    assert len(rows) == 20
    assert sim.count(protocol=protocol, method="search_read") == 3


async def test_dropped_connection_is_retried(sim: OdooSim, client: OdooClient) -> None:
    sim.drop_connection(method="search_read")

    assert len(await read_page(client)) == 20
    assert sim.count(method="search_read") == 2
    assert sim.call_log[-2].fault == "drop"


async def test_timeout_is_retried(sim: OdooSim, connect: ClientFactory, protocol: str) -> None:
    client = await connect(protocol=protocol, timeout_seconds=0.2)
    sim.delay(5.0, method="search_read")

    started = time.perf_counter()
    rows = await read_page(client)

    assert len(rows) == 20
    assert sim.count(method="search_read") == 2
    assert time.perf_counter() - started < 2.0


async def test_retries_exhausted_is_unavailable(
    sim: OdooSim, client: OdooClient, protocol: str
) -> None:
    sim.fail_status(502, times=10, method="search_count")

    with pytest.raises(OdooUnavailable) as caught:
        await client.search_count("mail.activity", [])

    assert "after 3 attempt(s)" in str(caught.value) and "HTTP 502" in str(caught.value)
    assert sim.count(protocol=protocol, method="search_count") == 3
    assert caught.value.__cause__ is None


async def test_unreachable_server_is_unavailable(
    make_config: ConfigFactory, http: httpx.AsyncClient
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = make_config(url=f"http://127.0.0.1:{port}", protocol="xmlrpc", max_retries=1)

    with pytest.raises(OdooUnavailable, match="ConnectError"):
        await connect_odoo(config, http)


async def test_fault_mid_pagination_is_a_fault_without_retry(
    sim: OdooSim, client: OdooClient
) -> None:
    sim.rpc_fault(
        "could not serialize access due to concurrent update",
        exception="builtins.Exception",
        on_call=3,
        model="mail.message",
        method="search_read",
    )
    pages = 0

    with pytest.raises(OdooFault) as caught:
        async for _ in id_pages(client, "mail.message", [], ["id"], page_size=50):
            pages += 1

    assert pages == 2
    assert caught.value.fault.endswith("could not serialize access due to concurrent update")
    assert "Traceback" not in str(caught.value)
    assert sim.count(model="mail.message", method="search_read") == 3


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        ("odoo.exceptions.AccessError", OdooAccessError),
        ("odoo.exceptions.AccessDenied", OdooAuthFailed),
        ("odoo.exceptions.UserError", OdooFault),
        ("odoo.exceptions.ValidationError", OdooFault),
        ("odoo.exceptions.MissingError", OdooFault),
        ("builtins.ValueError", OdooFault),
    ],
)
async def test_server_errors_map_to_the_error_tree(
    sim: OdooSim, client: OdooClient, exception: str, expected: type[Exception]
) -> None:
    sim.rpc_fault("You are not allowed to do this", exception=exception, method="search_read")

    with pytest.raises(expected) as caught:
        await read_page(client)

    assert type(caught.value) is expected
    assert sim.count(method="search_read") == 1


@pytest.mark.parametrize("sim", [17], indirect=True)
async def test_xml_entity_bomb_is_refused_fast(sim: OdooSim, connect: ClientFactory) -> None:
    client = await connect(protocol="xmlrpc")
    sim.xml_bomb(method="search_read")

    started = time.perf_counter()
    with pytest.raises(OdooProtocolError, match="hostile"):
        await read_page(client)

    assert time.perf_counter() - started < 1.0
    assert sim.count(method="search_read") == 1


def test_xml_bomb_parsing_does_not_balloon_memory() -> None:
    tracemalloc.start()
    try:
        with pytest.raises(OdooProtocolError):
            parse_xmlrpc_response(_xml_bomb())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 2_000_000  # a billion laughs would need gigabytes


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html>not xml-rpc</html>",
        b"<?xml version='1.0'?><methodResponse><params><param><value><int>x</int>",
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><methodResponse/>',
        b"<?xml version='1.0'?><methodResponse><params></params></methodResponse>",
    ],
)
def test_malformed_xmlrpc_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(OdooProtocolError):
        parse_xmlrpc_response(body)


async def test_hostile_json_nesting_is_refused(sim: OdooSim, connect: ClientFactory) -> None:
    client = await connect(protocol="json2")
    sim.xml_bomb(method="search_read")  # JSON-2 flavour: 200k nested arrays

    with pytest.raises(OdooProtocolError):
        await read_page(client)


@pytest.mark.parametrize("declare_length", [False, True])
async def test_oversized_response_is_cut_while_streaming(
    sim: OdooSim, connect: ClientFactory, protocol: str, declare_length: bool
) -> None:
    client = await connect(protocol=protocol, max_response_bytes=256 * 1024)
    sim.oversized(8 * 1024 * 1024, declare_length=declare_length, method="search_read")

    with pytest.raises(OdooProtocolError, match="byte cap"):
        await read_page(client)

    assert sim.count(method="search_read") == 1
    # the connection is usable afterwards
    assert len(await read_page(client)) == 20


async def test_json2_status_mapping(sim: OdooSim, connect: ClientFactory) -> None:
    client = await connect(protocol="json2")

    sim.fail_status(403, method="search_read")
    with pytest.raises(OdooAccessError):
        await read_page(client)

    sim.fail_status(400, method="search_read")
    with pytest.raises(OdooFault) as caught:
        await read_page(client)
    assert caught.value.code == 400

    sim.fail_status(500, method="search_read")
    with pytest.raises(OdooFault):
        await read_page(client)

    sim.api_key = "rotated-key"
    with pytest.raises(OdooAuthFailed):
        await read_page(client)
    assert sim.count(method="search_read") == 4


async def test_json2_error_body_message_is_kept(sim: OdooSim, connect: ClientFactory) -> None:
    client = await connect(protocol="json2")

    with pytest.raises(OdooFault) as caught:
        await client.search_read("crm.lead", [("nope", "=", 1)], ["id"], limit=1)

    assert caught.value.code == 500
    assert caught.value.fault == "ValueError: Invalid field 'nope' on model 'crm.lead'"


async def test_secrets_never_reach_error_messages(sim: OdooSim, client: OdooClient) -> None:
    secret = sim.password
    sim.rpc_fault(f"cannot log in with {secret} / {sim.api_key}", method="search_read")

    with pytest.raises(OdooFault) as caught:
        await read_page(client)

    assert secret not in str(caught.value) and str(sim.api_key) not in str(caught.value)
    assert "***" in caught.value.fault
