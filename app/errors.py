"""Domain errors and the one place that renders every error as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("app.errors")

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """Base of every expected failure; carries its HTTP status and a safe detail."""

    status = 500
    title = "Internal Server Error"
    type = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = list(errors) if errors else None
        self.headers = headers
        self.extra = extra or {}


class NotFound(AppError):
    status = 404
    title = "Not Found"


class ActivityNotFound(NotFound):
    def __init__(self, activity_id: str) -> None:
        super().__init__(f"Activity {activity_id!r} not found")


class NotificationNotFound(NotFound):
    def __init__(self, notification_id: str) -> None:
        super().__init__(f"Notification {notification_id!r} not found")


class ValidationFailed(AppError):
    status = 422
    title = "Unprocessable Content"

    def __init__(self, detail: str, *, loc: Sequence[str | int] = (), msg: str | None = None):
        super().__init__(detail, errors=[{"loc": list(loc), "msg": msg or detail}])


class Unauthorized(AppError):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str = "Missing or invalid bearer token") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status = 403
    title = "Forbidden"


class Conflict(AppError):
    status = 409
    title = "Conflict"


class PreconditionFailed(AppError):
    status = 412
    title = "Precondition Failed"


class PayloadTooLarge(AppError):
    status = 413
    title = "Content Too Large"


class ServiceUnavailable(AppError):
    status = 503
    title = "Service Unavailable"


class SyncRunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"Sync run {run_id!r} not found")


class SyncAlreadyRunning(Conflict):
    """Another sync run of the tenant holds the lease; the problem body names it."""

    def __init__(self, run_id: str | None) -> None:
        super().__init__(
            f"An Odoo sync run is already in progress ({run_id})",
            extra={"run_id": run_id},
        )
        self.run_id = run_id


class OdooNotConfigured(Conflict):
    """The sync was asked for, but this deployment has no Odoo connection (a configuration
    state, not an outage: 409, never 5xx)."""

    def __init__(self) -> None:
        super().__init__(
            "Odoo sync is not configured: set ODOO_URL, ODOO_DB and ODOO_PASSWORD or ODOO_API_KEY"
        )


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    type_: str = "about:blank",
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echoing the rejected input could reflect secrets or huge payloads: loc + msg only.
    return [
        {
            "loc": [
                str(part) if not isinstance(part, int) else part for part in err.get("loc", ())
            ],
            "msg": str(err.get("msg", "invalid value")),
        }
        for err in exc.errors()
    ]


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
        type_=exc.type,
    )


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422, "Unprocessable Content", "The request is not valid", errors=_validation_errors(exc)
    )


_HTTP_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    413: "Content Too Large",
    415: "Unsupported Media Type",
}


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = _HTTP_TITLES.get(exc.status_code, "Error")
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(
        exc.status_code, title, detail, headers=dict(exc.headers) if exc.headers else None
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    # Unexpected exceptions are rendered by RequestContextMiddleware (app.observability).
