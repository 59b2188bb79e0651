"""The synced Odoo models, described once each: model, fields, domain, document builder, and
what its records' names show up in. A run loops over this table; nothing branches on a model's
name.

Builders map a page of raw Odoo rows to documents. They take the names other records show from
the synced records themselves (Odoo's own copies, `res_name` and `record_name`, go stale when a
lead or partner is renamed), looked up with one `_id` read per page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.config import Settings
from app.connectors.odoo import OdooClient, OdooError
from app.connectors.odoo.normalize import (
    OdooActivity,
    OdooActivityType,
    fields_for,
    normalize_activity,
    normalize_activity_type,
    normalize_lead,
    normalize_message,
    normalize_partner,
    normalize_user,
)
from app.services import records
from app.services.sync import history, mapping
from app.services.sync.settings import (
    ACTIVITY_MODEL,
    ACTIVITY_TYPE_MODEL,
    MESSAGE_MODEL,
    PARTNER_MODEL,
    USER_MODEL,
    message_domain,
)
from app.services.timeline import message_document
from app.store import Store
from app.store.odoo_mirror import FieldUpdate

Row = Mapping[str, Any]
Doc = dict[str, Any]
# Leads and partners whose names a run keeps at hand (then it starts afresh): flat memory.
NAME_CACHE = 50_000


@dataclass
class Mapper:
    """What builders need during one run: the store (names), Odoo (done messages), settings."""

    store: Store
    tenant: str
    client: OdooClient
    settings: Settings
    tenant_zone: ZoneInfo
    skip: Callable[[str, OdooError], None]
    # when activities were last seen open (the previous watermark, less the overlap): a
    # deleted one cannot have been marked done before
    open_since: datetime | None = None
    # ids of records this run could not map, by model (the sweep does not read them again)
    skipped: dict[str, set[int]] = field(default_factory=dict)
    # synced leads and partners already looked up this run (they are read before the activities
    # and messages that name them); bounded, then started afresh
    _records: dict[tuple[str, str], Doc | None] = field(default_factory=dict)
    _types: dict[int, OdooActivityType] | None = None
    _uid_by_partner: dict[str, int] | None = None

    async def activity_types(self) -> dict[int, OdooActivityType]:
        if self._types is None:  # read once per run, after the types were synced
            docs = await self.store.envelopes.find(
                self.tenant, records.ACTIVITY_TYPE, {}, sort=[("id", 1)], limit=10_000
            )
            types = (mapping.activity_type_from_document(d) for d in docs)
            self._types = {t.external_id: t for t in types}
        return self._types

    async def uid_by_partner(self) -> dict[str, int]:
        if self._uid_by_partner is None:
            docs = await self.store.envelopes.find(
                self.tenant, records.USER, {}, sort=[("id", 1)], limit=100_000
            )
            self._uid_by_partner = {
                d["partner_id"]: d["external_id"] for d in docs if d.get("partner_id")
            }
        return self._uid_by_partner

    async def stored(
        self, entity_type: str, serving_ids: set[str], fields: Sequence[str] | None
    ) -> dict[str, Doc]:
        docs = await self.store.envelopes.get_many(
            self.tenant, entity_type, sorted(serving_ids), fields=fields
        )
        return {doc["id"]: doc for doc in docs}

    async def names(self, references: set[tuple[str | None, str | None]]) -> dict[Any, Doc]:
        """Synced leads and partners by (model, id): their name (and a lead's contact)."""
        opportunity = self.settings.opportunity_model
        wanted = {
            (model, record_id)
            for model, record_id in references
            if model in (opportunity, PARTNER_MODEL) and record_id
        }
        unknown = wanted - self._records.keys()
        if len(self._records) + len(unknown) > NAME_CACHE:
            self._records.clear()
            unknown = wanted
        leads = {records.odoo_opportunity_id(i) for m, i in unknown if m == opportunity}
        partners = {records.odoo_partner_id(i) for m, i in unknown if m == PARTNER_MODEL}
        for key in unknown:
            self._records[key] = None  # not synced (yet): Odoo's own copy of the name is used
        if leads:
            for doc in (
                await self.stored(records.OPPORTUNITY, leads, ("external_id", "name", "contact_id"))
            ).values():
                self._records[(opportunity, str(doc["external_id"]))] = doc
        if partners:
            for doc in (
                await self.stored(records.PARTNER, partners, ("external_id", "name"))
            ).values():
                self._records[(PARTNER_MODEL, str(doc["external_id"]))] = doc
        found: dict[Any, Doc] = {}
        for key in wanted:
            cached = self._records.get(key)
            if cached is not None:
                found[key] = cached
        return found

    def each(self, model: str, rows: Sequence[Row], build: Callable[[Row], Any]) -> list[Any]:
        """``build`` each row; a record that cannot be mapped is skipped and reported."""
        out = []
        for raw in rows:
            try:
                out.append(build(raw))
            except OdooError as exc:
                self.skip(model, exc)
                if isinstance(raw.get("id"), int):
                    self.skipped.setdefault(model, set()).add(raw["id"])
        return out


PageBuilder = Callable[[Mapper, Sequence[Row]], Awaitable[list[Doc]]]
# Odoo ids of mirrored records Odoo no longer has -> the documents to keep as history
VanishRule = Callable[[Mapper, Sequence[int]], Awaitable[list[Doc]]]
# (stored document, new document) -> the updates that carry a rename to other documents
RenameRule = Callable[[Mapping[str, Any], Mapping[str, Any]], list[FieldUpdate]]


@dataclass(frozen=True)
class ModelSpec:
    model: str
    entity_type: str
    serving_id: Callable[[int], str]
    fields: tuple[str, ...]
    build: PageBuilder
    domain: tuple[Any, ...] = ()
    renames: RenameRule | None = None
    # fields of the stored document a rename rule compares
    rename_fields: tuple[str, ...] = field(default=())
    # what becomes of records Odoo deleted (None: they disappear)
    vanished: VanishRule | None = None


# ---------------------------------------------------------------------------- builders


async def _activity_types(mapper: Mapper, rows: Sequence[Row]) -> list[Doc]:
    built = mapper.each(ACTIVITY_TYPE_MODEL, rows, normalize_activity_type)
    return [mapping.activity_type_document(t) for t in built]


async def _users(mapper: Mapper, rows: Sequence[Row]) -> list[Doc]:
    return [mapping.user_document(u) for u in mapper.each(USER_MODEL, rows, normalize_user)]


async def _partners(mapper: Mapper, rows: Sequence[Row]) -> list[Doc]:
    built = mapper.each(PARTNER_MODEL, rows, normalize_partner)
    return [mapping.partner_document(p) for p in built]


async def _leads(mapper: Mapper, rows: Sequence[Row]) -> list[Doc]:
    built = mapper.each(mapper.settings.opportunity_model, rows, normalize_lead)
    return [mapping.opportunity_document(lead) for lead in built]


async def _done_messages(
    mapper: Mapper, done: Sequence[history.DoneActivity]
) -> dict[int, history.DoneMessage]:
    """The done message of each done activity (one call for the batch)."""
    if not done:
        return {}
    return history.match(done, await history.done_messages(mapper.client, done))


async def _activities(mapper: Mapper, rows: Sequence[Row]) -> list[Doc]:
    types = await mapper.activity_types()
    activities: list[OdooActivity] = mapper.each(
        ACTIVITY_MODEL, rows, lambda raw: normalize_activity(raw, types)
    )
    names = await mapper.names({(a.related_model, a.related_id) for a in activities})
    contacts = await mapper.names(
        {
            (PARTNER_MODEL, lead.get("contact_id"))
            for lead in names.values()
            if lead.get("contact_id")
        }
    )
    done = [
        history.DoneActivity(
            external_id=a.external_id,
            res_model=a.related_model,
            res_id=a.related_id,
            type_id=a.odoo_type_id,
            not_before=a.updated_at,  # archived when done: the done message is as recent
            summary=a.subject if a.subject != a.odoo_type_name else None,
            date_done=a.completed_at.date() if a.completed_at else None,
        )
        for a in activities
        if a.done and a.related_model and a.related_id
    ]
    feedback = await _done_messages(mapper, done)
    opportunity = mapper.settings.opportunity_model
    docs = []
    for activity in activities:
        record = names.get((activity.related_model, activity.related_id))
        related_name = record["name"] if record else activity.related_name
        contact_id = contact_name = None
        if activity.related_model == PARTNER_MODEL:
            contact_id, contact_name = activity.related_id, related_name
        elif activity.related_model == opportunity and record and record.get("contact_id"):
            contact_id = record["contact_id"]
            partner = contacts.get((PARTNER_MODEL, contact_id))
            contact_name = partner["name"] if partner else None
        message = feedback.get(activity.external_id)
        docs.append(
            mapping.activity_document(
                activity,
                related_name=related_name,
                contact_id=contact_id,
                contact_name=contact_name,
                feedback=message.feedback if message else None,
                tenant_zone=mapper.tenant_zone,
            )
        )
    return docs


async def _activities_vanished(mapper: Mapper, external_ids: Sequence[int]) -> list[Doc]:
    """Deleted activities that have a done message stay, done as of that message (Odoo deletes
    a done activity unless its type keeps done ones); the others disappear."""
    stored = await mapper.stored(
        records.ACTIVITY, {records.odoo_activity_id(i) for i in external_ids}, None
    )
    done = []
    for doc in stored.values():
        if not (doc.get("odoo_res_model") and doc.get("odoo_res_id")):
            continue
        completed_at = doc.get("completed_at")
        seen_open = max(doc["updated_at"], mapper.open_since) if mapper.open_since else None
        done.append(
            history.DoneActivity(
                external_id=doc["external_id"],
                res_model=doc["odoo_res_model"],
                res_id=doc["odoo_res_id"],
                type_id=doc.get("odoo_type_id"),
                not_before=seen_open or doc["updated_at"],
                summary=doc["subject"] if doc["subject"] != doc.get("odoo_type_name") else None,
                date_done=completed_at.date() if completed_at else None,
            )
        )
    matched = await _done_messages(mapper, done)
    kept = []
    for doc in stored.values():
        message = matched.get(doc["external_id"])
        if message is None:
            continue
        data = {k: v for k, v in doc.items() if k != "entity_type"}
        kept.append(
            mapping.done_history_document(
                data,
                completed_at=data.get("completed_at") or message.posted_at,
                feedback=message.feedback or data.get("feedback"),
                tenant_zone=mapper.tenant_zone,
            )
        )
    return kept


async def _messages(mapper: Mapper, rows: Sequence[Row]) -> list[Doc]:
    excluded = mapper.settings.message_excluded_subtypes
    messages = [
        m
        for m in mapper.each(MESSAGE_MODEL, rows, normalize_message)
        if not (m.subtype and m.subtype.lower() in excluded)
    ]
    uid_by_partner = await mapper.uid_by_partner()
    names = await mapper.names({(m.res_model, m.res_id) for m in messages})
    docs: list[Doc] = []
    for message in messages:
        fields = message._asdict()
        fields.pop("activity_type_id")
        record = names.get((message.res_model, message.res_id))
        if record is not None:
            fields["record_name"] = record["name"]
        author_uid = uid_by_partner.get(message.author_id) if message.author_id else None
        docs.append(dict(message_document(**fields, author_uid=author_uid)))
    return docs


# ---------------------------------------------------------------------------- renames


def _user_renamed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldUpdate]:
    if old.get("name") == new["name"]:
        return []
    user = {"user_id": new["user_id"]}
    name = {"user_name": new["name"]}
    return [
        FieldUpdate(records.ACTIVITY, user, name),
        FieldUpdate(records.OPPORTUNITY, user, name),
    ]


