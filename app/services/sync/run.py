"""One claimed run: connect, then read and reconcile every model of the spec table in order.

Reading a model (see `pages.py` for what each call costs Odoo):
- a full pass (asked with `full=true`, every SYNC_RECONCILE_EVERY runs, a model never synced,
  or a pass a stopped run left unfinished) walks the model by `id` from where it stood;
- an incremental pass lists what Odoo wrote since the watermark minus SYNC_OVERLAP_SECONDS (a
  long Odoo transaction commits records dated at its start) and reads, by id, only those whose
  `write_date` differs from the stored one: re-reading an unchanged record costs an id and a
  timestamp, and writes nothing. After a full pass, the next incremental pass lists from where
  the watermark stood before it (`state.py`): edits made behind a long full pass are not lost.
Pages go through a bounded pipeline (the next page is fetched while the previous one is mapped
and written with ONE bulk write); the model's state moves only after a page is written, so an
interrupted run loses nothing. A renamed user, partner or lead carries its name into the
documents that show it (one more bulk write, only for pages with renames).

Reconciling a model, every run: one `search_count` (one cheap scan) against the store's count
of live mirrored records. Equal means nothing disappeared. Otherwise an id-only sweep walks both
id lists by `id` and settles the differences: records Odoo has that the store lacks are read,
records Odoo deleted disappear, except done activities (their done message makes them history).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.connectors.odoo import OdooClient, OdooError, connect_odoo
from app.connectors.odoo.normalize import parse_odoo_datetime
from app.schemas.sync import ModelCounts, Trigger
from app.services import events
from app.services.clock import zone
from app.services.sync import pages
from app.services.sync.mapping import SOURCE
from app.services.sync.settings import ANY_ACTIVE, lease_key
from app.services.sync.specs import Mapper, ModelSpec, model_specs
from app.services.sync.state import ModelState, newest_of, states_field

if TYPE_CHECKING:
    from app.services.sync.runner import Progress, SyncRunner

logger = logging.getLogger("app.sync")

# Errors kept on a run (a poison record per page must not grow it without bound).
MAX_RUN_ERRORS = 20
# Ids compared per step of a deletion sweep.
SWEEP_PAGE = 5000


class SyncFailed(Exception):
    """A run cannot go on; the message is safe to store and show (no secrets)."""


class SyncStopped(SyncFailed):
    """The service is stopping; the run ends failed and the next run resumes."""


@dataclass
class RunState:
    run_id: str
    tenant: str
    trigger: Trigger
    full: bool
    started_at: datetime
    models: dict[str, ModelState]
    counts: dict[str, ModelCounts] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    dropped_errors: int = 0
    protocol: str | None = None


class Run:
    """Executes one claimed run."""

    def __init__(
        self,
        runner: SyncRunner,
        state: RunState,
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
        self.client: OdooClient | None = None
        self.mapper: Mapper | None = None

    # -- the run ----------------------------------------------------------------------------

    async def execute(self) -> None:
        config = self.settings.odoo
        if config is None:
            raise SyncFailed("Odoo is not configured")
        try:
            self.client = await connect_odoo(config, self.runner.http)
            major = (await self.client.server_version()).major
        except OdooError as exc:
            raise SyncFailed(f"connect: {self.runner.redact(str(exc))}") from None
        self.state.protocol = self.client.protocol
        await self._save_state({"protocol": self.client.protocol})
        self.mapper = Mapper(
            store=self.store,
            tenant=self.state.tenant,
            client=self.client,
            settings=self.settings,
            tenant_zone=zone(self.settings.default_tz),
            skip=self._skip,
        )
        specs = model_specs(self.settings, major)
        for spec in specs:
            self.state.counts.setdefault(spec.model, ModelCounts())
        for spec in specs:
            await self._read(spec)
            await self._reconcile(spec)
            await self.runner.save_counts(self.state)

    # -- reading ----------------------------------------------------------------------------

    async def _read(self, spec: ModelSpec) -> None:
        assert self.mapper is not None
        known = self.state.models.get(spec.model)
        model_state = known or ModelState()
        if spec.vanished is not None and known is not None and known.write_date is not None:
            overlap = timedelta(seconds=self.settings.sync_overlap_seconds)
            self.mapper.open_since = known.write_date - overlap
        self.state.models[spec.model] = model_state
        if self.progress:
            self.progress(spec.model, self.state.counts[spec.model], False)
        if self.state.full or known is None or model_state.in_full_pass:
            await self._full_pass(spec, model_state)
        else:
            await self._incremental_pass(spec, model_state)
        if self.progress:
            self.progress(spec.model, self.state.counts[spec.model], True)

    def _wanted(self, spec: ModelSpec) -> list[str]:
        return list(dict.fromkeys([*spec.fields, "id", "write_date"]))

    async def _full_pass(self, spec: ModelSpec, model_state: ModelState) -> None:
        assert self.client is not None
        if not model_state.in_full_pass:
            model_state.full_after, model_state.full_newest = 0, None
            # changes behind the pass are listed by the next incremental pass from here
            floor = model_state.write_date
            if model_state.recheck:
                floor = (
                    None
                    if model_state.recheck_from is None or floor is None
                    else min(floor, model_state.recheck_from)
                )
            model_state.recheck_from = floor
        after = model_state.full_after or 0

        async def write(page: list[dict[str, Any]]) -> None:
            await self._write_page(spec, page)
            model_state.full_after = page[-1]["id"]
            model_state.full_newest = newest_of(model_state.full_newest, pages.newest(page))
            await self._save_states()
            await self._page_done(spec)

        await self._pipeline(
            spec,
            pages.id_pages(
                self.client,
                spec.model,
                spec.domain,
                self._wanted(spec),
                page_size=self.settings.odoo_page_size,
                after_id=after,
            ),
            write,
        )
        model_state.saw(model_state.full_newest)
        model_state.full_after = model_state.full_newest = None
        model_state.recheck = True
        await self._save_states()

    async def _incremental_pass(self, spec: ModelSpec, model_state: ModelState) -> None:
        assert self.client is not None
        overlap = timedelta(seconds=self.settings.sync_overlap_seconds)
        start = model_state.recheck_from if model_state.recheck else model_state.write_date
        since = start - overlap if start is not None else None
        try:
            listed = await pages.written_since(self.client, spec.model, spec.domain, since)
        except OdooError as exc:
            raise SyncFailed(f"{spec.model} changes: {self.runner.redact(str(exc))}") from None

        async def write(page: list[dict[str, Any]]) -> None:
            if page:
                await self._write_page(spec, page)
            await self._save_state({})  # renews the lease
            await self._page_done(spec)

        await self._pipeline(
            spec,
            pages.pages_of_ids(
                self.client,
                spec.model,
                spec.domain,
                self._wanted(spec),
                self._changed(spec, listed),
            ),
            write,
        )
        model_state.saw(
            pages.newest([{"id": i, "write_date": stamp} for i, stamp in listed])
            if listed
            else None
        )
        model_state.recheck, model_state.recheck_from = False, None
        await self._save_states()

    async def _changed(
        self, spec: ModelSpec, listed: Sequence[tuple[int, str]]
    ) -> AsyncIterator[list[int]]:
        """Batches of a page of ids whose write_date differs from the stored document's."""
        page_size = self.settings.odoo_page_size
        pending: list[int] = []
        for start in range(0, len(listed), page_size):
            chunk = listed[start : start + page_size]
            stored = await self.store.envelopes.get_many(
                self.state.tenant,
                spec.entity_type,
                [spec.serving_id(i) for i, _ in chunk],
                fields=("external_id", "updated_at"),
            )
            seen = {doc["external_id"]: doc.get("updated_at") for doc in stored}
            for record_id, stamp in chunk:
                if seen.get(record_id) != parse_odoo_datetime(stamp):
                    pending.append(record_id)
            while len(pending) >= page_size:
                yield pending[:page_size]
                pending = pending[page_size:]
        if pending:
            yield pending

    async def _pipeline(
        self,
        spec: ModelSpec,
        source: AsyncIterator[list[dict[str, Any]]],
        consume: Any,
    ) -> None:
        try:
            await pages.pipelined(source, consume)
        except pages.PageReadFailed as failed:
            where = f"{spec.model} page {failed.number}"
            raise SyncFailed(f"{where}: {self._describe(failed.error)}") from None

    async def _write_page(self, spec: ModelSpec, rows: Sequence[Mapping[str, Any]]) -> None:
        """Map a page and write it with one bulk write (plus one for renames, if any)."""
        assert self.mapper is not None
        self._check_stopping()
        counts = self.state.counts[spec.model]
        counts.fetched += len(rows)
        try:
            docs = await spec.build(self.mapper, rows)
        except OdooError as exc:  # a lookup the mapping makes (done messages)
            raise SyncFailed(f"{spec.model}: {self.runner.redact(str(exc))}") from None
        renames = []
        if spec.renames is not None and docs:
            before = await self.mapper.stored(
                spec.entity_type, {d["id"] for d in docs}, spec.rename_fields
            )
            for doc in docs:
                old = before.get(doc["id"])
                if old is not None:
                    renames.extend(spec.renames(old, doc))
        now = self.runner.clock.now()
        try:
            if docs:
                async with events.record_synced(
                    self.store,
                    self.state.tenant,
                    spec.entity_type,
                    docs,
                    now=now,
                    tz=self.settings.default_tz,
                ):
                    await self.store.envelopes.upsert_many(
                        self.state.tenant, spec.entity_type, SOURCE, docs, now=now
                    )
            if renames:
                await self.store.odoo_mirror.update_fields(self.state.tenant, renames, now=now)
        except Exception as exc:
            logger.exception("sync page write failed", extra={"model": spec.model})
            raise SyncFailed(f"{spec.model}: store write failed: {type(exc).__name__}") from None
        counts.upserted += len(docs)

    async def _page_done(self, spec: ModelSpec) -> None:
        if self.progress:
            self.progress(spec.model, self.state.counts[spec.model], False)
        await asyncio.sleep(0)  # let requests in between pages

    # -- deletions --------------------------------------------------------------------------

    async def _reconcile(self, spec: ModelSpec) -> None:
        assert self.client is not None
        self._check_stopping()
        try:
            upstream = await self.client.search_count(
                spec.model, list(spec.domain), context=ANY_ACTIVE
            )
        except OdooError as exc:
            raise SyncFailed(f"{spec.model} count: {self.runner.redact(str(exc))}") from None
        mirrored = await self.store.odoo_mirror.count_live(self.state.tenant, spec.entity_type)
        if upstream != mirrored:
            await self._sweep(spec)

    async def _mirrored_ids(self, spec: ModelSpec) -> AsyncIterator[list[int]]:
        after = 0
        while ids := await self.store.odoo_mirror.live_ids(
            self.state.tenant, spec.entity_type, after=after, limit=SWEEP_PAGE
        ):
            yield ids
            after = ids[-1]

    async def _sweep(self, spec: ModelSpec) -> None:
        """Compare the id lists and settle every difference (see the module docstring)."""
        assert self.client is not None and self.mapper is not None
        upstream = pages.id_stream(self.client, spec.model, list(spec.domain), page_size=SWEEP_PAGE)
        try:
            async for gone, missing in pages.differences(
                upstream, self._mirrored_ids(spec), batch=SWEEP_PAGE
            ):
                self._check_stopping()
                page_size = self.settings.odoo_page_size
                skipped = self.mapper.skipped.get(spec.model, set())
                missing = [i for i in missing if i not in skipped]
                for start in range(0, len(missing), page_size):
                    rows = await self.client.search_read(
                        spec.model,
                        [("id", "in", missing[start : start + page_size]), *spec.domain],
                        self._wanted(spec),
                        limit=None,
                        order=pages.ID_ORDER,
                        context=ANY_ACTIVE,
                    )
                    if rows:
                        await self._write_page(spec, rows)
                if gone:
                    await self._remove(spec, gone)
                await self._save_state({})
        except OdooError as exc:
            raise SyncFailed(f"{spec.model} sweep: {self.runner.redact(str(exc))}") from None

    async def _remove(self, spec: ModelSpec, external_ids: Sequence[int]) -> None:
        assert self.mapper is not None
        kept = await spec.vanished(self.mapper, external_ids) if spec.vanished else []
        now = self.runner.clock.now()
        tenant = self.state.tenant
        if kept:
            # Done in Odoo, then deleted by it: an update (state done) for the change feed.
            async with events.record_synced(
                self.store, tenant, spec.entity_type, kept, now=now, tz=self.settings.default_tz
            ):
                await self.store.odoo_mirror.keep_as_history(
                    tenant, spec.entity_type, kept, now=now
                )
        kept_ids = {doc["id"] for doc in kept}
        gone = [spec.serving_id(i) for i in external_ids if spec.serving_id(i) not in kept_ids]
        async with events.record_sync_removed(self.store, tenant, spec.entity_type, gone, now=now):
            self.state.counts[spec.model].deactivated += await self.store.envelopes.deactivate_many(
                tenant, spec.entity_type, gone, now=now
            )

    # -- errors -----------------------------------------------------------------------------

    def _skip(self, model: str, error: OdooError) -> None:
        """A record that cannot be mapped is skipped and reported (once per run: the deletion
        sweep meets it again), never blocks the sync."""
        message = f"{model}: skipped: {self.runner.redact(str(error))}"
        if message in self.state.errors:
            return
        if len(self.state.errors) < MAX_RUN_ERRORS:
            self.state.errors.append(message)
        else:
            self.state.dropped_errors += 1

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

    # -- durable state (fenced by the lease) ------------------------------------------------

    async def _save_states(self) -> None:
        await self._save_state({"watermarks": states_field(self.state.models)})

    async def _save_state(self, changes: Mapping[str, Any]) -> None:
        """Renew the lease and write `changes` with it; fails the run if the lease was lost."""
        runner = self.runner
        held = await runner.store.leases.renew(
            lease_key(self.state.tenant),
            owner=runner.owner,
            ttl_seconds=runner.settings.sync_lease_seconds,
            now=runner.clock.now(),
            changes=changes,
        )
        if not held:
            raise SyncFailed("lost the sync lease (another worker took over); stopping")
