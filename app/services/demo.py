"""A realistic demo data set: a sales team in four time zones, their opportunities, partners and
~300 activities of every type and state spread around today, some without a due date."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from app.config import Settings
from app.schemas.activity import ActivityCreate
from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES
from app.services import activities, records
from app.services.auth import Principal
from app.services.clock import zone
from app.store import Store

TENANT = "default"

# (sub, odoo uid, name, tz, email)
TEAM = [
    ("alice", 2, "Alice Martin", "Asia/Dubai", "alice@example.com"),
    ("bob", 3, "Bob Nakamura", "America/Los_Angeles", "bob@example.com"),
    ("chen", 4, "Chen Wei", "Asia/Singapore", "chen@example.com"),
    ("dana", 5, "Dana Fischer", "Europe/Berlin", "dana@example.com"),
]
COMPANIES = [
    "Azure Interior",
    "Deco Addict",
    "Gemini Furniture",
    "Lumber Inc",
    "Ready Mat",
    "The Jackson Group",
    "Wood Corner",
    "Supreme Judiciary Council",
    "Nile Logistics",
    "Fjord Analytics",
    "Sakura Foods",
    "Pampas Energy",
]
SUBJECTS = {
    "call": ["Follow up on quotation", "Discovery call", "Pricing discussion", "Check-in call"],
    "email": ["Send proposal", "Email revised terms", "Share case study", "Send contract"],
    "whatsapp": ["WhatsApp delivery update", "Confirm meeting on WhatsApp"],
    "meeting": ["Product demo", "Quarterly review", "Negotiation meeting", "Site visit"],
    "note": ["Budget approved internally", "Decision maker changed", "Competitor in play"],
    "event": ["Trade fair booth", "Customer webinar", "Launch event"],
    "task": ["Prepare quotation", "Update CRM notes", "Draft SOW", "Collect requirements"],
}


def _principal(sub: str, uid: int, name: str, tz: str, email: str) -> Principal:
    return Principal(
        sub=sub,
        tenant=TENANT,
        roles=frozenset({"user"}),
        name=name,
        tz=tz,
        odoo_uid=uid,
        email=email,
        identities=(sub, f"odoo:{uid}"),
    )


async def load_demo_data(
    store: Store, settings: Settings, *, now: datetime, seed: int = 7
) -> dict[str, int]:
    """Insert the demo data set into the `default` tenant unless it already has activities."""
    if await store.envelopes.count(TENANT, records.ACTIVITY, {}):
        return {"activities": 0}
    rng = random.Random(seed)
    await _reference_data(store, now)
    today = now.astimezone(zone(settings.default_tz)).date()
    created = 0
    for sub, uid, name, tz, email in TEAM:
        creator = _principal(sub, uid, name, tz, email)
        payloads = [_activity(rng, today) for _ in range(75)]
        await activities.create_activities(store, creator, payloads, settings=settings, now=now)
        created += len(payloads)
    return {"activities": created, "opportunities": len(COMPANIES), "users": len(TEAM)}


def _activity(rng: random.Random, today: date) -> ActivityCreate:
    kind = rng.choice(ACTIVITY_TYPES)
    day = today + timedelta(days=rng.randint(-20, 20))
    state = rng.choices(ACTIVITY_STATES, weights=[45, 20, 20, 10, 5])[0]
    due: date | None = day + timedelta(days=rng.randint(0, 5))
    if rng.random() < 0.15:
        due = None
    timed = kind in ("call", "meeting", "event") and rng.random() < 0.8
    start = time(rng.randint(7, 18), rng.choice((0, 15, 30, 45))) if timed else None
    end = time(start.hour + 1, start.minute) if start else None
    link = rng.random()
    related: dict[str, Any] | None
    if link < 0.55:
        related = {"model": "crm.lead", "id": str(rng.randint(1, len(COMPANIES)))}
    elif link < 0.7:
        related = {"model": "sale.quot", "id": str(rng.randint(100, 140)), "name": "Quotation"}
    elif link < 0.8:
        related = {"model": "sale.order", "id": str(rng.randint(500, 530)), "name": "Order"}
    else:
        related = None
    assignee = rng.choice(TEAM)
    return ActivityCreate.model_validate(
        {
            "type": kind,
            "subject": rng.choice(SUBJECTS[kind]),
            "user_id": assignee[0] if rng.random() < 0.6 else f"odoo:{assignee[1]}",
            "date": day,
            "due_date": due,
            "start_time": start,
            "end_time": end,
            "location": "Customer office" if kind == "meeting" else None,
            "related": related,
            "priority": rng.choices(("high", "normal", "low"), weights=[20, 60, 20])[0],
            "state": state,
            "description": f"{kind.title()} planned with the customer team.",
            "phone": "+971 4 555 0100" if kind in ("call", "whatsapp") else None,
            "send_reminder": rng.random() < 0.2,
            "other_users": [rng.choice(TEAM)[0]] if rng.random() < 0.2 else [],
        }
    )


async def _reference_data(store: Store, now: datetime) -> None:
    """Users, partners and opportunities as the Odoo sync stores them."""
    users = [
        {
            "id": records.odoo_user_id(uid),
            "external_id": uid,
            "user_id": f"odoo:{uid}",
            "name": name,
            "login": email,
            "email": email,
            "tz": tz,
            "active": True,
        }
        for _, uid, name, tz, email in TEAM
    ]
    partners = [
        {
            "id": records.odoo_partner_id(i),
            "external_id": i,
            "name": company,
            "email": f"contact@{company.split()[0].lower()}.example",
            "phone": None,
            "is_company": True,
            "active": True,
        }
        for i, company in enumerate(COMPANIES, start=1)
    ]
    opportunities = [
        {
            "id": records.odoo_opportunity_id(i),
            "external_id": i,
            "name": f"{company}'s opportunity",
            "contact_id": str(i),
            "contact_name": company,
            "user_id": f"odoo:{TEAM[i % len(TEAM)][1]}",
            "user_name": TEAM[i % len(TEAM)][2],
            "stage": "Qualified",
            "active": True,
        }
        for i, company in enumerate(COMPANIES, start=1)
    ]
    await store.envelopes.upsert_many(TENANT, records.USER, "odoo", users, now=now)
    await store.envelopes.upsert_many(TENANT, records.PARTNER, "odoo", partners, now=now)
    await store.envelopes.upsert_many(TENANT, records.OPPORTUNITY, "odoo", opportunities, now=now)
