"""The Odoo client interface and the HTTP/retry machinery every transport shares.

Layered as httpx layers its transports: this base imports no transport; XML-RPC (`xmlrpc.py`,
Odoo 16-19) and the External JSON-2 API (`json2.py`, Odoo 19+) implement `OdooClient` on it, and
`factory.connect_odoo` picks one. Both speak through the caller's `httpx.AsyncClient`, stream
responses under a size cap, retry transient failures with exponential backoff, and raise only
`OdooError`s. Paging is the caller's business (the sync reads by `id`, see
`app.services.sync.pages`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal, TypeVar

import httpx

from app.connectors.odoo.config import OdooConfig
from app.connectors.odoo.errors import (
    OdooProtocolError,
    OdooUnavailable,
)

logger = logging.getLogger("app.connectors.odoo")

Protocol = Literal["xmlrpc", "json2"]
Domain = Sequence[Any]
T = TypeVar("T")

# 429 and the gateway errors are what a proxy in front of a busy or restarting Odoo answers.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0
ODOO_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True, slots=True)
class ServerVersion:
    """What the server says it is, e.g. ``ServerVersion("17.0", (17, 0, 0, "final", 0, ""))``."""

    version: str
    version_info: tuple[int | str, ...]

    @property
    def major(self) -> int:
        head = self.version_info[0] if self.version_info else self.version.split(".")[0]
        digits = "".join(ch for ch in str(head).split("~")[-1] if ch.isdigit())
        return int(digits) if digits else 0

    @classmethod
    def parse(cls, version: object, version_info: object) -> ServerVersion:
        if not isinstance(version_info, list | tuple) or not version_info:
            raise OdooProtocolError("Odoo version answer has no version_info")
        info = tuple(v if isinstance(v, int | str) else str(v) for v in version_info)
        return cls(version=str(version or info[0]), version_info=info)


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    content_type: str
    body: bytes


class TransientError(Exception):
    """Internal: a failure worth retrying. Never leaves the connector."""


def format_odoo_datetime(value: datetime) -> str:
    """An aware datetime as Odoo's naive-UTC string ``YYYY-MM-DD HH:MM:SS`` (naive = UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.strftime(ODOO_DATETIME_FORMAT)


def odoo_value(value: Any) -> Any:
    """Make a domain value wire-ready: datetimes and dates as Odoo strings, tuples as lists."""
    if isinstance(value, datetime):
        return format_odoo_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [odoo_value(item) for item in value]
    return value


