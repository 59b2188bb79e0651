"""GET /activities: every filter in the database, stable sorts, cursor pagination."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

API = "/api/v1/activities"


async def batch(client: Any, headers: dict[str, str], items: list[dict[str, Any]]) -> list[str]:
    response = await client.post(f"{API}/batch", json={"items": items}, headers=headers)
    assert response.status_code == 201, response.text
    return list(response.json()["ids"])


async def walk(client: Any, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(API, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def expected_order(items: list[dict[str, Any]], sort: str) -> list[str]:
    field = sort.lstrip("-")

    def key(a: dict[str, Any]) -> tuple[str, str, str]:
        value = a[field] if field != "due_date" else (a["due_date"] or "9999-12-31")
        return (value, a["start_time"] or "24:00:00", a["id"])

    return [a["id"] for a in sorted(items, key=key, reverse=sort.startswith("-"))]


@pytest.mark.parametrize("sort", ["date", "-date", "due_date", "-due_date"])
async def test_cursor_walk_with_many_ties_has_no_gaps_or_duplicates(client, auth, sort):
    rng = random.Random(sort)
    items = [
        {
            "type": "task",
            "subject": f"t{i}",
            "date": rng.choice(["2026-01-19", "2026-01-20"]),
            "due_date": rng.choice([None, "2026-01-20", "2026-01-21"]),
            "start_time": rng.choice([None, "09:00:00", "09:00:00", "10:00:00"]),
        }
        for i in range(157)
    ]
    await batch(client, auth(), items)
    everything = await walk(client, auth(), sort=sort, limit=200)
    assert len(everything) == 157
    paged = await walk(client, auth(), sort=sort, limit=7)
    assert [a["id"] for a in paged] == [a["id"] for a in everything]
    assert [a["id"] for a in paged] == expected_order(everything, sort)


async def test_pages_stay_correct_while_activities_are_inserted(client, auth):
    await batch(
        client,
        auth(),
        [{"type": "task", "subject": f"a{i}", "date": "2026-01-20"} for i in range(60)],
    )
    before = {a["id"] for a in await walk(client, auth(), limit=200)}
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        params: dict[str, Any] = {"limit": 9, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(API, params=params, headers=auth())).json()
        seen.extend(a["id"] for a in page["items"])
        # Concurrent writers add rows with the same sort keys between page reads.
        await asyncio.gather(
            *(
                client.post(
                    API,
                    json={"type": "call", "subject": "new", "date": "2026-01-20"},
                    headers=auth(),
                )
                for _ in range(3)
            )
        )
        inserted += 3
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "duplicates across pages"
    assert before <= set(seen), "rows present before the walk were skipped"


async def test_every_filter_is_applied(client, auth, clock):
    await batch(
        client,
        auth("alice", odoo_uid=7),
        [
            {
                "type": "call",
                "subject": "Call ACME about pricing",
                "state": "new",
                "priority": "high",
                "date": "2026-01-10",
                "due_date": "2026-01-15",
                "contact_id": "c1",
                "related_id": "sale.opportunity,1",
            },
            {
                "type": "email",
                "subject": "Send proposal",
                "description": "pricing (v2) [draft]",
                "state": "in_progress",
                "date": "2026-01-20",
                "due_date": "2026-01-20",
                "user_id": "odoo:7",
            },
            {
                "type": "meeting",
                "subject": "Demo",
                "state": "done",
                "priority": "low",
                "date": "2026-01-25",
                "due_date": "2026-01-25",
                "user_id": "bob",
            },
            {
                "type": "task",
                "subject": "Prepare",
                "state": "waiting",
                "date": "2026-01-30",
                "user_id": "bob",
                "related_id": "sale.opportunity,1",
            },
        ],
    )

    async def subjects(**params: Any) -> list[str]:
        response = await client.get(
            API, params={"limit": 200, **params}, headers=auth("alice", odoo_uid=7)
        )
        assert response.status_code == 200, response.text
        return sorted(a["subject"] for a in response.json()["items"])

    assert await subjects(type=["call", "email"]) == ["Call ACME about pricing", "Send proposal"]
    assert await subjects(state="done") == ["Demo"]
    assert await subjects(state_not=["done", "waiting"]) == [
        "Call ACME about pricing",
        "Send proposal",
    ]
    assert await subjects(user_id="me") == ["Call ACME about pricing", "Send proposal"]
    assert await subjects(user_id="bob") == ["Demo", "Prepare"]
    assert await subjects(priority="high") == ["Call ACME about pricing"]
    assert await subjects(source="local") == await subjects()
    assert await subjects(source="odoo") == []
    assert await subjects(contact_id="c1") == ["Call ACME about pricing"]
    assert await subjects(related="sale.opportunity,1") == ["Call ACME about pricing", "Prepare"]
    assert await subjects(date_from="2026-01-20", date_to="2026-01-25") == ["Demo", "Send proposal"]
    assert await subjects(due_before="2026-01-20") == ["Call ACME about pricing"]
    assert await subjects(due_after="2026-01-20") == ["Demo"]
    # Frozen "today" is 2026-01-20 (UTC).
    assert await subjects(urgency="overdue") == ["Call ACME about pricing"]
    assert await subjects(urgency="today") == ["Send proposal"]
    assert await subjects(urgency=["done", "no_due_date"]) == ["Demo", "Prepare"]
    assert await subjects(q="PRICING") == ["Call ACME about pricing", "Send proposal"]
    assert await subjects(q="(v2) [draft]") == ["Send proposal"]
    assert await subjects(q=".*") == []
    assert await subjects(type="call", urgency="overdue", user_id="me") == [
        "Call ACME about pricing"
    ]


async def test_include_total_counts_the_whole_filter(client, auth):
    await batch(client, auth(), [{"type": "note", "subject": f"n{i}"} for i in range(25)])
    page = (
        await client.get(API, params={"limit": 10, "include_total": "true"}, headers=auth())
    ).json()
    assert len(page["items"]) == 10 and page["total"] == 25 and page["next_cursor"]
    assert "total" not in (await client.get(API, headers=auth())).json()


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"sort": "subject"},
        {"urgency": "soon"},
        {"related": "sale.opportunity"},
        {"date_from": "20-01-2026"},
        {"cursor": "garbage!"},
        {"tz": "Mars/Olympus"},
        {"user_id[$ne]": "x"},
        {"$where": "1"},
        {"state[$in]": "new"},
    ],
)
async def test_bad_search_parameters_are_422(client, auth, params):
    response = await client.get(API, params=params, headers=auth())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


async def test_cursor_of_another_sort_is_rejected(client, auth):
    await batch(client, auth(), [{"type": "note", "subject": f"n{i}"} for i in range(5)])
    page = (await client.get(API, params={"limit": 2, "sort": "date"}, headers=auth())).json()
    response = await client.get(
        API, params={"limit": 2, "sort": "-date", "cursor": page["next_cursor"]}, headers=auth()
    )
    assert response.status_code == 422
