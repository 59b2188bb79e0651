"""JSON logs with a request id, Prometheus metrics, Server-Timing, and the body size limit.

One pure-ASGI middleware does it all per request, so streaming responses and background tasks
are not wrapped twice and the request id is set before any handler or dependency logs.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON
from app.store import begin_usage

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_SECONDS = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


# uvicorn adds `color_message` (the message with ANSI colours) to its records; terminal escape
# codes have no place in a log line, JSON or text.
_SKIPPED_ATTRS = {"color_message"}
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _timestamp(record: logging.LogRecord) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z"
    )


def _log_fields(record: logging.LogRecord) -> dict[str, Any]:
    """What every format shows: the message without escape codes, the request id, the `extra`
    fields, and an exception's type and message (never its traceback: no stack trace in logs)."""
    fields: dict[str, Any] = {
        "ts": _timestamp(record),
        "level": record.levelname,
        "logger": record.name,
        "msg": _ANSI_ESCAPE.sub("", record.getMessage()),
    }
    request_id = request_id_var.get()
    if request_id:
        fields["request_id"] = request_id
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRS or key in _SKIPPED_ATTRS or key.startswith("_"):
            continue
        text = value if isinstance(value, str | int | float | bool) else str(value)
        fields[key] = _ANSI_ESCAPE.sub("", text) if isinstance(text, str) else text
    if record.exc_info and record.exc_info[0] is not None:
        fields["exc"] = record.exc_info[0].__name__
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for a log collector (production)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_log_fields(record), ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One readable line per event, for a person at a terminal (development):
    `2026-01-20T10:00:00.000Z INFO  app.http  GET /api/v1/activities 200  request_id=... ms=3.1`."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _log_fields(record)
        ts, level, name, msg = (fields.pop(key) for key in ("ts", "level", "logger", "msg"))
        head = f"{ts} {level:<7} {name}  {msg}"
        tail = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head}  {tail}" if tail else head


def configure_logging(level: str = "INFO", log_format: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if log_format == "text" else JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # uvicorn's own loggers get handlers of their own from its default config; send them
    # through ours so every line has one format.
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers[:] = []
        uvicorn_logger.propagate = True


logger = logging.getLogger("app.http")


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _logged_path(scope: Scope) -> str:
    """The request path, or its route when a path parameter is a credential (a calendar feed's
    secret token): secrets stay out of the logs."""
    if any("token" in name for name in scope.get("path_params") or ()):
        return _route_label(scope)
    return str(scope["path"])


class RequestContextMiddleware:
    """Request id, access log, metrics, Server-Timing and MAX_BODY_BYTES for every request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        usage = begin_usage()
        started = time.perf_counter()
        status = 500

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send, request_id)
            self._record(scope, 413, started)
            request_id_var.reset(token)
            return

        # Bodies are small JSON documents: read the whole body up front (bounded), so an
        # oversized chunked upload is refused before any handler sees a byte of it.
        body = bytearray()
        more = scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._too_large(send, request_id)
                self._record(scope, 413, started)
                request_id_var.reset(token)
                return
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        status_sent = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                elapsed_ms = (time.perf_counter() - started) * 1000
                db_ms = usage.seconds * 1000
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (
                        b"server-timing",
                        f'db;dur={db_ms:.2f};desc="{usage.commands} commands", '
                        f"app;dur={max(elapsed_ms - db_ms, 0):.2f}".encode(),
                    ),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, replay_receive, send_with_headers)
        except Exception:
            # The last line of defence: logged with its stack for operators; the client gets a
            # problem+json 500 that reveals nothing (no message, no trace, no secret).
            logger.exception("unhandled error", extra={"path": _logged_path(scope)})
            if status_sent:
                raise
            status = 500
            await self._problem(
                send, request_id, 500, "Internal Server Error", "An unexpected error occurred"
            )
        finally:
            self._record(scope, status, started)
            request_id_var.reset(token)

    def _record(self, scope: Scope, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = _route_label(scope)
        HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
        HTTP_SECONDS.labels(scope["method"], route).observe(elapsed)
        logger.info(
            "request",
            extra={
                "method": scope["method"],
                "path": _logged_path(scope),
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )

    async def _too_large(self, send: Send, request_id: str) -> None:
        await self._problem(
            send,
            request_id,
            413,
            "Content Too Large",
            f"The request body exceeds {self.max_body_bytes} bytes",
        )

    @staticmethod
    async def _problem(send: Send, request_id: str, status: int, title: str, detail: str) -> None:
        body = json.dumps(
            {"type": "about:blank", "title": title, "status": status, "detail": detail}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
