"""Webhooks: admin subscriptions, Standard Webhooks signing, at-least-once delivery, SSRF guard.

Enqueueing: the change log's writer (`events.append`) hands every appended event to `enqueue`,
which writes one delivery per (matching webhook, event), keyed by both, so it exists once.

Delivering (`deliver_due`, a scheduled job on every replica): a worker claims one due delivery
at a time with one `find_one_and_update` (pending and due, or `sending` with an expired lease),
exactly as reminders are claimed; only the claimer records the outcome. A 2xx delivers it;
anything else (status, timeout, refused target) is retried after WEBHOOK_RETRY_BASE_SECONDS x
2^(attempt-1) until WEBHOOK_RETRY_HOURS after the event, then it is `failed`. A worker that dies
mid-attempt leaves the claim to expire and another one retries: at least once.

Signing (https://www.standardwebhooks.com): headers `webhook-id` (the delivery id, the same on
every attempt), `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature`
`v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, the key being the base64 part of the
secret `whsec_<base64>`.

SSRF: a target must be https (http only with WEBHOOK_ALLOW_HTTP) and every address its host
resolves to must be public, unless WEBHOOK_ALLOWED_HOSTS names the host. It is checked when the
webhook is created and again before every attempt, and the attempt connects to the address that
was checked (the URL's host goes in `Host` and TLS SNI): a DNS answer that changes between the
check and the connection (rebinding) cannot redirect it. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from app.config import Settings
from app.errors import Conflict, NotFound, ValidationFailed
from app.schemas.webhooks import (
    DeliveryPage,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
)
from app.services import cursor as keyset
from app.services.auth import Principal
from app.services.clock import Clock
from app.store import Store
from app.store.repository import PENDING, SENDING
from app.store.webhooks import DELIVERED, FAILED, MAX_WEBHOOKS_PER_TENANT

logger = logging.getLogger("app.webhooks")

SECRET_PREFIX = "whsec_"
_DELIVERY_SCOPE = "deliveries"
_ERROR_CHARS = 300


class WebhookNotFound(NotFound):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"Webhook {webhook_id!r} not found")


class TargetRefused(Exception):
    """A webhook URL this service will not call; the message says why."""


# ---------------------------------------------------------------------------- signing


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


# ---------------------------------------------------------------------------- SSRF guard


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    address: str


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast


async def check_target(url: str, settings: Settings) -> Target:
    """Refuse what the contract refuses; resolve the host once and return an address to use."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise TargetRefused("the URL must be https://host/...")
    if scheme == "http" and not settings.webhook_allow_http:
        raise TargetRefused("only https URLs are allowed (WEBHOOK_ALLOW_HTTP is off)")
    if parts.username or parts.password:
        raise TargetRefused("credentials in the URL are not allowed; the payload is signed")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise TargetRefused(f"the host {host!r} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise TargetRefused(f"the host {host!r} does not resolve")
    if host not in settings.webhook_hosts_allowed:
        for address in addresses:
            if _refused_address(ipaddress.ip_address(address.split("%", 1)[0])):
                raise TargetRefused(
                    f"the host {host!r} resolves to a loopback, private or link-local address"
                )
    return Target(url=url, host=host, address=addresses[0])


# ---------------------------------------------------------------------------- subscriptions


def _read(doc: Mapping[str, Any]) -> WebhookRead:
    return WebhookRead.model_validate(doc)


async def create_webhook(
    store: Store, user: Principal, payload: WebhookCreate, *, settings: Settings, now: datetime
) -> WebhookCreated:
    try:
        await check_target(payload.url, settings)
    except TargetRefused as exc:
        raise ValidationFailed(str(exc), loc=("body", "url")) from None
    if await store.webhooks.count(user.tenant) >= MAX_WEBHOOKS_PER_TENANT:
        raise Conflict(f"A tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhooks")
    doc = {
        "id": f"wh_{uuid.uuid4().hex}",
        "url": payload.url,
        "events": list(dict.fromkeys(payload.events)),
        "description": payload.description,
        "secret": new_secret(),
        "created_at": now,
        "created_by": user.sub,
    }
    await store.webhooks.insert(user.tenant, doc)
    return WebhookCreated.model_validate(doc)


async def list_webhooks(store: Store, user: Principal) -> WebhookList:
    return WebhookList(items=[_read(d) for d in await store.webhooks.of_tenant(user.tenant)])


async def delete_webhook(store: Store, user: Principal, webhook_id: str) -> None:
    """Delete it and its deliveries: nothing more is sent to it."""
    if not await store.webhooks.delete(user.tenant, webhook_id):
        raise WebhookNotFound(webhook_id)
    await store.webhook_deliveries.drop_webhook(user.tenant, webhook_id)


async def list_deliveries(
    store: Store, user: Principal, webhook_id: str, *, limit: int, cursor: str | None
) -> DeliveryPage:
    """The webhook's deliveries, newest event first."""
    if await store.webhooks.get(user.tenant, webhook_id) is None:
        raise WebhookNotFound(webhook_id)
    before = None
    if cursor:
        (before,) = keyset.decode_cursor(cursor, _DELIVERY_SCOPE, 1)
        if not isinstance(before, int) or isinstance(before, bool):
            raise ValidationFailed("invalid cursor", loc=("query", "cursor"))
    docs = await store.webhook_deliveries.of_webhook(
        user.tenant, webhook_id, limit=limit + 1, before=before
    )
    next_cursor = None
    if len(docs) > limit:
        docs = docs[:limit]
        next_cursor = keyset.encode_cursor(_DELIVERY_SCOPE, [docs[-1]["event_id"]])
    items = [
        DeliveryRead.model_validate(
            {**d, "status": PENDING if d["status"] == SENDING else d["status"]}
        )
        for d in docs
    ]
    return DeliveryPage(items=items, next_cursor=next_cursor)


# ---------------------------------------------------------------------------- enqueueing


def matches(patterns: Sequence[str], event_type: str) -> bool:
    family = event_type.split(".", 1)[0]
    return any(p in ("*", event_type, f"{family}.*") for p in patterns)


async def enqueue(
    store: Store, tenant: str, events: Sequence[Mapping[str, Any]], *, now: datetime
) -> None:
    """One delivery per (webhook of the tenant, matching event); none when nobody listens."""
    hooks = await store.webhooks.cached_for(tenant)
    if not hooks:
        return
    deliveries = [
        {
            "id": f"{hook['id']}_{event['seq']}",
            "webhook_id": hook["id"],
            "event_id": event["seq"],
            "event_type": event["type"],
            "payload": event["payload"],
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "delivered_at": None,
            "finished_at": None,
            "last_status_code": None,
            "last_error": None,
            "claimed_by": None,
            "lease_until": None,
            "attempt_log": [],
        }
        for event in events
        for hook in hooks
        if matches(hook["events"], event["type"])
    ]
    if deliveries:
        await store.webhook_deliveries.enqueue(tenant, deliveries)


# ---------------------------------------------------------------------------- delivering


@dataclass
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post_signed(
    http: httpx.AsyncClient, target: Target, secret: str, message_id: str, body: bytes
) -> _Outcome:
    """One signed POST to the checked address; never raises for a network failure."""
    parts = urlsplit(target.url)
    default_port = 443 if parts.scheme == "https" else 80
    authority = target.host if parts.port in (None, default_port) else f"{target.host}:{parts.port}"
    url = httpx.URL(target.url).copy_with(host=target.address)
    headers = {
        **signed_headers(secret, message_id, int(time.time()), body),
        "host": authority,
        "user-agent": "activity-service-webhooks/1",
    }
    extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    started = time.perf_counter()
    try:
        response = await http.post(
            url, content=body, headers=headers, extensions=extensions, follow_redirects=False
        )
        code: int | None = response.status_code
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except httpx.TimeoutException:
        code, error = None, "timed out"
    except httpx.HTTPError as exc:
        code, error = None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
    return _Outcome(code, error, int((time.perf_counter() - started) * 1000))


async def deliver_due(
    store: Store,
    http: httpx.AsyncClient,
    *,
    owner: str,
    clock: Clock,
    settings: Settings,
    stopping: asyncio.Event | None = None,
) -> DeliveryStats:
    """Attempt due deliveries, one claim at a time, up to WEBHOOK_BATCH; safe on any number of
    workers at once: each attempt belongs to the one worker that claimed it."""
    stats = DeliveryStats()
    lease = timedelta(seconds=settings.webhook_lease_seconds)
    for _ in range(settings.webhook_batch):
        if stopping is not None and stopping.is_set():
            break
        doc = await store.webhook_deliveries.claim_next(owner=owner, now=clock.now(), lease=lease)
        if doc is None:
            break
        stats.claimed += 1
        await _attempt(store, http, doc, owner=owner, clock=clock, settings=settings, stats=stats)
    if stats.claimed:
        logger.info("webhook deliveries attempted", extra={"owner": owner, **asdict(stats)})
    return stats


async def _attempt(
    store: Store,
    http: httpx.AsyncClient,
    doc: Mapping[str, Any],
    *,
    owner: str,
    clock: Clock,
    settings: Settings,
    stats: DeliveryStats,
) -> None:
    hook = await store.webhooks.get(doc["tenant_id"], doc["webhook_id"])
    started_at = clock.now()
    if hook is None:
        outcome = _Outcome(None, "the webhook was deleted", 0)
    else:
        try:
            target = await check_target(hook["url"], settings)
        except TargetRefused as exc:
            outcome = _Outcome(None, f"refused: {exc}", 0)
        else:
            body = doc["payload"].encode()
            outcome = await post_signed(http, target, hook["secret"], doc["id"], body)
    now = clock.now()
    attempt = {
        "at": started_at,
        "status_code": outcome.status_code,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
    }
    last = {"last_status_code": outcome.status_code, "last_error": outcome.error}
    if outcome.ok:
        status, fields = DELIVERED, {**last, "delivered_at": now, "finished_at": now}
    else:
        delay = settings.webhook_retry_base_seconds * 2 ** (int(doc["attempts"]) - 1)
        retry_at = now + timedelta(seconds=delay)
        give_up_at = doc["created_at"] + timedelta(hours=settings.webhook_retry_hours)
        if hook is None or retry_at > give_up_at:
            status, fields = FAILED, {**last, "finished_at": now, "next_attempt_at": None}
        else:
            status, fields = PENDING, {**last, "next_attempt_at": retry_at}
    if not await store.webhook_deliveries.record(
        doc["_id"], owner=owner, status=status, attempt=attempt, fields=fields
    ):
        stats.lost += 1
        logger.warning("webhook claim lost", extra={"delivery_id": doc["id"], "owner": owner})
        return
    if status == DELIVERED:
        stats.delivered += 1
    elif status == FAILED:
        stats.failed += 1
        logger.warning(
            "webhook delivery failed",
            extra={"delivery_id": doc["id"], "reason": outcome.error or "?"},
        )
    else:
        stats.retried += 1
