"""Outgoing e-mail over SMTP (aiosmtplib), behind a one-method interface.

The connector has its own error tree and never lets aiosmtplib or socket exceptions escape:
`MailDeferred` (worth retrying later: the server is unreachable or slow, or answered 4xx) and
`MailRejected` (a permanent 5xx answer or an unusable configuration). Their messages are safe
to store and show: they carry the server's reply, never the configured password.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from pydantic import SecretStr

from app.config import Settings

_MAX_REASON = 300


class MailError(Exception):
    """A message could not be handed to the SMTP server."""


class MailDeferred(MailError):
    """Transient: try again later."""


class MailRejected(MailError):
    """Permanent: trying again will not help."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hand `message` (with From/To set) to the mail server, or raise a `MailError`."""


class SmtpMailer:
    """One SMTP connection per message: reminders are few and the server may be far away, so a
    pooled connection would mostly be a stale one."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: SecretStr | None,
        starttls: bool,
        timeout_seconds: float,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        if settings.smtp_host is None:
            raise ValueError("SMTP_HOST is not set")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
        )

    async def send(self, message: EmailMessage) -> None:
        """Send one message.

        Args:
            message: a complete message; its From/To headers give the envelope.

        Raises:
            MailDeferred: connection refused or lost, timeout, or a 4xx reply.
            MailRejected: a 5xx reply, or the server lacks STARTTLS/AUTH we were told to use.
        """
        try:
            # The whole exchange is bounded, not each command: the claim's lease must outlive it.
            async with asyncio.timeout(self._timeout):
                await aiosmtplib.send(
                    message,
                    hostname=self.host,
                    port=self.port,
                    username=self._username,
                    password=self._password.get_secret_value() if self._password else None,
                    start_tls=self._starttls,
                    timeout=self._timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if codes and all(500 <= c < 600 for c in codes):
                raise MailRejected(self._safe(f"recipient refused: {reason}")) from None
            raise MailDeferred(self._safe(f"recipient deferred: {reason}")) from None
        except aiosmtplib.SMTPResponseException as exc:
            reason = self._safe(f"SMTP {exc.code}: {exc.message}")
            if 400 <= exc.code < 500:
                raise MailDeferred(reason) from None
            raise MailRejected(reason) from None
        except (
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPTimeoutError,
            TimeoutError,
            OSError,
        ) as exc:
            kind = type(exc).__name__
            raise MailDeferred(
                self._safe(f"SMTP server {self.host}:{self.port} unavailable ({kind}: {exc})")
            ) from None
        except aiosmtplib.SMTPException as exc:
            # STARTTLS or AUTH not offered, malformed address...: configuration, not weather.
            raise MailRejected(self._safe(f"SMTP error: {exc}")) from None

    def _safe(self, reason: str) -> str:
        """Bounded, and with the password blanked should a server ever echo it back."""
        if self._password is not None:
            secret = self._password.get_secret_value()
            if secret:
                reason = reason.replace(secret, "***")
        return reason[:_MAX_REASON]
