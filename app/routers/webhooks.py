"""Webhook subscriptions (admin) and their delivery log. HTTP in and out only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from app.deps import ClockDep, CurrentUser, SettingsDep, StoreDep
from app.schemas.common import Limit, problem_responses
from app.schemas.webhooks import DeliveryPage, WebhookCreate, WebhookCreated, WebhookList
from app.services import webhooks
from app.services.auth import Principal, require_roles

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhookId = Annotated[str, Path(max_length=64, description="Webhook id")]


async def admin_user(user: CurrentUser) -> Principal:
    require_roles(user, "admin")
    return user


AdminUser = Annotated[Principal, Depends(admin_user)]


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422)
)
async def create_webhook(
    payload: WebhookCreate,
    user: AdminUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    response: Response,
) -> WebhookCreated:
    """Subscribe a URL to events; the signing secret is shown only in this response."""
    created = await webhooks.create_webhook(
        store, user, payload, settings=settings, now=clock.now()
    )
    response.headers["Location"] = f"/api/v1/webhooks/{created.id}"
    return created


@router.get("", responses=problem_responses(401, 403))
async def list_webhooks(user: AdminUser, store: StoreDep) -> WebhookList:
    """My tenant's webhooks (without secrets)."""
    return await webhooks.list_webhooks(store, user)


@router.delete(
    "/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def delete_webhook(webhook_id: WebhookId, user: AdminUser, store: StoreDep) -> Response:
    """Delete a webhook; its pending deliveries are dropped."""
    await webhooks.delete_webhook(store, user, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", responses=problem_responses(401, 403, 404, 422))
async def list_deliveries(
    webhook_id: WebhookId,
    user: AdminUser,
    store: StoreDep,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> DeliveryPage:
    """A webhook's deliveries with their attempts, newest event first."""
    return await webhooks.list_deliveries(store, user, webhook_id, limit=limit, cursor=cursor)
