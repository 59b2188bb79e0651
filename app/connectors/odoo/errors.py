"""The Odoo connector's error tree: nothing from httpx, xmlrpc or json escapes the connector.

Messages never contain the password or the API key: the transports redact every configured
secret from any text that came from the server before it reaches an exception.
"""

from __future__ import annotations

MAX_FAULT_CHARS = 500


class OdooError(Exception):
    """Base of every error the Odoo connector raises."""


class OdooUnavailable(OdooError):
    """Odoo unreachable after retries: connection error, timeout, HTTP 429/502/503/504."""


class OdooAuthFailed(OdooError):
    """The configured credentials were refused (bad login, password or API key)."""

    def __init__(self, username: str | None, db: str) -> None:
        self.username = username
        self.db = db
        super().__init__(
            f"Odoo authentication failed for user {username or '(api key)'} on database {db}"
        )


class OdooAccessError(OdooError):
    """The authenticated user lacks the access rights for the call (Odoo's AccessError)."""


class OdooFault(OdooError):
    """Any other error Odoo reported: a business error, a bad field, a server-side traceback.

    Attributes:
        fault: the server's message, trimmed to its last meaningful line and 500 characters.
        code: the XML-RPC fault code or the JSON-2 HTTP status, when known.
    """

    def __init__(self, fault: str, *, code: int | str | None = None) -> None:
        self.fault = trim_fault(fault)
        self.code = code
        super().__init__(f"Odoo fault: {self.fault}")


class OdooProtocolError(OdooError):
    """The response was malformed, oversized or hostile (e.g. an XML entity bomb)."""


def trim_fault(text: str) -> str:
    """Reduce an Odoo fault string (often a whole traceback) to its last meaningful line."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return "unknown error"
    last = lines[-1]
    if len(lines) > 1 and lines[0].startswith("Traceback"):
        text = last
    else:
        text = " ".join(lines)
    for prefix in ("odoo.exceptions.", "werkzeug.exceptions."):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if len(text) > MAX_FAULT_CHARS:
        text = text[: MAX_FAULT_CHARS - 1] + "…"
    return text
