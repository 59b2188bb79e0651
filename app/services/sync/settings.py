"""What the app's Settings mean for the sync: the connection, the models, their domains."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.connectors.odoo import OdooConfig

ACTIVITY_TYPE_MODEL = "mail.activity.type"
USER_MODEL = "res.users"
PARTNER_MODEL = "res.partner"
ACTIVITY_MODEL = "mail.activity"
MESSAGE_MODEL = "mail.message"
# Archived records too: Odoo 17+ keeps a done activity archived, and an archived lead or user
# is still what old activities and messages point to.
ANY_ACTIVE = {"active_test": False}
# The only message type Odoo's chatter does not show (it goes to a person's inbox).
INBOX_ONLY_TYPE = "user_notification"


def odoo_config(settings: Settings) -> OdooConfig | None:
    """The connector's configuration, or None when Odoo is not configured."""
    return settings.odoo


def synced_models(settings: Settings) -> tuple[str, ...]:
    """The Odoo models a run reads, in the order it reads them (references resolve)."""
    return (
        ACTIVITY_TYPE_MODEL,
        USER_MODEL,
        PARTNER_MODEL,
        settings.opportunity_model,
        ACTIVITY_MODEL,
        MESSAGE_MODEL,
    )


def message_domain(settings: Settings) -> tuple[Any, ...]:
    """The chatter a run reads: ODOO_MESSAGE_MODELS, of ODOO_MESSAGE_TYPES (default: every type
    the chatter shows), without ODOO_MESSAGE_EXCLUDED_SUBTYPES."""
    types = settings.message_types
    domain: list[Any] = [
        ("model", "in", list(settings.message_models)),
        ("message_type", "in", list(types)) if types else ("message_type", "!=", INBOX_ONLY_TYPE),
    ]
    # Excluded subtypes are filtered by Odoo (case-insensitive equality on the subtype's
    # name): what Odoo counts is then exactly what the store keeps (see `run._reconcile`).
    for name in sorted(settings.message_excluded_subtypes):
        domain += ["!", ("subtype_id.name", "=ilike", name)]
    return tuple(domain)


def lease_key(tenant: str) -> str:
    """The lease (and durable state) document of a tenant's sync."""
    return f"{tenant}:sync"
