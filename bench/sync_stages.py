"""Where a sync's CPU goes, per record and per stage, on the simulator's own pages.

    python -m bench.sync_stages                      # JSON-2, 5,000 activities + 25,000 messages
    python -m bench.sync_stages --protocol xmlrpc --activities 2000 --messages 10000

Fetches every chatter message and activity once (the simulator in its own process, as in
`sync_bench`), then times each stage of the sync's mapping and write path on those rows, in this
process set up as `python -m app` sets itself up: JSON parse of the rows, normalisation, the
stored document, the envelope upserts (`UpdateOne`s), and the embedded store's `bulk_write`.
Each figure is the best of 3 passes, in microseconds per record. The stages are the sync's own
functions; only their orchestration (pages, queue, watermarks) is left out.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bench.sync_bench import SimProcess, bench_settings

T = TypeVar("T")
PAGE = 500


async def fetch(url: str, protocol: str, model: str) -> list[dict[str, Any]]:
    import httpx

    from app.connectors.odoo import connect_odoo
    from app.connectors.odoo.normalize import fields_for
    from app.services.sync import odoo_config
    from app.services.sync.pages import id_pages

    settings = bench_settings(url, protocol, PAGE)
    async with httpx.AsyncClient() as http:
        client = await connect_odoo(odoo_config(settings), http)  # type: ignore[arg-type]
        major = (await client.server_version()).major
        return [
            row
            async for page in id_pages(client, model, [], fields_for(model, major), page_size=PAGE)
            for row in page
        ]


def _fields(message: Any) -> dict[str, Any]:
    """`message_document`'s arguments from an `OdooMessage`, as the sync's message spec passes."""
    fields = message._asdict()
    fields.pop("activity_type_id")
    return {**fields, "author_uid": None}


def best(label: str, records: int, run: Callable[[], T]) -> T:
    seconds = float("inf")
    for _ in range(3):
        gc.collect()
        started = time.perf_counter()
        result = run()
        seconds = min(seconds, time.perf_counter() - started)
    print(f"  {label:<44} {seconds / records * 1e6:6.1f} us/record", flush=True)
    return result


def write_path(label: str, entity_type: str, docs: Sequence[dict[str, Any]]) -> None:
    """Envelope upserts built by `Envelopes.upsert_many`, then written to the embedded store."""
    from app.store.embedded import create_embedded_client
    from app.store.envelopes import Envelopes

    class Capture:
        name = "capture"
        ops: list[Any] = []

        async def bulk_write(self, ops: Sequence[Any], *, ordered: bool = False) -> dict[str, int]:
            self.ops = list(ops)
            return {}

    capture = Capture()
    envelopes = Envelopes(capture)  # type: ignore[arg-type]
    now = datetime.now(UTC)

    async def build() -> list[list[Any]]:
        pages = []
        for start in range(0, len(docs), PAGE):
            await envelopes.upsert_many(
                "bench", entity_type, "odoo", docs[start : start + PAGE], now=now, sync_seq=1
            )
            pages.append(capture.ops)
        return pages

    pages = best(f"{label}: envelope upserts", len(docs), lambda: asyncio.run(build()))

    async def write() -> None:
        collection = create_embedded_client()["db"]["serving"]
        for ops in pages:
            await collection.bulk_write(ops, ordered=False)

    best(f"{label}: embedded bulk_write (fresh store)", len(docs), lambda: asyncio.run(write()))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sync_stages", description=__doc__)
    parser.add_argument("--protocol", choices=("json2", "xmlrpc"), default="json2")
    parser.add_argument("--activities", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=25000)
    parser.add_argument("--port", type=int, default=18079)
    args = parser.parse_args(argv)

    from app.connectors.odoo.normalize import (
        index_activity_types,
        normalize_activity,
        normalize_activity_type,
        normalize_message,
    )
    from app.gc_policy import apply_gc_policy
    from app.services.sync.mapping import activity_document
    from app.services.timeline import message_document

    sim = SimProcess(args.activities, args.messages, args.port)
    try:
        messages = asyncio.run(fetch(sim.url, args.protocol, "mail.message"))
        activities = asyncio.run(fetch(sim.url, args.protocol, "mail.activity"))
        types = asyncio.run(fetch(sim.url, args.protocol, "mail.activity.type"))
    finally:
        sim.stop()
    apply_gc_policy()
    print(f"{args.protocol}: {len(messages):,} messages, {len(activities):,} activities")

    body = json.dumps({"result": messages}).encode()
    best("messages: JSON parse (as JSON-2 pages arrive)", len(messages), lambda: json.loads(body))
    normalized = best(
        "messages: normalize_message",
        len(messages),
        lambda: [normalize_message(row) for row in messages],
    )
    docs = best(
        "messages: message_document",
        len(messages),
        lambda: [dict(message_document(**_fields(m))) for m in normalized],
    )
    write_path("messages", "message", docs)

    by_id = index_activity_types(normalize_activity_type(row) for row in types)
    mapped = best(
        "activities: normalize_activity",
        len(activities),
        lambda: [normalize_activity(row, by_id) for row in activities],
    )
    zone = ZoneInfo("Asia/Dubai")
    activity_docs = best(
        "activities: activity_document",
        len(activities),
        lambda: [
            activity_document(
                a,
                related_name=a.related_name,
                contact_id=None,
                contact_name=None,
                feedback=None,
                tenant_zone=zone,
            )
            for a in mapped
        ],
    )
    write_path("activities", "activity", activity_docs)


if __name__ == "__main__":
    main()
