"""Sync routes against the real app and the simulator over real HTTP: 202/409/404/403,
runs and status, reads after a sync (dashboard, contact auto-fill), the API stays responsive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.services.clock import FrozenClock
from app.services.sync import SyncRunner
from app.store import Store
from tests.conftest import LifespanApp, make_settings
from tests.odoo_sim import OdooSim, running_sim
from tests.sync_support import TENANT, expected_rows, sync_settings

Auth = Callable[..., dict[str, str]]
SYNC = "/api/v1/sync"


@pytest.fixture
def sim() -> OdooSim:
    return OdooSim.generate(activities=80, messages=150, seed=9, version=19)


@pytest.fixture
async def odoo_url(sim: OdooSim) -> AsyncIterator[str]:
    async with running_sim(sim) as url:
        yield url


@pytest.fixture
def settings(sim: OdooSim, odoo_url: str) -> Settings:
    return sync_settings(sim, odoo_url)


@pytest.fixture
def ops(auth: Auth) -> dict[str, str]:
    return auth("olivia", tenant=TENANT, roles=["ops"])


def runner_of(app: LifespanApp) -> SyncRunner:
    runner: SyncRunner = app.state["sync"]
    return runner


async def synced(client: httpx.AsyncClient, app: LifespanApp, headers: dict[str, str]) -> str:
    """Start a run, wait for it, return its id."""
    response = await client.post(f"{SYNC}/odoo", headers=headers)
    assert response.status_code == 202, response.text
    await runner_of(app).wait_idle()
    run_id: str = response.json()["run_id"]
    return run_id


async def test_a_started_run_is_202_and_readable_when_it_finishes(
    client: httpx.AsyncClient,
    app: LifespanApp,
    ops: dict[str, str],
    sim: OdooSim,
    settings: Settings,
) -> None:
    response = await client.post(f"{SYNC}/odoo", headers=ops)

    assert response.status_code == 202
    run_id = response.json()["run_id"]
    assert response.json() == {"run_id": run_id, "status": "running"}
    assert response.headers["location"] == f"/api/v1/sync/runs/{run_id}"
    await runner_of(app).wait_idle()

    run = (await client.get(f"{SYNC}/runs/{run_id}", headers=ops)).json()
    assert run["status"] == "succeeded" and run["trigger"] == "manual" and run["full"] is True
    assert run["errors"] == [] and run["finished_at"] is not None
    sizes = {model: len(rows) for model, rows in expected_rows(sim, settings).items()}
    assert run["counts"] == {
        model: {"fetched": n, "upserted": n, "deactivated": 0} for model, n in sizes.items()
    }


async def test_runs_are_listed_newest_first(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str], clock: FrozenClock
) -> None:
    first = await synced(client, app, ops)
    clock.advance(timedelta(minutes=5))
    second = await synced(client, app, ops)

    listed = (await client.get(f"{SYNC}/runs?limit=10", headers=ops)).json()["items"]
    assert [r["run_id"] for r in listed] == [second, first]
    assert [r["full"] for r in listed] == [False, True]
    limited = (await client.get(f"{SYNC}/runs?limit=1", headers=ops)).json()["items"]
    assert [r["run_id"] for r in limited] == [second]


async def test_status_reports_protocol_watermarks_and_last_success(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str], sim: OdooSim
) -> None:
    before = (await client.get(f"{SYNC}/status", headers=ops)).json()
    assert before["enabled"] is True and before["last_success_at"] is None
    assert all(mark is None for mark in before["watermarks"].values())

    run_id = await synced(client, app, ops)

    status = (await client.get(f"{SYNC}/status", headers=ops)).json()
    run = (await client.get(f"{SYNC}/runs/{run_id}", headers=ops)).json()
    assert status["protocol"] == "json2"
    assert status["last_success_at"] == run["finished_at"]
    assert status["interval_seconds"] == 0 and status["next_run_at"] is None  # scheduler off
    last_message = max(
        (row["write_date"], mid)
        for mid, row in sim.table("mail.message").items()
        if row["model"] == "crm.lead"
    )
    assert status["watermarks"]["mail.message"] == {
        "write_date": last_message[0].replace(" ", "T") + "Z",
        "id": last_message[1],
    }
    assert set(status["watermarks"]) == {
        "mail.activity.type",
        "res.users",
        "res.partner",
        "crm.lead",
        "mail.activity",
        "mail.message",
    }


async def test_a_second_trigger_while_running_is_409_with_the_running_run_id(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str], sim: OdooSim
) -> None:
    sim.delay(0.3, model="mail.activity", method="search_read")

    first = await client.post(f"{SYNC}/odoo", headers=ops)
    second = await client.post(f"{SYNC}/odoo?full=true", headers=ops)

    assert first.status_code == 202
    assert second.status_code == 409
    assert second.headers["content-type"] == "application/problem+json"
    problem = second.json()
    assert problem["status"] == 409 and problem["run_id"] == first.json()["run_id"]
    await runner_of(app).wait_idle()


async def test_concurrent_triggers_start_exactly_one_run(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str]
) -> None:
    responses = await asyncio.gather(*(client.post(f"{SYNC}/odoo", headers=ops) for _ in range(6)))

    codes = sorted(r.status_code for r in responses)
    assert codes == [202, 409, 409, 409, 409, 409]
    started = next(r for r in responses if r.status_code == 202).json()["run_id"]
    assert {r.json()["run_id"] for r in responses if r.status_code == 409} == {started}
    await runner_of(app).wait_idle()
    listed = (await client.get(f"{SYNC}/runs", headers=ops)).json()["items"]
    assert [r["run_id"] for r in listed] == [started]


@pytest.mark.parametrize("roles", [["user"], ["manager"], ["user", "manager"]])
async def test_sync_routes_need_ops_or_admin(
    client: httpx.AsyncClient, auth: Auth, roles: list[str]
) -> None:
    headers = auth("bob", tenant=TENANT, roles=roles)

    for method, path in (
        ("POST", f"{SYNC}/odoo"),
        ("GET", f"{SYNC}/runs"),
        ("GET", f"{SYNC}/runs/x"),
        ("GET", f"{SYNC}/status"),
    ):
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 403, (method, path)
    assert (await client.get(f"{SYNC}/status")).status_code == 401


async def test_admin_may_sync(client: httpx.AsyncClient, app: LifespanApp, auth: Auth) -> None:
    run_id = await synced(client, app, auth("ada", tenant=TENANT, roles=["admin"]))
    assert run_id


async def test_ops_of_another_tenant_get_404_everywhere(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str], auth: Auth
) -> None:
    run_id = await synced(client, app, ops)
    stranger = auth("eve", tenant="other", roles=["ops", "admin"])

    for method, path in (
        ("POST", f"{SYNC}/odoo"),
        ("GET", f"{SYNC}/runs"),
        ("GET", f"{SYNC}/runs/{run_id}"),
        ("GET", f"{SYNC}/status"),
    ):
        response = await client.request(method, path, headers=stranger)
        assert response.status_code == 404, (method, path)
        assert run_id not in response.text


async def test_an_unknown_run_is_404(client: httpx.AsyncClient, ops: dict[str, str]) -> None:
    response = await client.get(f"{SYNC}/runs/nope", headers=ops)
    assert response.status_code == 404 and response.json()["detail"] == "Sync run 'nope' not found"


async def test_without_odoo_configured_a_trigger_is_409_and_status_says_disabled(
    store: Store, clock: FrozenClock, auth: Auth
) -> None:
    settings = make_settings(odoo_tenant=TENANT)
    application = create_app(settings, store=store, clock=clock, configure_logs=False)
    async with application.router.lifespan_context(application) as state:
        transport = httpx.ASGITransport(app=LifespanApp(application, dict(state or {})))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = auth("olivia", tenant=TENANT, roles=["ops"])
            response = await client.post(f"{SYNC}/odoo", headers=headers)
            status = (await client.get(f"{SYNC}/status", headers=headers)).json()

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "ODOO_URL" in response.json()["detail"] and "run_id" not in response.json()
    assert status["enabled"] is False and status["protocol"] is None


# ---------------------------------------------------------------------------- reading synced data


async def test_synced_activities_without_deadline_land_in_no_due_date(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str], sim: OdooSim
) -> None:
    await synced(client, app, ops)

    summary = (await client.get("/api/v1/dashboard/summary?tz=UTC", headers=ops)).json()

    rows = list(sim.table("mail.activity").values())
    done = [r for r in rows if r["active"] is False or r["date_done"]]
    open_without_deadline = [r for r in rows if r not in done and not r["date_deadline"]]
    assert summary["total"] == len(rows)
    assert summary["completed"] == len(done)
    assert summary["no_due_date"] == len(open_without_deadline) > 0
    assert summary["by_source"].get("odoo") == len(rows)
    found = (
        await client.get(
            "/api/v1/activities?urgency=no_due_date&source=odoo&include_total=true&limit=200",
            headers=ops,
        )
    ).json()
    assert found["total"] == len(open_without_deadline)


async def test_a_local_activity_on_a_synced_opportunity_gets_its_contact(
    client: httpx.AsyncClient, app: LifespanApp, ops: dict[str, str], sim: OdooSim, auth: Auth
) -> None:
    await synced(client, app, ops)
    lead_id, lead = next((lid, r) for lid, r in sim.table("crm.lead").items() if r["partner_id"])

    response = await client.post(
        "/api/v1/activities",
        json={"type": "call", "subject": "Call back", "related_id": f"crm.lead,{lead_id}"},
        headers=auth("alice", tenant=TENANT),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contact_id"] == str(lead["partner_id"][0])
    assert body["contact_name"] == lead["partner_id"][1]
    assert body["related"]["name"] == lead["name"]


async def test_odoo_activities_are_read_only_and_unlinked_ones_vanish(
    client: httpx.AsyncClient,
    app: LifespanApp,
    ops: dict[str, str],
    sim: OdooSim,
    clock: FrozenClock,
) -> None:
    await synced(client, app, ops)
    activity_id = next(iter(sim.table("mail.activity")))
    path = f"/api/v1/activities/odoo_activity_{activity_id}"
    assert (await client.get(path, headers=ops)).status_code == 200
    assert (await client.patch(path, json={"subject": "x"}, headers=ops)).status_code == 409

    sim.unlink("mail.activity", activity_id)
    clock.advance(timedelta(minutes=1))
    response = await client.post(f"{SYNC}/odoo?full=true", headers=ops)
    await runner_of(app).wait_idle()
    run = (await client.get(f"{SYNC}/runs/{response.json()['run_id']}", headers=ops)).json()

    assert run["counts"]["mail.activity"]["deactivated"] == 1
    assert (await client.get(path, headers=ops)).status_code == 404
    timeline = (await client.get("/api/v1/timeline?kind=activity&limit=200", headers=ops)).json()
    assert f"odoo_activity_{activity_id}" not in {item["id"] for item in timeline["items"]}


# ---------------------------------------------------------------------------- responsiveness


async def test_the_api_answers_while_a_sync_runs(
    store: Store, clock: FrozenClock, auth: Auth
) -> None:
    big = OdooSim.generate(activities=1500, messages=2500, seed=4, version=19)
    async with running_sim(big) as url:
        settings = sync_settings(big, url, odoo_page_size=100)
        application = create_app(settings, store=store, clock=clock, configure_logs=False)
        async with application.router.lifespan_context(application) as state:
            app = LifespanApp(application, dict(state or {}))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                headers = auth("olivia", tenant=TENANT, roles=["ops"])
                started = await client.post(f"{SYNC}/odoo", headers=headers)
                run_path = f"{SYNC}/runs/{started.json()['run_id']}"
                await asyncio.sleep(0.05)  # the sync is under way

                seen: list[dict[str, Any]] = []
                for _ in range(3):
                    me = await client.get("/api/v1/me", headers=headers)
                    assert me.status_code == 200
                    seen.append((await client.get(run_path, headers=headers)).json())

                # Every request was answered while the sync was still running, and by then
                # it had made progress (counts are saved per model).
                assert [run["status"] for run in seen] == ["running"] * 3
                await runner_of(app).wait_idle()
                final = (await client.get(run_path, headers=headers)).json()
    assert final["status"] == "succeeded"
    assert final["counts"]["mail.activity"]["upserted"] == len(big.table("mail.activity"))


async def test_shutdown_cancels_a_running_sync_and_records_it(
    store: Store, clock: FrozenClock, auth: Auth, sim: OdooSim, odoo_url: str
) -> None:
    sim.delay(5.0, model="mail.activity", method="search_read")
    settings = sync_settings(sim, odoo_url)
    application = create_app(settings, store=store, clock=clock, configure_logs=False)
    async with application.router.lifespan_context(application) as state:
        app = LifespanApp(application, dict(state or {}))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            headers = auth("olivia", tenant=TENANT, roles=["ops"])
            run_id = (await client.post(f"{SYNC}/odoo", headers=headers)).json()["run_id"]
            await asyncio.sleep(0.1)
    # The lifespan is over: the run was cancelled, recorded failed, and the lease released.
    run = await store.sync_runs.get(TENANT, run_id)
    assert run is not None and run["status"] == "failed"
    assert run["errors"][0].startswith("cancelled: the service stopped")
    lease = await store.leases.collection.find_one({"_id": f"{TENANT}:sync"})
    assert lease is not None and lease["owner"] is None
