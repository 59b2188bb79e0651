"""Chained and recurring activities: what is created when an activity becomes done.

- `next_activity`: a new activity on the same record, contact and assignee, dated the
  completion date in the assignee's zone + `offset_days` (Mon-Fri days with `business_days`).
- `recurrence`: the next occurrence, on the rule's first date after this one's `date` (dateutil
  expands the rule, with this occurrence's date as DTSTART); same fields, state `new`, `COUNT`
  consumed (this occurrence was one: RFC 5545 counts DTSTART), `UNTIL` respected; it shares the
  `series_id`.

Exactly once: the done transition is a version-checked write, so of two PATCHes racing to done
only one sees it; and the new activities have ids derived from the done one's
(`records.followup_activity_id`), inserted only when absent, so even a repeated call creates
nothing. Deleting an activity of a series later leaves every other occurrence as it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from dateutil.rrule import DAILY, FR, MO, TH, TU, WE, rrule

from app.config import Settings
from app.errors import ValidationFailed
from app.schemas.activity import ActivityCreate
from app.schemas.followup import build_rule, rule_parts, rule_until
from app.services import activities, events, records, reminders
from app.services.auth import Principal
from app.services.clock import utc_ms
from app.store import Store

logger = logging.getLogger("app.followups")

WEEKDAYS = (MO, TU, WE, TH, FR)
# Fields an occurrence copies from the one before it (besides date, due_date and the rule).
_OCCURRENCE_FIELDS = (
    "type",
    "subject",
    "user_id",
    "start_time",
    "end_time",
    "location",
    "related",
    "contact_id",
    "contact_name",
    "description",
    "body",
    "notes",
    "phone",
    "email",
    "priority",
    "send_reminder",
    "notif_email",
    "other_users",
    "next_activity",
)


def add_days(start: date, days: int, *, business_days: bool = False) -> date:
    """`start` + `days`; with `business_days`, the `days`-th Monday-Friday after `start`
    (0: `start`, moved to the next Monday when it falls on a weekend). OverflowError past the
    calendar's end."""
    if not business_days:
        return start + timedelta(days=days)
    first = start + timedelta(days=1) if days else start
    weekdays = rrule(
        DAILY, dtstart=datetime.combine(first, time()), byweekday=WEEKDAYS, count=max(days, 1)
    )
    return weekdays[-1].date()


def next_occurrence(rule: str, current: date) -> tuple[date, str] | None:
    """(date, rule) of the occurrence after the one dated `current`, or None when the series
    ends (COUNT used up, UNTIL passed, or no further date before the calendar's end)."""
    count = rule_parts(rule).get("COUNT")
    if count is not None and int(count) <= 1:
        return None
    try:
        series = build_rule(rule, current)
        # The first date after `current` (DTSTART itself is yielded when it matches the rule).
        following = next((d for d in series.replace(count=None) if d.date() > current), None)
    except (OverflowError, ValueError):
        return None
    if following is None:
        return None
    if count is not None:
        rule = str(series.replace(count=int(count) - 1)).split("\n")[-1].removeprefix("RRULE:")
    return following.date(), rule


def check_recurrence(data: Mapping[str, Any]) -> None:
    """A rule whose UNTIL is before the activity's date would end before it starts: 422."""
    rule = data.get("recurrence")
    until = rule_until(rule) if rule else None
    if until and until < date.fromisoformat(data["date"]):
        raise ValidationFailed(
            "recurrence UNTIL is before the activity's date", loc=("body", "recurrence")
        )


def _follow_up(done: Mapping[str, Any], completed_on: date) -> ActivityCreate:
    step = done["next_activity"]
    return ActivityCreate.model_validate(
        {
            "type": step["type"],
            "subject": step["subject"],
            "date": add_days(
                completed_on, step["offset_days"], business_days=step.get("business_days", False)
            ),
            "start_time": step.get("start_time"),
            "priority": step.get("priority") or "normal",
            "description": step.get("description"),
            "send_reminder": bool(step.get("send_reminder")),
            "user_id": done["user_id"],
            "related": done.get("related"),
            "contact_id": done.get("contact_id"),
            "contact_name": done.get("contact_name"),
        }
    )


def _occurrence(done: Mapping[str, Any], on: date, rule: str) -> ActivityCreate:
    current = date.fromisoformat(done["date"])
    shift = on - current
    fields = {name: done.get(name) for name in _OCCURRENCE_FIELDS}
    due = done.get("due_date")
    notif_time = done.get("notif_time")
    if not done.get("send_reminder") or done.get("notif_time_auto"):
        notif_time = None  # an automatic reminder time is recomputed for the new date
    return ActivityCreate.model_validate(
        {
            **fields,
            "date": on,
            "due_date": date.fromisoformat(due) + shift if due else None,
            "notif_time": notif_time + shift if notif_time is not None else None,
            "recurrence": rule,
        }
    )


async def after_update(
    store: Store,
    user: Principal,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    settings: Settings,
    now: datetime,
) -> None:
    """Create the next activity and the next occurrence of an activity that just became done."""
    if after.get("state") != "done" or before.get("state") == "done":
        return
    if not after.get("next_activity") and not after.get("recurrence"):
        return
    payloads: list[ActivityCreate] = []
    kinds: list[str] = []
    try:
        if after.get("next_activity"):
            zone_ = await activities.assignee_zone(store, user, after["user_id"], settings)
            completed_on = (after.get("completed_at") or now).astimezone(zone_).date()
            payloads.append(_follow_up(after, completed_on))
            kinds.append("next")
        if after.get("recurrence"):
            # Off the event loop: an impossible rule makes dateutil scan up to year 9999.
            found = await asyncio.to_thread(
                next_occurrence, after["recurrence"], date.fromisoformat(after["date"])
            )
            if found is not None:
                payloads.append(_occurrence(after, *found))
                kinds.append("occurrence")
    except (OverflowError, ValueError) as exc:
        # The done write stands; a follow-up that cannot be built (past the calendar's end, a
        # synced name longer than the API accepts) is logged rather than failing the PATCH.
        logger.warning(
            "follow-up of a done activity skipped",
            extra={"activity_id": after["id"], "reason": type(exc).__name__},
        )
        return
    if not payloads:
        return
    ids = [records.followup_activity_id(after["id"], kind) for kind in kinds]
    docs = await activities.build_new_activities(
        store, user, payloads, settings=settings, now=now, ids=ids
    )
    for doc, kind in zip(docs, kinds, strict=True):
        doc["previous_id"] = after["id"]
        doc["series_id"] = (after.get("series_id") or after["id"]) if kind == "occurrence" else None
    created = await store.envelopes.insert_absent(
        user.tenant, activities.ENTITY, "local", docs, now=utc_ms(now)
    )
    await reminders.sync_for_activities(store, user, created, now=now)
    await events.record_activities(
        store, user.tenant, "created", created, now=now, tz=settings.default_tz
    )
