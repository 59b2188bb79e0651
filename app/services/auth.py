"""Bearer tokens: verification with a pinned algorithm, the caller's identities and roles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt

from app.config import Settings
from app.errors import Forbidden, Unauthorized
from app.services.clock import is_known_zone

Role = Literal["user", "manager", "admin", "ops"]
ROLES: tuple[Role, ...] = ("user", "manager", "admin", "ops")
# Tenant ids become part of every `_id` ("<tenant>:<serving_id>"): keep them colon-free.
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Principal:
    sub: str
    tenant: str
    roles: frozenset[str]
    name: str | None = None
    tz: str | None = None
    odoo_uid: int | None = None
    email: str | None = None
    identities: tuple[str, ...] = field(default=())

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def user_ids(self, user_id: str | None) -> tuple[str, ...]:
        """A `user_id` filter value as identities: `me` is any of mine; absent is everyone."""
        if not user_id:
            return ()
        return self.identities if user_id == "me" else (user_id,)

    @property
    def is_manager(self) -> bool:
        return self.has_role("manager", "admin")


def _principal(claims: dict[str, Any]) -> Principal:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthorized("Token has no subject")
    tenant = claims.get("tenant", "default")
    if not isinstance(tenant, str) or not TENANT_PATTERN.match(tenant):
        raise Unauthorized("Token has an invalid tenant")
    roles = claims.get("roles", [])
    if isinstance(roles, str):
        roles = [r for r in roles.replace(",", " ").split() if r]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthorized("Token has invalid roles")
    odoo_uid = claims.get("odoo_uid")
    if odoo_uid is not None and (isinstance(odoo_uid, bool) or not isinstance(odoo_uid, int)):
        raise Unauthorized("Token has an invalid odoo_uid")
    tz = claims.get("tz")
    if tz is not None and (not isinstance(tz, str) or not is_known_zone(tz)):
        tz = None  # an unusable zone claim falls back to DEFAULT_TZ rather than locking users out
    name, email = claims.get("name"), claims.get("email")
    identities = (sub, f"odoo:{odoo_uid}") if odoo_uid is not None else (sub,)
    principal = Principal(
        sub=sub,
        tenant=tenant,
        roles=frozenset(r for r in roles if r in ROLES),
        name=name if isinstance(name, str) else None,
        tz=tz,
        odoo_uid=odoo_uid,
        email=email if isinstance(email, str) else None,
        identities=identities,
    )
    if claims.get("approved") is not True:
        raise Forbidden("Your account is not approved")
    return principal


def verify_token(token: str, settings: Settings) -> Principal:
    """Decode and check a bearer token. Only the configured algorithm is accepted."""
    algorithm = settings.jwt_algorithm
    key: str = (
        (settings.jwt_public_key or "")
        if algorithm == "RS256"
        else settings.jwt_secret.get_secret_value()
    )
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != algorithm:
            raise Unauthorized("Token algorithm not accepted")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("Invalid or expired token") from exc
    return _principal(claims)


def require_roles(principal: Principal, *roles: str) -> None:
    if not principal.has_role(*roles):
        raise Forbidden(f"This action needs one of the roles: {', '.join(roles)}")


def mint_token(
    settings: Settings,
    *,
    sub: str,
    tenant: str = "default",
    roles: list[str] | None = None,
    expires_in: timedelta = timedelta(hours=12),
    now: datetime | None = None,
    **claims: Any,
) -> str:
    """A development token signed with the configured HS256 secret."""
    if settings.jwt_algorithm != "HS256":
        raise RuntimeError("mint_token signs with JWT_SECRET; JWT_PUBLIC_KEY is configured")
    issued = now or datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": sub,
        "tenant": tenant,
        "roles": roles or ["user"],
        "approved": True,
        "iat": int(issued.timestamp()),
        "exp": int((issued + expires_in).timestamp()),
        **claims,
    }
    if settings.jwt_issuer:
        payload.setdefault("iss", settings.jwt_issuer)
    if settings.jwt_audience:
        payload.setdefault("aud", settings.jwt_audience)
    return jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm="HS256")
