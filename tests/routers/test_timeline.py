"""GET /timeline, /records/{model}/{id}/timeline, /opportunities/{id}/timeline and /messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.services import timeline
from app.store import Store

API = "/api/v1"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)


async def batch(client: Any, headers: dict[str, str], items: list[dict[str, Any]]) -> list[str]:
    response = await client.post(f"{API}/activities/batch", json={"items": items}, headers=headers)
    assert response.status_code == 201, response.text
    return list(response.json()["ids"])


def message(external_id: int, **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "res_model": "crm.lead",
        "res_id": 9,
        "date": datetime(2026, 1, 20, 9, 0, tzinfo=UTC),
        "message_type": "comment",
        "body": f"<p>message {external_id}</p>",
        **fields,
    }
    return dict(timeline.message_document(external_id=external_id, **values))


async def store_messages(store: Store, docs: list[dict[str, Any]], tenant: str = "acme") -> None:
    await store.envelopes.upsert_many(tenant, "message", "odoo", docs, now=NOW)


async def get(client: Any, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def walk(
    client: Any, path: str, headers: dict[str, str], key: str = "items", **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page = await get(client, path, headers, **params, **({"cursor": cursor} if cursor else {}))
        assert len(page[key]) <= params.get("limit", 50)
        items.extend(page[key])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


async def titles(client: Any, headers: dict[str, str], path: str = "/timeline", **params: Any):
    return sorted(
        i["title"] for i in (await get(client, path, headers, limit=200, **params))["items"]
    )


@pytest.mark.parametrize("order", ["desc", "asc"])
async def test_cursor_walk_merges_both_kinds_through_many_ties(client, auth, store, order):
    rng = random.Random(order)
    hours = ["08:00:00", "09:00:00", "09:00:00", "10:00:00"]
    await batch(
        client,
        auth(),
        [
            {
                "type": "call",
                "subject": f"a{i}",
                "date": rng.choice(["2026-01-19", "2026-01-20"]),
                "start_time": rng.choice([*hours, None]),
            }
            for i in range(70)
        ],
    )
    instants = [
        datetime(2026, 1, day, hour, tzinfo=UTC) for day in (19, 20) for hour in (0, 8, 9, 10)
    ]
    await store_messages(store, [message(n, date=rng.choice(instants)) for n in range(1, 61)])
    everything = await walk(client, "/timeline", auth(), order=order, limit=200)
    assert len(everything) == 130
    assert {i["kind"] for i in everything} == {"activity", "message"}
    expected = sorted(everything, key=lambda i: (i["occurred_at"], i["id"]))
    if order == "desc":
        expected.reverse()
    assert ids(everything) == ids(expected)
    for limit in (1, 7, 50):
        assert ids(await walk(client, "/timeline", auth(), order=order, limit=limit)) == ids(
            everything
        )


async def test_items_carry_kind_title_summary_related_and_the_full_record(client, auth, store):
    [activity_id] = await batch(
        client,
        auth(),
        [
            {
                "type": "meeting",
                "subject": "Demo",
                "date": "2026-01-19",
                "start_time": "14:30:00",
                "due_date": "2026-01-19",
                "description": "  Show the   new pricing\n module. " + "x" * 300,
                "related_id": "crm.lead,9",
            }
        ],
    )
    await store_messages(
        store,
        [
            message(
                501,
                record_name="ACME deal",
                date=datetime(2026, 1, 19, 15, 0, tzinfo=UTC),
                subtype="Note",
                author_id=3,
                author_name="Zakariya",
                body='<p onclick="x()">Customer <b>agreed</b></p><script>alert(1)</script>',
            )
        ],
    )
    [msg, act] = (await get(client, "/timeline", auth(), tz="Asia/Dubai"))["items"]
    assert msg["kind"] == "message" and msg["activity"] is None
    assert msg["id"] == "odoo_message_501" and msg["occurred_at"] == "2026-01-19T15:00:00Z"
    assert msg["title"] == "Note" and msg["summary"] == "Customer agreed"
    assert msg["related"] == {"model": "crm.lead", "id": "9", "name": "ACME deal"}
    assert msg["message"] == {
        "id": "odoo_message_501",
        "external_id": 501,
        "res_model": "crm.lead",
        "res_id": "9",
        "record_name": "ACME deal",
        "date": "2026-01-19T15:00:00Z",
        "message_type": "comment",
        "subtype": "Note",
        "author_id": "3",
        "author_name": "Zakariya",
        "email_from": None,
        "subject": None,
        "body": "<p>Customer <b>agreed</b></p>",
        "body_text": "Customer agreed",
    }
    assert act["kind"] == "activity" and act["message"] is None and act["id"] == activity_id
    # date + start_time in the tenant's DEFAULT_TZ (UTC in the tests).
    assert act["occurred_at"] == "2026-01-19T14:30:00Z"
    assert act["title"] == "Demo" and len(act["summary"]) == 200
    assert act["summary"].startswith("Show the new pricing module. xxx")
    assert act["related"] == {"model": "crm.lead", "id": "9", "name": None}
    assert act["activity"]["urgency"] == "overdue" and act["activity"]["days_overdue"] == 1


async def test_every_filter_is_applied(client, auth, store):
    alice = auth("alice", odoo_uid=7)
    await batch(
        client,
        alice,
        [
            {
                "type": "call",
                "subject": "Call about pricing",
                "date": "2026-01-18",
                "related_id": "crm.lead,9",
            },
            {
                "type": "email",
                "subject": "Send proposal",
                "description": "new PRICING sheet",
                "date": "2026-01-19",
                "user_id": "bob",
                "related_id": "sale.order,5",
            },
            {"type": "task", "subject": "Prepare", "date": "2026-01-20", "user_id": "odoo:7"},
        ],
    )
    await store_messages(
        store,
        [
            message(1, subject="Lead created", message_type="notification", res_id=9),
            message(
                2,
                subject="Re: pricing",
                message_type="email",
                author_uid=7,
                date=datetime(2026, 1, 18, 12, 0, tzinfo=UTC),
            ),
            message(
                3,
                subject="Note",
                body="<p>they want a PRICING discount</p>",
                res_model="sale.order",
                res_id=5,
                date=datetime(2026, 1, 21, 0, 0, tzinfo=UTC),
            ),
        ],
    )

    async def seen(**params: Any) -> list[str]:
        return await titles(client, alice, **params)

    every = ["Call about pricing", "Lead created", "Note", "Prepare", "Re: pricing"]
    assert await seen() == sorted([*every, "Send proposal"])
    assert await seen(kind="activity") == ["Call about pricing", "Prepare", "Send proposal"]
    assert await seen(kind="message") == ["Lead created", "Note", "Re: pricing"]
    assert await seen(kind=["message", "activity"]) == await seen()
    # `type` narrows activities; without `kind` it leaves messages out, with it keeps them.
    assert await seen(type=["call", "task"]) == ["Call about pricing", "Prepare"]
    assert await seen(type="call", kind=["activity", "message"]) == [
        "Call about pricing",
        "Lead created",
        "Note",
        "Re: pricing",
    ]
    assert await seen(type="call", kind="message") == ["Lead created", "Note", "Re: pricing"]
    assert await seen(message_type="email") == ["Re: pricing"]
    assert await seen(message_type=["email", "notification"], kind=["activity"]) == [
        "Call about pricing",
        "Prepare",
        "Send proposal",
    ]
    assert await seen(message_type="email", type="email") == ["Re: pricing", "Send proposal"]
    # user_id: the activity's assignee, or the message author's user identity.
    assert await seen(user_id="me") == ["Call about pricing", "Prepare", "Re: pricing"]
    assert await seen(user_id="bob") == ["Send proposal"]
    assert await seen(source="odoo") == ["Lead created", "Note", "Re: pricing"]
    assert await seen(source="local") == ["Call about pricing", "Prepare", "Send proposal"]
    assert await seen(related="crm.lead,9") == ["Call about pricing", "Lead created", "Re: pricing"]
    assert await seen(related="sale.order,5") == ["Note", "Send proposal"]
    # since is inclusive, until exclusive; both compare instants whatever the offset.
    assert await seen(since="2026-01-20T00:00:00Z") == ["Lead created", "Note", "Prepare"]
    assert await seen(until="2026-01-20T04:00:00+04:00") == [
        "Call about pricing",
        "Re: pricing",
        "Send proposal",
    ]
    assert await seen(since="2026-01-18T12:00:00Z", until="2026-01-20T09:00:00Z") == [
        "Prepare",
        "Re: pricing",
        "Send proposal",
    ]
    # q: subject/description of activities, subject/body text of messages; never a pattern.
    assert await seen(q="PRICING") == ["Call about pricing", "Note", "Re: pricing", "Send proposal"]
    assert await seen(q="discount") == ["Note"]
    assert await seen(q=".*") == []
    assert await seen(kind="activity", q="pricing", user_id="me") == ["Call about pricing"]


async def test_record_and_opportunity_timelines(client, auth, store):
    await batch(
        client,
        auth(),
        [
            {"type": "call", "subject": "lead 9", "related_id": "crm.lead,9"},
            {"type": "call", "subject": "order 9", "related_id": "sale.order,9"},
            {"type": "call", "subject": "lead 10", "related_id": "crm.lead,10"},
        ],
    )
    await store_messages(store, [message(1, subject="msg lead 9"), message(2, res_id=10)])
    assert await titles(client, auth(), "/records/crm.lead/9/timeline") == ["lead 9", "msg lead 9"]
    assert await titles(client, auth(), "/opportunities/9/timeline") == ["lead 9", "msg lead 9"]
    assert await titles(client, auth(), "/records/sale.order/9/timeline") == ["order 9"]
    assert await titles(client, auth(), "/opportunities/9/timeline", kind="activity") == ["lead 9"]
    assert await titles(client, auth(), "/records/res.partner/404/timeline") == []


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/records/project.task/9/timeline", ["path", "model"]),
        ("/records/crm.lead/9%209/timeline", ["path", "record_id"]),
        ("/opportunities/a$b/timeline", ["path", "opportunity_id"]),
        ("/opportunities/a$b/messages", ["path", "opportunity_id"]),
    ],
)
async def test_unknown_model_or_malformed_id_is_422(client, auth, path, loc):
    response = await client.get(f"{API}{path}", headers=auth())
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == loc


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-01-20T00:00:00"},  # naive
        {"until": "2026-01-20"},
        {"kind": "email"},
        {"type": "fax"},
        {"message_type": "Bad Type"},
        {"related": "crm.lead"},
        {"order": "newest"},
        {"limit": 0},
        {"limit": 201},
        {"cursor": "garbage!"},
        {"tz": "Mars/Olympus"},
        {"related[$ne]": "x"},
    ],
)
async def test_invalid_timeline_parameters_are_422(client, auth, params):
    response = await client.get(f"{API}/timeline", params=params, headers=auth())
    assert response.status_code == 422, params
    assert response.headers["content-type"] == "application/problem+json"


async def test_empty_and_extreme_windows_select_nothing_or_everything(client, auth):
    await batch(client, auth(), [{"type": "note", "subject": "n"}])
    for window, expected in [
        ({"since": "2026-01-21T00:00:00Z", "until": "2026-01-19T00:00:00Z"}, 0),
        ({"since": "0001-01-01T00:00:00+14:00", "until": "9999-12-31T23:59:59-14:00"}, 1),
        ({"since": "9999-12-31T23:59:59-14:00"}, 0),
    ]:
        assert len((await get(client, "/timeline", auth(), **window))["items"]) == expected


async def test_a_cursor_only_resumes_its_own_order(client, auth):
    await batch(client, auth(), [{"type": "note", "subject": f"n{i}"} for i in range(3)])
    page = await get(client, "/timeline", auth(), limit=1, order="asc")
    response = await client.get(
        f"{API}/timeline", params={"cursor": page["next_cursor"], "order": "desc"}, headers=auth()
    )
    assert response.status_code == 422


async def test_deleted_activities_and_inactive_messages_never_appear(client, auth, store):
    kept, gone = await batch(
        client,
        auth(),
        [
            {"type": "call", "subject": "kept", "related_id": "crm.lead,9"},
            {"type": "call", "subject": "gone", "related_id": "crm.lead,9"},
        ],
    )
    assert (await client.delete(f"{API}/activities/{gone}", headers=auth())).status_code == 204
    await store_messages(store, [message(1, subject="live"), message(2, subject="deleted")])
    await store.envelopes.deactivate_many("acme", "message", ["odoo_message_2"], now=NOW)
    for path in ("/timeline", "/opportunities/9/timeline", "/records/crm.lead/9/timeline"):
        assert await titles(client, auth(), path) == ["kept", "live"]
    messages = await get(client, "/opportunities/9/messages", auth())
    assert ids(messages["messages"]) == ["odoo_message_1"] and messages["count"] == 1


async def test_other_tenants_items_are_never_seen(client, auth, store):
    await batch(
        client,
        auth("mallory", tenant="evil"),
        [{"type": "call", "subject": "theirs", "related_id": "crm.lead,9"}],
    )
    await store_messages(store, [message(1)], tenant="evil")
    for path in ("/timeline", "/opportunities/9/timeline", "/records/crm.lead/9/timeline"):
        assert (await get(client, path, auth()))["items"] == []
        assert len((await get(client, path, auth("mallory", tenant="evil")))["items"]) == 2
    assert await get(client, "/opportunities/9/messages", auth()) == {
        "messages": [],
        "count": 0,
        "next_cursor": None,
    }


async def test_opportunity_messages_page_and_count_everything(client, auth, store):
    base = datetime(2026, 1, 1, tzinfo=UTC)
    await store_messages(
        store,
        [
            message(
                n,
                date=base + timedelta(hours=n // 3),  # three messages per instant
                message_type="email" if n % 5 == 0 else "comment",
            )
            for n in range(1, 24)
        ]
        + [message(100, res_id=10), message(101, res_model="sale.order")],
    )
    await batch(client, auth(), [{"type": "call", "subject": "x", "related_id": "crm.lead,9"}])
    first = await get(client, "/opportunities/9/messages", auth(), limit=5)
    assert len(first["messages"]) == 5 and first["count"] == 23 and first["next_cursor"]
    walked = await walk(client, "/opportunities/9/messages", auth(), key="messages", limit=5)
    assert len(walked) == 23 and len(set(ids(walked))) == 23
    assert [(m["date"], m["id"]) for m in walked] == sorted(
        ((m["date"], m["id"]) for m in walked), reverse=True
    )
    oldest = await walk(
        client, "/opportunities/9/messages", auth(), key="messages", limit=4, order="asc"
    )
    assert ids(oldest) == list(reversed(ids(walked)))
    emails = await get(client, "/opportunities/9/messages", auth(), message_type="email")
    assert emails["count"] == 4 and {m["message_type"] for m in emails["messages"]} == {"email"}


class TestConfiguredOpportunityModel:
    @pytest.fixture
    def settings(self):
        from tests.conftest import make_settings

        return make_settings(opportunity_model="sale.opportunity")

    async def test_opportunity_routes_use_opportunity_model(self, client, auth, store):
        await batch(
            client,
            auth(),
            [
                {"type": "call", "subject": "opp", "related_id": "sale.opportunity,9"},
                {"type": "call", "subject": "lead", "related_id": "crm.lead,9"},
            ],
        )
        await store_messages(
            store, [message(1, res_model="sale.opportunity", subject="opp msg"), message(2)]
        )
        assert await titles(client, auth(), "/opportunities/9/timeline") == ["opp", "opp msg"]
        messages = await get(client, "/opportunities/9/messages", auth())
        assert ids(messages["messages"]) == ["odoo_message_1"] and messages["count"] == 1


@pytest.mark.parametrize("size", [4, 120])
async def test_store_commands_per_request_do_not_grow_with_data(client, auth, store, size):
    await batch(
        client, auth(), [{"type": "note", "subject": "n", "related_id": "crm.lead,9"}] * size
    )
    await store_messages(store, [message(n) for n in range(1, size + 1)])
    for path, expected in (
        ("/timeline", 1),
        ("/opportunities/9/timeline", 1),
        ("/records/crm.lead/9/timeline", 1),
        ("/opportunities/9/messages", 2),  # the page and its count
    ):
        response = await client.get(f"{API}{path}", params={"limit": 10}, headers=auth())
        assert response.status_code == 200
        assert f'desc="{expected} commands"' in response.headers["server-timing"], path
