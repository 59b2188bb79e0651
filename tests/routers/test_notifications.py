"""Notifications over HTTP: my due reminders, unread filter, mark read, isolation, notifs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.services import reminders

API = "/api/v1"


async def create(client: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"type": "call", "subject": "Follow up", "send_reminder": True, **fields}
    response = await client.post(f"{API}/activities", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def mine(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get(f"{API}/notifications", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_due_reminders_are_listed_for_their_recipients_newest_first(client, auth):
    # The frozen clock says 2026-01-20T10:00Z.
    early = await create(client, auth(), subject="Early", notif_time="2026-01-20T07:00:00Z")
    late = await create(
        client, auth(), subject="Late", notif_time="2026-01-20T09:00:00Z", other_users=["bob"]
    )
    await create(client, auth(), subject="Future", notif_time="2026-01-20T11:00:00Z")
    await create(client, auth(), subject="No reminder", send_reminder=False)

    page = await mine(client, auth("alice"), unread="true")
    assert [n["title"] for n in page["items"]] == ["Reminder: Late", "Reminder: Early"]
    assert page["next_cursor"] is None
    item = page["items"][0]
    assert set(item) == {
        "id",
        "activity_id",
        "user_id",
        "title",
        "send_at",
        "status",
        "read",
        "sent_at",
    }
    assert item["activity_id"] == late["id"] and item["user_id"] == "alice"
    assert item["send_at"] == "2026-01-20T09:00:00Z"
    assert (item["status"], item["read"], item["sent_at"]) == ("pending", False, None)
    assert page["items"][1]["activity_id"] == early["id"]

    bobs = await mine(client, auth("bob"))
    assert [n["title"] for n in bobs["items"]] == ["Reminder: Late"]
    assert (await mine(client, auth("carol")))["items"] == []


async def test_mark_read_hides_it_from_unread(client, auth):
    await create(client, auth(), notif_time="2026-01-20T09:00:00Z")
    [item] = (await mine(client, auth(), unread="true"))["items"]

    response = await client.post(f"{API}/notifications/{item['id']}/read", headers=auth())
    assert response.status_code == 204 and response.content == b""
    again = await client.post(f"{API}/notifications/{item['id']}/read", headers=auth())
    assert again.status_code == 204  # idempotent

    assert (await mine(client, auth(), unread="true"))["items"] == []
    [read] = (await mine(client, auth()))["items"]
    assert read["id"] == item["id"] and read["read"] is True


async def test_someone_elses_or_another_tenants_notification_is_not_found(client, auth):
    await create(client, auth(), notif_time="2026-01-20T09:00:00Z", other_users=["bob"])
    [alices] = (await mine(client, auth("alice")))["items"]
    url = f"{API}/notifications/{alices['id']}/read"

    for intruder in (auth("bob"), auth("alice", tenant="other"), auth("mia", roles=["admin"])):
        response = await client.post(url, headers=intruder)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    missing = await client.post(f"{API}/notifications/ntf_missing/read", headers=auth())
    assert missing.status_code == 404
    assert (await mine(client, auth("alice", tenant="other")))["items"] == []
    [still] = (await mine(client, auth("alice"), unread="true"))["items"]
    assert still["id"] == alices["id"]


async def test_odoo_identity_sees_reminders_addressed_to_it(client, auth):
    await create(
        client, auth(), notif_time="2026-01-20T09:00:00Z", user_id="odoo:7", other_users=[]
    )
    [item] = (await mine(client, auth("olga", odoo_uid=7)))["items"]
    assert item["user_id"] == "odoo:7"
    response = await client.post(
        f"{API}/notifications/{item['id']}/read", headers=auth("olga", odoo_uid=7)
    )
    assert response.status_code == 204


async def test_cursor_pages_through_without_gaps(client, auth):
    for hour in range(5):
        await create(client, auth(), notif_time=f"2026-01-20T0{hour + 4}:00:00Z")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await mine(client, auth(), **params)
        seen += [n["send_at"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"2026-01-20T0{h}:00:00Z" for h in (8, 7, 6, 5, 4)]


async def test_limit_and_cursor_are_validated(client, auth):
    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"}):
        response = await client.get(f"{API}/notifications", params=params, headers=auth())
        assert response.status_code == 422, params
    assert (await client.get(f"{API}/notifications")).status_code == 401


async def test_activity_detail_lists_its_notifs_and_list_routes_do_not(client, auth, app, clock):
    activity = await create(
        client, auth(), date="2026-01-20", start_time="08:00:00", other_users=["bob"]
    )
    claimed = await reminders.claim_next(
        app.state["store"], owner="w", now=clock.now(), lease=timedelta(minutes=2)
    )
    assert claimed is not None

    detail = (await client.get(f"{API}/activities/{activity['id']}", headers=auth())).json()
    notifs = detail["notifs"]
    assert [(n["user_id"], n["send_at"]) for n in notifs] == [
        ("alice", "2026-01-20T08:00:00Z"),
        ("bob", "2026-01-20T08:00:00Z"),
    ]
    # One of them is being delivered right now: the API still calls that "pending".
    assert {n["status"] for n in notifs} == {"pending"}
    assert all(n["title"] == "Reminder: Follow up" for n in notifs)

    listed = (await client.get(f"{API}/activities", headers=auth())).json()
    assert "notifs" not in listed["items"][0]

    await client.patch(
        f"{API}/activities/{activity['id']}", json={"send_reminder": False}, headers=auth()
    )
    detail = (await client.get(f"{API}/activities/{activity['id']}", headers=auth())).json()
    # Cancelled reminders leave the list (Netforce deletes them); the one in flight stays.
    assert [n["user_id"] for n in detail["notifs"]] == [claimed["user_id"]]
