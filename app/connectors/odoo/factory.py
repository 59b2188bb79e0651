"""`connect_odoo`: pick the transport for a configuration, authenticate, hand back a client.

The top of the connector's layering: it imports the transports, which import `base`; nothing
imports this module back.
"""

from __future__ import annotations

import logging

import httpx

from app.connectors.odoo.base import OdooClient
from app.connectors.odoo.config import OdooConfig
from app.connectors.odoo.errors import OdooError, OdooFault, OdooProtocolError
from app.connectors.odoo.json2 import Json2Client
from app.connectors.odoo.xmlrpc import XmlRpcClient

logger = logging.getLogger("app.connectors.odoo")


async def connect_odoo(config: OdooConfig, http: httpx.AsyncClient) -> OdooClient:
    """Pick the transport, authenticate, and return a ready client.

    An explicit ``protocol`` wins. ``auto`` uses JSON-2 when an API key is configured and the
    server (asked via ``GET /web/version``) is Odoo 19 or later, else XML-RPC.

    Raises:
        OdooAuthFailed, OdooUnavailable, OdooProtocolError, OdooError.
    """

    client: OdooClient
    if config.protocol == "xmlrpc":
        client = XmlRpcClient(config, http)
    elif config.protocol == "json2":
        client = Json2Client(config, http)
    else:
        client = XmlRpcClient(config, http)
        if config.api_key is not None:
            candidate = Json2Client(config, http)
            try:
                version = await candidate.server_version()
            except (OdooFault, OdooProtocolError):
                version = None  # no /web/version: older than 19, XML-RPC it is
            if version is not None and version.major >= 19:
                client = candidate
        if client.protocol == "xmlrpc" and not config.username:
            raise OdooError("XML-RPC needs a username; this server does not offer JSON-2")
    await client.authenticate()
    logger.info("odoo connected protocol=%s url=%s", client.protocol, config.url)
    return client
