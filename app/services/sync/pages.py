"""How a run reads Odoo, priced by what the server must examine (docs/ODOO.md).

- A full pass walks a model by `id` (the primary key): each page is an index range scan that
  costs what it returns, so the pass examines each row once, however large the table.
- An incremental pass lists `(id, write_date)` of what was written since its window start with
  ONE unlimited `search_read` (`write_date` is unindexed: one table scan per run, not per page),
  then reads the records that changed by `id` list, a page at a time.
- The deletion sweep walks a model's ids by `id` the same way.
No domain carries a list that grows with the size of an Odoo transaction, and pages move one
way: connector → pages (here) → mapping → store.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from app.connectors.odoo import OdooClient, OdooProtocolError
from app.connectors.odoo.normalize import parse_odoo_datetime
from app.services.sync.settings import ANY_ACTIVE

ID_ORDER = "id asc"
# Pages waiting to be written while the next one is fetched: memory stays flat.
QUEUE_PAGES = 2

Row = dict[str, Any]
Domain = Sequence[Any]
T = TypeVar("T")


class PageReadFailed(Exception):
    """Reading page `number` failed with `error` (the pipeline names the page)."""

    def __init__(self, number: int, error: BaseException) -> None:
        super().__init__(f"page {number}: {error}")
        self.number = number
        self.error = error


def newest(rows: Sequence[Row]) -> tuple[datetime, int] | None:
    """The newest ``(write_date, id)`` among rows, as Odoo shows write_date (whole seconds)."""
    best: tuple[datetime, int] | None = None
    for row in rows:
        stamp = parse_odoo_datetime(row.get("write_date"))
        if stamp is None:
            raise OdooProtocolError(f"a record without write_date (id={row.get('id')!r})")
        if best is None or (stamp, row["id"]) > best:
            best = (stamp, row["id"])
    return best


async def id_pages(
    client: OdooClient,
    model: str,
    domain: Domain,
    fields: Sequence[str],
    *,
    page_size: int,
    after_id: int = 0,
) -> AsyncIterator[list[Row]]:
    """Every matching record with an id above ``after_id``, in id order, page by page."""
    after = after_id
    while True:
        rows = await client.search_read(
            model,
            [*domain, ("id", ">", after)],
            fields,
            limit=page_size,
            order=ID_ORDER,
            context=ANY_ACTIVE,
        )
        if not rows:
            return
        last = rows[-1].get("id")
        if not isinstance(last, int) or last <= after:
            raise OdooProtocolError(f"{model}: id pages made no progress after id {after}")
        yield rows
        if len(rows) < page_size:
            return
        after = last


async def written_since(
    client: OdooClient, model: str, domain: Domain, since: datetime | None
) -> list[tuple[int, str]]:
    """``(id, write_date as shown)`` of every matching record written at or after ``since``
    (all of them when None): one call, one scan of the table, ids and stamps only."""
    window = [*domain, ("write_date", ">=", since)] if since is not None else list(domain)
    rows = await client.search_read(
        model, window, ["write_date"], limit=None, order=ID_ORDER, context=ANY_ACTIVE
    )
    return [(row["id"], row["write_date"]) for row in rows]


async def pages_of_ids(
    client: OdooClient,
    model: str,
    domain: Domain,
    fields: Sequence[str],
    batches: AsyncIterator[list[int]],
) -> AsyncIterator[list[Row]]:
    """The records of each id batch that still match (one lookup by key per batch)."""
    async for ids in batches:
        yield await client.search_read(
            model,
            [("id", "in", ids), *domain],
            fields,
            limit=None,
            order=ID_ORDER,
            context=ANY_ACTIVE,
        )


async def id_stream(
    client: OdooClient, model: str, domain: Domain, *, page_size: int
) -> AsyncIterator[list[int]]:
    """Every matching id in order, a page at a time (index range scans)."""
    after = 0
    while True:
        ids = await client.search_ids(
            model,
            [*domain, ("id", ">", after)],
            limit=page_size,
            order=ID_ORDER,
            context=ANY_ACTIVE,
        )
        if not ids:
            return
        yield ids
        if len(ids) < page_size:
            return
        after = ids[-1]


async def differences(
    upstream: AsyncIterator[list[int]], mirrored: AsyncIterator[list[int]], *, batch: int
) -> AsyncIterator[tuple[list[int], list[int]]]:
    """Merge two ascending id streams: batches of (ids only mirrored, ids only upstream)."""

    async def each(pages: AsyncIterator[list[int]]) -> AsyncIterator[int]:
        async for page in pages:
            for item in page:
                yield item

    left, right = each(upstream), each(mirrored)
    a, b = await anext(left, None), await anext(right, None)
    gone: list[int] = []
    missing: list[int] = []
    while a is not None or b is not None:
        if b is None or (a is not None and a < b):
            missing.append(a)  # type: ignore[arg-type]
            a = await anext(left, None)
        elif a is None or b < a:
            gone.append(b)
            b = await anext(right, None)
        else:
            a, b = await anext(left, None), await anext(right, None)
        if len(gone) >= batch or len(missing) >= batch:
            yield gone, missing
            gone, missing = [], []
    if gone or missing:
        yield gone, missing


async def pipelined(
    pages: AsyncIterator[T], consume: Callable[[T], Awaitable[None]], *, depth: int = QUEUE_PAGES
) -> None:
    """Fetch the next pages (at most ``depth`` ahead) while ``consume`` handles the previous.

    Raises:
        PageReadFailed: fetching a page failed; the pages before it were consumed.
    """
    queue: asyncio.Queue[tuple[T | None, BaseException | None]] = asyncio.Queue(maxsize=depth)

    async def produce() -> None:
        try:
            async for page in pages:
                await queue.put((page, None))
        except Exception as exc:  # handed to the consumer, which names the page
            await queue.put((None, exc))
            return
        await queue.put((None, None))

    producer = asyncio.create_task(produce())
    number = 0
    try:
        while True:
            page, error = await queue.get()
            number += 1
            if error is not None:
                raise PageReadFailed(number, error)
            if page is None:
                return
            await consume(page)
    finally:
        if not producer.done():
            producer.cancel()
        await asyncio.gather(producer, return_exceptions=True)
