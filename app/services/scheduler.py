"""Scheduled jobs: the one AsyncIOScheduler, and the list of jobs it runs.

Jobs are thin wrappers over service functions. Each runs on every replica; a job that must run
once across replicas makes that safe itself (reminder delivery claims each notification
atomically). The lifespan builds the scheduler from `app_jobs(...)`, starts it, and stops it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from app.config import Settings
from app.services import reminders, retention, webhooks
from app.services.clock import Clock
from app.store import Store

if TYPE_CHECKING:
    from app.services.sync import SyncRunner

logger = logging.getLogger("app.scheduler")
# APScheduler logs every run at INFO ("Running job ...", "executed successfully"): twice per poll
# is noise. Its warnings and errors still show; our jobs log what they did themselves.
logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

# A job receives an event set when the service is stopping: check it between units of work.
JobRun = Callable[[asyncio.Event], Awaitable[object]]


@dataclass(frozen=True)
class Job:
    id: str
    run: JobRun
    interval_seconds: float
    # The first run happens at start-up (catch-up after downtime), then every interval.
    run_at_start: bool = True


def app_jobs(
    store: Store,
    settings: Settings,
    clock: Clock,
    *,
    email: reminders.EmailChannel | None,
    owner: str,
    sync: SyncRunner | None = None,
    webhook_http: httpx.AsyncClient | None = None,
) -> list[Job]:
    """Every job of the service."""

    async def deliver_reminders(stopping: asyncio.Event) -> None:
        await reminders.deliver_due(
            store, email, owner=owner, clock=clock, settings=settings, stopping=stopping
        )

    async def purge_events(stopping: asyncio.Event) -> None:
        await retention.purge(store, settings, now=clock.now())

    jobs = [
        Job("reminders.deliver", deliver_reminders, settings.reminder_poll_seconds),
        Job("events.purge", purge_events, settings.events_purge_seconds),
    ]
    if webhook_http is not None:
        http = webhook_http

        async def deliver_webhooks(stopping: asyncio.Event) -> None:
            await webhooks.deliver_due(
                store, http, owner=owner, clock=clock, settings=settings, stopping=stopping
            )

        jobs.append(Job("webhooks.deliver", deliver_webhooks, settings.webhook_poll_seconds))
    if sync is not None and sync.scheduled:

        async def sync_odoo(stopping: asyncio.Event) -> None:
            await sync.run_scheduled(stopping)

        # Not at start-up: Odoo may be down then, and a restart should not cost a sync.
        jobs.append(Job("sync.odoo", sync_odoo, settings.sync_interval_seconds, run_at_start=False))
    return jobs


class JobScheduler:
    """Owns the AsyncIOScheduler. `start()` inside the running loop; `await stop()` lets running
    jobs finish their current unit of work (up to `grace_seconds`), then cancels them."""

    def __init__(self, jobs: Sequence[Job], *, grace_seconds: float = 10.0) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._stopping = asyncio.Event()
        self._running: set[asyncio.Task[Any]] = set()
        self._grace = grace_seconds
        for job in jobs:
            first_run = {"next_run_time": datetime.now(UTC)} if job.run_at_start else {}
            self._scheduler.add_job(
                self._guarded(job),
                IntervalTrigger(seconds=job.interval_seconds, timezone=UTC),
                id=job.id,
                name=job.id,
                max_instances=1,  # a slow run delays the next one, never overlaps it
                coalesce=True,
                misfire_grace_time=None,
                **first_run,
            )

    @property
    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]

    def _guarded(self, job: Job) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if self._stopping.is_set():
                return
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await job.run(self._stopping)
            except Exception:
                # One failed run must not stop the schedule; the next run tries again.
                logger.exception("scheduled job failed", extra={"job": job.id})
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    def start(self) -> None:
        self._scheduler.start()
        logger.info("scheduler started", extra={"jobs": ",".join(self.job_ids)})

    async def stop(self) -> None:
        self._stopping.set()
        if not self._scheduler.running:
            return
        self._scheduler.pause()
        running = set(self._running)
        if running:
            await asyncio.wait(running, timeout=self._grace)
        for task in self._running:
            task.cancel()
        self._scheduler.shutdown(wait=False)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        await asyncio.sleep(0)  # let the scheduler's own shutdown callback run
        logger.info("scheduler stopped")
