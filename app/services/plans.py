"""Follow-up plans: CRUD (manager/admin write, everyone in the tenant reads) and apply.

Every tenant has the built-in plans of `BUILTIN_PLANS` without a database write: they are
constants merged into every read, and read-only (PATCH/DELETE on them → 409 Conflict).

Applying a plan turns its steps into `ActivityCreate` items and runs them through the batch
path of POST /activities/batch (`build_new_activities` then `insert_activities`: the same
validation, defaults, contact fill-in and reminders; one insert, all or nothing). Dates count
from `start_date` (default: today in the caller's tz); with `business_days` Saturdays and Sundays
are skipped. With an `Idempotency-Key` the new ids are claimed under the key before anything is
inserted (`store.idempotency.claim`, one atomic upsert): the same key from the same caller within
24 h answers those ids and creates nothing; a different body with the key → 422.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from app.config import Settings
from app.errors import Conflict, Forbidden, NotFound, ValidationFailed
from app.schemas.activity import ActivityCreate
from app.schemas.common import parse_related_ref
from app.schemas.plan import PlanApply, PlanCreate, PlanRead, PlanStep, PlanUpdate
from app.services import activities, records
from app.services.auth import Principal
from app.services.clock import utc_ms, zone
from app.services.followups import add_days
from app.store import Store

MAX_PLANS = 200  # per tenant, so GET /plans lists them all in one bounded read
IDEMPOTENCY_TTL = timedelta(hours=24)

BUILTIN_PLANS: dict[str, PlanRead] = {
    "quotation_followup": PlanRead(
        id="quotation_followup",
        name="Quotation follow-up",
        description="After a quotation is sent: a call after 3 days, an e-mail after 7, and a "
        "decision call after 14, due that day.",
        business_days=False,
        steps=[
            PlanStep(type="call", subject="Follow up on the quotation", offset_days=3),
            PlanStep(type="email", subject="Check in on the quotation", offset_days=7),
            PlanStep(
                type="call",
                subject="Decision call on the quotation",
                offset_days=14,
                due_on_date=True,
            ),
        ],
        builtin=True,
    )
}


class PlanNotFound(NotFound):
    def __init__(self, plan_id: str) -> None:
        super().__init__(f"Plan {plan_id!r} not found")


def _require_manager(user: Principal) -> None:
    if not user.is_manager:
        raise Forbidden("Only a manager or an admin can change follow-up plans")


def _writable(plan_id: str) -> None:
    if plan_id in BUILTIN_PLANS:
        raise Conflict(f"{plan_id!r} is a built-in plan and read-only")


def _read(doc: dict[str, Any]) -> PlanRead:
    return PlanRead.model_validate({**doc, "builtin": False})


async def list_plans(store: Store, user: Principal) -> list[PlanRead]:
    stored = await store.plans.list(user.tenant, limit=MAX_PLANS)
    return [*BUILTIN_PLANS.values(), *(_read(d) for d in stored)]


async def get_plan(store: Store, user: Principal, plan_id: str) -> PlanRead:
    if plan_id in BUILTIN_PLANS:
        return BUILTIN_PLANS[plan_id]
    doc = await store.plans.get(user.tenant, plan_id)
    if doc is None:
        raise PlanNotFound(plan_id)
    return _read(doc)


async def create_plan(
    store: Store, user: Principal, payload: PlanCreate, *, now: datetime
) -> PlanRead:
    _require_manager(user)
    if await store.plans.count(user.tenant) >= MAX_PLANS:
        raise Conflict(f"A tenant has at most {MAX_PLANS} plans; delete one first")
    doc = {
        "id": f"plan_{uuid.uuid4().hex}",
        **payload.model_dump(),
        "created_by": user.sub,
        "created_at": utc_ms(now),
        "updated_at": utc_ms(now),
        "version": 1,
    }
    await store.plans.insert(user.tenant, doc)
    return _read(doc)


async def update_plan(
    store: Store, user: Principal, plan_id: str, patch: PlanUpdate, *, now: datetime
) -> PlanRead:
    _require_manager(user)
    _writable(plan_id)
    changes = patch.model_dump(include=patch.model_fields_set)
    doc = await store.plans.update(user.tenant, plan_id, changes, now=utc_ms(now))
    if doc is None:
        raise PlanNotFound(plan_id)
    return _read(doc)


async def delete_plan(store: Store, user: Principal, plan_id: str) -> None:
    _require_manager(user)
    _writable(plan_id)
    if not await store.plans.delete(user.tenant, plan_id):
        raise PlanNotFound(plan_id)


async def _record_owner(
    store: Store, user: Principal, plan: PlanRead, model: str, record_id: str, settings: Settings
) -> str | None:
    if not any(step.assignee == "record_owner" for step in plan.steps):
        return None
    key = records.related_record_key(model, record_id, settings.opportunity_model)
    record = await store.envelopes.get(user.tenant, *key) if key else None
    owner = record.get("user_id") if record else None
    if not owner:
        raise ValidationFailed(
            "The plan assigns steps to the record's owner, but the record has no known owner",
            loc=("body", "related"),
        )
    return str(owner)


def _items(
    plan: PlanRead, payload: PlanApply, user: Principal, owner: str | None, start: Any
) -> list[ActivityCreate]:
    related = parse_related_ref(payload.related)
    items = []
    for index, step in enumerate(plan.steps):
        try:
            day = add_days(start, step.offset_days, business_days=plan.business_days)
        except OverflowError:
            raise ValidationFailed(
                "start_date is too close to the end of the calendar for this plan",
                loc=("body", "start_date"),
            ) from None
        if step.assignee == "caller":
            assignee = payload.user_id or user.sub
        elif step.assignee == "record_owner":
            assignee = owner or user.sub
        else:
            assignee = step.assignee
        try:
            items.append(
                ActivityCreate.model_validate(
                    {
                        "type": step.type,
                        "subject": step.subject,
                        "date": day,
                        "due_date": day if step.due_on_date else None,
                        "start_time": step.start_time,
                        "priority": step.priority or "normal",
                        "description": step.description,
                        "send_reminder": bool(step.send_reminder),
                        "user_id": assignee,
                        "related": related,
                    }
                )
            )
        except ValueError as exc:
            raise ValidationFailed(str(exc), loc=("plan", "steps", index)) from None
    return items


def _fingerprint(plan_id: str, payload: PlanApply) -> str:
    body = json.dumps(
        {"plan": plan_id, **payload.model_dump(mode="json")}, sort_keys=True, default=str
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def apply_plan(
    store: Store,
    user: Principal,
    plan_id: str,
    payload: PlanApply,
    *,
    idempotency_key: str | None,
    settings: Settings,
    now: datetime,
) -> list[str]:
    """Create every activity of the plan on `payload.related`, or none; their ids."""
    plan = await get_plan(store, user, plan_id)
    related = parse_related_ref(payload.related)
    owner = await _record_owner(store, user, plan, related.model, related.id, settings)
    start = payload.start_date or now.astimezone(zone(user.tz or settings.default_tz)).date()
    docs = await activities.build_new_activities(
        store, user, _items(plan, payload, user, owner, start), settings=settings, now=now
    )
    ids = [d["id"] for d in docs]
    if idempotency_key is None:
        await activities.insert_activities(store, user, docs, settings=settings, now=now)
        return ids
    key_id = f"{user.tenant}:{user.sub}:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"
    fingerprint = _fingerprint(plan_id, payload)
    claim_id = uuid.uuid4().hex
    now = utc_ms(now)
    claimed, claim = await store.idempotency.claim(
        key_id,
        {
            "claim_id": claim_id,
            "tenant_id": user.tenant,
            "user_id": user.sub,
            "fingerprint": fingerprint,
            "ids": ids,
            "created_at": now,
            "expires_at": now + IDEMPOTENCY_TTL,
        },
        now=now,
    )
    if not claimed:
        if claim.get("fingerprint") != fingerprint:
            raise ValidationFailed(
                "This Idempotency-Key was used with a different request",
                loc=("header", "Idempotency-Key"),
            )
        return [str(i) for i in claim["ids"]]
    try:
        await activities.insert_activities(store, user, docs, settings=settings, now=now)
    except Exception:
        await store.idempotency.release(key_id, claim_id)
        raise
    await store.idempotency.purge_expired(user.tenant, user.sub, now=now)
    return ids
