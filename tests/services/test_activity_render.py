"""Property: a search page rendered from stored documents (no re-validation) is byte for byte
the JSON of the validated `ActivityPage`, for local activities as created and as updated.
(Odoo-synced activities are checked the same way in test_sync.py.)"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.schemas.activity import ActivityCreate, ActivityPage, ActivityUpdate
from app.schemas.common import ACTIVITY_STATES, ACTIVITY_TYPES, PRIORITIES, RELATED_MODELS
from app.services import activities, activity_read
from app.services.auth import Principal
from app.store import open_store
from tests.conftest import make_settings

TENANT = "acme"
ME = Principal(sub="alice", tenant=TENANT, roles=frozenset({"user"}), identities=("alice",))
NOW = datetime(2026, 1, 20, 10, 0, 0, 123456, tzinfo=UTC)

days = st.integers(min_value=-30, max_value=30).map(lambda n: date(2026, 1, 20) + timedelta(n))
times = st.times().map(lambda t: time(t.hour, t.minute, t.second))
text = st.text(min_size=1, max_size=20).filter(str.strip)
related = st.fixed_dictionaries(
    {
        "model": st.sampled_from(RELATED_MODELS),
        "id": st.from_regex(r"[A-Za-z0-9_]{1,8}", fullmatch=True),
    },
    optional={"name": st.one_of(st.none(), text)},
)
optional_fields = {
    "due_date": st.one_of(st.none(), days),
    "start_time": times,
    "location": text,
    "related": related,
    "contact_id": text,
    "contact_name": text,
    "description": text,
    "notes": text,
    "phone": st.just("+1 555 0100"),
    "email": st.just("a@example.com"),
    "notif_time": st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2026, 3, 1), timezones=st.just(UTC)
    ),
    "priority": st.sampled_from(PRIORITIES),
    "state": st.sampled_from(ACTIVITY_STATES),
    "send_reminder": st.booleans(),
    "other_users": st.lists(st.sampled_from(["bob", "odoo:7"]), max_size=2),
}
creates = st.fixed_dictionaries(
    {"type": st.sampled_from(ACTIVITY_TYPES), "subject": text, "date": days},
    optional=optional_fields,
)
updates = st.fixed_dictionaries(
    {}, optional={**optional_fields, "due_date": st.one_of(st.none(), days), "date": days}
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(creates, min_size=1, max_size=4),
    patch=st.one_of(st.none(), updates),
    today=days,
)
async def test_rendered_page_is_the_validated_page(
    specs: list[dict[str, Any]], patch: dict[str, Any] | None, today: date
) -> None:
    config = make_settings()
    store = open_store(config)
    payloads = [ActivityCreate.model_validate(spec) for spec in specs]
    docs = await activities.create_activities(store, ME, payloads, settings=config, now=NOW)
    if patch is not None and (start := patch.get("start_time")) is not None:
        patch["end_time"] = None  # keep end >= start whatever the stored start is
        del patch["start_time"]
        patch["start_time"] = start
    if patch is not None:
        await activities.update_activity(
            store,
            ME,
            docs[0]["id"],
            ActivityUpdate.model_validate(patch),
            if_match=None,
            settings=config,
            now=NOW + timedelta(minutes=5),
        )
    rows = await store.envelopes.find(
        TENANT, activities.ENTITY, {}, sort=activities.SORTS["date"], limit=10
    )
    assert len(rows) == len(specs)
    day = today.isoformat()
    for total in (None, len(rows)):
        rendered = activities.ActivityPageResult(
            [activity_read.read_item(row, day) for row in rows], "next", total
        ).to_json()
        validated = ActivityPage(
            items=[activity_read.to_read(row, day) for row in rows], next_cursor="next", total=total
        ).model_dump_json()
        assert rendered == validated.encode()
