"""What the sync tests share: settings pointing at a simulator, and expectations read straight
from the simulator's tables (never through the mapping under test)."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from app.config import Settings
from app.services import records
from app.store import Store
from tests.conftest import make_settings
from tests.odoo_sim import OdooSim

TENANT = "acme"
# Small and fast: tests never wait for real backoff or long timeouts.
FAST: dict[str, Any] = {
    "odoo_backoff_seconds": 0.001,
    "odoo_timeout_seconds": 1.0,
    "odoo_max_retries": 2,
}
ENTITY_OF = {
    "mail.activity.type": records.ACTIVITY_TYPE,
    "res.users": records.USER,
    "res.partner": records.PARTNER,
    "crm.lead": records.OPPORTUNITY,
    "mail.activity": records.ACTIVITY,
    "mail.message": records.MESSAGE,
}
MODELS = tuple(ENTITY_OF)


def sync_settings(sim: OdooSim, url: str, protocol: str = "json2", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "odoo_url": url,
        "odoo_db": sim.db,
        "odoo_username": sim.login,
        "odoo_password": SecretStr(sim.password),
        "odoo_api_key": SecretStr(sim.api_key) if sim.api_key else None,
        "odoo_protocol": protocol,
        "odoo_tenant": TENANT,
        "odoo_page_size": 25,
        **FAST,
    }
    values.update(overrides)
    return make_settings(**values)


def expected_rows(sim: OdooSim, settings: Settings) -> dict[str, dict[int, dict[str, Any]]]:
    """The simulator's records the sync should bring, by model and id."""
    types = set(settings.message_types)
    excluded = settings.message_excluded_subtypes
    messages = {
        mid: row
        for mid, row in sim.table("mail.message").items()
        if row["model"] in settings.message_models
        and (row["message_type"] in types if types else row["message_type"] != "user_notification")
        and not (row["subtype_id"] and row["subtype_id"][1].lower() in excluded)
    }
    rows = {model: dict(sim.table(model)) for model in MODELS}
    rows["mail.message"] = messages
    return rows


def page_calls(count: int, page_size: int) -> int:
    """search_read calls to read `count` records by id pages: the last page is short
    (possibly empty), which is how the reader knows it is the last."""
    return count // page_size + 1


async def stored(store: Store, entity_type: str) -> dict[str, dict[str, Any]]:
    """Every active document of a type, by serving id."""
    docs = await store.envelopes.find(TENANT, entity_type, {}, sort=[("id", 1)], limit=100_000)
    return {doc["id"]: doc for doc in docs}


async def stored_ids(store: Store, entity_type: str) -> set[int]:
    """Odoo ids of the records the store mirrors as existing in Odoo (done history aside)."""
    ids = await store.odoo_mirror.live_ids(TENANT, entity_type, after=0, limit=100_000)
    readable = {doc["external_id"] for doc in (await stored(store, entity_type)).values()}
    assert set(ids) <= readable  # every mirrored record is readable
    return set(ids)
