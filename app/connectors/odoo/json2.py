"""Odoo 19's External JSON-2 API: ``POST /json/2/<model>/<method>`` with named arguments.

Authentication is an API key (``Authorization: bearer <key>``); ``X-Odoo-Database`` selects
the database. Errors are HTTP 4xx/5xx with a JSON body ``{"name", "message", "arguments",
"context", "debug"}``: 401 bad key, 403 access rights, 404 unknown model/method, 422 user
error, 500 anything else. The version comes from ``GET /web/version`` and the user id from
``res.users/context_get``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from app.connectors.odoo.base import HttpReply, OdooClient, ServerVersion
from app.connectors.odoo.errors import (
    OdooAccessError,
    OdooAuthFailed,
    OdooError,
    OdooFault,
    OdooProtocolError,
    trim_fault,
)


def parse_json_body(body: bytes, what: str) -> Any:
    """Decode a JSON response body; malformed or absurdly nested JSON is a protocol error."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise OdooProtocolError(f"malformed JSON from {what} ({type(exc).__name__})") from None


class Json2Client(OdooClient):
    """`OdooClient` over the External JSON-2 API (Odoo 19+)."""

    protocol = "json2"

    async def _fetch_version(self) -> ServerVersion:
        reply = await self._send("GET", "/web/version", headers={"Accept": "application/json"})
        if reply.status != 200:
            raise OdooFault(f"GET /web/version answered HTTP {reply.status}", code=reply.status)
        data = parse_json_body(reply.body, "/web/version")
        if not isinstance(data, dict):
            raise OdooProtocolError("/web/version did not answer an object")
        return ServerVersion.parse(data.get("version"), data.get("version_info"))

    async def _fetch_uid(self) -> int:
        # The key identifies the user; context_get reports its uid (Odoo 19 adds "uid").
        context = await self._post("res.users", "context_get", {})
        uid = context.get("uid") if isinstance(context, dict) else None
        if isinstance(uid, int) and not isinstance(uid, bool) and uid > 0:
            return uid
        if self._config.username:
            ids = await self._post(
                "res.users",
                "search",
                {"domain": [["login", "=", self._config.username]], "limit": 1},
            )
            if isinstance(ids, list) and ids and isinstance(ids[0], int):
                return ids[0]
        raise OdooAuthFailed(self._config.username, self._config.db)

    async def _execute(
        self,
        model: str,
        method: str,
        params: Mapping[str, Any],
        positional: Sequence[str],
        context: Mapping[str, Any] | None,
    ) -> Any:
        body = {name: value for name, value in params.items() if value is not None}
        if context:
            body["context"] = dict(context)
        return await self._post(model, method, body)

    async def _post(self, model: str, method: str, body: Mapping[str, Any]) -> Any:
        config = self._config
        if config.api_key is None:
            raise OdooAuthFailed(config.username, config.db)
        try:
            content = json.dumps(body, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise OdooError(f"{model}.{method}: arguments are not JSON-serializable") from exc
        reply = await self._send(
            "POST",
            f"/json/2/{quote(model, safe='.')}/{quote(method, safe='')}",
            content=content,
            headers={
                "Authorization": f"bearer {config.api_key.get_secret_value()}",
                "X-Odoo-Database": config.db,
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
            },
        )
        if reply.status == 200:
            return parse_json_body(reply.body, f"{model}.{method}")
        raise self._error(reply, model, method)

    def _error(self, reply: HttpReply, model: str, method: str) -> OdooError:
        name, message = "", ""
        try:
            data = json.loads(reply.body) if "json" in reply.content_type else None
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            name = str(data.get("name") or "")
            message = str(data.get("message") or "")
        elif isinstance(data, str):
            message = data
        message = trim_fault(self._redact(message)) if message else ""
        short_name = name.rsplit(".", 1)[-1]
        status = reply.status
        if status == 401 or short_name == "AccessDenied":
            return OdooAuthFailed(self._config.username, self._config.db)
        if status == 403:
            return OdooAccessError(f"Odoo access error on {model}.{method}: {message or 'denied'}")
        if not message:
            message = f"HTTP {status} from {model}.{method}"
            if status == 404:
                message += " (no JSON-2 API on this server, or no such model/method)"
        elif short_name and short_name not in ("NotFound", "UnprocessableEntity", "BadRequest"):
            message = f"{short_name}: {message}"
        return OdooFault(message, code=status)
