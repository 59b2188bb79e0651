"""Saved timeline views: who reads and who changes them, and their lifecycle.

- Reading: the owner, the users a view is shared with (any of their identities), everyone in
  the tenant when it is public, and managers/admins (who may change any view, so may see it).
  Anyone else gets a 404, exactly as for a missing id or another tenant's view.
- Changing (PATCH, DELETE): the owner or a manager/admin; other readers get a 403.
- DELETE is soft: the view disappears from every read.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from app.errors import Conflict, Forbidden, NotFound
from app.schemas.views import (
    ColorScheme,
    TimelineViewCreate,
    TimelineViewFilters,
    TimelineViewPage,
    TimelineViewRead,
    TimelineViewUpdate,
)
from app.services import cursor as keyset
from app.services.auth import Principal
from app.services.clock import utc_ms
from app.store import Store
from app.store import conditions as query_conditions
from app.store.timeline_views import LIST_SORT

CURSOR_SCOPE = "timeline_views"
_MAX_ATTEMPTS = 5


def can_read(user: Principal, view: dict[str, Any]) -> bool:
    mine = set(user.identities)
    return (
        view["owner_id"] in mine
        or bool(mine.intersection(view.get("shared_with") or ()))
        or bool(view.get("is_public"))
        or user.is_manager
    )


def can_change(user: Principal, view: dict[str, Any]) -> bool:
    return view["owner_id"] in user.identities or user.is_manager


def to_read(user: Principal, view: dict[str, Any]) -> TimelineViewRead:
    return TimelineViewRead.model_validate(
        {
            **view,
            "filters": TimelineViewFilters.model_validate(view["filters"]),
            "can_edit": can_change(user, view),
        }
    )


async def create_view(
    store: Store, user: Principal, payload: TimelineViewCreate, *, now: datetime
) -> TimelineViewRead:
    now = utc_ms(now)
    view = {
        "id": f"view_{uuid.uuid4().hex}",
        "name": payload.name,
        "filters": payload.filters.saved(),
        "columns": list(dict.fromkeys(payload.columns)),
        "color_scheme": payload.color_scheme.saved(),
        "is_public": payload.is_public,
        "shared_with": list(dict.fromkeys(payload.shared_with)),
        "owner_id": user.sub,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    await store.timeline_views.insert(user.tenant, view)
    return to_read(user, view)


async def get_view(store: Store, user: Principal, view_id: str) -> dict[str, Any]:
    """A view the caller may read; 404 otherwise (missing, deleted, another tenant's, or
    private to someone else)."""
    view = await store.timeline_views.get(user.tenant, view_id)
    if view is None or not can_read(user, view):
        raise NotFound(f"Timeline view {view_id!r} not found")
    return view


async def list_views(
    store: Store, user: Principal, *, limit: int, cursor: str | None
) -> TimelineViewPage:
    """Mine, shared with me, and the tenant's public views, by name: one query per page."""
    after = None
    if cursor:
        after = query_conditions.after(
            LIST_SORT, keyset.decode_cursor(cursor, CURSOR_SCOPE, len(LIST_SORT))
        )
    views = await store.timeline_views.visible_to(
        user.tenant, user.identities, after=after, limit=limit + 1
    )
    next_cursor = None
    if len(views) > limit:
        views = views[:limit]
        next_cursor = keyset.encode_cursor(CURSOR_SCOPE, keyset.sort_values(views[-1], LIST_SORT))
    return TimelineViewPage(items=[to_read(user, v) for v in views], next_cursor=next_cursor)


async def _changeable(store: Store, user: Principal, view_id: str) -> dict[str, Any]:
    view = await get_view(store, user, view_id)
    if not can_change(user, view):
        raise Forbidden("Only the owner of a view or a manager can change it")
    return view


async def update_view(
    store: Store, user: Principal, view_id: str, patch: TimelineViewUpdate, *, now: datetime
) -> TimelineViewRead:
    changes: dict[str, Any] = {}
    for name in patch.model_fields_set:
        value = getattr(patch, name)
        if isinstance(value, TimelineViewFilters | ColorScheme):
            value = value.saved()
        elif isinstance(value, list):
            value = list(dict.fromkeys(value))
        changes[name] = value
    for _ in range(_MAX_ATTEMPTS):
        view = await _changeable(store, user, view_id)
        updated = await store.timeline_views.update(
            user.tenant, view_id, changes, expected_version=view["version"], now=utc_ms(now)
        )
        if updated is not None:
            return to_read(user, updated)
    raise Conflict("The view is being changed concurrently; retry")


async def delete_view(store: Store, user: Principal, view_id: str, *, now: datetime) -> None:
    for _ in range(_MAX_ATTEMPTS):
        view = await _changeable(store, user, view_id)
        deleted = await store.timeline_views.update(
            user.tenant,
            view_id,
            {"deleted_at": utc_ms(now), "deleted_by": user.sub},
            expected_version=view["version"],
            now=utc_ms(now),
            delete=True,
        )
        if deleted is not None:
            return
    raise Conflict("The view is being changed concurrently; retry")
