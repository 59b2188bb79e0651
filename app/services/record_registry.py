"""Known records: registered ones (models the sync does not read) and synced ones.

`PUT /records/{model}/{id}` registers a quotation, order or opportunity that lives outside Odoo's
synced models; activities on it then get its name and, when the caller gave none, its contact,
exactly as for a synced opportunity. Re-registering it under a new name renames it on its
activities (one bulk update), so the name follows the record as synced names do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.config import Settings
from app.errors import Conflict, NotFound
from app.schemas.record import RecordPut, RecordRead
from app.services import records
from app.services.auth import Principal
from app.store import Store


class RecordNotFound(NotFound):
    def __init__(self, model: str, record_id: str) -> None:
        super().__init__(f"Record {model},{record_id} not found")


def registrable(model: str, settings: Settings) -> bool:
    """Models the service keeps itself: the contract's sale models the sync does not read."""
    return model in records.REGISTRABLE_MODELS and model != settings.opportunity_model


async def put_record(
    store: Store,
    user: Principal,
    model: str,
    record_id: str,
    payload: RecordPut,
    *,
    settings: Settings,
    now: datetime,
) -> tuple[RecordRead, bool]:
    """Register or replace a record; (the record, whether it was created)."""
    if not registrable(model, settings):
        raise Conflict(f"{model} records are synced from Odoo; they cannot be registered here")
    doc = {
        "id": records.registered_record_id(model, record_id),
        "model": model,
        "record_id": record_id,
        **payload.model_dump(),
        "updated_at": now,
        "updated_by": user.sub,
    }
    created = await store.registered_records.put(
        user.tenant, records.REGISTERED_RECORD, doc, now=now
    )
    if not created:
        await store.registered_records.rename_on_activities(
            user.tenant, model, record_id, payload.name, now=now
        )
    return _read(model, record_id, doc, "registered"), created


async def get_record(
    store: Store, user: Principal, model: str, record_id: str, *, settings: Settings
) -> RecordRead:
    key = records.related_record_key(model, record_id, settings.opportunity_model)
    found = await store.envelopes.get(user.tenant, *key) if key else None
    if found is None:
        raise RecordNotFound(model, record_id)
    if key and key[0] == records.PARTNER:
        found = {**found, "contact_id": record_id, "contact_name": found.get("name")}
    source = "registered" if key and key[0] == records.REGISTERED_RECORD else "odoo"
    return _read(model, record_id, found, source)


def _read(model: str, record_id: str, data: dict[str, Any], source: str) -> RecordRead:
    return RecordRead.model_validate(
        {
            "model": model,
            "id": record_id,
            "name": data.get("name"),
            "contact_id": data.get("contact_id"),
            "contact_name": data.get("contact_name"),
            "user_id": data.get("user_id"),
            "source": source,
        }
    )
