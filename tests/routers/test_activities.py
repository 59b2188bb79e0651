"""Activity CRUD over HTTP: defaults, validation, edit rights, ETags, batch, soft delete."""

from __future__ import annotations

from typing import Any

import pytest

from app.services import records

API = "/api/v1/activities"


async def create(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"type": "call", "subject": "Follow up", **fields}
    response = await client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_create_applies_contract_defaults(client, auth):
    response = await client.post(
        API,
        json={"type": "call", "subject": "  Follow up  "},
        headers=auth("alice", name="Alice", tz="Asia/Dubai"),
    )
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"{API}/{body['id']}"
    assert response.headers["etag"] == '"1"'
    assert body["subject"] == "Follow up"
    assert body["state"] == "new" and body["priority"] == "normal"
    assert body["user_id"] == "alice" and body["user_name"] == "Alice"
    assert body["created_by"] == "alice" and body["source"] == "local"
    assert body["version"] == 1 and body["other_users"] == []
    # Frozen clock: 2026-01-20T10:00Z is already the 20th in Dubai (UTC+4).
    assert body["date"] == "2026-01-20"
    assert body["urgency"] == "no_due_date" and body["days_overdue"] is None


async def test_default_date_is_today_in_callers_zone(client, auth, clock):
    from datetime import UTC, datetime

    clock.set(datetime(2026, 1, 20, 22, 30, tzinfo=UTC))  # 21st in Dubai, 20th in LA
    dubai = await create(client, auth("alice", tz="Asia/Dubai"))
    la = await create(client, auth("bob", tz="America/Los_Angeles"))
    assert dubai["date"] == "2026-01-21"
    assert la["date"] == "2026-01-20"


async def test_round_trip_of_every_field(client, auth):
    fields = {
        "type": "meeting",
        "subject": "Demo",
        "date": "2026-02-15",
        "due_date": "2026-02-16",
        "start_time": "14:00:00",
        "end_time": "15:30:00",
        "location": "Room A",
        "related": {"model": "sale.quot", "id": "77", "name": "Q-77"},
        "contact_id": "456",
        "contact_name": "Jane",
        "description": "d",
        "body": "b",
        "notes": "n",
        "phone": "+1-555-1234",
        "email": "jane@example.com",
        "priority": "high",
        "state": "in_progress",
        "send_reminder": True,
        "notif_time": "2026-02-15T13:30:00Z",
        "notif_email": "me@example.com",
        "other_users": ["bob", "carol"],
        "user_id": "alice",
    }
    created = await create(client, auth("alice"), **fields)
    fetched = (await client.get(f"{API}/{created['id']}", headers=auth("alice"))).json()
    # The single GET adds the activity's reminders: one per recipient.
    assert sorted(n["user_id"] for n in fetched.pop("notifs")) == ["alice", "bob", "carol"]
    assert fetched == created
    for key, value in fields.items():
        assert fetched[key] == value, key


async def test_related_id_string_is_accepted(client, auth):
    created = await create(client, auth(), related_id="sale.opportunity,123")
    assert created["related"] == {"model": "sale.opportunity", "id": "123", "name": None}


@pytest.mark.parametrize(
    ("fields", "loc_part"),
    [
        ({"related_id": "123"}, "body"),
        ({"related_id": "x"}, "body"),
        ({"related_id": "sale.opportunity,"}, "body"),
        ({"related_id": "unknown.model,4"}, "body"),
        ({"related": {"model": "sale.order", "id": "1;drop"}}, "related"),
        ({"subject": "x" * 129}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"type": "fax"}, "type"),
        ({"state": "open"}, "state"),
        ({"priority": "urgent"}, "priority"),
        ({"date": "2026-02-30"}, "date"),
        ({"due_date": "tomorrow"}, "due_date"),
        ({"start_time": "25:00:00"}, "start_time"),
        ({"start_time": "10:00:00", "end_time": "09:59:59"}, "body"),
        ({"notif_time": "2026-02-15T13:30:00"}, "notif_time"),
        ({"email": "not-an-email"}, "email"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"user_id": {"$ne": None}}, "user_id"),
    ],
)
async def test_invalid_input_is_422_problem_and_writes_nothing(client, auth, fields, loc_part):
    body = {"type": "call", "subject": "ok", **fields}
    response = await client.post(API, json=body, headers=auth())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] and problem["errors"]
    assert any(loc_part in map(str, e["loc"]) for e in problem["errors"]), problem
    listing = await client.get(API, params={"include_total": "true"}, headers=auth())
    assert listing.json()["total"] == 0


