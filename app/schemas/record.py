"""Records the service does not sync (quotations, orders, ...), registered with PUT /records."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from app.schemas.common import NOT_BLANK_PATTERN, RelatedModel, UserId

RecordName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=256, pattern=NOT_BLANK_PATTERN
    ),
]


class RecordPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RecordName
    contact_id: Annotated[str, StringConstraints(max_length=128)] | None = None
    contact_name: Annotated[str, StringConstraints(max_length=256)] | None = None
    user_id: UserId | None = None


class RecordRead(BaseModel):
    model: RelatedModel
    id: str
    name: str | None
    contact_id: str | None
    contact_name: str | None
    user_id: str | None
    source: Literal["odoo", "registered"]
