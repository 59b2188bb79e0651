"""Building blocks of query conditions, in the entity's own field names.

Services compose filters from these (the activity search, the timeline, the dashboard, the
in-app notification list); the repositories add the tenant scope and map the names into the
stored documents. Every condition is plain MongoDB query language, served by the indexes
declared in `app/store/__init__.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

SortKeys = Sequence[tuple[str, int]]


def all_of(conditions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every non-empty condition; {} when there are none."""
    parts = [dict(c) for c in conditions if c]
    if not parts:
        return {}
    return parts[0] if len(parts) == 1 else {"$and": parts}


def one_of(field_name: str, values: Sequence[str]) -> dict[str, Any]:
    """`field_name` equal to any of `values` (duplicates dropped); {} when there are none."""
    unique = list(dict.fromkeys(values))
    if not unique:
        return {}
    return {field_name: unique[0] if len(unique) == 1 else {"$in": unique}}


def within(field_name: str, **bounds: Any) -> dict[str, Any]:
    """`field_name` within the bounds given (`gt`, `gte`, `lt`, `lte`; None is no bound);
    {} when there is none."""
    limits = {f"${op}": value for op, value in bounds.items() if value is not None}
    return {field_name: limits} if limits else {}


def contains_text(q: str, fields: Sequence[str]) -> dict[str, Any]:
    """Case-insensitive substring match; the text is escaped, never a pattern."""
    pattern = re.escape(q)
    return {"$or": [{f: {"$regex": pattern, "$options": "i"}} for f in fields]}


def after(keys: SortKeys, values: Sequence[Any]) -> dict[str, Any]:
    """The keyset condition: rows strictly after `values` in the order given by `keys`."""
    branches: list[dict[str, Any]] = []
    for i, (field, direction) in enumerate(keys):
        branch = {keys[j][0]: values[j] for j in range(i)}
        branch[field] = {"$gt" if direction > 0 else "$lt": values[i]}
        branches.append(branch)
    return {"$or": branches}
