"""Odoo sync benchmark: a full sync from the cost-charging simulator over loopback, against its
ceiling, then an incremental run with nothing to do.

    python -m bench.sync_bench                        # JSON-2; ~29k and ~124k records; seed at ~4k
    python -m bench.sync_bench --protocol xmlrpc      # the same over XML-RPC
    python -m bench.sync_bench --protocol both
    python -m bench.sync_bench --sizes 1000:3000,4000:12000 --naive 200:700   # quick
    MONGODB_URI=mongodb://localhost:27017 python -m bench.sync_bench   # same, on a real MongoDB

Sizes are `activities:messages` (leads, users and partners come with them). The simulator runs in
its own process (`serve-sim` below) so it does not share our event loop; every measurement runs
in a fresh process, so its peak RSS (`ru_maxrss`) is its own:

- ceiling: the fastest pull of the same records: the same connector pages through the same
  models by id (same domains, fields, page size, transport) and discards the pages;
- sync: `SyncRunner.run(full=True)` into the store (embedded, or MongoDB with MONGODB_URI), then
  `SyncRunner.run()` again (an incremental run, no change in Odoo);
- sync, no database: the same run with a store whose serving collection discards the bulk writes
  (everything else is real). The embedded store lives in our process and costs far more CPU per
  record than a MongoDB server would cost us (STORE.md), and it holds all the data in our memory;
  this line shows what the pipeline itself costs, and that its memory stays flat;
- seed: the naive pipeline this service replaced (one search_read capped at 10,000 per model, one
  update_one per record filtered by serving_id), at a size it finishes.

Figures: records/s (and outside the store: records / (seconds - store seconds)), RPC calls (HTTP
requests, retries included), rows the Odoo server examined (the simulator charges what PostgreSQL
would scan: docs/ODOO.md), database write commands (bulk writes of data; state writes: the
fenced state + lease renewal per page, run records), peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DB = "odoo_sim"
TENANT = "bench"
WRITE_OPS = ("bulk_write", "update", "insert", "find_and_modify", "delete")


# ---------------------------------------------------------------------------- the simulator


def serve_sim(args: argparse.Namespace) -> None:
    """Serve a generated simulator quietly until killed; print "ready <url>" when listening."""
    from tests.odoo_sim import OdooSim, running_sim

    sim = OdooSim.generate(
        activities=args.activities, messages=args.messages, seed=args.seed, version=19
    )

    async def serve() -> None:
        async with running_sim(sim, port=args.port) as url:
            print(f"ready {url}", flush=True)
            await asyncio.Event().wait()

    asyncio.run(serve())


class SimProcess:
    def __init__(self, activities: int, messages: int, port: int) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "bench.sync_bench", "serve-sim", "--port", str(port),
                "--activities", str(activities), "--messages", str(messages),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            self.process.kill()
            raise RuntimeError("the simulator did not start")
        self.url = line[1]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


# ---------------------------------------------------------------------------- one measurement


def bench_settings(url: str, protocol: str, page_size: int) -> Any:
    from pydantic import SecretStr

    from app.config import Settings
    from tests.odoo_sim import DEFAULT_API_KEY, DEFAULT_LOGIN, DEFAULT_PASSWORD

    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        mongodb_uri=SecretStr(os.environ["MONGODB_URI"]) if os.environ.get("MONGODB_URI") else None,
        mongodb_db=f"sync_bench_{os.getpid()}",
        odoo_url=url,
        odoo_db=DB,
        odoo_username=DEFAULT_LOGIN,
        odoo_password=SecretStr(DEFAULT_PASSWORD),
        odoo_api_key=SecretStr(DEFAULT_API_KEY),
        odoo_protocol=protocol,
        odoo_tenant=TENANT,
        odoo_page_size=page_size,
        scheduler_enabled=False,
    )


class DiscardingCollection:
    """The serving collection of the "no database" line: writes are counted and dropped (it
    counts what was upserted per entity type, so the deletion check agrees with Odoo)."""

    name = "discard"

    def __init__(self) -> None:
        self.bulk_writes = 0
        self.upserted: dict[str, int] = {}

    async def bulk_write(self, ops: Sequence[Any], *, ordered: bool = False) -> dict[str, int]:
        self.bulk_writes += 1
        for op in ops:
            entity_type = op._doc.get("$set", {}).get("entity_type")
            if entity_type is not None:
                self.upserted[entity_type] = self.upserted.get(entity_type, 0) + 1
        return {"matched": 0, "modified": 0, "upserted": len(ops), "inserted": 0}

    async def find(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    async def count(self, filter: dict[str, Any]) -> int:
        return self.upserted.get(filter.get("entity_type", ""), 0)

    async def update_many(self, *args: Any, **kwargs: Any) -> int:
        return 0


def sim_stats(url: str, *, reset: bool = False) -> dict[str, int]:
    import httpx

    response = httpx.request("POST" if reset else "GET", f"{url}/sim/stats")
    response.raise_for_status()
    stats: dict[str, int] = response.json()
    return stats


def store_writes() -> dict[str, float]:
    from prometheus_client import REGISTRY

    return {
        op: REGISTRY.get_sample_value("store_commands_total", {"operation": op}) or 0.0
        for op in WRITE_OPS
    }


async def measure(mode: str, url: str, protocol: str, page_size: int) -> dict[str, Any]:
    import httpx

    from app.connectors.odoo import connect_odoo
    from app.gc_policy import apply_gc_policy
    from app.services.clock import Clock
    from app.services.sync import SyncRunner, odoo_config
    from app.store import begin_usage, open_store

    settings = bench_settings(url, protocol, page_size)
    requests = 0

    async def count_request(request: httpx.Request) -> None:
        nonlocal requests
        requests += 1

    store = open_store(settings)
    await store.ensure_indexes()
    sink = DiscardingCollection()
    if mode == "sink":
        store.envelopes.collection = sink  # type: ignore[assignment]
        store.odoo_mirror.collection = sink  # type: ignore[assignment]
    # The process set up as `python -m app serve|sync` sets itself up, in every mode.
    apply_gc_policy()
    writes_before = store_writes()
    records = 0
    per_model: dict[str, int] = {}
    incremental: dict[str, Any] = {}
    sim_stats(url, reset=True)
    try:
        async with httpx.AsyncClient(event_hooks={"request": [count_request]}) as http:
            usage = begin_usage()
            started = time.perf_counter()
            if mode == "ceiling":
                client = await connect_odoo(odoo_config(settings), http)  # type: ignore[arg-type]
                per_model = await page_through(client, settings)
                records = sum(per_model.values())
            elif mode == "naive":
                client = await connect_odoo(odoo_config(settings), http)  # type: ignore[arg-type]
                records = await naive_sync(client, store, settings)
            else:
                runner = SyncRunner(store, settings, Clock(), http)
                run = await runner.run(full=True)
                if run.status != "succeeded":
                    raise RuntimeError(f"sync failed: {run.errors}")
                records = sum(c.fetched for c in run.counts.values())
            seconds = time.perf_counter() - started
            full_stats = sim_stats(url)
            full_requests = requests
            writes = {op: int(n - writes_before[op]) for op, n in store_writes().items()}
            # the no-database line cannot tell unchanged records (it stores nothing)
            if mode == "ours":
                # the first incremental run after a full one lists every change since before
                # it (a recheck); the second is the steady state
                for name in ("first", "steady"):
                    sim_stats(url, reset=True)
                    requests_before, again = requests, time.perf_counter()
                    second = await runner.run()
                    if second.status != "succeeded":
                        raise RuntimeError(f"incremental sync failed: {second.errors}")
                    incremental[name] = {
                        "seconds": time.perf_counter() - again,
                        "rpc_calls": requests - requests_before,
                        "records": sum(c.fetched for c in second.counts.values()),
                        "examined": sim_stats(url)["examined"],
                    }
    finally:
        if not store.embedded:
            await store.client.drop_database(settings.mongodb_db)
        await store.close()
    return {
        "mode": mode,
        "records": records,
        "per_model": per_model,
        "seconds": seconds,
        "rpc_calls": full_requests,
        "examined": full_stats["examined"],
        "incremental": incremental,
        "commands": usage.commands,
        "store_seconds": usage.seconds,
        "data_writes": writes["bulk_write"] + sink.bulk_writes
        if mode != "naive"
        else writes["update"],
        "state_writes": sum(writes.values()) - writes["bulk_write"] if mode != "naive" else 0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "store": "embedded" if store.embedded else "mongodb",
    }


async def page_through(client: Any, settings: Any) -> dict[str, int]:
    """The ceiling: the sync's reads (same models, domains, fields, pages by id), discarded."""
    from app.services.sync.pages import id_pages
    from app.services.sync.specs import model_specs

    major = (await client.server_version()).major
    records: dict[str, int] = {}
    for spec in model_specs(settings, major):
        records[spec.model] = 0
        fields = list(dict.fromkeys([*spec.fields, "id", "write_date"]))
        async for page in id_pages(
            client, spec.model, spec.domain, fields, page_size=settings.odoo_page_size
        ):
            records[spec.model] += len(page)
    return records


