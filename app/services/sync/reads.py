"""What the sync routes read: runs and the connection's status, for the Odoo tenant only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.config import Settings
from app.errors import NotFound, SyncRunNotFound
from app.schemas.sync import ModelCounts, SyncRun, SyncRunPage, SyncStarted, SyncStatus, Watermark
from app.services.auth import Principal
from app.services.sync.runner import SyncRunner
from app.services.sync.settings import lease_key, synced_models
from app.services.sync.state import states_from
from app.store import Store


def _check_tenant(user: Principal, settings: Settings) -> None:
    # The Odoo connection belongs to one tenant; to every other tenant it does not exist.
    if user.tenant != settings.odoo_tenant:
        raise NotFound("No Odoo connection for this tenant")


def _run_read(doc: Mapping[str, Any]) -> SyncRun:
    counts = {
        c["model"]: ModelCounts(
            fetched=c["fetched"], upserted=c["upserted"], deactivated=c["deactivated"]
        )
        for c in doc.get("counts") or ()
    }
    return SyncRun.model_validate({**doc, "counts": counts})


async def start_run(runner: SyncRunner, user: Principal, *, full: bool) -> SyncStarted:
    _check_tenant(user, runner.settings)
    return await runner.start(full=full, trigger="manual")


async def list_runs(
    store: Store, settings: Settings, user: Principal, *, limit: int
) -> SyncRunPage:
    _check_tenant(user, settings)
    docs = await store.sync_runs.newest(settings.odoo_tenant, limit=limit)
    return SyncRunPage(items=[_run_read(d) for d in docs])


async def get_run(store: Store, settings: Settings, user: Principal, run_id: str) -> SyncRun:
    _check_tenant(user, settings)
    doc = await store.sync_runs.get(settings.odoo_tenant, run_id)
    if doc is None:
        raise SyncRunNotFound(run_id)
    return _run_read(doc)


async def status(runner: SyncRunner, user: Principal) -> SyncStatus:
    settings, store = runner.settings, runner.store
    _check_tenant(user, settings)
    state = await store.leases.holder(lease_key(runner.tenant)) or {}
    last_success = await store.sync_runs.latest_succeeded(runner.tenant)
    models = states_from(state)
    protocol = state.get("protocol") or (
        settings.odoo_protocol if settings.odoo_protocol != "auto" else None
    )
    watermarks: dict[str, Watermark | None] = {}
    for model in synced_models(settings):
        known = models.get(model)
        watermarks[model] = (
            Watermark(write_date=known.write_date, id=known.last_id)
            if known is not None and known.write_date is not None
            else None
        )
    return SyncStatus(
        enabled=runner.configured,
        interval_seconds=settings.sync_interval_seconds if runner.scheduled else 0,
        next_run_at=runner.next_run_at(),
        last_success_at=last_success["finished_at"] if last_success else None,
        protocol=protocol if runner.configured else None,
        watermarks=watermarks,
    )
