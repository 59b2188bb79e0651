"""Where each model's reading stands, kept in the tenant's lease document (fenced writes).

Per model: the watermark (the newest `write_date` read, as Odoo shows it, and the id read with
it) and, while a full pass is under way, the id it has read up to and the newest `write_date` it
saw. A run that stops resumes a full pass from its id; an incremental pass needs nothing more:
what it wrote before stopping is stored with its `write_date` and is not read again.

A full pass walks by id, so a record edited behind it while it runs is not read again by it.
When it ends, the next incremental pass lists changes from where the watermark stood before the
pass (from the beginning after a first sync) instead of from the new watermark: every change
made during the pass is listed once, and only those that differ from the store are read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass
class ModelState:
    write_date: datetime | None = None
    last_id: int = 0
    full_after: int | None = None
    full_newest: tuple[datetime, int] | None = None
    # after a full pass: the next incremental pass lists changes from `recheck_from` (None: all)
    recheck: bool = False
    recheck_from: datetime | None = None

    @property
    def in_full_pass(self) -> bool:
        return self.full_after is not None

    def saw(self, newest: tuple[datetime, int] | None) -> None:
        """Move the watermark to ``newest`` if it is newer."""
        if newest is not None and (
            self.write_date is None or newest > (self.write_date, self.last_id)
        ):
            self.write_date, self.last_id = newest


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # naive = UTC


def states_from(doc: Mapping[str, Any]) -> dict[str, ModelState]:
    """The states saved in a lease document (entries of older releases read too)."""
    found: dict[str, ModelState] = {}
    for entry in doc.get("watermarks") or ():
        model = entry.get("model")
        if not isinstance(model, str):
            continue
        last_id = entry.get("id")
        full_after = entry.get("full_after")
        newest_at = _aware(entry.get("full_newest_at"))
        found[model] = ModelState(
            write_date=_aware(entry.get("write_date")),
            last_id=last_id if isinstance(last_id, int) else 0,
            full_after=full_after if isinstance(full_after, int) else None,
            full_newest=(newest_at, int(entry.get("full_newest_id") or 0))
            if newest_at is not None
            else None,
            recheck=entry.get("recheck") is True,
            recheck_from=_aware(entry.get("recheck_from")),
        )
    return found


def states_field(states: Mapping[str, ModelState]) -> list[dict[str, Any]]:
    # A list, not a sub-document keyed by model: model names contain dots.
    return [
        {
            "model": model,
            "write_date": state.write_date,
            "id": state.last_id,
            "full_after": state.full_after,
            "full_newest_at": state.full_newest[0] if state.full_newest else None,
            "full_newest_id": state.full_newest[1] if state.full_newest else None,
            "recheck": state.recheck,
            "recheck_from": state.recheck_from,
        }
        for model, state in states.items()
    ]


def newest_of(*candidates: tuple[datetime, int] | None) -> tuple[datetime, int] | None:
    present: Iterable[tuple[datetime, int]] = (c for c in candidates if c is not None)
    return max(present, default=None)
