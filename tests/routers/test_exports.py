"""GET /activities/export and GET /timeline/export: the files read back equal the API's JSON."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from app.config import Settings
from tests.conftest import make_settings
from tests.routers.test_timeline import batch, message, store_messages, walk

API = "/api/v1"
BOM = b"\xef\xbb\xbf"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TRICKY = [
    '=HYPERLINK("http://evil","x")',
    "+1 call back",
    "-2 minus",
    "@SUM(A1)",
    "\tindented",
    "\rcarriage",
    'quote " and, comma',
    "two\r\nlines",
    "ünïcödé ✓ 日本",
    "plain",
]


@pytest.fixture
def settings() -> Settings:
    # Small pages: every export below spans several of them.
    return make_settings(export_page_size=10)


def activity(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": ("call", "meeting", "email")[n % 3],
        "subject": f"{TRICKY[n % len(TRICKY)]} #{n}",
        "date": f"2026-01-{1 + n % 28:02d}",
        "due_date": None if n % 4 == 0 else f"2026-01-{1 + (n * 7) % 28:02d}",
        "start_time": None if n % 3 == 0 else f"{8 + n % 10:02d}:30:00",
        "state": ("new", "done", "in_progress")[n % 3],
        "priority": ("high", "normal", "low")[n % 3],
        "related_id": f"crm.lead,{n % 5}",
        "description": TRICKY[(n + 3) % len(TRICKY)],
        "other_users": ["bob", "carol"] if n % 2 else [],
        "send_reminder": n % 5 == 0,
        **fields,
    }


async def seed(client: Any, auth: Any, count: int = 35) -> None:
    await batch(client, auth(), [activity(n) for n in range(count)])


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(BOM)
    text = body[len(BOM) :].decode("utf-8")
    # RFC 4180: every record ends with CRLF
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


def ooxml_text(value: Any) -> Any:
    """A text cell as Excel shows it: OOXML writes control characters as `_xHHHH_` escapes
    (ECMA-376 ST_Xstring), which openpyxl leaves as they are."""
    if not isinstance(value, str):
        return value
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def neutral(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def as_local(value: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(zone)


ACTIVITY_DATETIMES = ("notif_time", "created_at", "updated_at", "completed_at")


def activity_values(item: dict[str, Any]) -> dict[str, Any]:
    related = item["related"] or {}
    return {
        **{k: v for k, v in item.items() if k not in ("related", "other_users")},
        "related_model": related.get("model"),
        "related_id": related.get("id"),
        "related_name": related.get("name"),
        "other_users": ", ".join(item["other_users"]) or None,
    }


def expected_csv_activity(header: list[str], item: dict[str, Any], zone: ZoneInfo) -> list[str]:
    values = activity_values(item)
    row = []
    for name in header:
        value = values[name]
        if value is None:
            row.append("")
        elif name in ACTIVITY_DATETIMES:
            row.append(as_local(value, zone).isoformat())
        elif isinstance(value, bool):
            row.append("true" if value else "false")
        elif isinstance(value, int):
            row.append(str(value))
        else:
            row.append(neutral(str(value)))
    return row


async def export(client: Any, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get(f"{API}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    return response


QUERY = {"type": ["call", "meeting"], "sort": "-due_date", "tz": "Asia/Dubai"}


async def test_activities_csv_equals_the_search_json(client, auth):
    await seed(client, auth)
    zone = ZoneInfo("Asia/Dubai")
    items = await walk(client, "/activities", auth(), limit=7, **QUERY)
    assert 20 < len(items) < 35  # several export pages, filters applied

    response = await export(client, "/activities/export", auth(), format="csv", **QUERY)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="activities-2026-01-20.csv"'
    )
    header, *rows = csv_rows(response.content)
    assert header[:3] == ["id", "source", "external_id"]
    assert [r[0] for r in rows] == [i["id"] for i in items]  # same rows, same order
    assert rows == [expected_csv_activity(header, item, zone) for item in items]
    # datetimes carry the request zone's offset; every formula-looking text is neutralised
    assert rows[0][header.index("created_at")] == "2026-01-20T14:00:00+04:00"
    subjects = [r[header.index("subject")] for r in rows]
    assert any(s.startswith("'=HYPERLINK") for s in subjects)
    assert not any(s.startswith(FORMULA_STARTS) for r in rows for s in r)


async def test_activities_xlsx_has_typed_cells_and_a_frozen_header(client, auth):
    await seed(client, auth)
    zone = ZoneInfo("Asia/Dubai")
    items = await walk(client, "/activities", auth(), limit=50, **QUERY)

    response = await export(client, "/activities/export", auth(), format="xlsx", **QUERY)
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book["activities"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    header, body = list(rows[0]), rows[1:]
    assert len(body) == len(items)
    for item, row in zip(items, body, strict=True):
        values = activity_values(item)
        cells = dict(zip(header, row, strict=True))
        for name in header:
            value, cell = values[name], cells[name]
            if value is None:
                assert cell is None, name
            elif name in ACTIVITY_DATETIMES:
                assert cell == as_local(value, zone).replace(tzinfo=None), name
            elif name in ("date", "due_date"):
                assert cell == datetime.combine(date.fromisoformat(value), time()), name
            elif name in ("start_time", "end_time"):
                assert cell == time.fromisoformat(value), name
            else:
                # numbers as numbers, booleans as booleans, text verbatim (never a formula)
                assert ooxml_text(cell) == value and type(cell) is type(value), name
    assert sheet.cell(2, header.index("subject") + 1).data_type == "s"


async def test_timeline_exports_equal_the_timeline_json(client, auth, store):
    await seed(client, auth, count=15)
    await store_messages(
        store,
        [
            message(n, date=datetime(2026, 1, 1 + n, 9, n, tzinfo=UTC), subject=TRICKY[n])
            for n in range(1, 9)
        ],
    )
    query = {"kind": ["activity", "message"], "order": "asc", "tz": "America/New_York"}
    zone = ZoneInfo("America/New_York")
    items = await walk(client, "/timeline", auth(), limit=9, **query)
    assert {i["kind"] for i in items} == {"activity", "message"}

    response = await export(client, "/timeline/export", auth(), **query)
    header, *rows = csv_rows(response.content)
    assert header[:5] == ["kind", "id", "occurred_at", "title", "summary"]
    assert [r[1] for r in rows] == [i["id"] for i in items]
    for item, row in zip(items, rows, strict=True):
        cells = dict(zip(header, row, strict=True))
        assert cells["occurred_at"] == as_local(item["occurred_at"], zone).isoformat()
        assert cells["title"] == neutral(item["title"])
        assert cells["summary"] == neutral(item["summary"] or "")
        if item["kind"] == "activity":
            assert cells["type"] == item["activity"]["type"]
            assert cells["due_date"] == (item["activity"]["due_date"] or "")
            assert cells["message_type"] == ""
        else:
            assert cells["message_type"] == item["message"]["message_type"]
            assert cells["author_name"] == item["message"]["author_name"]

    response = await export(client, "/timeline/export", auth(), format="xlsx", **query)
    sheet = openpyxl.load_workbook(io.BytesIO(response.content))["timeline"]
    assert sheet.freeze_panes == "A2"
    body = list(sheet.iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in body] == [i["id"] for i in items]
    assert [r[2] for r in body] == [
        as_local(i["occurred_at"], zone).replace(tzinfo=None) for i in items
    ]
    assert [ooxml_text(r[3]) for r in body] == [i["title"] for i in items]


async def test_export_is_not_read_as_an_activity_id_and_checks_its_query(client, auth):
    await seed(client, auth, count=3)
    response = await client.get(f"{API}/activities/export", headers=auth())
    assert response.status_code == 200
    assert len(csv_rows(response.content)) == 4
    for params in ({"format": "pdf"}, {"limit": "5"}, {"cursor": "x"}, {"type": "fax"}):
        response = await client.get(f"{API}/activities/export", params=params, headers=auth())
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
    response = await client.get(f"{API}/timeline/export", params={"limit": 3}, headers=auth())
    assert response.status_code == 422
    assert (await client.get(f"{API}/activities/export")).status_code == 401


async def test_an_export_never_shows_another_tenants_rows(client, auth):
    await seed(client, auth, count=12)
    for path in ("/activities/export", "/timeline/export"):
        response = await export(client, path, auth("mallory", tenant="other"))
        assert len(csv_rows(response.content)) == 1  # the header only