class OdooClient(ABC):
    """One authenticated connection to one Odoo database.

    Read methods return Odoo's raw values (``False`` for empty, ``[id, name]`` for many2one,
    naive-UTC strings for datetimes); `normalize.py` turns them into models. Every method
    raises only `OdooError` subclasses.
    """

    protocol: ClassVar[Protocol]

    def __init__(self, config: OdooConfig, http: httpx.AsyncClient) -> None:
        self._config = config
        self._http = http
        self._uid: int | None = None
        self._version: ServerVersion | None = None
        self._auth_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} url={self._config.url!r} db={self._config.db!r} "
            f"user={self._config.username!r}>"
        )

    @property
    def config(self) -> OdooConfig:
        return self._config

    @property
    def uid(self) -> int | None:
        """The authenticated user id, once `authenticate` succeeded."""
        return self._uid

    # -- public API ---------------------------------------------------------------------------

    async def server_version(self) -> ServerVersion:
        """The server's version (cached after the first call)."""
        if self._version is None:
            self._version = await self._retrying("version", self._fetch_version)
        return self._version

    async def authenticate(self) -> int:
        """Check the credentials and return the user id (cached).

        Raises:
            OdooAuthFailed: the credentials were refused (never retried).
        """
        if self._uid is not None:
            return self._uid
        async with self._auth_lock:
            if self._uid is None:
                self._uid = await self._retrying("authenticate", self._fetch_uid)
                logger.info(
                    "odoo authenticated protocol=%s db=%s uid=%s",
                    self.protocol,
                    self._config.db,
                    self._uid,
                )
        return self._uid

    async def search_read(
        self,
        model: str,
        domain: Domain,
        fields: Sequence[str],
        *,
        limit: int | None,
        offset: int = 0,
        order: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """``model.search_read``: the records matching ``domain``, with ``fields`` (and ``id``).

        Args:
            model: technical model name, e.g. ``mail.activity``.
            domain: Odoo domain (prefix notation); datetimes/dates are converted to Odoo strings.
            fields: field names to read; an unknown field is an `OdooFault`.
            limit: page size (``None`` = no limit; prefer pages).
            offset: records to skip.
            order: e.g. ``"write_date asc, id asc"``.
            context: e.g. ``{"active_test": False}`` to include archived records.
        """
        params: dict[str, Any] = {
            "domain": odoo_value(list(domain)),
            "fields": list(fields),
            "offset": offset,
            "limit": limit,
            "order": order,
        }
        result = await self.call(
            model, "search_read", params, positional=("domain",), context=context
        )
        if not isinstance(result, list) or not all(isinstance(row, dict) for row in result):
            raise OdooProtocolError(f"{model}.search_read did not answer a list of records")
        return result

    async def search_ids(
        self,
        model: str,
        domain: Domain,
        *,
        limit: int | None = None,
        offset: int = 0,
        order: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> list[int]:
        """``model.search``: the ids of the records matching ``domain``."""
        params: dict[str, Any] = {
            "domain": odoo_value(list(domain)),
            "offset": offset,
            "limit": limit,
            "order": order,
        }
        result = await self.call(model, "search", params, positional=("domain",), context=context)
        if not isinstance(result, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in result
        ):
            raise OdooProtocolError(f"{model}.search did not answer a list of ids")
        return result

    async def search_count(
        self,
        model: str,
        domain: Domain,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> int:
        """``model.search_count``: how many records match ``domain``."""
        params = {"domain": odoo_value(list(domain))}
        result = await self.call(
            model, "search_count", params, positional=("domain",), context=context
        )
        if not isinstance(result, int) or isinstance(result, bool):
            raise OdooProtocolError(f"{model}.search_count did not answer an integer")
        return result

    async def read(
        self,
        model: str,
        ids: Sequence[int],
        fields: Sequence[str],
        *,
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """``model.read``: the given records (missing ids are an `OdooFault`)."""
        params = {"ids": list(ids), "fields": list(fields)}
        result = await self.call(model, "read", params, positional=("ids",), context=context)
        if not isinstance(result, list) or not all(isinstance(row, dict) for row in result):
            raise OdooProtocolError(f"{model}.read did not answer a list of records")
        return result

    async def fields_get(
        self,
        model: str,
        *,
        attributes: Sequence[str] = ("type", "string"),
        context: Mapping[str, Any] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """``model.fields_get``: the model's fields, to check which exist on this server."""
        params = {"allfields": None, "attributes": list(attributes)}
        result = await self.call(model, "fields_get", params, context=context)
        if not isinstance(result, dict):
            raise OdooProtocolError(f"{model}.fields_get did not answer an object")
        return result

    async def call(
        self,
        model: str,
        method: str,
        params: Mapping[str, Any],
        *,
        positional: Sequence[str] = (),
        context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call any public model method with named parameters.

        Args:
            params: the method's parameters by name (JSON-2 sends them all by name).
            positional: names in ``params`` that XML-RPC must send positionally, in order (Odoo
                16 names ``search``'s first parameter ``args``, later versions ``domain``).
        """
        started = time.perf_counter()
        result = await self._retrying(
            f"{model}.{method}",
            lambda: self._execute(model, method, params, positional, context),
        )
        logger.debug(
            "odoo call protocol=%s model=%s method=%s seconds=%.3f",
            self.protocol,
            model,
            method,
            time.perf_counter() - started,
        )
        return result

    # -- transport hooks ----------------------------------------------------------------------

    @abstractmethod
    async def _fetch_version(self) -> ServerVersion: ...

    @abstractmethod
    async def _fetch_uid(self) -> int: ...

    @abstractmethod
    async def _execute(
        self,
        model: str,
        method: str,
        params: Mapping[str, Any],
        positional: Sequence[str],
        context: Mapping[str, Any] | None,
    ) -> Any: ...

    # -- shared machinery ---------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return self._config.redact(text)

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt``, retrying `TransientError`s with exponential backoff and jitter."""
        attempts = self._config.max_retries + 1
        for number in range(1, attempts + 1):
            try:
                return await attempt()
            except TransientError as exc:
                reason = self._redact(str(exc))
                if number >= attempts:
                    raise OdooUnavailable(
                        f"Odoo unavailable ({what}) after {attempts} attempt(s): {reason}"
                    ) from None
                base = self._config.backoff_base_seconds * (2 ** (number - 1))
                delay = min(MAX_BACKOFF_SECONDS, base + random.uniform(0, base / 10))
                logger.warning(
                    "odoo %s failed (%s), retry %d/%d in %.2fs",
                    what,
                    reason,
                    number,
                    attempts - 1,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        path: str,
        *,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpReply:
        """One HTTP exchange, the body read under ``max_response_bytes`` and one deadline.

        Raises:
            TransientError: connection failure, timeout, or a transient HTTP status.
            OdooProtocolError: the response is larger than the cap or undecodable.
        """
        config = self._config
        cap = config.max_response_bytes
        all_headers = {"User-Agent": config.user_agent, **(headers or {})}
        try:
            async with asyncio.timeout(config.timeout_seconds):
                async with self._http.stream(
                    method,
                    config.url + path,
                    content=content,
                    headers=all_headers,
                    timeout=config.timeout_seconds,
                ) as response:
                    if response.status_code in TRANSIENT_STATUSES:
                        raise TransientError(f"HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > cap:
                        raise OdooProtocolError(
                            f"Odoo response of {int(declared)} bytes exceeds the {cap} byte cap"
                        )
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > cap:
                            raise OdooProtocolError(
                                f"Odoo response exceeds the {cap} byte cap; reading stopped"
                            )
                        chunks.append(chunk)
                    return HttpReply(
                        status=response.status_code,
                        content_type=response.headers.get("content-type", ""),
                        body=b"".join(chunks),
                    )
        except TimeoutError:
            raise TransientError(f"no complete answer within {config.timeout_seconds}s") from None
        except httpx.TimeoutException as exc:
            raise TransientError(f"timeout ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise OdooProtocolError(
                self._redact(f"HTTP exchange failed: {type(exc).__name__}: {exc}")
            ) from None
