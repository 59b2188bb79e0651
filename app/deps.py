"""FastAPI dependencies as Annotated aliases; they read the clients the lifespan owns.

Every dependency is `async def`: none blocks, and FastAPI would run a plain `def` in the thread
pool, a thread hand-off per dependency per request.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings
from app.errors import ValidationFailed
from app.schemas.common import TimeZoneName
from app.services.auth import Principal, require_roles, verify_token
from app.services.clock import Clock, request_zone
from app.services.sync import SyncRunner
from app.store import Store

_bearer = HTTPBearer(auto_error=False, description="JWT: `python -m app token --sub alice`")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


async def get_store(request: Request) -> Store:
    store: Store = request.state.store
    return store


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.state.clock
    return clock


async def get_sync(request: Request) -> SyncRunner:
    runner: SyncRunner = request.state.sync
    return runner


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SyncDep = Annotated[SyncRunner, Depends(get_sync)]


async def current_user(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    from app.errors import Unauthorized

    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized()
    return verify_token(credentials.credentials, settings)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def ops_user(user: CurrentUser) -> Principal:
    require_roles(user, "ops", "admin")
    return user


OpsUser = Annotated[Principal, Depends(ops_user)]

TzParam = Annotated[
    TimeZoneName | None,
    Query(
        description="IANA time zone for 'today' (default: the token's tz, else DEFAULT_TZ)",
        examples=["Asia/Dubai"],
    ),
]


async def request_tz(user: CurrentUser, settings: SettingsDep, tz: TzParam = None) -> ZoneInfo:
    return request_zone(tz.value if tz else None, user.tz, settings.default_tz)


RequestZone = Annotated[ZoneInfo, Depends(request_tz)]


async def reject_operator_params(request: Request) -> None:
    """Query keys that look like database operators never reach a query: 422."""
    for key in request.query_params:
        if "$" in key or "[" in key or "]" in key:
            raise ValidationFailed(
                f"Query parameter {key!r} looks like a database operator; not accepted",
                loc=("query", key),
                msg="operator-like parameters are not accepted",
            )