async def naive_sync(client: Any, store: Any, settings: Any) -> int:
    """The naive seed pipeline: one search_read per model capped at 10,000 records, then one
    update_one per record filtered by serving_id (not `_id`), raw Odoo values stored."""
    from app.connectors.odoo.normalize import fields_for
    from app.services.sync import ANY_ACTIVE, synced_models

    major = (await client.server_version()).major
    collection = store.envelopes.collection
    records = 0
    for model in synced_models(settings):
        domain: list[Any] = [("model", "=", "crm.lead")] if model == "mail.message" else []
        fields = fields_for("crm.lead" if model == settings.opportunity_model else model, major)
        rows = await client.search_read(model, domain, fields, limit=10_000, context=ANY_ACTIVE)
        kind = model.replace(".", "_")
        for row in rows:
            serving_doc = {
                "entity_type": kind,
                "serving_id": f"odoo_{kind}_{row['id']}",
                "source": "odoo",
                "last_aggregated": datetime.now(UTC).isoformat(),
                "data": row,
                "is_active": True,
            }
            await collection.update_one(
                {"serving_id": serving_doc["serving_id"]}, {"$set": serving_doc}, upsert=True
            )
            records += 1
    return records


def measure_main(args: argparse.Namespace) -> None:
    result = asyncio.run(measure(args.mode, args.url, args.protocol, args.page_size))
    print(json.dumps(result), flush=True)


