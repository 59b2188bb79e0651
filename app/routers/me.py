"""The caller's own identity, as the service sees it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import CurrentUser
from app.schemas.common import problem_responses

router = APIRouter(tags=["session"])


class Caller(BaseModel):
    sub: str
    tenant: str
    roles: list[str]
    identities: list[str]
    name: str | None = None
    tz: str | None = None
    email: str | None = None


@router.get("/me", responses=problem_responses(401, 403))
async def me(user: CurrentUser) -> Caller:
    """Who the token says you are: identities (`user_id=me` matches any), roles, tenant, tz."""
    return Caller(
        sub=user.sub,
        tenant=user.tenant,
        roles=sorted(user.roles),
        identities=list(user.identities),
        name=user.name,
        tz=user.tz,
        email=user.email,
    )
