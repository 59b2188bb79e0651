"""The one place Odoo's raw values become validated models.

Odoo answers ``False`` for every empty value, ``[id, "name"]`` for many2one fields, naive UTC
strings (``YYYY-MM-DD HH:MM:SS``) for datetimes and ``YYYY-MM-DD`` for dates, and stores chatter
bodies as HTML written by anyone who can send the company an email. Everything is normalised
here: ``False`` → ``None`` (real booleans stay booleans), many2one → id + name, datetimes →
aware UTC, HTML → sanitized HTML plus plain text. A record that cannot be normalised raises
`OdooProtocolError` naming the model and id.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime, time
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

from app.connectors.odoo.errors import OdooProtocolError
from app.schemas.chatter import SYSTEM_AUTHOR, SanitizedHtml, html_to_text, sanitize_html
from app.schemas.common import ACTIVITY_TYPES, ActivityType

ACTIVITY_KINDS: frozenset[str] = frozenset(ACTIVITY_TYPES)

SUBJECT_MAX_CHARS = 128

# mail.activity.type.category → kind; "default" (and anything else) falls back to the name map.
ACTIVITY_KIND_BY_CATEGORY: Mapping[str, ActivityType] = MappingProxyType(
    {"phonecall": "call", "meeting": "meeting", "upload_file": "task", "email": "email"}
)
# Case-insensitive substring of the activity type's name → kind; first match wins, so the
# more specific needles come first. Settings may pass their own mapping in the same shape.
DEFAULT_ACTIVITY_TYPE_MAP: Mapping[str, ActivityType] = MappingProxyType(
    {
        "whatsapp": "whatsapp",
        "call": "call",
        "meeting": "meeting",
        "email": "email",
        "mail": "email",
        "note": "note",
        "event": "event",
    }
)
DEFAULT_ACTIVITY_KIND: ActivityType = "task"

# -- fields to request (all exist on Odoo 16-19 unless noted) ----------------------------------

ACTIVITY_TYPE_FIELDS = ("id", "name", "category", "active", "write_date")
ACTIVITY_FIELDS_16 = (
    "id",
    "activity_type_id",
    "summary",
    "note",
    "date_deadline",
    "user_id",
    "res_model",
    "res_id",
    "res_name",
    "create_date",
    "write_date",
)
# Odoo 17 keeps done activities archived (active=False, date_done) instead of deleting them.
ACTIVITY_FIELDS = (*ACTIVITY_FIELDS_16, "date_done", "active")
# mail.message names its model field "model" (not "res_model": requesting that is a Fault).
MESSAGE_FIELDS = (
    "id",
    "model",
    "res_id",
    "record_name",
    "date",
    "message_type",
    "subtype_id",
    "author_id",
    "email_from",
    "subject",
    "body",
    # set on the "done" message Odoo posts when an activity is marked done (16-19)
    "mail_activity_type_id",
    "create_date",
    "write_date",
)
LEAD_FIELDS = (
    "id",
    "name",
    "partner_id",
    "partner_name",
    "user_id",
    "stage_id",
    "type",
    "expected_revenue",
    "probability",
    "active",
    "create_date",
    "write_date",
)
USER_FIELDS = ("id", "name", "login", "email", "tz", "partner_id", "active", "write_date")
PARTNER_FIELDS = (
    "id",
    "name",
    "email",
    "phone",
    "is_company",
    "parent_id",
    "active",
    "write_date",
)

MODEL_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "mail.activity.type": ACTIVITY_TYPE_FIELDS,
        "mail.activity": ACTIVITY_FIELDS,
        "mail.message": MESSAGE_FIELDS,
        "crm.lead": LEAD_FIELDS,
        "res.users": USER_FIELDS,
        "res.partner": PARTNER_FIELDS,
    }
)


def fields_for(model: str, server_major: int) -> tuple[str, ...]:
    """The fields to request for ``model`` from a server of this major version.

    Raises:
        KeyError: the model is not one the connector normalises.
    """
    if model == "mail.activity" and server_major < 17:
        return ACTIVITY_FIELDS_16
    return MODEL_FIELDS[model]


# -- scalar values ------------------------------------------------------------------------------


def parse_odoo_datetime(value: object) -> datetime | None:
    """An Odoo datetime (naive UTC string, datetime, or XML-RPC DateTime) as aware UTC."""
    if type(value) is str and value:
        # JSON-2's `YYYY-MM-DD HH:MM:SS` (the common case first: one call, no isinstance chain).
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    if value is None or value is False or value == "":
        return None
    if isinstance(value, xmlrpc.client.DateTime):
        value = datetime.strptime(value.value, "%Y%m%dT%H:%M:%S")
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.min)
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a datetime: {type(value).__name__}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_odoo_date(value: object) -> date | None:
    """An Odoo date (``YYYY-MM-DD``; a datetime is cut to its date)."""
    if value is None or value is False or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, xmlrpc.client.DateTime):
        return datetime.strptime(value.value, "%Y%m%dT%H:%M:%S").date()
    if isinstance(value, str):
        return date.fromisoformat(value.strip()[:10])
    raise ValueError(f"not a date: {type(value).__name__}")


def many2one(value: object) -> tuple[int | None, str | None]:
    """``[id, "name"]`` (or a bare id, or ``False``) as ``(id, name)``."""
    if isinstance(value, list | tuple) and value:
        first = value[0]
        record_id = first if isinstance(first, int) and not isinstance(first, bool) else None
        name = value[1] if len(value) > 1 and isinstance(value[1], str) else None
        return record_id, (name.strip() or None) if name else None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, None
    return None, None


def text_or_none(value: object) -> str | None:
    """A Char/Text value with ``False`` and blanks as ``None``."""
    if value is None or value is False:
        return None
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


def number_or_none(value: object) -> float | None:
    """A Float/Monetary value; ``False`` is empty (a real 0.0 stays 0.0)."""
    if value is None or value is False or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    raise ValueError(f"not a number: {type(value).__name__}")


def user_ref(record_id: int | None) -> str | None:
    """A res.users id as this service's user id, ``"odoo:<id>"``."""
    return f"odoo:{record_id}" if record_id else None


