"""Notification schemas: the in-app side of activity reminders, named as in API.md."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

NotificationStatus = Literal["pending", "sent", "failed", "cancelled"]


class NotificationRead(BaseModel):
    id: str
    activity_id: str
    user_id: str
    title: str
    send_at: dt.datetime
    # "pending" also covers a reminder a worker is delivering right now.
    status: NotificationStatus
    read: bool
    sent_at: dt.datetime | None = None


class NotificationPage(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None = None
