"""Command line: `python -m app serve|token|sync|openapi ...`."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

from app.config import get_settings
from app.gc_policy import apply_gc_policy


def _token(args: argparse.Namespace) -> int:
    from app.services.auth import mint_token

    settings = get_settings()
    claims: dict[str, Any] = {}
    if args.name:
        claims["name"] = args.name
    if args.tz:
        claims["tz"] = args.tz
    if args.odoo_uid is not None:
        claims["odoo_uid"] = args.odoo_uid
    if args.email:
        claims["email"] = args.email
    print(
        mint_token(
            settings,
            sub=args.sub,
            tenant=args.tenant,
            roles=[r for r in args.roles.split(",") if r],
            expires_in=timedelta(hours=args.hours),
            **claims,
        )
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.services.auth import mint_token

    settings = get_settings()
    if args.demo:
        settings = settings.model_copy(update={"demo_data": True})
    app = create_app(settings)
    base = f"http://{args.host}:{args.port}"
    if settings.jwt_algorithm == "HS256" and settings.app_env != "production":
        token = mint_token(
            settings,
            sub="alice",
            roles=["user", "manager", "ops"],
            name="Alice Martin",
            tz="Asia/Dubai",
            odoo_uid=2,
            email="alice@example.com",
            expires_in=timedelta(hours=12),
        )
        print(
            f"\n  Activity Service: {base}/docs\n"
            "  Authorize in /docs with this development token (alice, 12 h):\n\n"
            f"  {token}\n",
            flush=True,
        )
    apply_gc_policy()
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


class _SyncProgress:
    """One line per model on stderr: rewritten in place on a terminal, printed once otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started: dict[str, float] = {}

    def __call__(self, model: str, counts: Any, done: bool) -> None:
        import time

        started = self.started.setdefault(model, time.perf_counter())
        elapsed = max(time.perf_counter() - started, 1e-9)
        line = (
            f"{model:<20} {counts.fetched:>9,} fetched {counts.upserted:>9,} written "
            f"{counts.fetched / elapsed:>9,.0f}/s"
        )
        if done:
            self.stream.write(("\r" if self.tty else "") + line + "\n")
        elif self.tty:
            self.stream.write("\r" + line)
        self.stream.flush()


def _sync(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_run_sync(full=args.full))


async def _run_sync(*, full: bool) -> int:
    import httpx

    from app.errors import OdooNotConfigured, SyncAlreadyRunning
    from app.observability import configure_logging
    from app.services.clock import Clock
    from app.services.sync import SyncRunner
    from app.store import open_store

    settings = get_settings()
    configure_logging(
        "WARNING", settings.log_format_resolved
    )  # the progress lines are the output; warnings still show
    store = open_store(settings)
    await store.ensure_indexes()
    try:
        async with httpx.AsyncClient() as http:
            runner = SyncRunner(store, settings, Clock(), http)
            apply_gc_policy()
            try:
                run = await runner.run(full=full, progress=_SyncProgress(sys.stderr))
            except OdooNotConfigured as exc:
                print(exc.detail, file=sys.stderr)
                return 2
            except SyncAlreadyRunning as exc:
                print(f"A sync run is already in progress: {exc.run_id}", file=sys.stderr)
                return 3
    finally:
        await store.close()
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    kind = "full" if run.full else "incremental"
    print(f"run {run.run_id}: {run.status} ({kind}, {seconds:.1f} s)", file=sys.stderr)
    for error in run.errors:
        print(f"  error: {error}", file=sys.stderr)
    return 0 if run.status == "succeeded" else 1


def _openapi(args: argparse.Namespace) -> int:
    from app.main import create_app
    from app.openapi import openapi_json

    document = openapi_json(create_app(get_settings(), configure_logs=False))
    if args.output == "-":
        sys.stdout.write(document)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(document)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load the demo data set at start-up")
    serve.set_defaults(func=_serve)

    token = sub.add_parser("token", help="mint a development token signed with JWT_SECRET")
    token.add_argument("--sub", required=True)
    token.add_argument("--tenant", default="default")
    token.add_argument("--roles", default="user", help="comma-separated: user,manager,admin,ops")
    token.add_argument("--name")
    token.add_argument("--tz")
    token.add_argument("--email")
    token.add_argument("--odoo-uid", type=int)
    token.add_argument("--hours", type=float, default=12)
    token.set_defaults(func=_token)

    sync = sub.add_parser("sync", help="run one Odoo sync in the foreground (ODOO_* settings)")
    sync.add_argument(
        "--full", action="store_true", help="re-read everything and reconcile deletions"
    )
    sync.set_defaults(func=_sync)

    openapi = sub.add_parser(
        "openapi", help="write the OpenAPI document, built in process (no server, no store)"
    )
    openapi.add_argument("--output", default="-", help="a file, or - for stdout (default)")
    openapi.set_defaults(func=_openapi)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
