"""Operations endpoints (no auth): liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from app.deps import StoreDep
from app.errors import ServiceUnavailable
from app.schemas.common import problem_responses

router = APIRouter(tags=["operations"])
logger = logging.getLogger("app.health")

READY_TIMEOUT_SECONDS = 2.0


class HealthStatus(BaseModel):
    status: str


@router.get("/health/live")
async def live() -> HealthStatus:
    """The process is up."""
    return HealthStatus(status="ok")


@router.get("/health/ready", responses=problem_responses(503))
async def ready(store: StoreDep) -> HealthStatus:
    """The store answers; 503 otherwise."""
    try:
        await asyncio.wait_for(store.ping(), READY_TIMEOUT_SECONDS)
    except Exception as exc:  # any store failure means "not ready", never a 500
        logger.warning("readiness check failed", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("The store does not answer") from exc
    return HealthStatus(status="ok")


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics() -> Response:
    """Prometheus metrics in the text exposition format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
