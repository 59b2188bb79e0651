"""Done history: which "done" chatter message belongs to which done activity.

Marking an activity done in Odoo posts a message on its record (`mail_activity_type_id` set,
body "<Type> done", the summary and the feedback), then archives the activity (Odoo 17+, a type
with `keep_done`) or deletes it (other types; every type on Odoo 16). Nothing links the message
to the activity's id, so an activity is matched to the earliest unclaimed done message of its
type on its record posted no earlier than the activity could have been done: after its last
write, and after the sync last saw it open (on the day of its `date_done` when Odoo kept one);
when the activity has its own summary, the message must quote it. Messages are looked up by
`(model, res_id)`, which Odoo indexes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from app.connectors.odoo import OdooClient
from app.connectors.odoo.normalize import normalize_message
from app.services.sync.settings import ANY_ACTIVE, MESSAGE_MODEL

DONE_MESSAGE_FIELDS = ("model", "res_id", "mail_activity_type_id", "date", "body", "write_date")
_FEEDBACK = re.compile(r"\bFeedback\s*:\s*", re.IGNORECASE)
# Odoo's clock and the create_date it stamped agree to the second: allow that much.
_TOLERANCE = timedelta(seconds=1)


def done_feedback(body_text: str) -> str | None:
    """The feedback of a done message's plain text (what follows "Feedback:"), if any."""
    found = _FEEDBACK.search(body_text)
    if found is None:
        return None
    return body_text[found.end() :].strip() or None


@dataclass(frozen=True, slots=True)
class DoneActivity:
    """What matching needs of a done (archived or deleted) activity."""

    external_id: int
    res_model: str
    res_id: str
    type_id: int | None
    not_before: datetime  # it cannot have been done earlier
    summary: str | None = None  # its own summary, which the done message quotes
    date_done: date | None = None


@dataclass(frozen=True, slots=True)
class DoneMessage:
    external_id: int
    res_model: str
    res_id: str
    type_id: int
    posted_at: datetime
    feedback: str | None
    text: str


async def done_messages(
    client: OdooClient, activities: Iterable[DoneActivity]
) -> list[DoneMessage]:
    """The done messages on the records of these activities: one call, by Odoo's
    `(model, res_id)` index (a few messages of another model with a same id come along and are
    ignored)."""
    wanted = {(a.res_model, a.res_id) for a in activities if a.res_id.isdigit()}
    if not wanted:
        return []
    rows = await client.search_read(
        MESSAGE_MODEL,
        [
            ("model", "in", sorted({model for model, _ in wanted})),
            ("res_id", "in", sorted({int(res_id) for _, res_id in wanted})),
            ("mail_activity_type_id", "!=", False),
        ],
        DONE_MESSAGE_FIELDS,
        limit=None,
        order="id asc",
        context=ANY_ACTIVE,
    )
    found = []
    for raw in rows:
        message = normalize_message(raw)
        if message.res_model is None or message.res_id is None:
            continue
        if message.activity_type_id is None or (message.res_model, message.res_id) not in wanted:
            continue
        found.append(
            DoneMessage(
                external_id=message.external_id,
                res_model=message.res_model,
                res_id=message.res_id,
                type_id=message.activity_type_id,
                posted_at=message.date,
                feedback=done_feedback(message.body_text),
                text=message.body_text,
            )
        )
    return found


def match(
    activities: Sequence[DoneActivity], messages: Sequence[DoneMessage]
) -> dict[int, DoneMessage]:
    """Each activity's done message (by activity id), each message claimed at most once."""
    by_key: dict[tuple[str, str, int], list[DoneMessage]] = {}
    for message in sorted(messages, key=lambda m: (m.posted_at, m.external_id)):
        by_key.setdefault((message.res_model, message.res_id, message.type_id), []).append(message)
    matched: dict[int, DoneMessage] = {}
    claimed: set[int] = set()
    for activity in sorted(activities, key=lambda a: (a.not_before, a.external_id)):
        if activity.type_id is None:
            continue
        candidates = [
            m
            for m in by_key.get((activity.res_model, activity.res_id, activity.type_id), ())
            if m.external_id not in claimed
            and m.posted_at >= activity.not_before - _TOLERANCE
            and (not activity.summary or activity.summary in m.text)
        ]
        if activity.date_done is not None:
            same_day = [m for m in candidates if m.posted_at.date() == activity.date_done]
            candidates = same_day or candidates
        if candidates:
            matched[activity.external_id] = candidates[0]
            claimed.add(candidates[0].external_id)
    return matched