def _reference_id(value: object) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    return None


def _active(raw: Mapping[str, Any]) -> bool:
    # Absent means the model (or this Odoo version) has no archiving: the record is live.
    return raw.get("active", True) is not False


def _one_line(value: object) -> str | None:
    text = text_or_none(value)
    return " ".join(text.split()) if text else None


def _required_datetime(value: object, field: str) -> datetime:
    parsed = parse_odoo_datetime(value)
    if parsed is None:
        raise ValueError(f"{field} is empty")
    return parsed


# -- models -------------------------------------------------------------------------------------


class _OdooRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class OdooActivityType(_OdooRecord):
    external_id: int
    name: str
    category: str | None
    activity_type: ActivityType
    active: bool = True
    updated_at: datetime | None = None


class OdooActivity(NamedTuple):
    """A normalised ``mail.activity``. Built only by `normalize_activity`, whose plain checks
    give every field its type (no per-record validation: a sync maps tens of thousands)."""

    external_id: int
    activity_type: ActivityType
    odoo_type_id: int | None
    odoo_type_name: str | None
    subject: str  # 1 to SUBJECT_MAX_CHARS characters
    description: str | None
    user_id: str | None
    user_name: str | None
    due_date: date | None
    done: bool
    completed_at: datetime | None
    related_model: str | None
    related_id: str | None
    related_name: str | None
    created_at: datetime | None
    updated_at: datetime


class OdooMessage(NamedTuple):
    """A normalised ``mail.message``. Built only by `normalize_message`, whose plain checks
    give every field its type (no per-record validation: chatter is most of a sync's records).
    """

    external_id: int
    res_model: str | None
    res_id: str | None
    record_name: str | None
    date: datetime
    message_type: str
    subtype: str | None
    author_id: str | None
    author_name: str
    email_from: str | None
    subject: str | None
    body: SanitizedHtml
    body_text: str
    updated_at: datetime
    activity_type_id: int | None = None  # the done message of an activity of that type


class OdooLead(_OdooRecord):
    external_id: int
    name: str
    partner_id: str | None
    partner_name: str | None
    user_id: str | None
    user_name: str | None
    stage: str | None
    lead_type: str | None
    expected_revenue: float | None
    probability: float | None
    active: bool
    updated_at: datetime


