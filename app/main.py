"""The app factory. The lifespan owns every client and hands them to requests as typed state."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI

from app.config import Settings, get_settings
from app.deps import reject_operator_params
from app.errors import install_error_handlers
from app.observability import RequestContextMiddleware, configure_logging
from app.openapi import install_problem_openapi
from app.routers import (
    activities,
    analytics,
    dashboard,
    health,
    me,
    notifications,
    sync,
    timeline,
)
from app.services import reminders
from app.services.clock import Clock
from app.services.demo import load_demo_data
from app.services.scheduler import JobScheduler, app_jobs, worker_id
from app.services.sync import SyncRunner
from app.store import Store, open_store

logger = logging.getLogger("app")

API_PREFIX = "/api/v1"


class AppState(TypedDict):
    settings: Settings
    store: Store
    clock: Clock
    sync: SyncRunner


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    """Build the service. Tests pass their own store and a frozen clock."""
    settings = settings or get_settings()
    if configure_logs:
        configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        owned_store = store or open_store(settings)
        await owned_store.ensure_indexes()
        app_clock = clock or Clock()
        if settings.demo_data:
            loaded = await load_demo_data(owned_store, settings, now=app_clock.now())
            logger.info("demo data loaded", extra=loaded)
        logger.info(
            "service started",
            extra={
                "store": "embedded" if owned_store.embedded else "mongodb",
                "env": settings.app_env,
            },
        )
        # One HTTP client for Odoo, for the app's lifetime; nothing connects to Odoo at start-up
        # (it may be down): each sync run connects when it starts.
        odoo_http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=2)
        )
        sync_runner = SyncRunner(owned_store, settings, app_clock, odoo_http)
        scheduler = None
        if settings.scheduler_enabled:
            # Started after the store is ready: the first reminder poll runs now (catch-up).
            scheduler = JobScheduler(
                app_jobs(
                    owned_store,
                    settings,
                    app_clock,
                    email=reminders.email_channel(settings),
                    owner=worker_id(),
                    sync=sync_runner,
                ),
                grace_seconds=settings.smtp_timeout_seconds,
            )
            scheduler.start()
        try:
            yield AppState(settings=settings, store=owned_store, clock=app_clock, sync=sync_runner)
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await sync_runner.aclose()
            await odoo_http.aclose()
            if store is None:
                await owned_store.close()
            logger.info("service stopped")

    app = FastAPI(
        title="Activity Service",
        version="1.0.0",
        summary="Sales activities, dashboard, timeline and Odoo sync for CRM teams.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    install_problem_openapi(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_operator_params)])
    api.include_router(me.router)
    api.include_router(activities.router)
    api.include_router(notifications.router)
    api.include_router(dashboard.router)
    api.include_router(timeline.router)
    api.include_router(sync.router)
    api.include_router(analytics.router)
    app.include_router(api)
    app.include_router(health.router)
    return app
