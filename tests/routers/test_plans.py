"""Follow-up plans over HTTP: CRUD rights, the built-in plan, apply, Idempotency-Key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

PLANS = "/api/v1/plans"
ACTIVITIES = "/api/v1/activities"

PLAN = {
    "name": "Onboarding",
    "business_days": True,
    "steps": [
        {"type": "call", "subject": "Kick-off call", "offset_days": 1, "start_time": "10:00:00"},
        {
            "type": "meeting",
            "subject": "Review",
            "offset_days": 5,
            "assignee": "record_owner",
            "send_reminder": True,
        },
    ],
}


async def activities_of(client: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(ACTIVITIES, params={"limit": 200}, headers=headers)
    assert response.status_code == 200
    return list(response.json()["items"])


async def create_plan(client: Any, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = await client.post(PLANS, json={**PLAN, **changes}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def apply(
    client: Any, headers: dict[str, str], plan_id: str, key: str | None = None, **body: Any
) -> Any:
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(
        f"{PLANS}/{plan_id}/apply", json={"related": "sale.quot,Q1", **body}, headers=headers
    )


async def test_every_tenant_reads_the_builtin_plan(client, auth):
    for tenant in ("acme", "globex"):
        listed = await client.get(PLANS, headers=auth("alice", tenant=tenant))
        assert listed.status_code == 200
        [builtin] = listed.json()["items"]
        assert builtin["id"] == "quotation_followup" and builtin["builtin"] is True
        steps = [(s["type"], s["offset_days"], s["due_on_date"]) for s in builtin["steps"]]
        assert steps == [("call", 3, False), ("email", 7, False), ("call", 14, True)]
    one = await client.get(f"{PLANS}/quotation_followup", headers=auth("alice"))
    assert one.status_code == 200 and one.json()["builtin"] is True


async def test_builtin_plan_is_read_only(client, auth):
    manager = auth("mia", roles=["manager"])
    patched = await client.patch(
        f"{PLANS}/quotation_followup", json={"name": "Mine"}, headers=manager
    )
    assert patched.status_code == 409
    deleted = await client.delete(f"{PLANS}/quotation_followup", headers=manager)
    assert deleted.status_code == 409
    as_user = await client.delete(f"{PLANS}/quotation_followup", headers=auth("alice"))
    assert as_user.status_code == 403


async def test_managers_write_plans_and_everyone_reads_them(client, auth):
    user, manager = auth("alice"), auth("mia", roles=["manager"])
    assert (await client.post(PLANS, json=PLAN, headers=user)).status_code == 403
    plan = await create_plan(client, manager)
    assert plan["builtin"] is False and plan["created_by"] == "mia" and plan["version"] == 1
    read = await client.get(f"{PLANS}/{plan['id']}", headers=user)
    assert read.status_code == 200 and read.json()["steps"][0]["start_time"] == "10:00:00"
    assert [p["id"] for p in (await client.get(PLANS, headers=user)).json()["items"]] == [
        "quotation_followup",
        plan["id"],
    ]
    assert (
        await client.patch(f"{PLANS}/{plan['id']}", json={"name": "x"}, headers=user)
    ).status_code == 403
    patched = await client.patch(
        f"{PLANS}/{plan['id']}", json={"name": "Renamed"}, headers=auth("ada", roles=["admin"])
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Renamed" and patched.json()["version"] == 2
    assert (await client.delete(f"{PLANS}/{plan['id']}", headers=user)).status_code == 403
    assert (await client.delete(f"{PLANS}/{plan['id']}", headers=manager)).status_code == 204
    assert (await client.get(f"{PLANS}/{plan['id']}", headers=user)).status_code == 404


async def test_plans_are_invisible_to_other_tenants(client, auth):
    plan = await create_plan(client, auth("mia", roles=["manager"]))
    other = auth("mia", tenant="globex", roles=["manager"])
    assert (await client.get(f"{PLANS}/{plan['id']}", headers=other)).status_code == 404
    assert (
        await client.patch(f"{PLANS}/{plan['id']}", json={"name": "x"}, headers=other)
    ).status_code == 404
    assert (await client.delete(f"{PLANS}/{plan['id']}", headers=other)).status_code == 404
    assert (await apply(client, other, plan["id"])).status_code == 404
    assert len((await client.get(PLANS, headers=other)).json()["items"]) == 1


async def test_invalid_plans_are_422(client, auth):
    manager = auth("mia", roles=["manager"])
    for body in (
        {**PLAN, "steps": []},
        {**PLAN, "steps": [{**PLAN["steps"][0], "offset_days": -1}]},
        {**PLAN, "name": "  "},
        {**PLAN, "extra": 1},
    ):
        assert (await client.post(PLANS, json=body, headers=manager)).status_code == 422


async def test_apply_builtin_plan_counts_from_start_date(client, auth):
    headers = auth("alice")
    response = await apply(client, headers, "quotation_followup", start_date="2026-01-20")
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]
    by_id = {a["id"]: a for a in await activities_of(client, headers)}
    created = [by_id[i] for i in ids]
    assert [(a["type"], a["date"], a["due_date"]) for a in created] == [
        ("call", "2026-01-23", None),
        ("email", "2026-01-27", None),
        ("call", "2026-02-03", "2026-02-03"),
    ]
    assert all(a["related"]["model"] == "sale.quot" and a["related"]["id"] == "Q1" for a in created)
    assert all(a["user_id"] == "alice" for a in created)


async def test_start_date_defaults_to_today_in_callers_zone(client, auth, clock):
    clock.set(datetime(2026, 1, 20, 22, 30, tzinfo=UTC))  # the 21st in Dubai
    headers = auth("alice", tz="Asia/Dubai")
    ids = (await apply(client, headers, "quotation_followup")).json()["ids"]
    first = (await client.get(f"{ACTIVITIES}/{ids[0]}", headers=headers)).json()
    assert first["date"] == "2026-01-24"


async def test_apply_with_business_days_record_owner_contact_and_reminders(client, auth):
    manager = auth("mia", roles=["manager"])
    plan = await create_plan(client, manager)
    registered = await client.put(
        "/api/v1/records/sale.quot/Q1",
        json={"name": "Q1 for ACME", "contact_id": "p9", "contact_name": "ACME", "user_id": "bob"},
        headers=manager,
    )
    assert registered.status_code == 201
    headers = auth("alice", tz="America/New_York")
    # 2026-01-23 is a Friday: +1 business day is Monday the 26th, +5 Friday the 30th.
    response = await apply(client, headers, plan["id"], start_date="2026-01-23")
    assert response.status_code == 201, response.text
    call_id, meeting_id = response.json()["ids"]
    call = (await client.get(f"{ACTIVITIES}/{call_id}", headers=headers)).json()
    meeting = (await client.get(f"{ACTIVITIES}/{meeting_id}", headers=headers)).json()
    assert (call["date"], call["user_id"], call["start_time"]) == (
        "2026-01-26",
        "alice",
        "10:00:00",
    )
    assert (meeting["date"], meeting["user_id"]) == ("2026-01-30", "bob")
    for activity in (call, meeting):
        assert activity["related"]["name"] == "Q1 for ACME"
        assert (activity["contact_id"], activity["contact_name"]) == ("p9", "ACME")
    # The reminder went through the batch path: bob's zone is DEFAULT_TZ (UTC), 06:00.
    assert [n["send_at"] for n in meeting["notifs"]] == ["2026-01-30T06:00:00Z"]
    assert call["notifs"] == []


async def test_record_owner_of_an_unknown_record_is_422_and_creates_nothing(client, auth):
    plan = await create_plan(client, auth("mia", roles=["manager"]))
    headers = auth("alice")
    response = await apply(client, headers, plan["id"], related="sale.order,404")
    assert response.status_code == 422
    assert await activities_of(client, headers) == []


async def test_apply_is_all_or_nothing(client, auth):
    headers = auth("alice")
    # The first step fits in the calendar, the last does not: nothing is created.
    response = await apply(client, headers, "quotation_followup", start_date="9999-12-25")
    assert response.status_code == 422
    assert await activities_of(client, headers) == []


async def test_apply_user_id_assigns_caller_steps(client, auth):
    headers = auth("alice")
    ids = (await apply(client, headers, "quotation_followup", user_id="carol")).json()["ids"]
    assert {a["user_id"] for a in await activities_of(client, headers) if a["id"] in ids} == {
        "carol"
    }


async def test_apply_validation_errors(client, auth):
    headers = auth("alice")
    for body in ({"related": "sale.quot"}, {"related": "x,1"}, {"start_date": "soon"}):
        response = await client.post(
            f"{PLANS}/quotation_followup/apply",
            json={"related": "sale.quot,1", **body},
            headers=headers,
        )
        assert response.status_code == 422
    assert (await apply(client, headers, "no_such_plan")).status_code == 404


async def test_same_idempotency_key_answers_same_ids_and_creates_nothing(client, auth):
    headers = auth("alice")
    first = await apply(client, headers, "quotation_followup", key="k-1", start_date="2026-01-20")
    again = await apply(client, headers, "quotation_followup", key="k-1", start_date="2026-01-20")
    assert first.status_code == again.status_code == 201
    assert again.json()["ids"] == first.json()["ids"]
    assert len(await activities_of(client, headers)) == 3


async def test_concurrent_applies_with_one_key_create_once(client, auth):
    headers = auth("alice")
    responses = await asyncio.gather(
        *(apply(client, headers, "quotation_followup", key="race") for _ in range(3))
    )
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert len({tuple(r.json()["ids"]) for r in responses}) == 1
    listed = await activities_of(client, headers)
    assert sorted(a["id"] for a in listed) == sorted(responses[0].json()["ids"])


async def test_reused_key_with_a_different_body_is_422(client, auth):
    headers = auth("alice")
    assert (await apply(client, headers, "quotation_followup", key="k")).status_code == 201
    other = await apply(client, headers, "quotation_followup", key="k", start_date="2026-02-01")
    assert other.status_code == 422
    assert other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    assert len(await activities_of(client, headers)) == 3


async def test_keys_belong_to_their_caller_and_expire_after_a_day(client, auth, clock):
    alice, bob = auth("alice"), auth("bob")
    first = (await apply(client, alice, "quotation_followup", key="k")).json()["ids"]
    bobs = (await apply(client, bob, "quotation_followup", key="k")).json()["ids"]
    assert set(first).isdisjoint(bobs)
    clock.advance(timedelta(hours=23))
    assert (await apply(client, alice, "quotation_followup", key="k")).json()["ids"] == first
    clock.advance(timedelta(hours=2))
    later = (await apply(client, alice, "quotation_followup", key="k")).json()["ids"]
    assert set(later).isdisjoint(first)
    assert len(await activities_of(client, alice)) == 9
