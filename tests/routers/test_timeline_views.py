"""Saved timeline views: CRUD, sharing, soft delete, and items = GET /timeline with its filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.routers.test_timeline import batch, get, message, store_messages, walk

API = "/api/v1"
VIEWS = f"{API}/timeline/views"


async def create(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(VIEWS, json={"name": "My calls", **body}, headers=headers)
    assert response.status_code == 201, response.text
    view: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/api/v1/timeline/views/{view['id']}"
    return view


async def seed_stream(client: Any, auth: Any, store: Any) -> None:
    await batch(
        client,
        auth(),
        [
            {
                "type": ("call", "email", "meeting")[n % 3],
                "subject": f"Activity {n}",
                "date": f"2026-01-{1 + n:02d}",
                "related_id": f"crm.lead,{n % 2}",
            }
            for n in range(12)
        ],
    )
    await store_messages(
        store,
        [message(n, res_id=n % 2, date=datetime(2026, 1, n, 12, tzinfo=UTC)) for n in range(1, 8)],
    )


async def test_view_round_trip_and_listing(client, auth):
    view = await create(
        client,
        auth(),
        filters={"kind": "activity", "type": ["call"], "since": "2026-01-01T00:00:00+04:00"},
        columns=["occurred_at", "title", "activity.state"],
        color_scheme={"call": "#1f77b4", "message": "#AABBCC"},
        shared_with=["bob"],
    )
    assert view["owner_id"] == "alice" and view["version"] == 1 and view["can_edit"]
    # a single value is a list of one, as in a query string; the rest are GET /timeline defaults
    assert view["filters"]["kind"] == ["activity"]
    assert view["filters"]["type"] == ["call"]
    assert view["filters"]["order"] == "desc" and view["filters"]["limit"] == 50
    assert "cursor" not in view["filters"]
    assert view["columns"] == ["occurred_at", "title", "activity.state"]
    assert view["color_scheme"] == {"call": "#1f77b4", "message": "#AABBCC"}
    for scheme in ({"fax": "#000000"}, {"call": "red"}):
        response = await client.post(
            VIEWS, json={"name": "v", "color_scheme": scheme}, headers=auth()
        )
        assert response.status_code == 422, scheme

    again = await get(client, f"/timeline/views/{view['id']}", auth())
    assert again == view
    listed = await get(client, "/timeline/views", auth())
    assert [v["id"] for v in listed["items"]] == [view["id"]]


async def test_who_sees_and_who_changes_a_view(client, auth):
    private = await create(client, auth(), name="b private")
    shared = await create(client, auth(), name="c shared", shared_with=["odoo:7"])
    public = await create(client, auth(), name="a public", is_public=True)

    async def visible(headers: dict[str, str]) -> list[str]:
        return [v["name"] for v in (await get(client, "/timeline/views", headers))["items"]]

    assert await visible(auth()) == ["a public", "b private", "c shared"]
    bob = auth("bob", odoo_uid=7)  # shared with one of bob's identities
    assert await visible(bob) == ["a public", "c shared"]
    assert await visible(auth("carol")) == ["a public"]
    assert await visible(auth("mallory", tenant="other")) == []

    for view, readers in ((private, []), (shared, [bob]), (public, [bob, auth("carol")])):
        for headers in readers:
            response = await client.get(f"{VIEWS}/{view['id']}", headers=headers)
            assert response.status_code == 200
            assert response.json()["can_edit"] is False
            patch = await client.patch(f"{VIEWS}/{view['id']}", json={"name": "x"}, headers=headers)
            assert patch.status_code == 403
            assert (
                await client.delete(f"{VIEWS}/{view['id']}", headers=headers)
            ).status_code == 403
    # not visible, or another tenant's: 404, exactly as a missing id
    for headers in (auth("carol"), auth("alice", tenant="other")):
        for method in ("GET", "PATCH", "DELETE"):
            response = await client.request(
                method, f"{VIEWS}/{private['id']}", headers=headers, json={"name": "x"}
            )
            assert response.status_code == 404, (method, headers)
    assert (await client.get(f"{VIEWS}/view_missing", headers=auth())).status_code == 404
    assert (
        await client.get(f"{VIEWS}/{private['id']}/items", headers=auth("carol"))
    ).status_code == 404

    # a manager may change (and so see) any view of the tenant
    manager = auth("max", roles=["manager"])
    response = await client.patch(
        f"{VIEWS}/{private['id']}", json={"name": "b renamed"}, headers=manager
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response.json()["can_edit"] is True


async def test_patch_replaces_given_fields_and_delete_is_soft(client, auth, store):
    view = await create(client, auth(), filters={"type": ["call"], "q": "x"}, columns=["title"])
    response = await client.patch(
        f"{VIEWS}/{view['id']}",
        json={"filters": {"kind": ["message"]}, "is_public": True},
        headers=auth(),
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["filters"]["kind"] == ["message"]
    assert patched["filters"]["type"] is None and patched["filters"]["q"] is None
    assert patched["columns"] == ["title"] and patched["is_public"] is True
    assert patched["version"] == 2
    for body in ({"name": None}, {"is_public": None}, {"owner_id": "bob"}, {"filters": {"x": 1}}):
        response = await client.patch(f"{VIEWS}/{view['id']}", json=body, headers=auth())
        assert response.status_code == 422, body

    assert (await client.delete(f"{VIEWS}/{view['id']}", headers=auth())).status_code == 204
    assert (await client.get(f"{VIEWS}/{view['id']}", headers=auth())).status_code == 404
    assert (await get(client, "/timeline/views", auth("bob")))["items"] == []
    assert (await client.delete(f"{VIEWS}/{view['id']}", headers=auth())).status_code == 404
    # soft: the document stays, marked deleted
    kept = await store.timeline_views.collection.find_one({"id": view["id"]})
    assert kept["is_deleted"] is True and kept["deleted_by"] == "alice"


@pytest.mark.parametrize(
    "filters",
    [
        {"kind": ["task"]},
        {"type": ["fax"]},
        {"order": "sideways"},
        {"limit": 0},
        {"limit": 201},
        {"since": "2026-01-01T00:00:00"},  # no offset
        {"related": "sale.opportunity,"},
        {"cursor": "abc"},
        {"unknown": 1},
        {"user_id": "x" * 129},
        {"message_type": ["NOT VALID"]},
    ],
)
async def test_filters_are_validated_like_the_timeline_query_string(client, auth, filters):
    response = await client.post(VIEWS, json={"name": "v", "filters": filters}, headers=auth())
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["loc"][:2] == ["body", "filters"]
    # the same values in GET /timeline's query string are refused too (but cursor and unknown
    # keys, which a query string may carry)
    if not {"cursor", "unknown"} & set(filters):
        params = {k: v for k, v in filters.items()}
        response = await client.get(f"{API}/timeline", params=params, headers=auth())
        assert response.status_code == 422, filters


async def test_items_are_the_timeline_with_the_view_filters_and_overrides(client, auth, store):
    await seed_stream(client, auth, store)
    filters = {"kind": ["activity"], "type": ["call", "meeting"], "order": "asc", "limit": 3}
    view = await create(client, auth(), filters=filters)
    path = f"/timeline/views/{view['id']}/items"

    expected = await walk(client, "/timeline", auth(), **filters)
    assert len(expected) == 8
    assert await walk(client, path, auth()) == expected  # paging with the view's own limit
    # query parameters override the saved ones, key by key
    override = {"kind": ["message"], "limit": 50}
    assert await walk(client, path, auth(), **override) == await walk(
        client, "/timeline", auth(), **{**filters, **override}
    )
    related = {"related": "crm.lead,1", "order": "desc"}
    assert await walk(client, path, auth(), **related) == await walk(
        client, "/timeline", auth(), **{**filters, **related}
    )
    # an invalid override is a 422 located in the query, like GET /timeline's
    response = await client.get(f"{API}{path}", params={"order": "up"}, headers=auth())
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "order"]
    # urgency follows the request tz, as on GET /timeline
    items = (await get(client, path, auth(), tz="Pacific/Kiritimati"))["items"]
    assert (
        items
        == (await get(client, "/timeline", auth(), **filters, tz="Pacific/Kiritimati"))["items"]
    )


async def test_list_pages_by_name_with_a_cursor(client, auth):
    names = [f"view {n:02d}" for n in range(7)]
    for name in reversed(names):
        await create(client, auth(), name=name)
    await create(client, auth("bob"), name="bob's own")  # private to bob
    assert [v["name"] for v in await walk(client, "/timeline/views", auth(), limit=3)] == names
    response = await client.get(VIEWS, params={"cursor": "bogus"}, headers=auth())
    assert response.status_code == 422