async def test_contact_is_auto_filled_from_a_known_opportunity(client, auth, store, clock):
    await store.envelopes.upsert_many(
        "acme",
        records.OPPORTUNITY,
        "odoo",
        [
            {
                "id": records.odoo_opportunity_id(9),
                "external_id": 9,
                "name": "Big deal",
                "contact_id": "31",
                "contact_name": "Azure Interior",
            }
        ],
        now=clock.now(),
    )
    created = await create(client, auth(), related_id="crm.lead,9")
    assert created["contact_id"] == "31" and created["contact_name"] == "Azure Interior"
    assert created["related"]["name"] == "Big deal"
    explicit = await create(client, auth(), related_id="crm.lead,9", contact_id="99")
    assert explicit["contact_id"] == "99"
    # Another tenant's opportunity is never used.
    other = await create(client, auth(tenant="other"), related_id="crm.lead,9")
    assert other["contact_id"] is None


async def test_reminder_defaults_to_date_and_start_time_in_assignee_zone(client, auth):
    created = await create(
        client, auth("alice", tz="Asia/Dubai"), date="2026-02-15", send_reminder=True
    )
    assert created["notif_time"] == "2026-02-15T02:00:00Z"  # 06:00 in Dubai
    timed = await create(
        client,
        auth("alice", tz="Asia/Dubai"),
        date="2026-02-15",
        start_time="09:30:00",
        send_reminder=True,
    )
    assert timed["notif_time"] == "2026-02-15T05:30:00Z"
    moved = await client.patch(
        f"{API}/{timed['id']}", json={"date": "2026-02-16"}, headers=auth("alice", tz="Asia/Dubai")
    )
    assert moved.json()["notif_time"] == "2026-02-16T05:30:00Z"
    explicit = await create(
        client, auth(), send_reminder=True, notif_time="2026-02-15T08:00:00+01:00"
    )
    assert explicit["notif_time"] == "2026-02-15T07:00:00Z"


async def test_patch_changes_only_given_fields_and_bumps_version(client, auth):
    created = await create(client, auth(), description="keep me", priority="low")
    response = await client.patch(
        f"{API}/{created['id']}", json={"state": "done", "subject": "Called"}, headers=auth()
    )
    assert response.status_code == 200
    body = response.json()
    assert response.headers["etag"] == '"2"'
    assert body["version"] == 2 and body["subject"] == "Called"
    assert body["description"] == "keep me" and body["priority"] == "low"
    assert body["state"] == "done" and body["completed_at"] and body["urgency"] == "done"
    reopened = await client.patch(f"{API}/{created['id']}", json={"state": "new"}, headers=auth())
    assert reopened.json()["completed_at"] is None


async def test_patch_rejects_null_for_required_fields_and_inverted_times(client, auth):
    created = await create(client, auth(), start_time="10:00:00")
    nulled = await client.patch(f"{API}/{created['id']}", json={"subject": None}, headers=auth())
    assert nulled.status_code == 422
    inverted = await client.patch(
        f"{API}/{created['id']}", json={"end_time": "09:00:00"}, headers=auth()
    )
    assert inverted.status_code == 422
    fetched = (await client.get(f"{API}/{created['id']}", headers=auth())).json()
    assert fetched["version"] == 1 and fetched["end_time"] is None


