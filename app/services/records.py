"""Entity types and serving ids: how each kind of record is named in the serving collection.

Serving ids are deterministic so a re-synced Odoo record lands on the same envelope, and a
related record (an opportunity, a partner) can be found by key from an activity's `related`.
"""

from __future__ import annotations

import hashlib
import uuid

ACTIVITY = "activity"
MESSAGE = "message"
OPPORTUNITY = "opportunity"
PARTNER = "partner"
USER = "user"
ACTIVITY_TYPE = "activity_type"
# Records of the related models the service does not sync, registered with PUT /records.
REGISTERED_RECORD = "registered_record"
REGISTRABLE_MODELS: tuple[str, ...] = ("sale.opportunity", "sale.quot", "sale.order")


def new_local_activity_id() -> str:
    return f"act_{uuid.uuid4().hex}"


def followup_activity_id(previous_id: str, kind: str) -> str:
    """The id of the activity created when `previous_id` becomes done (`kind`: "next" or
    "occurrence"): deterministic, so a second completion cannot create it twice."""
    return f"act_{hashlib.sha256(f'{previous_id}:{kind}'.encode()).hexdigest()[:32]}"


def registered_record_id(model: str, record_id: str) -> str:
    return f"registered_{model}_{record_id}"


def odoo_activity_id(external_id: int) -> str:
    return f"odoo_activity_{external_id}"


def odoo_message_id(external_id: int) -> str:
    return f"odoo_message_{external_id}"


def odoo_opportunity_id(external_id: int | str) -> str:
    return f"odoo_opportunity_{external_id}"


def odoo_partner_id(external_id: int | str) -> str:
    return f"odoo_partner_{external_id}"


def odoo_user_id(external_id: int | str) -> str:
    return f"odoo_user_{external_id}"


def odoo_activity_type_id(external_id: int) -> str:
    return f"odoo_activity_type_{external_id}"


def user_record_key(user_id: str) -> str | None:
    """The serving id of the synced Odoo user behind an identity like `odoo:7`, if any."""
    prefix, _, odoo_uid = user_id.partition(":")
    if prefix == "odoo" and odoo_uid.isdigit():
        return odoo_user_id(odoo_uid)
    return None


def related_record_key(
    model: str, record_id: str, opportunity_model: str
) -> tuple[str, str] | None:
    """(entity_type, serving_id) of the stored record a `related` link points to, if any:
    a synced opportunity or partner, or a registered record of a model the sync does not read."""
    if model == opportunity_model:
        return (OPPORTUNITY, odoo_opportunity_id(record_id)) if record_id.isdigit() else None
    if model == "res.partner":
        return (PARTNER, odoo_partner_id(record_id)) if record_id.isdigit() else None
    if model in REGISTRABLE_MODELS:
        return REGISTERED_RECORD, registered_record_id(model, record_id)
    return None
