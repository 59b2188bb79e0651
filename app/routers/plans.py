"""Follow-up plans: CRUD and apply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response, status
from pydantic import StringConstraints
from pydantic.json_schema import SkipJsonSchema

from app.deps import ClockDep, CurrentUser, SettingsDep, StoreDep
from app.schemas.activity import BatchCreated
from app.schemas.common import problem_responses
from app.schemas.plan import PLAN_ID_PATTERN, PlanApply, PlanCreate, PlanList, PlanRead, PlanUpdate
from app.services import plans

router = APIRouter(prefix="/plans", tags=["plans"])

PlanId = Annotated[str, Path(pattern=PLAN_ID_PATTERN, description="Plan id")]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=problem_responses(401, 403, 409, 422)
)
async def create_plan(
    payload: PlanCreate, response: Response, user: CurrentUser, store: StoreDep, clock: ClockDep
) -> PlanRead:
    """Create a follow-up plan (manager/admin)."""
    plan = await plans.create_plan(store, user, payload, now=clock.now())
    response.headers["Location"] = f"/api/v1/plans/{plan.id}"
    return plan


@router.get("", responses=problem_responses(401, 403))
async def list_plans(user: CurrentUser, store: StoreDep) -> PlanList:
    """Every plan of your tenant, the built-in ones first."""
    return PlanList(items=await plans.list_plans(store, user))


@router.get("/{plan_id}", responses=problem_responses(401, 403, 404, 422))
async def get_plan(plan_id: PlanId, user: CurrentUser, store: StoreDep) -> PlanRead:
    """One plan."""
    return await plans.get_plan(store, user, plan_id)


@router.patch("/{plan_id}", responses=problem_responses(401, 403, 404, 409, 422))
async def update_plan(
    plan_id: PlanId, payload: PlanUpdate, user: CurrentUser, store: StoreDep, clock: ClockDep
) -> PlanRead:
    """Change a plan (manager/admin); built-in plans are read-only (409)."""
    return await plans.update_plan(store, user, plan_id, payload, now=clock.now())


@router.delete(
    "/{plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def delete_plan(plan_id: PlanId, user: CurrentUser, store: StoreDep) -> Response:
    """Delete a plan (manager/admin); built-in plans are read-only (409)."""
    await plans.delete_plan(store, user, plan_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{plan_id}/apply",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
)
async def apply_plan(
    plan_id: PlanId,
    payload: PlanApply,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
    idempotency_key: Annotated[
        IdempotencyKey | SkipJsonSchema[None],
        Header(description="the same key again within 24 h answers the same ids"),
    ] = None,
) -> BatchCreated:
    """Create all the plan's activities on a record, or none."""
    ids = await plans.apply_plan(
        store,
        user,
        plan_id,
        payload,
        idempotency_key=idempotency_key,
        settings=settings,
        now=clock.now(),
    )
    return BatchCreated(ids=ids)
