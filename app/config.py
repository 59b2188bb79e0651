"""Settings: one object, read from the environment (and `.env`), validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    app_env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

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
    opportunity_model: str = "crm.lead"

    @field_validator("default_tz")
    @classmethod
    def _known_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