def _partner_renamed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldUpdate]:
    if old.get("name") == new["name"]:
        return []
    pid, name = str(new["external_id"]), new["name"]
    related = {"related.model": PARTNER_MODEL, "related.id": pid}
    return [
        FieldUpdate(records.ACTIVITY, {"contact_id": pid}, {"contact_name": name}),
        FieldUpdate(records.ACTIVITY, related, {"related.name": name}),
        FieldUpdate(records.OPPORTUNITY, {"contact_id": pid}, {"contact_name": name}),
        FieldUpdate(records.MESSAGE, {"author_id": pid}, {"author_name": name}),
        FieldUpdate(records.MESSAGE, related, {"related.name": name}),
    ]


def _lead_renamed(model: str) -> RenameRule:
    def renamed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldUpdate]:
        related = {"related.model": model, "related.id": str(new["external_id"])}
        updates = []
        if old.get("name") != new["name"]:
            name = {"related.name": new["name"]}
            updates += [
                FieldUpdate(records.ACTIVITY, related, name),
                FieldUpdate(records.MESSAGE, related, name),
            ]
        if old.get("contact_id") != new["contact_id"]:
            # the lead's contact changed: so does that of its activities that had the old one
            updates.append(
                FieldUpdate(
                    records.ACTIVITY,
                    {**related, "contact_id": old.get("contact_id")},
                    {"contact_id": new["contact_id"], "contact_name": new["contact_name"]},
                )
            )
        return updates

    return renamed


