"""Webhook schemas: subscriptions (admin) and their delivery log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.schemas.events import EventType

EventPattern = Literal["*", "activity.*", "message.*", "notification.*", "sync.*", EventType]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=8, max_length=2048)] = Field(
        examples=["https://crm.example.com/hooks/activities"]
    )
    events: list[EventPattern] = Field(min_length=1, max_length=20, examples=[["activity.*"]])
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class WebhookRead(BaseModel):
    id: str
    url: str
    events: list[EventPattern]
    description: str | None = None
    created_at: dt.datetime
    created_by: str


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description="Standard Webhooks signing secret (`whsec_<base64>`); shown only here",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class WebhookList(BaseModel):
    items: list[WebhookRead]


class DeliveryAttempt(BaseModel):
    at: dt.datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int


class DeliveryRead(BaseModel):
    id: str = Field(description="Also the `webhook-id` header of every attempt")
    webhook_id: str
    event_id: int
    event_type: EventType
    # "pending" also covers an attempt in progress.
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None = None
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    attempt_log: list[DeliveryAttempt] = Field(default_factory=list)


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None
