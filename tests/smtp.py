"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, messages kept in memory.

It runs in aiosmtpd's own thread and event loop, so the service talks to it over real TCP
exactly as it would to a mail relay. `reply` makes it answer DATA with an error instead
(e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user").
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    received: list[Received] = field(default_factory=list)
    reply: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.reply is not None:
            return self.reply
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    inbox: Inbox

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """Settings overrides that point the service at this server."""
        return {
            "smtp_host": self.host,
            "smtp_port": self.port,
            "smtp_starttls": False,
            "smtp_from": "Activity Service <reminders@acme.test>",
            "smtp_timeout_seconds": 5,
            **overrides,
        }


def free_port() -> int:
    """A port nothing listens on (bound, read, released): also the "SMTP is down" address."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_smtp_server() -> Iterator[SmtpServer]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", controller.port, inbox)
    finally:
        controller.stop()  # also closes the server's private event loop
