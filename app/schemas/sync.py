"""Odoo sync schemas: a run, its counts, the status of the connection, named as in API.md."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Trigger = Literal["manual", "scheduled"]
RunStatus = Literal["running", "succeeded", "failed"]


class ModelCounts(BaseModel):
    fetched: int = Field(0, description="Records read from Odoo")
    upserted: int = Field(0, description="Documents written (created or replaced)")
    deactivated: int = Field(0, description="Documents gone from Odoo, now hidden from reads")


class SyncRun(BaseModel):
    run_id: str
    trigger: Trigger
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    full: bool = Field(description="Re-read everything and reconcile deletions")
    counts: dict[str, ModelCounts] = Field(
        default_factory=dict, description="Per Odoo model, e.g. `mail.activity`"
    )
    errors: list[str] = Field(default_factory=list)


class SyncRunPage(BaseModel):
    items: list[SyncRun]


class SyncStarted(BaseModel):
    run_id: str
    status: Literal["running"] = "running"


class Watermark(BaseModel):
    """Everything up to (write_date, id), in Odoo's `write_date, id` order, is synced."""

    write_date: dt.datetime
    id: int


class SyncStatus(BaseModel):
    enabled: bool = Field(description="An Odoo connection is configured")
    interval_seconds: float = Field(description="Scheduled runs every so often; 0 = off")
    next_run_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    protocol: Literal["xmlrpc", "json2"] | None = Field(
        default=None, description="The protocol of the last connection (or the configured one)"
    )
    watermarks: dict[str, Watermark | None] = Field(default_factory=dict)
