"""The app factory. The lifespan owns every client and hands them to requests as typed state."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
from fastapi import APIRouter, Depends, FastAPI
from fastapi_offline import FastAPIOffline

from app.config import Settings, get_settings
from app.deps import reject_operator_params
from app.errors import install_error_handlers
from app.observability import RequestContextMiddleware, configure_logging
from app.openapi import install_problem_openapi, operation_id
from app.routers import (
    activities,
    analytics,
    calendar,
    dashboard,
    events,
    exports,
    health,
    me,
    notifications,
    plans,
    records,
    sync,
    timeline,
    timeline_views,
    webhooks,
)
from app.services import leases, reminders
from app.services.clock import Clock
from app.services.demo import load_demo_data
from app.services.event_stream import EventReader
from app.services.scheduler import JobScheduler, app_jobs
from app.services.sync import SyncRunner
from app.store import Store, open_store

logger = logging.getLogger("app")

API_PREFIX = "/api/v1"


class AppState(TypedDict):
    settings: Settings
    store: Store
    clock: Clock
    sync: SyncRunner
    events: EventReader


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
        configure_logging(settings.log_level, settings.log_format_resolved)

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
        # The one reader of the change log in this process; every stream client listens to it.
        event_reader = EventReader(owned_store, settings)
        event_reader.start()
        # Webhook calls: redirects never followed, each attempt cut off at the timeout.
        webhook_http = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        scheduler = None
        if settings.scheduler_enabled:
            # Started after the store is ready: the first reminder poll runs now (catch-up).
            scheduler = JobScheduler(
                app_jobs(
                    owned_store,
                    settings,
                    app_clock,
                    email=reminders.email_channel(settings),
                    owner=leases.holder_id(),
                    sync=sync_runner,
                    webhook_http=webhook_http,
                ),
                grace_seconds=settings.smtp_timeout_seconds,
            )
            scheduler.start()
        try:
            yield AppState(
                settings=settings,
                store=owned_store,
                clock=app_clock,
                sync=sync_runner,
                events=event_reader,
            )
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await event_reader.stop()
            await webhook_http.aclose()
            await sync_runner.aclose()
            await odoo_http.aclose()
            if store is None:
                await owned_store.close()
            logger.info("service stopped")

    # /docs and /redoc load Swagger UI and ReDoc from the service itself (fastapi-offline ships
    # them), never from a CDN: they work offline and wherever CDNs are blocked.
    app = FastAPIOffline(
        title="Activity Service",
        version="1.0.0",
        summary="Sales activities, dashboard, timeline and Odoo sync for CRM teams.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        # No badge from the public validator (it would send the document's URL out).
        swagger_ui_parameters={"displayOperationId": True, "validatorUrl": None},
    )
    install_error_handlers(app)
    install_problem_openapi(app)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_operator_params)])
    api.include_router(me.router)
    # Before activities: /activities/export must not be read as /activities/{activity_id}.
    api.include_router(exports.router)
    api.include_router(activities.router)
    api.include_router(notifications.router)
    api.include_router(dashboard.router)
    api.include_router(timeline.router)
    api.include_router(timeline_views.router)
    api.include_router(calendar.router)
    api.include_router(sync.router)
    api.include_router(plans.router)
    api.include_router(records.router)
    api.include_router(events.router)
    api.include_router(webhooks.router)
    api.include_router(analytics.router)
    app.include_router(api)
    app.include_router(health.router)
    return app


# `uvicorn app.main:app`, `fastapi run app/main.py`: the service as the environment configures
# it. Building it connects to nothing; the lifespan opens the store when the server starts.
app = create_app()