# ---------------------------------------------------------------------------- the table


def model_specs(settings: Settings, server_major: int) -> list[ModelSpec]:
    """The models a run reads, in the order it reads them (references resolve)."""
    opportunity = settings.opportunity_model
    return [
        ModelSpec(
            ACTIVITY_TYPE_MODEL,
            records.ACTIVITY_TYPE,
            records.odoo_activity_type_id,
            fields_for(ACTIVITY_TYPE_MODEL, server_major),
            _activity_types,
        ),
        ModelSpec(
            USER_MODEL,
            records.USER,
            records.odoo_user_id,
            fields_for(USER_MODEL, server_major),
            _users,
            renames=_user_renamed,
            rename_fields=("name",),
        ),
        ModelSpec(
            PARTNER_MODEL,
            records.PARTNER,
            records.odoo_partner_id,
            fields_for(PARTNER_MODEL, server_major),
            _partners,
            renames=_partner_renamed,
            rename_fields=("name",),
        ),
        # The opportunity model is crm.lead unless configured otherwise: same fields.
        ModelSpec(
            opportunity,
            records.OPPORTUNITY,
            records.odoo_opportunity_id,
            fields_for("crm.lead", server_major),
            _leads,
            renames=_lead_renamed(opportunity),
            rename_fields=("name", "contact_id"),
        ),
        ModelSpec(
            ACTIVITY_MODEL,
            records.ACTIVITY,
            records.odoo_activity_id,
            fields_for(ACTIVITY_MODEL, server_major),
            _activities,
            vanished=_activities_vanished,
        ),
        ModelSpec(
            MESSAGE_MODEL,
            records.MESSAGE,
            records.odoo_message_id,
            fields_for(MESSAGE_MODEL, server_major),
            _messages,
            domain=message_domain(settings),
        ),
    ]
