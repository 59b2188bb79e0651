"""Connection settings for one Odoo database: the one home of their validation.

The app's `Settings` declare the environment variables and build this (`Settings.odoo`), so a
bad combination is refused at start-up by the checks below, written once.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from app.connectors.odoo.redaction import redact

OdooProtocolName = Literal["auto", "xmlrpc", "json2"]

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class OdooConfig(BaseModel):
    """How to reach and authenticate against one Odoo database.

    Attributes:
        url: base URL of the Odoo server, e.g. ``https://erp.example.com`` (no trailing slash).
        db: database name (sent to XML-RPC calls and as ``X-Odoo-Database`` on JSON-2).
        username: login of the integration user; needed for XML-RPC.
        password: that user's password; XML-RPC also accepts an API key in its place.
        api_key: an Odoo API key; required for JSON-2 (Odoo 19+).
        protocol: ``xmlrpc``, ``json2``, or ``auto`` (JSON-2 on Odoo >= 19 with an API key).
        timeout_seconds: deadline of one HTTP attempt, body included.
        max_retries: retries after the first attempt, for transient failures only.
        backoff_base_seconds: first retry delay; doubles on each retry (plus a little jitter).
        max_response_bytes: responses larger than this are refused while streaming.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    db: str = Field(min_length=1)
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    protocol: OdooProtocolName = "auto"
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)
    backoff_base_seconds: float = Field(default=0.5, ge=0)
    max_response_bytes: int = Field(default=DEFAULT_MAX_RESPONSE_BYTES, gt=0)
    user_agent: str = "activity-service/odoo-connector"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("Odoo url must be an http(s) URL such as https://erp.example.com")
        if parts.username or parts.password:
            raise ValueError("Odoo url must not carry credentials")
        return value

    @model_validator(mode="after")
    def _credentials(self) -> OdooConfig:
        if self.password is None and self.api_key is None:
            raise ValueError("Odoo needs a password or an API key")
        if self.protocol == "json2" and self.api_key is None:
            raise ValueError("the JSON-2 protocol needs an API key")
        if self.protocol == "xmlrpc" and not self.username:
            raise ValueError("the XML-RPC protocol needs a username")
        return self

    def secrets(self) -> tuple[str, ...]:
        """The secret values to redact from any text leaving the connector."""
        values = (self.password, self.api_key)
        return tuple(v.get_secret_value() for v in values if v is not None and v.get_secret_value())

    def redact(self, text: str) -> str:
        """``text`` without the password or the API key (see `redaction.redact`)."""
        return redact(text, self.secrets())

    def rpc_secret(self) -> str:
        """The secret XML-RPC sends: the password, else the API key (Odoo accepts both)."""
        chosen = self.password if self.password is not None else self.api_key
        assert chosen is not None  # guaranteed by the validator
        return chosen.get_secret_value()
