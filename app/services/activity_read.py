"""How a stored activity reads: its urgency against the request's "today", never stored.

Imported by the services that render activities (search pages, agenda, timeline, the change
feed) without depending on the service that writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from app.schemas.activity import ActivityRead


def urgency_of(data: Mapping[str, Any], today: str) -> tuple[str, int | None]:
    """(urgency, days_overdue) of a stored activity against `today` (YYYY-MM-DD)."""
    if data.get("state") == "done":
        return "done", None
    due = data.get("due_date")
    if due is None:
        return "no_due_date", None
    if due < today:
        return "overdue", (date.fromisoformat(today) - date.fromisoformat(due)).days
    return ("today", None) if due == today else ("upcoming", None)


def to_read(data: Mapping[str, Any], today: str) -> ActivityRead:
    urgency, days_overdue = urgency_of(data, today)
    return ActivityRead.model_validate({**data, "urgency": urgency, "days_overdue": days_overdue})


_READ_FIELDS = tuple(
    (name, field.get_default(call_default_factory=True))
    for name, field in ActivityRead.model_fields.items()
    if name not in ("urgency", "days_overdue")
)


def read_item(data: Mapping[str, Any], today: str) -> dict[str, Any]:
    """A stored activity as `ActivityRead` renders it, for serialization only.

    The stored document was validated when it was written (create, update, sync), so list pages
    do not validate it again: they pick the read fields in the model's order, fill the model's
    defaults, add the per-request urgency and serialize (`page_json`). Tested to produce the same
    JSON as `to_read(...).model_dump_json()` for documents of every writer.
    """
    item = {name: data.get(name, default) for name, default in _READ_FIELDS}
    item["urgency"], item["days_overdue"] = urgency_of(data, today)
    return item
