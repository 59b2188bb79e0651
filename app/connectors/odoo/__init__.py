"""Odoo connector: XML-RPC (16-19) and JSON-2 (19+) clients, one error tree, one normaliser.

Layers (each imports only those before it): `errors`, `redaction`, `config` → `base` (the client
interface and HTTP machinery) → `xmlrpc`, `json2` (the transports) → `factory` (`connect_odoo`).
"""

from app.connectors.odoo.base import OdooClient, ServerVersion, format_odoo_datetime
from app.connectors.odoo.config import OdooConfig
from app.connectors.odoo.errors import (
    OdooAccessError,
    OdooAuthFailed,
    OdooError,
    OdooFault,
    OdooProtocolError,
    OdooUnavailable,
)
from app.connectors.odoo.factory import connect_odoo
from app.connectors.odoo.json2 import Json2Client
from app.connectors.odoo.xmlrpc import XmlRpcClient

__all__ = [
    "Json2Client",
    "OdooAccessError",
    "OdooAuthFailed",
    "OdooClient",
    "OdooConfig",
    "OdooError",
    "OdooFault",
    "OdooProtocolError",
    "OdooUnavailable",
    "ServerVersion",
    "XmlRpcClient",
    "connect_odoo",
    "format_odoo_datetime",
]
