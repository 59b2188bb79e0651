"""In-app notifications (activity reminders): HTTP in and out, nothing else."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from app.deps import ClockDep, CurrentUser, StoreDep
from app.schemas.common import Limit, problem_responses
from app.schemas.notification import NotificationPage
from app.services import reminders

router = APIRouter(prefix="/notifications", tags=["notifications"])

NotificationId = Annotated[str, Path(max_length=128, description="Notification id")]


@router.get("", responses=problem_responses(401, 403, 422))
async def list_notifications(
    user: CurrentUser,
    store: StoreDep,
    clock: ClockDep,
    unread: Annotated[bool, Query(description="only the ones not marked read")] = False,
    limit: Limit = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> NotificationPage:
    """My notifications that are due (send_at has passed), newest first."""
    return await reminders.list_mine(
        store, user, now=clock.now(), unread=unread, limit=limit, cursor=cursor
    )


@router.post(
    "/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404),
)
async def mark_read(
    notification_id: NotificationId, user: CurrentUser, store: StoreDep, clock: ClockDep
) -> Response:
    """Mark one of my notifications read (idempotent)."""
    await reminders.mark_read(store, user, notification_id, now=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
