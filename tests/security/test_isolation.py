"""Broken object-level authorization and injection, across every route that takes an id or a
filter: a tenant-B caller sees, counts and changes nothing of tenant A."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.services import timeline

API = "/api/v1"
NOW = datetime(2026, 1, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
async def tenant_a(client, auth, store) -> dict[str, Any]:
    """Tenant A: activities on an opportunity, a due reminder, a chatter message."""
    alice = auth("alice", tenant="acme", roles=["user", "ops"])
    created = await client.post(
        f"{API}/activities",
        headers=alice,
        json={
            "type": "call",
            "subject": "Secret deal call",
            "related_id": "crm.lead,9",
            "contact_id": "c9",
            "due_date": "2026-01-19",
            "priority": "high",
            "send_reminder": True,
            "notif_time": "2026-01-20T09:00:00Z",
        },
    )
    assert created.status_code == 201
    await client.post(
        f"{API}/activities/batch",
        headers=alice,
        json={
            "items": [
                {"type": "task", "subject": f"Task {i}", "related_id": "crm.lead,9"}
                for i in range(5)
            ]
        },
    )
    await store.envelopes.upsert_many(
        "acme",
        "message",
        "odoo",
        [
            dict(
                timeline.message_document(
                    external_id=501,
                    res_model="crm.lead",
                    res_id=9,
                    date=NOW,
                    message_type="comment",
                    body="<p>secret chatter</p>",
                    author_name="Alice",
                )
            )
        ],
        now=NOW,
    )
    notifications = (await client.get(f"{API}/notifications", headers=alice)).json()["items"]
    assert notifications, "tenant A has a due in-app reminder"
    return {"activity": created.json(), "notification": notifications[0], "headers": alice}


def _is_empty(body: Any) -> bool:
    """No item of tenant A in a listing, and every count is zero."""
    if isinstance(body, dict):
        return all(_is_empty(v) for k, v in body.items() if k not in ("tz", "today", "date"))
    if isinstance(body, list):
        return len(body) == 0
    if isinstance(body, bool) or body is None or isinstance(body, str):
        return True
    return body == 0


LISTINGS = [
    ("/activities", {"include_total": "true"}),
    ("/activities", {"related": "crm.lead,9", "include_total": "true"}),
    ("/activities", {"contact_id": "c9", "include_total": "true"}),
    ("/activities", {"user_id": "alice", "q": "secret", "include_total": "true"}),
    ("/dashboard/summary", {}),
    ("/dashboard/summary", {"user_id": "alice"}),
    ("/dashboard/agenda", {}),
    ("/timeline", {}),
    ("/timeline", {"related": "crm.lead,9"}),
    ("/records/crm.lead/9/timeline", {}),
    ("/opportunities/9/timeline", {}),
    ("/opportunities/9/messages", {}),
    ("/notifications", {}),
]


@pytest.mark.parametrize(("path", "params"), LISTINGS)
async def test_another_tenant_sees_and_counts_nothing(client, auth, tenant_a, path, params):
    # Same user name, every role: only the tenant differs.
    intruder = auth("alice", tenant="evil", roles=["user", "manager", "admin", "ops"])
    response = await client.get(f"{API}{path}", params=params, headers=intruder)
    assert response.status_code == 200, response.text
    assert _is_empty(response.json()), response.json()
    owner = await client.get(f"{API}{path}", params=params, headers=tenant_a["headers"])
    assert not _is_empty(owner.json()), f"the owner must see data at {path}"


async def test_another_tenant_cannot_address_or_change_anything(client, auth, tenant_a):
    intruder = auth("alice", tenant="evil", roles=["user", "manager", "admin", "ops"])
    activity_url = f"{API}/activities/{tenant_a['activity']['id']}"
    attempts = [
        await client.get(activity_url, headers=intruder),
        await client.patch(activity_url, json={"subject": "pwned"}, headers=intruder),
        await client.delete(activity_url, headers=intruder),
        await client.post(
            f"{API}/notifications/{tenant_a['notification']['id']}/read", headers=intruder
        ),
        await client.get(f"{API}/sync/runs/any-run", headers=intruder),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    fetched = (await client.get(activity_url, headers=tenant_a["headers"])).json()
    assert fetched["subject"] == "Secret deal call" and fetched["version"] == 1
    unread = (
        await client.get(
            f"{API}/notifications", params={"unread": "true"}, headers=tenant_a["headers"]
        )
    ).json()["items"]
    assert tenant_a["notification"]["id"] in [n["id"] for n in unread]


@pytest.mark.parametrize(
    "body",
    [
        {"type": "call", "subject": {"$gt": ""}},
        {"type": "call", "subject": "x", "user_id": {"$ne": None}},
        {"type": "call", "subject": "x", "contact_id": {"$where": "sleep(1000)"}},
        {"type": "call", "subject": "x", "related": {"model": {"$ne": 1}, "id": "1"}},
        {"type": "call", "subject": "x", "other_users": [{"$ne": None}]},
        {"type": "call", "subject": "x", "$where": "1"},
        {"type": "call", "subject": "x", "user_id": "$ne"},
    ],
)
async def test_operator_bodies_are_422(client, auth, body):
    response = await client.post(f"{API}/activities", json=body, headers=auth())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "query",
    ["user_id[$ne]=x", "$where=1", "state[$in]=new", "q[$regex]=.*", 'filter={"$ne":1}&$gt=1'],
)
async def test_operator_query_parameters_are_422_on_every_route(client, auth, query):
    for path in ("/activities", "/dashboard/summary", "/timeline", "/notifications"):
        response = await client.get(f"{API}{path}?{query}", headers=auth())
        assert response.status_code == 422, (path, query, response.text)


async def test_operator_looking_values_are_plain_text(client, auth, tenant_a):
    alice = tenant_a["headers"]
    for params in ({"contact_id": '{"$ne": null}'}, {"q": ".*"}, {"q": "^"}, {"user_id": "$ne"}):
        body = (
            await client.get(
                f"{API}/activities", params={**params, "include_total": "true"}, headers=alice
            )
        ).json()
        assert body["total"] == 0, params
    found = (
        await client.get(
            f"{API}/activities", params={"q": "Secret deal", "include_total": "true"}, headers=alice
        )
    ).json()
    assert found["total"] == 1