class OdooUser(_OdooRecord):
    external_id: int
    user_id: str
    name: str
    login: str | None
    email: str | None
    tz: str | None
    partner_id: str | None
    active: bool
    updated_at: datetime


class OdooPartner(_OdooRecord):
    external_id: int
    name: str
    email: str | None
    phone: str | None
    is_company: bool
    parent_id: str | None
    active: bool
    updated_at: datetime


# -- normalisers --------------------------------------------------------------------------------

R = TypeVar("R")


def _guarded(model: str, raw: Mapping[str, Any], build: Callable[[], R]) -> R:
    try:
        return build()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # ValidationError included
        detail = " ".join(str(exc).split())[:300]
        raise OdooProtocolError(
            f"malformed {model} record id={raw.get('id')!r}: {detail}"
        ) from None


def _external_id(raw: Mapping[str, Any]) -> int:
    value = raw["id"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("id is not an integer")
    return value


def resolve_activity_kind(
    name: str | None,
    category: str | None,
    type_map: Mapping[str, ActivityType] = DEFAULT_ACTIVITY_TYPE_MAP,
) -> ActivityType:
    """The kind of an activity type: by category, else by name substring, else ``task``."""
    if category:
        by_category = ACTIVITY_KIND_BY_CATEGORY.get(category.lower())
        if by_category is not None:
            return by_category
    lowered = (name or "").lower()
    for needle, kind in type_map.items():
        if needle and needle.lower() in lowered:
            return kind
    return DEFAULT_ACTIVITY_KIND


def normalize_activity_type(
    raw: Mapping[str, Any],
    type_map: Mapping[str, ActivityType] = DEFAULT_ACTIVITY_TYPE_MAP,
) -> OdooActivityType:
    """A ``mail.activity.type`` record."""

    def build() -> OdooActivityType:
        name = _one_line(raw.get("name")) or "Activity"
        category = text_or_none(raw.get("category"))
        return OdooActivityType(
            external_id=_external_id(raw),
            name=name,
            category=category,
            activity_type=resolve_activity_kind(name, category, type_map),
            active=_active(raw),
            updated_at=parse_odoo_datetime(raw.get("write_date")),
        )

    return _guarded("mail.activity.type", raw, build)


def index_activity_types(types: Iterable[OdooActivityType]) -> dict[int, OdooActivityType]:
    """Activity types by id, the lookup `normalize_activity` takes."""
    return {activity_type.external_id: activity_type for activity_type in types}


def normalize_activity(
    raw: Mapping[str, Any],
    types_by_id: Mapping[int, OdooActivityType],
    type_map: Mapping[str, ActivityType] = DEFAULT_ACTIVITY_TYPE_MAP,
) -> OdooActivity:
    """A ``mail.activity`` record (Odoo 16 has no ``active``/``date_done``: never done)."""

    def build() -> OdooActivity:
        type_id, type_name = many2one(raw.get("activity_type_id"))
        known = types_by_id.get(type_id) if type_id is not None else None
        if known is not None:
            kind = known.activity_type
            type_name = type_name or known.name
        else:
            kind = resolve_activity_kind(type_name, None, type_map)
            if kind not in ACTIVITY_KINDS:  # a configured map may name anything
                raise ValueError(f"activity_type: unknown kind {kind!r}")
        subject = _one_line(raw.get("summary")) or type_name or "Activity"
        user_id, user_name = many2one(raw.get("user_id"))
        updated_at = _required_datetime(raw.get("write_date"), "write_date")
        archived = not _active(raw)
        done_raw = raw.get("date_done")
        if done_raw:
            completed_at = parse_odoo_datetime(done_raw)
        elif archived:
            completed_at = updated_at
        else:
            completed_at = None
        return OdooActivity(
            external_id=_external_id(raw),
            activity_type=kind,
            odoo_type_id=type_id,
            odoo_type_name=type_name,
            subject=subject[:SUBJECT_MAX_CHARS].rstrip() or "Activity",
            description=html_to_text(raw.get("note")) or None,
            user_id=user_ref(user_id),
            user_name=user_name,
            due_date=parse_odoo_date(raw.get("date_deadline")),
            done=archived or bool(done_raw),
            completed_at=completed_at,
            related_model=text_or_none(raw.get("res_model")),
            related_id=_reference_id(raw.get("res_id")),
            related_name=_one_line(raw.get("res_name")),
            created_at=parse_odoo_datetime(raw.get("create_date")),
            updated_at=updated_at,
        )

    return _guarded("mail.activity", raw, build)


def normalize_message(raw: Mapping[str, Any]) -> OdooMessage:
    """A ``mail.message`` record: body sanitized, plain text derived, "System" when no author."""

    def build() -> OdooMessage:
        author_id, author_name = many2one(raw.get("author_id"))
        updated_at = _required_datetime(raw.get("write_date"), "write_date")
        occurred_at = parse_odoo_datetime(raw.get("date")) or parse_odoo_datetime(
            raw.get("create_date")
        )
        body = sanitize_html(raw.get("body"))
        return OdooMessage(
            external_id=_external_id(raw),
            res_model=text_or_none(raw.get("model", raw.get("res_model"))),
            res_id=_reference_id(raw.get("res_id")),
            record_name=_one_line(raw.get("record_name")),
            date=occurred_at or updated_at,
            message_type=text_or_none(raw.get("message_type")) or "notification",
            subtype=many2one(raw.get("subtype_id"))[1],
            author_id=str(author_id) if author_id else None,
            author_name=author_name or SYSTEM_AUTHOR,
            email_from=text_or_none(raw.get("email_from")),
            subject=_one_line(raw.get("subject")),
            body=body,
            body_text=html_to_text(body) if body else "",
            updated_at=updated_at,
            activity_type_id=many2one(raw.get("mail_activity_type_id"))[0],
        )

    return _guarded("mail.message", raw, build)


def normalize_lead(raw: Mapping[str, Any]) -> OdooLead:
    """A ``crm.lead`` record (lead or opportunity)."""

    def build() -> OdooLead:
        partner_id, partner_name = many2one(raw.get("partner_id"))
        user_id, user_name = many2one(raw.get("user_id"))
        return OdooLead(
            external_id=_external_id(raw),
            name=_one_line(raw.get("name")) or "",
            partner_id=str(partner_id) if partner_id else None,
            partner_name=partner_name or _one_line(raw.get("partner_name")),
            user_id=user_ref(user_id),
            user_name=user_name,
            stage=many2one(raw.get("stage_id"))[1],
            lead_type=text_or_none(raw.get("type")),
            expected_revenue=number_or_none(raw.get("expected_revenue")),
            probability=number_or_none(raw.get("probability")),
            active=_active(raw),
            updated_at=_required_datetime(raw.get("write_date"), "write_date"),
        )

    return _guarded("crm.lead", raw, build)


def normalize_user(raw: Mapping[str, Any]) -> OdooUser:
    """A ``res.users`` record."""

    def build() -> OdooUser:
        external_id = _external_id(raw)
        partner_id, _ = many2one(raw.get("partner_id"))
        return OdooUser(
            external_id=external_id,
            user_id=f"odoo:{external_id}",
            name=_one_line(raw.get("name")) or "",
            login=text_or_none(raw.get("login")),
            email=text_or_none(raw.get("email")),
            tz=text_or_none(raw.get("tz")),
            partner_id=str(partner_id) if partner_id else None,
            active=_active(raw),
            updated_at=_required_datetime(raw.get("write_date"), "write_date"),
        )

    return _guarded("res.users", raw, build)


def normalize_partner(raw: Mapping[str, Any]) -> OdooPartner:
    """A ``res.partner`` record."""

    def build() -> OdooPartner:
        parent_id, _ = many2one(raw.get("parent_id"))
        return OdooPartner(
            external_id=_external_id(raw),
            name=_one_line(raw.get("name")) or "",
            email=text_or_none(raw.get("email")),
            phone=text_or_none(raw.get("phone")),
            is_company=raw.get("is_company") is True,
            parent_id=str(parent_id) if parent_id else None,
            active=_active(raw),
            updated_at=_required_datetime(raw.get("write_date"), "write_date"),
        )

    return _guarded("res.partner", raw, build)
