"""Keyset pagination: opaque cursors naming the row a page ended at.

A page is sorted by a list of keys whose last one is unique (the entity id), so "after the last
item of the previous page" (`app.store.conditions.after`) is exact: no duplicates or omissions
across pages, even with many equal sort values, and rows inserted meanwhile never shift the
pages already walked.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.errors import ValidationFailed

SortKeys = Sequence[tuple[str, int]]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        dt = datetime.fromisoformat(value["dt"])
        if dt.tzinfo is None:
            raise ValueError("naive datetime in cursor")
        return dt
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise ValueError("bad cursor value")


def encode_cursor(scope: str, values: Sequence[Any]) -> str:
    """`scope` names the ordering the cursor belongs to; a cursor is refused under another."""
    raw = json.dumps({"s": scope, "v": [_encode_value(v) for v in values]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: str, width: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if payload["s"] != scope or len(payload["v"]) != width:
            raise ValueError("cursor belongs to another ordering")
        return [_decode_value(v) for v in payload["v"]]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError) as exc:
        raise ValidationFailed(
            "The cursor is malformed or belongs to another ordering",
            loc=("query", "cursor"),
            msg="invalid cursor",
        ) from exc


def sort_values(item: dict[str, Any], keys: SortKeys) -> list[Any]:
    return [item[field] for field, _ in keys]
