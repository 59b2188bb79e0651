"""The Odoo sync: Odoo records into the serving collection, incrementally, one run at a time.

A run reads six Odoo models in an order that lets references resolve (activity types, users,
partners, opportunities, activities, messages). Each model is read in pages in Odoo's
`write_date, id` order from its watermark (keyset pagination, `OdooClient.iter_pages`), with a
bounded two-stage pipeline: the next page is fetched while the previous one is written, so
memory holds at most a few pages whatever the data size. Each page is mapped to envelope
documents and written with ONE `bulk_write` of `_id`-keyed upserts; only then does the model's
watermark move past it, so an interrupted run loses nothing and the next one resumes there.

Only one run per tenant at a time, across replicas: a lease document `"<tenant>:sync"` in
`store.leases` (see `leases.py`) is claimed atomically at the start, renewed with every page and
released at the end. The same document holds the sync's durable state: the watermark of each
model (written fenced by the lease owner together with the renewal, one small write per page), a
run sequence number, and the protocol of the last connection.

Deletions: a *full* run (asked with `full=true`, and every `SYNC_RECONCILE_EVERY` runs) re-reads
every model from the beginning, stamping each envelope it writes with the run's sequence number.
When every model was read completely, the active Odoo envelopes the run did not stamp are the
suspects; they are checked against Odoo by id in batches (records found are written, e.g. ones a
long-running Odoo transaction committed behind the scan) and the rest are deactivated in bulk. A
run that fails part-way deactivates nothing. A full run also refreshes names Odoo copies into
other records without touching their `write_date` (an activity's assignee name, a lead's partner).

Mapping (documents the rest of the service reads):
- `mail.activity` → `activity` in the local activity shape: `date` is the deadline (Odoo's own
  "planned for" date), or the creation date in the tenant zone when there is none; `due_date` is
  the deadline or null (an open activity without one is `no_due_date`); `state` is `done` when
  Odoo archived it or set `date_done`, else `new` (Odoo's stored `state` is never trusted:
  urgency is computed at read time); `version` stays 1 (Odoo owns these documents, which are
  replaced whole by every sync; PATCH on them is refused). `contact_id`/`contact_name` come from
  the lead's partner (or the partner itself) when the activity is on one.
- `crm.lead` (OPPORTUNITY_MODEL) → `opportunity` with the partner as `contact_id`/`contact_name`,
  so local activities created on it get their contact filled in.
- `res.users` → `user`, `res.partner` → `partner`, `mail.activity.type` → `activity_type`.
- `mail.message` of ODOO_MESSAGE_MODELS and ODOO_MESSAGE_TYPES → `message`, built by
  `timeline.message_document`; subtypes in ODOO_MESSAGE_EXCLUDED_SUBTYPES are skipped.
Archived Odoo records are read too (`active_test: False`): a done activity is archived in Odoo 17+.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import httpx

from app.config import Settings
from app.connectors.odoo import Keyset, OdooClient, OdooConfig, OdooError, connect_odoo
from app.connectors.odoo.client import advance_keyset
from app.connectors.odoo.normalize import (
    OdooActivity,
    OdooActivityType,
    OdooLead,
    OdooPartner,
    OdooUser,
    fields_for,
    normalize_activity,
    normalize_activity_type,
    normalize_lead,
    normalize_message,
    normalize_partner,
    normalize_user,
)
from app.errors import NotFound, OdooNotConfigured, SyncAlreadyRunning, SyncRunNotFound
from app.schemas.common import RECORD_ID_PATTERN, RELATED_MODELS
from app.schemas.sync import ModelCounts, SyncRun, SyncRunPage, SyncStarted, SyncStatus, Watermark
from app.services import events, leases, records
from app.services.activities import derived_keys, now_ms
from app.services.auth import Principal
from app.services.clock import Clock, zone
from app.services.timeline import message_document
from app.store import Store

logger = logging.getLogger("app.sync")

SOURCE = "odoo"
ACTIVITY_TYPE_MODEL = "mail.activity.type"
USER_MODEL = "res.users"
PARTNER_MODEL = "res.partner"
ACTIVITY_MODEL = "mail.activity"
MESSAGE_MODEL = "mail.message"
# Archived records too: Odoo 17+ keeps a done activity archived, and an archived lead or user
# is still what old activities and messages point to.
ANY_ACTIVE = {"active_test": False}
# Pages waiting to be written while the next one is fetched: memory stays flat.
QUEUE_PAGES = 2
# Suspects of a full run's sweep checked against Odoo per call.
SWEEP_BATCH = 1000
# Errors kept on a run (a poison record per page must not grow it without bound).
MAX_RUN_ERRORS = 20
# The assignee of an Odoo activity that has none (Odoo allows it).
UNASSIGNED = "odoo:unassigned"
CREATED_BY = "odoo"
# Finished runs are kept this long (pruned by the service clock at the end of each run).
RUN_RETENTION = timedelta(days=90)
# A scheduled trigger is skipped when any run started more recently than this share of the
# interval ago: with several replicas, the tenant is synced about once per interval.
SCHEDULE_SLACK = 0.9

_RECORD_ID = re.compile(RECORD_ID_PATTERN)

Trigger = Literal["manual", "scheduled"]
Cursor = Keyset  # where a model's walk stands: write_date and the ids read in that second
Progress = Callable[[str, ModelCounts, bool], None]


class SyncFailed(Exception):
    """A run cannot go on; the message is safe to store and show (no secrets)."""


class SyncStopped(SyncFailed):
    """The service is stopping; the run ends failed and the next run resumes."""


# ---------------------------------------------------------------------------- configuration


def odoo_config(settings: Settings) -> OdooConfig | None:
    """The connector's configuration from Settings, or None when Odoo is not configured.

    Settings already checked the combination at start-up (`Settings._odoo_consistent`).
    """
    if settings.odoo_url is None or not settings.odoo_db:
        return None
    return OdooConfig(
        url=settings.odoo_url,
        db=settings.odoo_db,
        username=settings.odoo_username,
        password=settings.odoo_password,
        api_key=settings.odoo_api_key,
        protocol=settings.odoo_protocol,
        timeout_seconds=settings.odoo_timeout_seconds,
        max_retries=settings.odoo_max_retries,
        backoff_base_seconds=settings.odoo_backoff_seconds,
    )


def synced_models(settings: Settings) -> tuple[str, ...]:
    """The Odoo models a run reads, in the order it reads them."""
    return (
        ACTIVITY_TYPE_MODEL,
        USER_MODEL,
        PARTNER_MODEL,
        settings.opportunity_model,
        ACTIVITY_MODEL,
        MESSAGE_MODEL,
    )


def lease_key(tenant: str) -> str:
    return f"{tenant}:sync"


# ---------------------------------------------------------------------------- mapping


def _utc_ms(value: datetime) -> datetime:
    if value.tzinfo is UTC and not value.microsecond % 1000:
        return value  # the connector's datetimes are aware UTC, whole seconds: nothing to cut
    return now_ms(value)


def _ms(value: datetime | None) -> datetime | None:
    return _utc_ms(value) if value is not None else None


def activity_type_document(activity_type: OdooActivityType) -> dict[str, Any]:
    return {
        "id": records.odoo_activity_type_id(activity_type.external_id),
        "external_id": activity_type.external_id,
        "name": activity_type.name,
        "category": activity_type.category,
        "kind": activity_type.activity_type,
        "active": activity_type.active,
        "updated_at": _ms(activity_type.updated_at),
    }


def activity_type_from_document(doc: Mapping[str, Any]) -> OdooActivityType:
    return OdooActivityType(
        external_id=doc["external_id"],
        name=doc["name"],
        category=doc.get("category"),
        activity_type=doc["kind"],
        active=doc.get("active", True),
        updated_at=doc.get("updated_at"),
    )


def user_document(user: OdooUser) -> dict[str, Any]:
    return {
        "id": records.odoo_user_id(user.external_id),
        "external_id": user.external_id,
        "user_id": user.user_id,
        "name": user.name,
        "login": user.login,
        "email": user.email,
        "tz": user.tz,
        "partner_id": user.partner_id,
        "active": user.active,
        "updated_at": _ms(user.updated_at),
    }


def partner_document(partner: OdooPartner) -> dict[str, Any]:
    return {
        "id": records.odoo_partner_id(partner.external_id),
        "external_id": partner.external_id,
        "name": partner.name,
        "email": partner.email,
        "phone": partner.phone,
        "is_company": partner.is_company,
        "parent_id": partner.parent_id,
        "active": partner.active,
        "updated_at": _ms(partner.updated_at),
    }


def opportunity_document(lead: OdooLead) -> dict[str, Any]:
    return {
        "id": records.odoo_opportunity_id(lead.external_id),
        "external_id": lead.external_id,
        "name": lead.name,
        # The partner is the opportunity's contact: local activities on it inherit it.
        "contact_id": lead.partner_id,
        "contact_name": lead.partner_name,
        "user_id": lead.user_id,
        "user_name": lead.user_name,
        "stage": lead.stage,
        "lead_type": lead.lead_type,
        "expected_revenue": lead.expected_revenue,
        "probability": lead.probability,
        "active": lead.active,
        "updated_at": _ms(lead.updated_at),
    }


def activity_document(
    activity: OdooActivity,
    *,
    contact_id: str | None,
    contact_name: str | None,
    tenant_zone: ZoneInfo,
) -> dict[str, Any]:
    """A mail.activity in the local activity document shape (see the module docstring)."""
    updated_at = _utc_ms(activity.updated_at)
    created_at = _ms(activity.created_at) or updated_at
    due_date = activity.due_date.isoformat() if activity.due_date else None
    model, record_id = activity.related_model, activity.related_id
    related = (
        {"model": model, "id": record_id, "name": activity.related_name}
        if model in RELATED_MODELS and record_id and _RECORD_ID.match(record_id)
        else None  # a model the API does not know: kept as odoo_res_model/odoo_res_id
    )
    data: dict[str, Any] = {
        "id": records.odoo_activity_id(activity.external_id),
        "source": SOURCE,
        "external_id": activity.external_id,
        "type": activity.activity_type,
        "subject": activity.subject,
        "user_id": activity.user_id or UNASSIGNED,
        "user_name": activity.user_name,
        "date": due_date or created_at.astimezone(tenant_zone).date().isoformat(),
        "due_date": due_date,
        "start_time": None,
        "end_time": None,
        "location": None,
        "related": related,
        "odoo_res_model": model,
        "odoo_res_id": record_id,
        "odoo_type_id": activity.odoo_type_id,
        "odoo_type_name": activity.odoo_type_name,
        "contact_id": contact_id,
        "contact_name": contact_name,
        "description": activity.description,
        "body": None,
        "notes": None,
        "phone": None,
        "email": None,
        "priority": "normal",
        "state": "done" if activity.done else "new",
        "send_reminder": False,
        "notif_time": None,
        "notif_email": None,
        "notif_time_auto": False,
        "other_users": [],
        "created_by": CREATED_BY,
        "created_at": created_at,
        "updated_at": updated_at,
        "completed_at": _ms(activity.completed_at) if activity.done else None,
        "version": 1,
    }
    data.update(derived_keys(data, tenant_zone))
    return data


# ---------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class _Plan:
    model: str
    entity_type: str
    fields: tuple[str, ...]
    domain: tuple[Any, ...] = ()


@dataclass
class _RunState:
    run_id: str
    tenant: str
    trigger: Trigger
    full: bool
    seq: int
    started_at: datetime
    watermarks: dict[str, Cursor | None]
    counts: dict[str, ModelCounts] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    dropped_errors: int = 0
    protocol: str | None = None


def _watermarks_from(doc: Mapping[str, Any]) -> dict[str, Cursor | None]:
    found: dict[str, Cursor | None] = {}
    for entry in doc.get("watermarks") or ():
        write_date = entry.get("write_date")
        if not isinstance(write_date, datetime) or not isinstance(entry.get("id"), int):
            continue
        if write_date.tzinfo is None:  # the store hands back naive UTC
            write_date = write_date.replace(tzinfo=UTC)
        ids = entry.get("ids")
        # A watermark saved before `ids` existed names only the last id: its second is read
        # again (idempotent upserts) rather than assumed complete.
        found[entry["model"]] = Keyset(write_date, tuple(ids) if isinstance(ids, list) else ())
    return found


def _watermarks_field(watermarks: Mapping[str, Cursor | None]) -> list[dict[str, Any]]:
    # A list, not a sub-document keyed by model: model names contain dots.
    return [
        {
            "model": model,
            "write_date": cursor.write_date,
            "id": cursor.last_id,
            "ids": list(cursor.ids),
        }
        for model, cursor in watermarks.items()
        if cursor is not None
    ]


def _counts_field(counts: Mapping[str, ModelCounts]) -> list[dict[str, Any]]:
    return [{"model": model, **c.model_dump()} for model, c in counts.items()]


class _Run:
    """Executes one claimed run: connect, read every model, sweep when full."""

    def __init__(
        self,
        runner: SyncRunner,
        state: _RunState,
        *,
        progress: Progress | None,
        stopping: asyncio.Event | None,
    ) -> None:
        self.runner = runner
        self.store = runner.store
        self.settings = runner.settings
        self.state = state
        self.progress = progress
        self.stopping = stopping
        self.tenant_zone = zone(self.settings.default_tz)
        self.client: OdooClient | None = None
        self.types_by_id: dict[int, OdooActivityType] = {}
        self.uid_by_partner: dict[str, int] = {}
        self.excluded_subtypes = self.settings.message_excluded_subtypes

    # -- the run ----------------------------------------------------------------------------

    async def execute(self) -> None:
        config = odoo_config(self.settings)
        if config is None:
            raise SyncFailed("Odoo is not configured")
        try:
            self.client = await connect_odoo(config, self.runner.http)
            major = (await self.client.server_version()).major
        except OdooError as exc:
            raise SyncFailed(f"connect: {self.runner.redact(str(exc))}") from None
        self.state.protocol = self.client.protocol
        await self._save_state({"protocol": self.client.protocol})
        plans = self._plans(major)
        for plan in plans:
            self.state.counts.setdefault(plan.model, ModelCounts())
        for plan in plans:
            await self._read_model(plan)
            await self.runner.save_counts(self.state)
        if self.state.full:
            await self._sweep(plans)
            await self.runner.save_counts(self.state)

    def _plans(self, major: int) -> list[_Plan]:
        settings = self.settings
        message_domain: list[Any] = [("model", "in", list(settings.message_models))]
        if settings.message_types:
            message_domain.append(("message_type", "in", list(settings.message_types)))
        return [
            _Plan(
                ACTIVITY_TYPE_MODEL,
                records.ACTIVITY_TYPE,
                fields_for(ACTIVITY_TYPE_MODEL, major),
            ),
            _Plan(USER_MODEL, records.USER, fields_for(USER_MODEL, major)),
            _Plan(PARTNER_MODEL, records.PARTNER, fields_for(PARTNER_MODEL, major)),
            # The opportunity model is crm.lead unless configured otherwise: same fields.
            _Plan(settings.opportunity_model, records.OPPORTUNITY, fields_for("crm.lead", major)),
            _Plan(ACTIVITY_MODEL, records.ACTIVITY, fields_for(ACTIVITY_MODEL, major)),
            _Plan(
                MESSAGE_MODEL,
                records.MESSAGE,
                fields_for(MESSAGE_MODEL, major),
                tuple(message_domain),
            ),
        ]

    # -- reading one model ------------------------------------------------------------------

    async def _pages(
        self, plan: _Plan, after: Cursor | None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        assert self.client is not None
        async for page in self.client.iter_pages(
            plan.model,
            list(plan.domain),
            plan.fields,
            page_size=self.settings.odoo_page_size,
            after=after,
            context=ANY_ACTIVE,
        ):
            yield page

    async def _read_model(self, plan: _Plan) -> None:
        """Fetch pages into a bounded queue while the previous page is mapped and written."""
        state = self.state
        counts = state.counts[plan.model]
        previous = state.watermarks.get(plan.model)
        cursor = None if state.full else previous
        await self._before_model(plan)
        queue: asyncio.Queue[list[dict[str, Any]] | BaseException | None] = asyncio.Queue(
            maxsize=QUEUE_PAGES
        )

        async def produce() -> None:
            try:
                async for page in self._pages(plan, cursor):
                    await queue.put(page)
            except Exception as exc:  # handed to the consumer, which names the page
                await queue.put(exc)
                return
            await queue.put(None)

        if self.progress:
            self.progress(plan.model, counts, False)
        producer = asyncio.create_task(produce(), name=f"sync-fetch-{plan.model}")
        page_number = 0
        try:
            while (item := await queue.get()) is not None:
                page_number += 1
                where = f"{plan.model} page {page_number}"
                if isinstance(item, BaseException):
                    raise SyncFailed(f"{where}: {self._describe(item)}")
                self._check_stopping()
                counts.fetched += len(item)
                docs = await self._documents(plan, item)
                if docs:
                    try:
                        async with events.record_synced(
                            self.store,
                            state.tenant,
                            plan.entity_type,
                            docs,
                            now=self.runner.clock.now(),
                            tz=self.settings.default_tz,
                        ):
                            await self.store.envelopes.upsert_many(
                                state.tenant,
                                plan.entity_type,
                                SOURCE,
                                docs,
                                now=self.runner.clock.now(),
                                sync_seq=state.seq,
                            )
                    except Exception as exc:
                        logger.exception("sync page write failed", extra={"where": where})
                        raise SyncFailed(
                            f"{where}: store write failed: {type(exc).__name__}"
                        ) from None
                counts.upserted += len(docs)
                # The same walk `iter_pages` took (it already refused a page without progress).
                cursor = advance_keyset(cursor, item)
                # During a full re-read the watermark never goes back (everything up to the
                # old one was committed by earlier runs); at the end it is set exactly.
                kept = cursor if previous is None or cursor.covers(previous) else previous
                await self._save_watermark(plan.model, kept)
                if self.progress:
                    self.progress(plan.model, counts, False)
                await asyncio.sleep(0)  # let requests in between pages
        finally:
            if not producer.done():
                producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)
        if state.full and cursor != state.watermarks.get(plan.model):
            await self._save_watermark(plan.model, cursor)
        if self.progress:
            self.progress(plan.model, counts, True)

    async def _before_model(self, plan: _Plan) -> None:
        """Load the lookups a model's mapping needs (small: types and users)."""
        tenant = self.state.tenant
        if plan.model == ACTIVITY_MODEL:
            docs = await self.store.envelopes.find(
                tenant, records.ACTIVITY_TYPE, {}, sort=[("id", 1)], limit=10_000
            )
            types = (activity_type_from_document(d) for d in docs)
            self.types_by_id = {t.external_id: t for t in types}
        elif plan.model == MESSAGE_MODEL:
            docs = await self.store.envelopes.find(
                tenant, records.USER, {}, sort=[("id", 1)], limit=100_000
            )
            self.uid_by_partner = {
                d["partner_id"]: d["external_id"] for d in docs if d.get("partner_id")
            }

    def _check_stopping(self) -> None:
        if self.stopping is not None and self.stopping.is_set():
            raise SyncStopped(
                "stopped: the service is shutting down; the next run resumes from the last "
                "committed page"
            )

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, OdooError):
            return self.runner.redact(str(exc))
        logger.error(
            "unexpected error while reading from Odoo",
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        return f"unexpected error: {type(exc).__name__}"

    # -- mapping a page ---------------------------------------------------------------------

    def _skip(self, model: str, error: OdooError) -> None:
        """A record that cannot be mapped is skipped and reported, never blocks the sync."""
        if len(self.state.errors) < MAX_RUN_ERRORS:
            self.state.errors.append(f"{model}: skipped: {self.runner.redact(str(error))}")
        else:
            self.state.dropped_errors += 1

    async def _documents(
        self, plan: _Plan, rows: Sequence[Mapping[str, Any]]
    ) -> Sequence[Mapping[str, Any]]:
        model = plan.model
        docs: list[Mapping[str, Any]] = []
        if model == ACTIVITY_MODEL:
            return await self._activity_documents(rows)
        for raw in rows:
            try:
                if model == MESSAGE_MODEL:
                    message = normalize_message(raw)
                    if message.subtype and message.subtype.lower() in self.excluded_subtypes:
                        continue
                    author_uid = (
                        self.uid_by_partner.get(message.author_id) if message.author_id else None
                    )
                    docs.append(message_document(**message._asdict(), author_uid=author_uid))
                elif model == ACTIVITY_TYPE_MODEL:
                    docs.append(activity_type_document(normalize_activity_type(raw)))
                elif model == USER_MODEL:
                    docs.append(user_document(normalize_user(raw)))
                elif model == PARTNER_MODEL:
                    docs.append(partner_document(normalize_partner(raw)))
                else:
                    docs.append(opportunity_document(normalize_lead(raw)))
            except OdooError as exc:
                self._skip(model, exc)
        return docs

    async def _activity_documents(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        activities: list[OdooActivity] = []
        for raw in rows:
            try:
                activities.append(normalize_activity(raw, self.types_by_id))
            except OdooError as exc:
                self._skip(ACTIVITY_MODEL, exc)
        opportunity_model = self.settings.opportunity_model
        wanted = {
            records.odoo_opportunity_id(a.related_id)
            for a in activities
            if a.related_model == opportunity_model and a.related_id
        }
        # One `_id` lookup per page for the contacts of the leads these activities are on.
        leads = {
            doc["id"]: doc
            for doc in await self.store.envelopes.get_many(
                self.state.tenant,
                records.OPPORTUNITY,
                sorted(wanted),
                fields=("contact_id", "contact_name"),
            )
        }
        docs = []
        for activity in activities:
            contact_id = contact_name = None
            if activity.related_model == "res.partner":
                contact_id, contact_name = activity.related_id, activity.related_name
            elif activity.related_model == opportunity_model and activity.related_id:
                lead = leads.get(records.odoo_opportunity_id(activity.related_id))
                if lead is not None and lead.get("contact_id"):
                    contact_id, contact_name = lead["contact_id"], lead.get("contact_name")
            docs.append(
                activity_document(
                    activity,
                    contact_id=contact_id,
                    contact_name=contact_name,
                    tenant_zone=self.tenant_zone,
                )
            )
        return docs

    # -- deletions --------------------------------------------------------------------------

    async def _sweep(self, plans: Sequence[_Plan]) -> None:
        """After a complete re-read of every model: check the envelopes this run did not write
        against Odoo, by id; write the ones that still exist, deactivate the rest (in bulk).

        One query finds suspects of every entity type (one scan on the embedded engine, an
        index range on MongoDB); usually there are none, and the sweep costs nothing else.
        """
        state = self.state
        by_entity = {plan.entity_type: plan for plan in plans}
        seen: set[str] = set()
        while True:
            self._check_stopping()
            suspects = await self.store.envelopes.not_synced_since(
                state.tenant, list(by_entity), SOURCE, sync_seq=state.seq, limit=SWEEP_BATCH
            )
            if not suspects:
                return
            serving_ids = [s["id"] for s in suspects]
            if seen.intersection(serving_ids):
                raise SyncFailed("sweep: made no progress; nothing more was removed")
            seen.update(serving_ids)
            groups: dict[str, list[dict[str, Any]]] = {}
            for suspect in suspects:
                groups.setdefault(suspect["entity_type"], []).append(suspect)
            for entity_type, group in groups.items():
                await self._check_suspects(by_entity[entity_type], group)
            await self._save_state({})
            await asyncio.sleep(0)

    async def _check_suspects(self, plan: _Plan, suspects: Sequence[Mapping[str, Any]]) -> None:
        assert self.client is not None
        state = self.state
        counts = state.counts[plan.model]
        external_ids = [
            s["external_id"]
            for s in suspects
            if isinstance(s.get("external_id"), int) and not isinstance(s["external_id"], bool)
        ]
        rows: list[dict[str, Any]] = []
        if external_ids:
            try:
                rows = await self.client.search_read(
                    plan.model,
                    [("id", "in", external_ids), *plan.domain],
                    plan.fields,
                    limit=None,
                    context=ANY_ACTIVE,
                )
            except OdooError as exc:
                raise SyncFailed(f"{plan.model} sweep: {self.runner.redact(str(exc))}") from None
        counts.fetched += len(rows)
        docs = await self._documents(plan, rows) if rows else []
        if docs:
            # Still in Odoo, yet not read by this run (e.g. committed behind the scan by a long
            # Odoo transaction): written now, with this run's stamp.
            async with events.record_synced(
                self.store,
                state.tenant,
                plan.entity_type,
                docs,
                now=self.runner.clock.now(),
                tz=self.settings.default_tz,
            ):
                await self.store.envelopes.upsert_many(
                    state.tenant,
                    plan.entity_type,
                    SOURCE,
                    docs,
                    now=self.runner.clock.now(),
                    sync_seq=state.seq,
                )
            counts.upserted += len(docs)
        kept = {d["id"] for d in docs}
        gone = [s["id"] for s in suspects if s["id"] not in kept]
        async with events.record_sync_removed(
            self.store, state.tenant, plan.entity_type, gone, now=self.runner.clock.now()
        ):
            counts.deactivated += await self.store.envelopes.deactivate_many(
                state.tenant, plan.entity_type, gone, now=self.runner.clock.now()
            )

    # -- durable state (fenced by the lease) ------------------------------------------------

    async def _save_watermark(self, model: str, cursor: Cursor | None) -> None:
        self.state.watermarks[model] = cursor
        await self._save_state({"watermarks": _watermarks_field(self.state.watermarks)})

    async def _save_state(self, changes: Mapping[str, Any]) -> None:
        """Renew the lease and write `changes` with it; fails the run if the lease was lost."""
        runner = self.runner
        held = await leases.renew(
            runner.store.leases,
            lease_key(self.state.tenant),
            owner=runner.owner,
            ttl_seconds=runner.settings.sync_lease_seconds,
            now=runner.clock.now(),
            changes=changes,
        )
        if not held:
            raise SyncFailed("lost the sync lease (another worker took over); stopping")


# ---------------------------------------------------------------------------- the runner


class SyncRunner:
    """Starts, runs and tracks sync runs for the Odoo tenant; owned by the app's lifespan.

    `start` claims the lease and runs in a background task (the API); `run` does the same in
    the foreground (the CLI, the scheduled job). `aclose` cancels running tasks at shutdown.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        clock: Clock,
        http: httpx.AsyncClient,
        *,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.http = http
        self.owner = owner or leases.holder_id()
        self.tenant = settings.odoo_tenant
        self._tasks: set[asyncio.Task[SyncRun]] = set()
        # The scheduler's interval trigger fires every interval from its start.
        self._schedule_anchor = clock.now()

    @property
    def configured(self) -> bool:
        return odoo_config(self.settings) is not None

    @property
    def scheduled(self) -> bool:
        return (
            self.configured
            and self.settings.scheduler_enabled
            and self.settings.sync_interval_seconds > 0
        )

    def next_run_at(self) -> datetime | None:
        if not self.scheduled:
            return None
        interval = self.settings.sync_interval_seconds
        elapsed = (self.clock.now() - self._schedule_anchor).total_seconds()
        ticks = math.floor(max(elapsed, 0) / interval) + 1
        return self._schedule_anchor + timedelta(seconds=ticks * interval)

    def redact(self, text: str) -> str:
        for secret in (self.settings.odoo_password, self.settings.odoo_api_key):
            if secret is not None and secret.get_secret_value():
                text = text.replace(secret.get_secret_value(), "***")
        return text

    # -- starting ---------------------------------------------------------------------------

    async def start(self, *, full: bool = False, trigger: Trigger = "manual") -> SyncStarted:
        """Claim the lease and run in the background; 409 while a run is in progress."""
        state = await self._begin(trigger=trigger, full=full)
        task = asyncio.create_task(self._execute(state), name=f"sync-{state.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return SyncStarted(run_id=state.run_id)

    def _forget(self, task: asyncio.Task[SyncRun]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Only reachable if recording the run's end failed (the store is down).
            logger.error("sync run task failed", exc_info=error)

    async def run(
        self,
        *,
        full: bool = False,
        trigger: Trigger = "manual",
        progress: Progress | None = None,
        stopping: asyncio.Event | None = None,
    ) -> SyncRun:
        """Run once in the foreground and return the finished run."""
        state = await self._begin(trigger=trigger, full=full)
        return await self._execute(state, progress=progress, stopping=stopping)

    async def run_scheduled(self, stopping: asyncio.Event) -> SyncRun | None:
        """The scheduled job: skipped when another replica ran recently or is running."""
        if not self.configured:
            return None
        latest = await self.store.sync_runs.find(
            {"tenant_id": self.tenant}, sort=[("started_at", -1)], limit=1
        )
        slack = timedelta(seconds=self.settings.sync_interval_seconds * SCHEDULE_SLACK)
        if latest and latest[0]["started_at"] > self.clock.now() - slack:
            return None
        try:
            return await self.run(trigger="scheduled", stopping=stopping)
        except SyncAlreadyRunning:
            return None

    async def aclose(self) -> None:
        """Cancel background runs (each records itself failed and releases the lease)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait for the background runs of this process to finish (tests, the CLI)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _begin(self, *, trigger: Trigger, full: bool) -> _RunState:
        if not self.configured:
            raise OdooNotConfigured()
        run_id = uuid.uuid4().hex
        now = now_ms(self.clock.now())
        key = lease_key(self.tenant)
        claimed = await leases.acquire(
            self.store.leases,
            key,
            owner=self.owner,
            ttl_seconds=self.settings.sync_lease_seconds,
            now=now,
            on_insert={"tenant_id": self.tenant, "seq": 0, "watermarks": []},
            claim={"run_id": run_id},
            increment={"seq": 1},
        )
        if claimed is None:
            held = await leases.holder(self.store.leases, key)
            raise SyncAlreadyRunning(held.get("run_id") if held else None)
        try:
            watermarks = _watermarks_from(claimed)
            full = full or not watermarks or await self._reconcile_due()
            # Holding the lease, no other run of the tenant is alive: any still marked running
            # was abandoned by a worker that died (its lease expired).
            await self.store.sync_runs.update_many(
                {"tenant_id": self.tenant, "status": "running"},
                {
                    "$set": {
                        "status": "failed",
                        "finished_at": now,
                        "errors": ["abandoned: its worker stopped before finishing"],
                    }
                },
            )
            state = _RunState(
                run_id=run_id,
                tenant=self.tenant,
                trigger=trigger,
                full=full,
                seq=int(claimed["seq"]),
                started_at=now,
                watermarks=watermarks,
            )
            await self.store.sync_runs.insert_one(
                {
                    "_id": run_id,
                    "run_id": run_id,
                    "tenant_id": self.tenant,
                    "trigger": trigger,
                    "status": "running",
                    "started_at": now,
                    "finished_at": None,
                    "full": full,
                    "counts": [],
                    "errors": [],
                }
            )
        except BaseException:
            await leases.release(self.store.leases, key, owner=self.owner)
            raise
        logger.info(
            "sync run started",
            extra={"run_id": run_id, "trigger": trigger, "full": full, "tenant": self.tenant},
        )
        return state

    async def _reconcile_due(self) -> bool:
        """Every SYNC_RECONCILE_EVERY-th successful run is a full one."""
        runs = self.store.sync_runs
        last_full = await runs.find(
            {"tenant_id": self.tenant, "status": "succeeded", "full": True},
            sort=[("started_at", -1)],
            limit=1,
        )
        if not last_full:
            return True
        since = await runs.count(
            {
                "tenant_id": self.tenant,
                "status": "succeeded",
                "started_at": {"$gt": last_full[0]["started_at"]},
            }
        )
        return since + 1 >= self.settings.sync_reconcile_every

    # -- running ----------------------------------------------------------------------------

    async def _execute(
        self,
        state: _RunState,
        *,
        progress: Progress | None = None,
        stopping: asyncio.Event | None = None,
    ) -> SyncRun:
        run = _Run(self, state, progress=progress, stopping=stopping)
        status: Literal["succeeded", "failed"] = "failed"
        try:
            await run.execute()
            status = "succeeded"
        except SyncFailed as exc:
            state.errors.insert(0, self.redact(str(exc)))
        except asyncio.CancelledError:
            state.errors.insert(
                0, "cancelled: the service stopped during the run; the next run resumes"
            )
            await self._finish(state, "failed")
            raise
        except Exception as exc:
            logger.exception("sync run failed unexpectedly", extra={"run_id": state.run_id})
            state.errors.insert(0, f"internal error: {type(exc).__name__} (see the service logs)")
        finished = await self._finish(state, status)
        await events.record_sync_finished(self.store, state.tenant, finished, now=self.clock.now())
        return finished

    async def save_counts(self, state: _RunState) -> None:
        await self.store.sync_runs.update_one(
            {"_id": state.run_id}, {"$set": {"counts": _counts_field(state.counts)}}
        )

    async def _finish(self, state: _RunState, status: Literal["succeeded", "failed"]) -> SyncRun:
        if state.dropped_errors:
            state.errors.append(f"... and {state.dropped_errors} more")
        finished_at = now_ms(self.clock.now())
        try:
            async with asyncio.timeout(10):
                await self.store.sync_runs.update_one(
                    {"_id": state.run_id},
                    {
                        "$set": {
                            "status": status,
                            "finished_at": finished_at,
                            "counts": _counts_field(state.counts),
                            "errors": state.errors,
                        }
                    },
                )
                await self.store.sync_runs.delete_many(
                    {
                        "tenant_id": state.tenant,
                        "started_at": {"$lt": finished_at - RUN_RETENTION},
                        "status": {"$ne": "running"},
                    }
                )
        finally:
            await leases.release(
                self.store.leases, lease_key(state.tenant), owner=self.owner, changes={}
            )
        totals = {
            model: f"{c.fetched}/{c.upserted}/{c.deactivated}" for model, c in state.counts.items()
        }
        log = logger.info if status == "succeeded" else logger.warning
        log(
            f"sync run {status}",
            extra={
                "run_id": state.run_id,
                "full": state.full,
                "seconds": round((finished_at - state.started_at).total_seconds(), 3),
                "counts": " ".join(f"{m}={t}" for m, t in totals.items()),
                "errors": " | ".join(state.errors)[:2000],
            },
        )
        return SyncRun(
            run_id=state.run_id,
            trigger=state.trigger,
            status=status,
            started_at=state.started_at,
            finished_at=finished_at,
            full=state.full,
            counts=dict(state.counts),
            errors=list(state.errors),
        )


# ---------------------------------------------------------------------------- the routes' side


def _check_tenant(user: Principal, settings: Settings) -> None:
    # The Odoo connection belongs to one tenant; to every other tenant it does not exist.
    if user.tenant != settings.odoo_tenant:
        raise NotFound("No Odoo connection for this tenant")


def _run_read(doc: Mapping[str, Any]) -> SyncRun:
    counts = {
        c["model"]: ModelCounts(
            fetched=c["fetched"], upserted=c["upserted"], deactivated=c["deactivated"]
        )
        for c in doc.get("counts") or ()
    }
    return SyncRun.model_validate({**doc, "counts": counts})


async def start_run(runner: SyncRunner, user: Principal, *, full: bool) -> SyncStarted:
    _check_tenant(user, runner.settings)
    return await runner.start(full=full, trigger="manual")


async def list_runs(
    store: Store, settings: Settings, user: Principal, *, limit: int
) -> SyncRunPage:
    _check_tenant(user, settings)
    docs = await store.sync_runs.find(
        {"tenant_id": settings.odoo_tenant}, sort=[("started_at", -1), ("_id", -1)], limit=limit
    )
    return SyncRunPage(items=[_run_read(d) for d in docs])


async def get_run(store: Store, settings: Settings, user: Principal, run_id: str) -> SyncRun:
    _check_tenant(user, settings)
    doc = await store.sync_runs.find_one({"_id": run_id, "tenant_id": settings.odoo_tenant})
    if doc is None:
        raise SyncRunNotFound(run_id)
    return _run_read(doc)


async def status(runner: SyncRunner, user: Principal) -> SyncStatus:
    settings, store = runner.settings, runner.store
    _check_tenant(user, settings)
    state = await leases.holder(store.leases, lease_key(runner.tenant)) or {}
    last_success = await store.sync_runs.find(
        {"tenant_id": runner.tenant, "status": "succeeded"}, sort=[("started_at", -1)], limit=1
    )
    watermarks = _watermarks_from(state)
    protocol = state.get("protocol") or (
        settings.odoo_protocol if settings.odoo_protocol != "auto" else None
    )
    return SyncStatus(
        enabled=runner.configured,
        interval_seconds=settings.sync_interval_seconds if runner.scheduled else 0,
        next_run_at=runner.next_run_at(),
        last_success_at=last_success[0]["finished_at"] if last_success else None,
        protocol=protocol if runner.configured else None,
        watermarks={
            model: Watermark(write_date=c.write_date, id=c.last_id)
            if (c := watermarks.get(model))
            else None
            for model in synced_models(settings)
        },
    )
