"""Odoo records as the documents the rest of the service reads (pure functions, no I/O).

- `mail.activity` → `activity` in the local activity shape: `date` is the deadline (Odoo's own
  "planned for" date), or the creation date in the tenant zone when there is none; `due_date` is
  the deadline or null (an open activity without one is `no_due_date`); `state` is `done` when
  Odoo archived it or set `date_done` (or deleted it after its done message, see `history.py`),
  else `new` (Odoo's stored `state` is never trusted: urgency is computed at read time);
  `version` stays 1 (Odoo owns these documents, replaced whole by every sync; PATCH on them is
  refused). `contact_id`/`contact_name` come from the lead's partner (or the partner itself).
- `crm.lead` (OPPORTUNITY_MODEL) → `opportunity` with the partner as `contact_id`/`contact_name`,
  so local activities created on it get their contact filled in.
- `res.users` → `user`, `res.partner` → `partner`, `mail.activity.type` → `activity_type`.
- `mail.message` → `message`, built by `timeline.message_document`.

Names shown from another record (`related.name`, `contact_name`) are passed in by the caller from
the synced records themselves: Odoo's own copies (`res_name`, `record_name`) go stale on rename.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.connectors.odoo.normalize import (
    OdooActivity,
    OdooActivityType,
    OdooLead,
    OdooPartner,
    OdooUser,
)
from app.schemas.common import RECORD_ID_PATTERN, RELATED_MODELS
from app.services import records
from app.services.activities import derived_keys
from app.services.clock import utc_ms

SOURCE = "odoo"
# The assignee of an Odoo activity that has none (Odoo allows it).
UNASSIGNED = "odoo:unassigned"
CREATED_BY = "odoo"

_RECORD_ID = re.compile(RECORD_ID_PATTERN)


def _utc_ms(value: datetime) -> datetime:
    if value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # the connector's datetimes are aware UTC, whole seconds: nothing to cut
    return utc_ms(value)


def ms(value: datetime | None) -> datetime | None:
    """A datetime as stored (UTC, milliseconds), None kept."""
    return _utc_ms(value) if value is not None else None


def activity_type_document(activity_type: OdooActivityType) -> dict[str, Any]:
    return {
        "id": records.odoo_activity_type_id(activity_type.external_id),
        "external_id": activity_type.external_id,
        "name": activity_type.name,
        "category": activity_type.category,
        "kind": activity_type.activity_type,
        "active": activity_type.active,
        "updated_at": ms(activity_type.updated_at),
    }


def activity_type_from_document(doc: Mapping[str, Any]) -> OdooActivityType:
    return OdooActivityType(
        external_id=doc["external_id"],
        name=doc["name"],
        category=doc.get("category"),
        activity_type=doc["kind"],
        active=doc.get("active", True),
        updated_at=doc.get("updated_at"),
    )


def user_document(user: OdooUser) -> dict[str, Any]:
    return {
        "id": records.odoo_user_id(user.external_id),
        "external_id": user.external_id,
        "user_id": user.user_id,
        "name": user.name,
        "login": user.login,
        "email": user.email,
        "tz": user.tz,
        "partner_id": user.partner_id,
        "active": user.active,
        "updated_at": ms(user.updated_at),
    }


def partner_document(partner: OdooPartner) -> dict[str, Any]:
    return {
        "id": records.odoo_partner_id(partner.external_id),
        "external_id": partner.external_id,
        "name": partner.name,
        "email": partner.email,
        "phone": partner.phone,
        "is_company": partner.is_company,
        "parent_id": partner.parent_id,
        "active": partner.active,
        "updated_at": ms(partner.updated_at),
    }


def opportunity_document(lead: OdooLead) -> dict[str, Any]:
    return {
        "id": records.odoo_opportunity_id(lead.external_id),
        "external_id": lead.external_id,
        "name": lead.name,
        # The partner is the opportunity's contact: local activities on it inherit it.
        "contact_id": lead.partner_id,
        "contact_name": lead.partner_name,
        "user_id": lead.user_id,
        "user_name": lead.user_name,
        "stage": lead.stage,
        "lead_type": lead.lead_type,
        "expected_revenue": lead.expected_revenue,
        "probability": lead.probability,
        "active": lead.active,
        "updated_at": ms(lead.updated_at),
    }


def activity_document(
    activity: OdooActivity,
    *,
    related_name: str | None,
    contact_id: str | None,
    contact_name: str | None,
    feedback: str | None,
    tenant_zone: ZoneInfo,
) -> dict[str, Any]:
    """A mail.activity in the local activity document shape (see the module docstring)."""
    updated_at = _utc_ms(activity.updated_at)
    created_at = ms(activity.created_at) or updated_at
    due_date = activity.due_date.isoformat() if activity.due_date else None
    model, record_id = activity.related_model, activity.related_id
    related = (
        {"model": model, "id": record_id, "name": related_name}
        if model in RELATED_MODELS and record_id and _RECORD_ID.match(record_id)
        else None  # a model the API does not know: kept as odoo_res_model/odoo_res_id
    )
    data: dict[str, Any] = {
        "id": records.odoo_activity_id(activity.external_id),
        "source": SOURCE,
        "external_id": activity.external_id,
        "type": activity.activity_type,
        "subject": activity.subject,
        "user_id": activity.user_id or UNASSIGNED,
        "user_name": activity.user_name,
        "date": due_date or created_at.astimezone(tenant_zone).date().isoformat(),
        "due_date": due_date,
        "start_time": None,
        "end_time": None,
        "location": None,
        "related": related,
        "odoo_res_model": model,
        "odoo_res_id": record_id,
        "odoo_type_id": activity.odoo_type_id,
        "odoo_type_name": activity.odoo_type_name,
        "contact_id": contact_id,
        "contact_name": contact_name,
        "description": activity.description,
        "body": None,
        "notes": None,
        "phone": None,
        "email": None,
        "priority": "normal",
        "state": "done" if activity.done else "new",
        "send_reminder": False,
        "notif_time": None,
        "notif_email": None,
        "notif_time_auto": False,
        "other_users": [],
        "created_by": CREATED_BY,
        "created_at": created_at,
        "updated_at": updated_at,
        "completed_at": ms(activity.completed_at) if activity.done else None,
        "feedback": feedback if activity.done else None,
        "version": 1,
    }
    data.update(derived_keys(data, tenant_zone))
    return data


def done_history_document(
    doc: Mapping[str, Any], *, completed_at: datetime, feedback: str | None, tenant_zone: ZoneInfo
) -> dict[str, Any]:
    """A stored activity Odoo deleted after posting its done message: done, as of that message."""
    data = {
        **doc,
        "state": "done",
        "completed_at": _utc_ms(completed_at),
        "feedback": feedback,
    }
    data.update(derived_keys(data, tenant_zone))
    return data
