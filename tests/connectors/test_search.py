"""Reads over both transports: pagination, domains, active_test, fields, per-version fields."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.connectors.odoo import OdooClient, OdooFault
from app.connectors.odoo.normalize import ACTIVITY_FIELDS, MESSAGE_FIELDS
from app.services.sync.pages import id_pages
from tests.connectors.conftest import ClientFactory
from tests.odoo_sim import OdooSim

SIM_VERSION = 19  # both transports

ALL = {"active_test": False}


@pytest.fixture
async def client(connect: ClientFactory, protocol: str) -> AsyncIterator[OdooClient]:
    yield await connect(protocol=protocol)


async def test_id_pages_return_every_record_once_in_id_order(
    sim: OdooSim, client: OdooClient
) -> None:
    seen: list[int] = []
    async for page in id_pages(client, "mail.activity", [], ["id", "write_date"], page_size=17):
        assert len(page) <= 17
        seen.extend(row["id"] for row in page)

    assert seen == sorted(sim.table("mail.activity"))
    # each page is an index range scan: the server examined what it returned, no more
    assert sim.examined(model="mail.activity") == len(seen)


async def test_id_pages_match_offset_pages(client: OdooClient) -> None:
    by_offset: list[int] = []
    offset = 0
    while ids := await client.search_ids("mail.message", [], limit=50, offset=offset, order="id"):
        by_offset.extend(ids)
        offset += len(ids)

    by_id = [
        row["id"]
        async for page in id_pages(client, "mail.message", [], ["id"], page_size=50)
        for row in page
    ]

    assert by_id == by_offset
    assert len(set(by_id)) == len(by_id) == await client.search_count("mail.message", [])


async def test_a_record_edited_ahead_of_the_walk_is_read_with_its_edit(
    sim: OdooSim, client: OdooClient
) -> None:
    pages = id_pages(client, "crm.lead", [], ["name", "write_date"], page_size=10)
    await anext(pages)
    ahead = max(sim.table("crm.lead"))
    sim.advance(3600)
    sim.edit("crm.lead", ahead, name="Renamed mid-sync")

    rest = [row async for page in pages for row in page]

    assert [row["name"] for row in rest if row["id"] == ahead] == ["Renamed mid-sync"]
    assert rest[-1]["write_date"] == sim.now


async def test_active_test_hides_archived_unless_disabled_or_domain_mentions_active(
    sim: OdooSim, client: OdooClient
) -> None:
    rows = sim.table("mail.activity").values()
    archived = sum(1 for row in rows if row["active"] is False)
    assert archived > 0

    assert await client.search_count("mail.activity", []) == len(rows) - archived
    assert await client.search_count("mail.activity", [], context=ALL) == len(rows)
    assert await client.search_count("mail.activity", [("active", "=", False)]) == archived


async def test_domain_operators(sim: OdooSim, client: OdooClient) -> None:
    leads = [row for row in sim.table("crm.lead").values() if row["active"]]
    some_user = next(row["user_id"] for row in leads if row["user_id"])

    async def ids(domain: list[object]) -> set[int]:
        return set(await client.search_ids("crm.lead", domain))

    assert await ids([("user_id", "=", some_user[0])]) == {
        r["id"] for r in leads if r["user_id"] and r["user_id"][0] == some_user[0]
    }
    assert await ids([("user_id", "=", False)]) == {r["id"] for r in leads if not r["user_id"]}
    assert await ids(["|", ("type", "=", "lead"), ("probability", ">=", 90)]) == {
        r["id"] for r in leads if r["type"] == "lead" or r["probability"] >= 90
    }
    assert await ids(["!", ("stage_id", "in", [1, 2])]) == {
        r["id"] for r in leads if r["stage_id"][0] not in (1, 2)
    }
    assert await ids([("name", "ilike", "OPPORTUNITY"), ("expected_revenue", ">", 0)]) == {
        r["id"] for r in leads if "opportunity" in r["name"].lower() and r["expected_revenue"] > 0
    }
    assert await ids([("name", "=like", "Website%")]) == {
        r["id"] for r in leads if r["name"].startswith("Website")
    }


async def test_many2one_and_empty_values_arrive_raw(client: OdooClient) -> None:
    rows = await client.search_read(
        "mail.activity", [("date_deadline", "=", False)], list(ACTIVITY_FIELDS), limit=5
    )

    assert rows, "about a tenth of the activities have no deadline"
    for row in rows:
        assert row["date_deadline"] is False
        assert isinstance(row["activity_type_id"], list) and len(row["activity_type_id"]) == 2
        assert len(row["write_date"]) == 19  # naive "YYYY-MM-DD HH:MM:SS"


async def test_read_and_fields_get(sim: OdooSim, client: OdooClient) -> None:
    ids = sorted(sim.table("res.partner"))[:3]

    rows = await client.read("res.partner", ids, ["name", "parent_id"])
    fields = await client.fields_get("mail.message")

    assert [row["id"] for row in rows] == ids
    assert set(MESSAGE_FIELDS) <= set(fields)
    assert fields["body"]["type"] == "html"


async def test_unknown_field_is_a_fault_naming_it(client: OdooClient) -> None:
    with pytest.raises(OdooFault) as caught:
        await client.search_read("mail.message", [], ["id", "res_model"], limit=1)

    assert "Invalid field 'res_model' on model 'mail.message'" in caught.value.fault


async def test_unknown_model_is_a_fault(client: OdooClient) -> None:
    with pytest.raises(OdooFault):
        await client.search_count("sale.opportunity", [])


async def test_datetime_values_in_domains_are_sent_as_odoo_strings(
    sim: OdooSim, client: OdooClient
) -> None:
    from datetime import UTC, datetime

    since = datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    expected = sum(
        1 for row in sim.table("mail.message").values() if row["write_date"] > "2025-12-01 10:00:00"
    )

    assert await client.search_count("mail.message", [("write_date", ">", since)]) == expected


async def test_pages_respect_a_compound_domain(sim: OdooSim, client: OdooClient) -> None:
    domain = [("message_type", "in", ["comment", "email"]), "|", ("author_id", "=", False),
              ("subject", "!=", False)]  # fmt: skip

    ids = [
        row["id"]
        async for page in id_pages(client, "mail.message", domain, ["id"], page_size=25)
        for row in page
    ]

    expected = {
        row["id"]
        for row in sim.table("mail.message").values()
        if row["message_type"] in ("comment", "email") and (not row["author_id"] or row["subject"])
    }
    assert set(ids) == expected and len(ids) == len(expected) > 25
    assert await client.search_count("mail.message", domain) == len(expected)
