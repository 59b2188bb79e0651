"""Records the service does not sync: PUT/GET /records, and what activities on them show."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.services import records
from app.store import Store
from tests.conftest import FROZEN_AT

RECORDS = "/api/v1/records"
ACTIVITIES = "/api/v1/activities"
QUOTE = {"name": "Q-77 for ACME", "contact_id": "p9", "contact_name": "ACME", "user_id": "bob"}


async def put(client: Any, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    return await client.put(f"{RECORDS}/{path}", json=body, headers=headers)


async def create_activity(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"type": "call", "subject": "Follow up", **fields}
    response = await client.post(ACTIVITIES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_register_then_replace_then_read(client, auth):
    headers = auth("alice")
    created = await put(client, headers, "sale.quot/77", QUOTE)
    assert created.status_code == 201
    assert created.json() == {"model": "sale.quot", "id": "77", "source": "registered", **QUOTE}
    replaced = await put(client, headers, "sale.quot/77", {"name": "Q-77 v2"})
    assert replaced.status_code == 200
    read = await client.get(f"{RECORDS}/sale.quot/77", headers=headers)
    assert read.status_code == 200
    assert read.json() == {
        "model": "sale.quot",
        "id": "77",
        "name": "Q-77 v2",
        "contact_id": None,
        "contact_name": None,
        "user_id": None,
        "source": "registered",
    }


@pytest.mark.parametrize("model", ["crm.lead", "res.partner"])
async def test_synced_models_cannot_be_registered(client, auth, model):
    assert (await put(client, auth("alice"), f"{model}/1", {"name": "x"})).status_code == 409


async def test_the_configured_opportunity_model_is_synced(client, auth, settings):
    settings.opportunity_model = "sale.opportunity"
    response = await put(client, auth("alice"), "sale.opportunity/1", {"name": "x"})
    assert response.status_code == 409
    assert (await put(client, auth("alice"), "sale.order/1", {"name": "x"})).status_code == 201


async def test_invalid_records_are_422(client, auth):
    headers = auth("alice")
    assert (await put(client, headers, "sale.nope/1", {"name": "x"})).status_code == 422
    assert (await put(client, headers, "sale.quot/a,b", {"name": "x"})).status_code == 422
    assert (await put(client, headers, "sale.quot/1", {"name": " "})).status_code == 422
    assert (await put(client, headers, "sale.quot/1", {"name": "x", "y": 1})).status_code == 422
    assert (await client.get(f"{RECORDS}/sale.quot/404", headers=headers)).status_code == 404


async def test_synced_opportunity_reads_as_odoo(client, auth, store: Store):
    await store.envelopes.upsert_many(
        "acme",
        records.OPPORTUNITY,
        "odoo",
        [
            {
                "id": records.odoo_opportunity_id(5),
                "name": "Big deal",
                "contact_id": "odoo_partner_3",
                "contact_name": "Globex",
                "user_id": "odoo:7",
            }
        ],
        now=FROZEN_AT,
    )
    read = await client.get(f"{RECORDS}/crm.lead/5", headers=auth("alice"))
    assert read.status_code == 200
    assert read.json()["source"] == "odoo" and read.json()["name"] == "Big deal"
    assert read.json()["user_id"] == "odoo:7"


async def test_activity_on_registered_record_gets_name_and_contact(client, auth):
    headers = auth("alice")
    assert (await put(client, headers, "sale.quot/77", QUOTE)).status_code == 201
    filled = await create_activity(client, headers, related_id="sale.quot,77")
    assert filled["related"]["name"] == "Q-77 for ACME"
    assert (filled["contact_id"], filled["contact_name"]) == ("p9", "ACME")
    own_contact = await create_activity(
        client, headers, related_id="sale.quot,77", contact_id="p1", contact_name="Mine"
    )
    assert (own_contact["contact_id"], own_contact["contact_name"]) == ("p1", "Mine")
    assert own_contact["related"]["name"] == "Q-77 for ACME"
    unknown = await create_activity(client, headers, related_id="sale.quot,78")
    assert unknown["related"]["name"] is None and unknown["contact_id"] is None


async def test_name_follows_the_record_when_re_registered(client, auth):
    headers = auth("alice")
    await put(client, headers, "sale.order/5", {"name": "SO-5"})
    first = await create_activity(client, headers, related_id="sale.order,5")
    second = await create_activity(client, headers, related_id="sale.order,5")
    elsewhere = await create_activity(client, headers, related_id="sale.order,6")
    await put(client, headers, "sale.order/5", {"name": "SO-5 (signed)"})
    for activity in (first, second):
        read = (await client.get(f"{ACTIVITIES}/{activity['id']}", headers=headers)).json()
        assert read["related"]["name"] == "SO-5 (signed)"
        assert read["version"] == activity["version"]  # not an edit of the activity
    listed = await client.get(ACTIVITIES, params={"related": "sale.order,5"}, headers=headers)
    assert {a["related"]["name"] for a in listed.json()["items"]} == {"SO-5 (signed)"}
    other = (await client.get(f"{ACTIVITIES}/{elsewhere['id']}", headers=headers)).json()
    assert other["related"]["name"] is None


async def test_records_are_isolated_per_tenant(client, auth):
    await put(client, auth("alice"), "sale.quot/77", QUOTE)
    other = auth("eve", tenant="globex")
    assert (await client.get(f"{RECORDS}/sale.quot/77", headers=other)).status_code == 404
    theirs = await create_activity(client, other, related_id="sale.quot,77")
    assert theirs["related"]["name"] is None and theirs["contact_id"] is None
    # Their own registration is theirs alone, and renames only their activities.
    assert (await put(client, other, "sale.quot/77", {"name": "Globex Q"})).status_code == 201
    ours = await create_activity(client, auth("alice"), related_id="sale.quot,77")
    assert ours["related"]["name"] == "Q-77 for ACME"
    mine = (await client.get(f"{RECORDS}/sale.quot/77", headers=auth("alice"))).json()
    assert mine["name"] == "Q-77 for ACME"


async def test_re_registering_costs_the_same_commands_whatever_the_activity_count(client, auth):
    headers = auth("alice")
    await put(client, headers, "sale.order/9", {"name": "SO-9"})
    commands = []
    for activity_count in (1, 6):
        while len(await _activities_on(client, headers, "sale.order,9")) < activity_count:
            await create_activity(client, headers, related_id="sale.order,9")
        response = await put(client, headers, "sale.order/9", {"name": f"SO-9 v{activity_count}"})
        assert response.status_code == 200
        commands.append(re.search(r'desc="(\d+) commands"', response.headers["server-timing"]))
    assert commands[0] and commands[1] and commands[0][1] == commands[1][1]
    names = {a["related"]["name"] for a in await _activities_on(client, headers, "sale.order,9")}
    assert names == {"SO-9 v6"}


async def _activities_on(client: Any, headers: dict[str, str], related: str) -> list[Any]:
    response = await client.get(ACTIVITIES, params={"related": related}, headers=headers)
    return list(response.json()["items"])
