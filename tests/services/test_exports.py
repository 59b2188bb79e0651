"""Exports stream: bytes leave page by page, one store page in memory, nothing left behind."""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.config import Settings
from app.services import exports
from app.services.activities import ActivityFilters
from app.services.auth import Principal
from app.store import begin_usage
from tests.conftest import make_settings
from tests.routers.test_exports import seed

ALICE = Principal(sub="alice", tenant="acme", roles=frozenset({"user"}), identities=("alice",))
UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
def settings() -> Settings:
    return make_settings(export_page_size=10)


def activities_export(store: Any, fmt: str, page_size: int = 10) -> exports.Export:
    return exports.export_activities(
        store,
        ALICE,
        ActivityFilters(),
        sort="date",
        fmt=fmt,  # type: ignore[arg-type]
        zone=UTC_ZONE,
        today="2026-01-20",
        page_size=page_size,
    )


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-5", "'-5"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("a=1", "a=1"),
        (" =1", " =1"),
        ("'quoted", "'quoted"),
    ],
)
def test_formula_looking_text_gets_a_leading_quote(text, cell):
    assert exports.csv_text(text) == cell


async def test_csv_sends_its_header_before_reading_and_then_one_chunk_per_page(client, auth, store):
    await seed(client, auth, count=35)
    usage = begin_usage()
    chunks = activities_export(store, "csv").chunks
    first = await anext(chunks)
    assert first.startswith(exports.BOM + b"id,source,")
    assert usage.commands == 0  # nothing read yet
    commands = []
    sizes = []
    async for chunk in chunks:
        commands.append(usage.commands)
        sizes.append(chunk.count(b"\r\n"))
    # 35 rows in pages of 10: one store command per page, each page's rows sent before the next
    # page is read (the last page is read by the fourth command)
    assert commands == [1, 2, 3, 4]
    assert sum(sizes) >= 35


async def test_the_http_response_streams_before_the_last_page_is_read(app, auth, store, client):
    await seed(client, auth, count=35)
    finds = 0
    find = store.envelopes.find

    async def counting_find(*args: Any, **kwargs: Any) -> Any:
        nonlocal finds
        finds += 1
        return await find(*args, **kwargs)

    store.envelopes.find = counting_find  # type: ignore[method-assign]
    sent: list[tuple[int, int]] = []  # (finds so far, body bytes) per body message
    headers = [(b"authorization", auth()["Authorization"].encode())]

    requested = False
    finished = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the response ends
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if message.get("body"):
                sent.append((finds, len(message["body"])))
            if not message.get("more_body"):
                finished.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/activities/export",
        "raw_path": b"/api/v1/activities/export",
        "query_string": b"format=csv",
        "headers": headers,
        "server": ("test", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }
    await app(scope, receive, send)
    assert sent[0][0] == 0  # the first bytes left before any page was read
    assert [f for f, _ in sent] == [0, 1, 2, 3, 4]
    assert finds == 4


async def test_xlsx_streams_from_a_temporary_file_it_removes(client, auth, store, monkeypatch):
    await seed(client, auth, count=25)
    folder = tempfile.mkdtemp()
    monkeypatch.setattr(tempfile, "tempdir", folder)

    chunks = [chunk async for chunk in activities_export(store, "xlsx").chunks]
    assert chunks[0].startswith(b"PK")  # a zip
    assert all(len(c) <= exports.XLSX_CHUNK for c in chunks)
    assert os.listdir(folder) == []

    # an export abandoned half way (the client went away) leaves nothing behind either
    monkeypatch.setattr(exports, "XLSX_CHUNK", 512)
    abandoned = activities_export(store, "xlsx").chunks
    assert len(await anext(abandoned)) == 512
    await abandoned.aclose()
    assert os.listdir(folder) == []
    os.rmdir(folder)