async def test_if_match_guards_concurrent_edits(client, auth):
    created = await create(client, auth())
    url = f"{API}/{created['id']}"
    ok = await client.patch(url, json={"notes": "a"}, headers={**auth(), "If-Match": '"1"'})
    assert ok.status_code == 200
    stale = await client.patch(url, json={"notes": "b"}, headers={**auth(), "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    weak = await client.patch(url, json={"notes": "c"}, headers={**auth(), "If-Match": 'W/"2"'})
    assert weak.status_code == 200
    fetched = await client.get(url, headers=auth())
    assert fetched.json()["notes"] == "c" and fetched.headers["etag"] == '"3"'


async def test_soft_delete_hides_everywhere(client, auth):
    created = await create(client, auth())
    kept = await create(client, auth())
    assert (await client.delete(f"{API}/{created['id']}", headers=auth())).status_code == 204
    assert (await client.get(f"{API}/{created['id']}", headers=auth())).status_code == 404
    assert (
        await client.patch(f"{API}/{created['id']}", json={"notes": "x"}, headers=auth())
    ).status_code == 404
    assert (await client.delete(f"{API}/{created['id']}", headers=auth())).status_code == 404
    listing = (await client.get(API, params={"include_total": "true"}, headers=auth())).json()
    assert [a["id"] for a in listing["items"]] == [kept["id"]] and listing["total"] == 1


async def test_odoo_owned_activity_is_read_only(client, auth, store, clock):
    await store.envelopes.upsert_many(
        "acme",
        records.ACTIVITY,
        "odoo",
        [
            {
                "id": "odoo_activity_5",
                "source": "odoo",
                "external_id": 5,
                "type": "call",
                "subject": "From Odoo",
                "user_id": "odoo:2",
                "user_name": "Alice",
                "date": "2026-01-19",
                "due_date": "2026-01-19",
                "start_time": None,
                "end_time": None,
                "related": None,
                "priority": "normal",
                "state": "new",
                "other_users": [],
                "created_by": "odoo:2",
                "created_at": clock.now(),
                "updated_at": clock.now(),
                "version": 1,
                "start_sort": "24:00:00",
                "due_sort": "2026-01-19",
                "occurred_at": clock.now(),
            }
        ],
        now=clock.now(),
    )
    fetched = await client.get(f"{API}/odoo_activity_5", headers=auth())
    assert fetched.status_code == 200 and fetched.json()["urgency"] == "overdue"
    assert fetched.json()["days_overdue"] == 1
    manager = auth(roles=["manager"])
    patched = await client.patch(f"{API}/odoo_activity_5", json={"notes": "x"}, headers=manager)
    assert patched.status_code == 409
    assert (await client.delete(f"{API}/odoo_activity_5", headers=manager)).status_code == 409


@pytest.mark.parametrize(
    ("editor", "roles", "allowed"),
    [
        ("owner", ["user"], True),
        ("creator", ["user"], True),
        ("helper", ["user"], True),
        ("odoo-owner", ["user"], True),
        ("stranger", ["user"], False),
        ("boss", ["manager"], True),
        ("root", ["admin"], True),
    ],
)
async def test_edit_rights(client, auth, editor, roles, allowed):
    created = await create(
        client, auth("creator"), user_id="owner", other_users=["helper", "odoo:42"]
    )
    claims = {"odoo_uid": 42} if editor == "odoo-owner" else {}
    headers = auth(editor, roles=roles, **claims)
    patched = await client.patch(f"{API}/{created['id']}", json={"notes": "x"}, headers=headers)
    assert patched.status_code == (200 if allowed else 403)
    # Everyone in the tenant can read it (team visibility).
    assert (await client.get(f"{API}/{created['id']}", headers=headers)).status_code == 200
    deleted = await client.delete(f"{API}/{created['id']}", headers=headers)
    assert deleted.status_code == (204 if allowed else 403)


async def test_batch_creates_all_in_one_insert(client, auth, store):
    from app.store import begin_usage

    items = [
        {"type": "task", "subject": f"Task {i}", "related_id": "sale.order,7"} for i in range(300)
    ]
    usage = begin_usage()
    response = await client.post(f"{API}/batch", json={"items": items}, headers=auth())
    assert response.status_code == 201
    ids = response.json()["ids"]
    assert len(ids) == len(set(ids)) == 300
    # Lookups of related records plus one insert, whatever the batch size.
    assert usage.commands <= 3
    listing = await client.get(API, params={"include_total": "true", "limit": 1}, headers=auth())
    assert listing.json()["total"] == 300


async def test_batch_is_all_or_nothing_and_names_the_bad_index(client, auth):
    items = [{"type": "task", "subject": f"Task {i}"} for i in range(10)]
    items[7]["subject"] = "x" * 200
    response = await client.post(f"{API}/batch", json={"items": items}, headers=auth())
    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["errors"]]
    assert any(loc[:3] == ["body", "items", 7] for loc in locs), locs
    listing = await client.get(API, params={"include_total": "true"}, headers=auth())
    assert listing.json()["total"] == 0


async def test_batch_limits(client, auth):
    too_many = [{"type": "task", "subject": "t"}] * 501
    assert (
        await client.post(f"{API}/batch", json={"items": too_many}, headers=auth())
    ).status_code == 422
    assert (
        await client.post(f"{API}/batch", json={"items": []}, headers=auth())
    ).status_code == 422