def run_measurement(mode: str, url: str, protocol: str, page_size: int) -> dict[str, Any]:
    """In a fresh process: its peak RSS is this measurement's alone."""
    completed = subprocess.run(
        [
            sys.executable, "-m", "bench.sync_bench", "measure", "--mode", mode, "--url", url,
            "--protocol", protocol, "--page-size", str(page_size),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{completed.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------------------- the report


@dataclass
class Size:
    activities: int
    messages: int

    @classmethod
    def parse(cls, text: str) -> Size:
        activities, _, messages = text.partition(":")
        return cls(int(activities), int(messages))


def rate(result: dict[str, Any]) -> float:
    return float(result["records"] / result["seconds"])


def line(label: str, result: dict[str, Any], ceiling: dict[str, Any] | None) -> str:
    text = (
        f"  {label:<30} {result['records']:>8,} rec {result['seconds']:>7.2f} s "
        f"{rate(result):>9,.0f} rec/s"
    )
    if ceiling is not None:
        text += f" ({rate(result) / rate(ceiling):.2f}x ceiling)"
    text += f"  RPC {result['rpc_calls']:>4}"
    if "examined" in result:
        text += (
            f"  rows examined {result['examined']:>8,}"
            f" ({result['examined'] / max(result['records'], 1):.2f}x read)"
        )
    if result["mode"] != "ceiling":
        text += (
            f"  data writes {result['data_writes']:>6,}  state writes {result['state_writes']:>4}"
        )
    if result["store_seconds"] and result["mode"] in ("ours", "naive"):
        outside = result["records"] / max(result["seconds"] - result["store_seconds"], 1e-9)
        text += f"  store {result['store_seconds']:.1f} s (outside it {outside:,.0f} rec/s"
        if ceiling is not None:
            text += f", {outside / rate(ceiling):.2f}x"
        text += ")"
    return text + f"  peak RSS {result['peak_rss_mb']:,.0f} MB"


def bench_protocol(args: argparse.Namespace, protocol: str, port: int) -> None:
    page = args.page_size
    sizes = [Size.parse(s) for s in args.sizes.split(",")]
    rss: dict[str, list[float]] = {"ours": [], "sink": []}
    store_name = "MongoDB" if os.environ.get("MONGODB_URI") else "embedded store"
    print(f"\n== {protocol}, page size {page}, {store_name}, {os.cpu_count()} cores ==", flush=True)
    for size in sizes:
        sim = SimProcess(size.activities, size.messages, port)
        try:
            ceiling = run_measurement("ceiling", sim.url, protocol, page)
            ours = run_measurement("ours", sim.url, protocol, page)
            sink = run_measurement("sink", sim.url, protocol, page)
        finally:
            sim.stop()
        pages = ours["data_writes"]
        models = len(ceiling["per_model"])
        expected_rpc = 2 + sum(n // page + 1 for n in ceiling["per_model"].values()) + models
        print(
            f"{size.activities:,} activities + {size.messages:,} messages "
            f"-> {ceiling['records']:,} records in {pages} pages",
            flush=True,
        )
        print(line("ceiling (id pages, discard)", ceiling, None))
        print(line(f"sync -> {store_name}", ours, ceiling))
        print(line("sync, no database (discard)", sink, ceiling), flush=True)
        for name, label in (
            ("first", "next run (re-lists the full run)"),
            ("steady", "incremental run, no change"),
        ):
            again = ours["incremental"][name]
            print(
                f"  {label:<30} {again['records']:>8,} rec "
                f"{again['seconds']:>7.2f} s  RPC {again['rpc_calls']:>4}  rows examined "
                f"{again['examined']:>8,} ({again['examined'] / max(ceiling['records'], 1):.2f}x "
                "the synced records: a count and a changes listing per table)"
            )
        print(
            f"  RPC calls: ours {ours['rpc_calls']}, ceiling {ceiling['rpc_calls']}, expected "
            f"{expected_rpc} = 2 to connect + sum over the {models} models of (n // {page} + 1) "
            f"+ one count per model, plus one done-message lookup per activity page holding "
            f"archived done activities; data write commands per page: "
            f"{ours['data_writes'] / pages:.2f}",
            flush=True,
        )
        rss["ours"].append(ours["peak_rss_mb"])
        rss["sink"].append(sink["peak_rss_mb"])
    if len(sizes) > 1:
        print(
            f"  peak RSS largest/smallest: no database {rss['sink'][-1] / rss['sink'][0]:.2f}x; "
            f"{store_name} {rss['ours'][-1] / rss['ours'][0]:.2f}x"
            + (
                " (the embedded store keeps every document in this process)"
                if "emb" in store_name
                else ""
            )
        )
    if args.naive:
        size = Size.parse(args.naive)
        sim = SimProcess(size.activities, size.messages, port)
        try:
            naive = run_measurement("naive", sim.url, protocol, page)
            ours = run_measurement("ours", sim.url, protocol, page)
        finally:
            sim.stop()
        print(
            f"seed pipeline vs ours at {size.activities:,} activities + {size.messages:,} messages:"
        )
        print(line("seed (1 update_one per record)", naive, None))
        print(line("ours", ours, None))
        print(
            f"  ours is {rate(ours) / rate(naive):,.0f}x faster with "
            f"{naive['data_writes'] / max(ours['data_writes'], 1):,.0f}x fewer data writes",
            flush=True,
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.sync_bench", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve-sim")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--activities", type=int, required=True)
    serve.add_argument("--messages", type=int, required=True)
    serve.add_argument("--seed", type=int, default=1)
    one = sub.add_parser("measure")
    one.add_argument("--mode", choices=("ceiling", "ours", "sink", "naive"), required=True)
    one.add_argument("--url", required=True)
    one.add_argument("--protocol", default="json2")
    one.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--protocol", choices=("json2", "xmlrpc", "both"), default="json2")
    parser.add_argument("--sizes", default="5000:25000,20000:100000")
    parser.add_argument(
        "--naive", default="1000:3700", help="size for the seed pipeline ('' = skip)"
    )
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--port", type=int, default=18069)
    args = parser.parse_args(argv)
    if args.command == "serve-sim":
        serve_sim(args)
    elif args.command == "measure":
        measure_main(args)
    else:
        protocols = ("json2", "xmlrpc") if args.protocol == "both" else (args.protocol,)
        for protocol in protocols:
            bench_protocol(args, protocol, args.port)


if __name__ == "__main__":
    main()
