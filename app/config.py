"""Settings: one object, read from the environment (and `.env`), validated at start-up."""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.connectors.odoo.config import OdooConfig

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    # "auto": readable text lines in development, JSON lines otherwise (test, production).
    log_format: Literal["auto", "text", "json"] = "auto"

    @property
    def log_format_resolved(self) -> Literal["text", "json"]:
        if self.log_format == "auto":
            return "text" if self.app_env == "development" else "json"
        return self.log_format

    # Store
    mongodb_uri: SecretStr | None = None
    mongodb_db: str = "activity_service"
    serving_collection: str = "data_lake_serving"

    # Auth
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_public_key: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    # Demo: load the demo data set into the `default` tenant at start-up (when it is empty).
    demo_data: bool = False

    # Time
    default_tz: str = "UTC"

    # Limits
    max_body_bytes: int = Field(default=1_048_576, ge=1024)

    # Exports (CSV/XLSX): rows read from the store per page while streaming
    export_page_size: int = Field(default=1_000, ge=10, le=5_000)

    # Calendar feeds: the base of the secret feed URLs (unset = the request's own base URL)
    public_base_url: str | None = None
    calendar_refresh_minutes: int = Field(default=30, ge=5, le=1_440)
    calendar_max_events: int = Field(default=5_000, ge=100, le=50_000)

    # Odoo
    odoo_url: str | None = None
    odoo_db: str | None = None
    odoo_username: str | None = None
    odoo_password: SecretStr | None = None
    odoo_api_key: SecretStr | None = None
    odoo_protocol: Literal["auto", "xmlrpc", "json2"] = "auto"
    odoo_tenant: str = "default"
    odoo_page_size: int = Field(default=500, ge=1, le=10_000)
    odoo_timeout_seconds: float = 30.0
    odoo_max_retries: int = Field(default=3, ge=0, le=20)
    odoo_backoff_seconds: float = Field(default=0.5, ge=0)
    opportunity_model: str = "crm.lead"
    # Chatter: comma-separated lists. Empty models = the opportunity model and res.partner;
    # empty types = every type Odoo's chatter shows (all but user_notification).
    odoo_message_models: str = ""
    odoo_message_types: str = ""
    odoo_message_excluded_subtypes: str = ""

    # Odoo sync
    sync_interval_seconds: float = Field(default=300.0, ge=0)
    sync_reconcile_every: int = Field(default=24, ge=1)
    sync_lease_seconds: float = Field(default=300.0, gt=0)
    # Incremental runs re-read what Odoo wrote this long before the watermark: a transaction
    # stamps write_date at its start and may commit later than records already read.
    sync_overlap_seconds: float = Field(default=600.0, ge=0)

    # Scheduled jobs (reminder delivery; later the Odoo sync). Tests turn it off.
    scheduler_enabled: bool = True

    # Reminders
    reminder_poll_seconds: float = Field(default=30.0, gt=0)
    reminder_lease_seconds: float = Field(default=120.0, gt=0)
    reminder_max_attempts: int = Field(default=5, ge=1, le=50)
    reminder_retry_base_seconds: float = Field(default=30.0, gt=0)
    reminder_batch: int = Field(default=100, ge=1, le=10_000)
    reminder_template: Path | None = None

    # SMTP (unset host = in-app reminders only)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_from: str | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    # Change feed (GET /events): retention, keep-alive comments, the reader's poll, per-client
    # queue (a client that falls this many events behind is dropped and resumes by its id).
    events_retention_hours: float = Field(default=72.0, gt=0)
    events_heartbeat_seconds: float = Field(default=15.0, gt=0)
    events_poll_seconds: float = Field(default=0.5, gt=0)
    events_client_queue: int = Field(default=1000, ge=1, le=100_000)
    events_purge_seconds: float = Field(default=600.0, gt=0)

    # Webhooks
    webhook_allow_http: bool = False
    webhook_allowed_hosts: str = ""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    webhook_poll_seconds: float = Field(default=5.0, gt=0)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_batch: int = Field(default=100, ge=1, le=10_000)

    @field_validator("default_tz")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("reminder_template")
    @classmethod
    def _readable_template(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"REMINDER_TEMPLATE {str(value)!r} is not a readable file")
        return value

    @model_validator(mode="after")
    def _smtp_consistent(self) -> Settings:
        if self.smtp_host is not None and not self.smtp_from:
            raise ValueError("SMTP_HOST is set: SMTP_FROM (the sender address) is required too")
        if self.smtp_from and "@" not in parseaddr(self.smtp_from)[1]:
            raise ValueError("SMTP_FROM must be an address, e.g. 'Reminders <crm@example.com>'")
        if (self.smtp_user is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USER and SMTP_PASSWORD go together: set both or neither")
        # A send is cut off after SMTP_TIMEOUT_SECONDS; the claim must outlive it with a margin,
        # or another worker could reclaim a reminder that is still being sent (a duplicate).
        if self.reminder_lease_seconds < 2 * self.smtp_timeout_seconds:
            raise ValueError("REMINDER_LEASE_SECONDS must be at least twice SMTP_TIMEOUT_SECONDS")
        # The same rule for webhook deliveries: a claim outlives the attempt it covers.
        if self.webhook_lease_seconds < 2 * self.webhook_timeout_seconds:
            raise ValueError("WEBHOOK_LEASE_SECONDS must be at least twice WEBHOOK_TIMEOUT_SECONDS")
        return self

    @model_validator(mode="after")
    def _odoo_consistent(self) -> Settings:
        if self.odoo_url is None:
            return self
        if not self.odoo_db:
            raise ValueError("ODOO_URL is set: ODOO_DB is required too")
        try:
            _ = self.odoo  # the connector's own checks: credentials, protocol, URL
        except ValidationError as exc:
            reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            raise ValueError(f"ODOO_* settings: {reasons}") from None
        # The lease is renewed after every page: it must outlive the slowest page (every
        # attempt timing out), or another replica could take over a run that is still alive.
        slowest_page = self.odoo_timeout_seconds * (self.odoo_max_retries + 1)
        if self.sync_lease_seconds < 2 * slowest_page:
            raise ValueError(
                "SYNC_LEASE_SECONDS must be at least 2 x ODOO_TIMEOUT_SECONDS x "
                f"(ODOO_MAX_RETRIES + 1) = {2 * slowest_page:g}"
            )
        return self

    @model_validator(mode="after")
    def _production_guards(self) -> Settings:
        if self.app_env == "production":
            if self.mongodb_uri is None:
                raise ValueError(
                    "APP_ENV=production requires MONGODB_URI: the embedded store is in-memory "
                    "and loses every write on restart"
                )
            if self.jwt_public_key is None and (
                self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
                or len(self.jwt_secret.get_secret_value()) < 32
            ):
                raise ValueError(
                    "APP_ENV=production requires JWT_SECRET (32+ characters, not the "
                    "development default) or JWT_PUBLIC_KEY"
                )
        return self

    @property
    def jwt_algorithm(self) -> Literal["HS256", "RS256"]:
        return "RS256" if self.jwt_public_key else "HS256"

    @property
    def odoo(self) -> OdooConfig | None:
        """The connector's configuration, or None when Odoo is not configured."""
        if self.odoo_url is None or not self.odoo_db:
            return None
        return OdooConfig(
            url=self.odoo_url,
            db=self.odoo_db,
            username=self.odoo_username,
            password=self.odoo_password,
            api_key=self.odoo_api_key,
            protocol=self.odoo_protocol,
            timeout_seconds=self.odoo_timeout_seconds,
            max_retries=self.odoo_max_retries,
            backoff_base_seconds=self.odoo_backoff_seconds,
        )

    @property
    def message_models(self) -> tuple[str, ...]:
        """The Odoo models whose chatter is synced (ODOO_MESSAGE_MODELS)."""
        return _csv(self.odoo_message_models) or (self.opportunity_model, "res.partner")

    @property
    def message_types(self) -> tuple[str, ...]:
        """The message types synced; empty = every type the chatter shows (ODOO_MESSAGE_TYPES)."""
        return _csv(self.odoo_message_types)

    @property
    def message_excluded_subtypes(self) -> frozenset[str]:
        """Subtype names (case-insensitive) whose messages are not synced."""
        return frozenset(name.lower() for name in _csv(self.odoo_message_excluded_subtypes))

    @property
    def webhook_hosts_allowed(self) -> frozenset[str]:
        """Hosts a webhook may target even when they resolve to a private address."""
        return frozenset(host.lower() for host in _csv(self.webhook_allowed_hosts))


def _csv(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


@lru_cache
def get_settings() -> Settings:
    return Settings()
