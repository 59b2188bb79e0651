"""XML-RPC transport (Odoo 16-19): ``/xmlrpc/2/common`` and ``/xmlrpc/2/object``.

Bodies are built with ``xmlrpc.client.dumps`` and posted with the shared ``httpx.AsyncClient``;
responses are parsed by defusedxml's expat parser with DTDs, entities and external references
forbidden, so an entity-expansion bomb is refused at its DOCTYPE, before any expansion. There is
no ``ServerProxy`` (it blocks the event loop) and no global monkey-patching.
"""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Mapping, Sequence
from typing import Any
from xml.parsers.expat import ExpatError

from defusedxml.xmlrpc import DefusedExpatParser

from app.connectors.odoo.base import OdooClient, ServerVersion
from app.connectors.odoo.errors import (
    OdooAccessError,
    OdooAuthFailed,
    OdooError,
    OdooFault,
    OdooProtocolError,
    trim_fault,
)

# Odoo's fault codes on /xmlrpc/2 (odoo/addons/base/controllers/rpc.py).
FAULT_CODE_APPLICATION_ERROR = 1
FAULT_CODE_WARNING = 2
FAULT_CODE_ACCESS_DENIED = 3
FAULT_CODE_ACCESS_ERROR = 4


def parse_xmlrpc_response(body: bytes) -> Any:
    """The single value of an XML-RPC ``methodResponse``, parsed safely.

    Raises:
        xmlrpc.client.Fault: the response is a fault (mapped by the caller).
        OdooProtocolError: malformed XML, a DTD/entity declaration, or not one value.
    """
    unmarshaller = xmlrpc.client.Unmarshaller(use_builtin_types=True)
    parser = DefusedExpatParser(
        unmarshaller, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(body)
        parser.close()
        values = unmarshaller.close()
    except xmlrpc.client.Fault:
        raise
    except (
        ExpatError,
        xmlrpc.client.ResponseError,
        ValueError,  # includes defusedxml's DTDForbidden / EntitiesForbidden
        TypeError,
        KeyError,
        IndexError,
        OverflowError,
        RecursionError,
    ) as exc:
        raise OdooProtocolError(
            f"malformed or hostile XML-RPC response ({type(exc).__name__})"
        ) from None
    if len(values) != 1:
        raise OdooProtocolError("XML-RPC response does not hold exactly one value")
    return values[0]


class XmlRpcClient(OdooClient):
    """`OdooClient` over Odoo's XML-RPC API (deprecated in 19, removed in 22)."""

    protocol = "xmlrpc"

    async def call(
        self,
        model: str,
        method: str,
        params: Mapping[str, Any],
        *,
        positional: Sequence[str] = (),
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        await self.authenticate()
        return await super().call(model, method, params, positional=positional, context=context)

    async def _fetch_version(self) -> ServerVersion:
        result = await self._rpc("common", "version", ())
        if not isinstance(result, dict):
            raise OdooProtocolError("XML-RPC version() did not answer an object")
        return ServerVersion.parse(result.get("server_version"), result.get("server_version_info"))

    async def _fetch_uid(self) -> int:
        config = self._config
        if not config.username:
            raise OdooAuthFailed(None, config.db)
        result = await self._rpc(
            "common", "authenticate", (config.db, config.username, config.rpc_secret(), {})
        )
        if isinstance(result, bool) or not isinstance(result, int) or result <= 0:
            raise OdooAuthFailed(config.username, config.db)
        return result

    async def _execute(
        self,
        model: str,
        method: str,
        params: Mapping[str, Any],
        positional: Sequence[str],
        context: Mapping[str, Any] | None,
    ) -> Any:
        args = [params[name] for name in positional]
        kwargs = {k: v for k, v in params.items() if k not in positional and v is not None}
        if context:
            kwargs["context"] = dict(context)
        config = self._config
        return await self._rpc(
            "object",
            "execute_kw",
            (config.db, self._uid, config.rpc_secret(), model, method, args, kwargs),
        )

    async def _rpc(self, service: str, method: str, params: Sequence[Any]) -> Any:
        try:
            body = xmlrpc.client.dumps(tuple(params), methodname=method, allow_none=True)
        except (TypeError, OverflowError) as exc:
            raise OdooError(f"{service}.{method}: arguments are not XML-RPC-serializable") from exc
        reply = await self._send(
            "POST",
            f"/xmlrpc/2/{service}",
            content=body.encode("utf-8"),
            headers={"Content-Type": "text/xml; charset=utf-8", "Accept": "text/xml"},
        )
        if reply.status == 401:
            raise OdooAuthFailed(self._config.username, self._config.db)
        if reply.status == 403:
            raise OdooAccessError(f"Odoo refused {service}.{method} (HTTP 403)")
        if reply.status != 200:
            raise OdooFault(f"HTTP {reply.status} from /xmlrpc/2/{service}", code=reply.status)
        try:
            return parse_xmlrpc_response(reply.body)
        except xmlrpc.client.Fault as fault:
            raise self._fault_error(fault) from None

    def _fault_error(self, fault: xmlrpc.client.Fault) -> OdooError:
        code = fault.faultCode
        text = self._redact(str(fault.faultString))
        last = trim_fault(text)
        if (
            code == FAULT_CODE_ACCESS_DENIED
            or code == "AccessDenied"
            or last.startswith("AccessDenied")
            or last.lower() == "access denied"
        ):
            return OdooAuthFailed(self._config.username, self._config.db)
        if code == FAULT_CODE_ACCESS_ERROR or last.startswith("AccessError"):
            return OdooAccessError(f"Odoo access error: {last}")
        return OdooFault(text, code=code)
