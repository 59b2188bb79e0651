"""The run lifecycle: one run per tenant at a time across replicas, recorded in `sync_runs`.

A lease document `"<tenant>:sync"` in `store.leases` (see `leases.py`) is claimed atomically at
the start, renewed with every page and released at the end; it also holds the sync's durable
state (each model's reading position, `state.py`), written fenced by the lease owner, and the
protocol of the last connection.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx

from app.config import Settings
from app.errors import OdooNotConfigured, SyncAlreadyRunning
from app.schemas.sync import ModelCounts, SyncRun, SyncStarted
from app.services import events, leases
from app.services.clock import Clock, utc_ms
from app.services.sync.run import Run, RunState, SyncFailed, Trigger
from app.services.sync.settings import lease_key
from app.services.sync.state import states_from
from app.store import Store

logger = logging.getLogger("app.sync")

Progress = Callable[[str, ModelCounts, bool], None]
# Finished runs are kept this long (pruned by the service clock at the end of each run).
RUN_RETENTION = timedelta(days=90)
# A scheduled trigger is skipped when any run started more recently than this share of the
# interval ago: with several replicas, the tenant is synced about once per interval.
SCHEDULE_SLACK = 0.9


def counts_field(counts: Mapping[str, ModelCounts]) -> list[dict[str, Any]]:
    return [{"model": model, **c.model_dump()} for model, c in counts.items()]


class SyncRunner:
    """Starts, runs and tracks sync runs for the Odoo tenant; owned by the app's lifespan.

    `start` claims the lease and runs in a background task (the API); `run` does the same in
    the foreground (the CLI, the scheduled job). `aclose` cancels running tasks at shutdown.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        http: httpx.AsyncClient,
        *,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.http = http
        self.owner = owner or leases.holder_id()
        self.tenant = settings.odoo_tenant
        self._tasks: set[asyncio.Task[SyncRun]] = set()
        # The scheduler's interval trigger fires every interval from its start.
        self._schedule_anchor = clock.now()

    @property
    def configured(self) -> bool:
        return self.settings.odoo is not None

    @property
    def scheduled(self) -> bool:
        return (
            self.configured
            and self.settings.scheduler_enabled
            and self.settings.sync_interval_seconds > 0
        )

    def next_run_at(self) -> datetime | None:
        if not self.scheduled:
            return None
        interval = self.settings.sync_interval_seconds
        elapsed = (self.clock.now() - self._schedule_anchor).total_seconds()
        ticks = math.floor(max(elapsed, 0) / interval) + 1
        return self._schedule_anchor + timedelta(seconds=ticks * interval)

    def redact(self, text: str) -> str:
        """``text`` without the configured Odoo secrets (the connector's one redaction)."""
        config = self.settings.odoo
        return config.redact(text) if config is not None else text

    # -- starting ---------------------------------------------------------------------------

    async def start(self, *, full: bool = False, trigger: Trigger = "manual") -> SyncStarted:
        """Claim the lease and run in the background; 409 while a run is in progress."""
        state = await self._begin(trigger=trigger, full=full)
        task = asyncio.create_task(self._execute(state), name=f"sync-{state.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return SyncStarted(run_id=state.run_id)

    def _forget(self, task: asyncio.Task[SyncRun]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Only reachable if recording the run's end failed (the store is down).
            logger.error("sync run task failed", exc_info=error)

    async def run(
        self,
        *,
        full: bool = False,
        trigger: Trigger = "manual",
        progress: Progress | None = None,
        stopping: asyncio.Event | None = None,
    ) -> SyncRun:
        """Run once in the foreground and return the finished run."""
        state = await self._begin(trigger=trigger, full=full)
        return await self._execute(state, progress=progress, stopping=stopping)

    async def run_scheduled(self, stopping: asyncio.Event) -> SyncRun | None:
        """The scheduled job: skipped when another replica ran recently or is running."""
        if not self.configured:
            return None
        latest = await self.store.sync_runs.latest(self.tenant)
        slack = timedelta(seconds=self.settings.sync_interval_seconds * SCHEDULE_SLACK)
        if latest and latest["started_at"] > self.clock.now() - slack:
            return None
        try:
            return await self.run(trigger="scheduled", stopping=stopping)
        except SyncAlreadyRunning:
            return None

    async def aclose(self) -> None:
        """Cancel background runs (each records itself failed and releases the lease)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait for the background runs of this process to finish (tests, the CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _begin(self, *, trigger: Trigger, full: bool) -> RunState:
        if not self.configured:
            raise OdooNotConfigured()
        run_id = uuid.uuid4().hex
        now = utc_ms(self.clock.now())
        key = lease_key(self.tenant)
        claimed = await self.store.leases.acquire(
            key,
            owner=self.owner,
            ttl_seconds=self.settings.sync_lease_seconds,
            now=now,
            on_insert={"tenant_id": self.tenant, "seq": 0, "watermarks": []},
            claim={"run_id": run_id},
            increment={"seq": 1},
        )
        if claimed is None:
            held = await self.store.leases.holder(key)
            raise SyncAlreadyRunning(held.get("run_id") if held else None)
        try:
            models = states_from(claimed)
            full = full or not models or await self._reconcile_due()
            # Holding the lease, no other run of the tenant is alive: any still marked running
            # was abandoned by a worker that died (its lease expired).
            await self.store.sync_runs.abandon_running(self.tenant, now=now)
            state = RunState(
                run_id=run_id,
                tenant=self.tenant,
                trigger=trigger,
                full=full,
                started_at=now,
                models=models,
            )
            await self.store.sync_runs.start(
                self.tenant, run_id, trigger=trigger, full=full, started_at=now
            )
        except BaseException:
            await self.store.leases.release(key, owner=self.owner)
            raise
        logger.info(
            "sync run started",
            extra={"run_id": run_id, "trigger": trigger, "full": full, "tenant": self.tenant},
        )
        return state

    async def _reconcile_due(self) -> bool:
        """Every SYNC_RECONCILE_EVERY-th successful run is a full one."""
        last_full = await self.store.sync_runs.latest_succeeded(self.tenant, full=True)
        if last_full is None:
            return True
        since = await self.store.sync_runs.count_succeeded_since(
            self.tenant, last_full["started_at"]
        )
        return since + 1 >= self.settings.sync_reconcile_every

    # -- running ----------------------------------------------------------------------------

    async def _execute(
        self,
        state: RunState,
        *,
        progress: Progress | None = None,
        stopping: asyncio.Event | None = None,
    ) -> SyncRun:
        run = Run(self, state, progress=progress, stopping=stopping)
        status: Literal["succeeded", "failed"] = "failed"
        try:
            await run.execute()
            status = "succeeded"
        except SyncFailed as exc:
            state.errors.insert(0, self.redact(str(exc)))
        except asyncio.CancelledError:
            state.errors.insert(
                0, "cancelled: the service stopped during the run; the next run resumes"
            )
            await self._finish(state, "failed")
            raise
        except Exception as exc:
            logger.exception("sync run failed unexpectedly", extra={"run_id": state.run_id})
            state.errors.insert(0, f"internal error: {type(exc).__name__} (see the service logs)")
        finished = await self._finish(state, status)
        await events.record_sync_finished(self.store, state.tenant, finished, now=self.clock.now())
        return finished

    async def save_counts(self, state: RunState) -> None:
        await self.store.sync_runs.save_counts(state.run_id, counts_field(state.counts))

    async def _finish(self, state: RunState, status: Literal["succeeded", "failed"]) -> SyncRun:
        if state.dropped_errors:
            state.errors.append(f"... and {state.dropped_errors} more")
        finished_at = utc_ms(self.clock.now())
        try:
            async with asyncio.timeout(10):
                await self.store.sync_runs.finish(
                    state.run_id,
                    status=status,
                    finished_at=finished_at,
                    counts=counts_field(state.counts),
                    errors=state.errors,
                )
                await self.store.sync_runs.prune(
                    state.tenant, started_before=finished_at - RUN_RETENTION
                )
        finally:
            await self.store.leases.release(lease_key(state.tenant), owner=self.owner, changes={})
        totals = {
            model: f"{c.fetched}/{c.upserted}/{c.deactivated}" for model, c in state.counts.items()
        }
        log = logger.info if status == "succeeded" else logger.warning
        log(
            f"sync run {status}",
            extra={
                "run_id": state.run_id,
                "full": state.full,
                "seconds": round((finished_at - state.started_at).total_seconds(), 3),
                "counts": " ".join(f"{m}={t}" for m, t in totals.items()),
                "errors": " | ".join(state.errors)[:2000],
            },
        )
        return SyncRun(
            run_id=state.run_id,
            trigger=state.trigger,
            status=status,
            started_at=state.started_at,
            finished_at=finished_at,
            full=state.full,
            counts=dict(state.counts),
            errors=list(state.errors),
        )
