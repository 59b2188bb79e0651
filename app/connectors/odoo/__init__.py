"""Odoo connector: XML-RPC (16-19) and JSON-2 (19+) clients, one error tree, one normaliser."""

from app.connectors.odoo.client import (
    WATERMARK_ORDER,
    Keyset,
    OdooClient,
    ServerVersion,
    connect_odoo,
    format_odoo_datetime,
    watermark_domain,
)
from app.connectors.odoo.config import OdooConfig
from app.connectors.odoo.errors import (
    OdooAccessError,
    OdooAuthFailed,
    OdooError,
    OdooFault,
    OdooProtocolError,
    OdooUnavailable,
)
from app.connectors.odoo.json2 import Json2Client
from app.connectors.odoo.xmlrpc import XmlRpcClient

__all__ = [
    "WATERMARK_ORDER",
    "Json2Client",
    "Keyset",
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
    "watermark_domain",
]
