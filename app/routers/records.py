"""Records the service does not sync: register and read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from app.deps import ClockDep, CurrentUser, SettingsDep, StoreDep
from app.schemas.common import RECORD_ID_PATTERN, RelatedModel, problem_responses
from app.schemas.record import RecordPut, RecordRead
from app.services import record_registry

router = APIRouter(prefix="/records", tags=["records"])

ModelParam = Annotated[RelatedModel, Path(description="A related model of the contract")]
RecordIdParam = Annotated[str, Path(pattern=RECORD_ID_PATTERN, description="The record's id")]


@router.put(
    "/{model}/{record_id}",
    responses={
        201: {"model": RecordRead, "description": "Registered (new)"},
        **problem_responses(401, 403, 409, 422),
    },
)
async def put_record(
    model: ModelParam,
    record_id: RecordIdParam,
    payload: RecordPut,
    response: Response,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> RecordRead:
    """Register a record the service does not sync (201 new, 200 replaced; synced model: 409)."""
    record, created = await record_registry.put_record(
        store, user, model, record_id, payload, settings=settings, now=clock.now()
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return record


@router.get("/{model}/{record_id}", responses=problem_responses(401, 403, 404, 422))
async def get_record(
    model: ModelParam,
    record_id: RecordIdParam,
    user: CurrentUser,
    store: StoreDep,
    settings: SettingsDep,
) -> RecordRead:
    """A known record, registered here or synced from Odoo."""
    return await record_registry.get_record(store, user, model, record_id, settings=settings)
