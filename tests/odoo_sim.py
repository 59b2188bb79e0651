"""An Odoo 16-19 simulator served over real HTTP, for tests and benchmarks.

It answers what an external client sees of Odoo: XML-RPC on ``/xmlrpc/2/common`` and
``/xmlrpc/2/object`` (16-19), the External JSON-2 API on ``/json/2/<model>/<method>`` and
``GET /web/version`` (19 only; 404 before), with Odoo's quirks: ``False`` for empty values,
``[id, "name"]`` many2one pairs, naive UTC datetime strings, ``active_test``, Odoo's fault codes
and JSON-2 error bodies. Tables: mail.activity, mail.activity.type, mail.message, crm.lead,
res.users, res.partner, filled by `OdooSim.generate` (deterministic for a seed).

Faults are injected per call (``sim.fail_status(502, on_call=2)``, ``sim.drop_connection()``,
``sim.delay(1.0)``, ``sim.rpc_fault(...)``, ``sim.xml_bomb()``, ``sim.oversized(...)``), each
optionally narrowed to a protocol, model and method. Calls are counted and logged.

In tests::

    sim = OdooSim.generate(activities=200, messages=500, seed=7)
    async with running_sim(sim) as base_url:
        ...

Standalone::

    python -m tests.odoo_sim --port 8069 --activities 2000 --messages 10000 --version 17
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import random
import re
import socket
import xmlrpc.client
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

DEFAULT_DB = "odoo_sim"
DEFAULT_LOGIN = "admin"
DEFAULT_PASSWORD = "admin-password"
DEFAULT_API_KEY = "sim0api0key0" + "5f3c9a1e7b2d4086"
DEFAULT_CLOCK = datetime(2026, 1, 20, 12, 0, 0)
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
ADMIN_UID = 2
MAX_ID = 2**62

# -- schema ---------------------------------------------------------------------------------------

_COMMON = {"id": "integer", "create_date": "datetime", "write_date": "datetime"}
SCHEMAS: dict[str, dict[str, str]] = {
    "mail.activity.type": {
        **_COMMON,
        "name": "char",
        "category": "selection",
        "keep_done": "boolean",
        "active": "boolean",
    },
    "mail.activity": {
        **_COMMON,
        "activity_type_id": "many2one",
        "summary": "char",
        "note": "html",
        "date_deadline": "date",
        "user_id": "many2one",
        "res_model": "char",
        "res_id": "many2one_reference",
        "res_name": "char",
        "date_done": "date",
        "active": "boolean",
    },
    "mail.message": {
        **_COMMON,
        "model": "char",
        "res_id": "many2one_reference",
        "record_name": "char",
        "date": "datetime",
        "message_type": "selection",
        "subtype_id": "many2one",
        "author_id": "many2one",
        "email_from": "char",
        "subject": "char",
        "body": "html",
        "mail_activity_type_id": "many2one",
    },
    "crm.lead": {
        **_COMMON,
        "name": "char",
        "partner_id": "many2one",
        "partner_name": "char",
        "email_from": "char",
        "user_id": "many2one",
        "stage_id": "many2one",
        "type": "selection",
        "expected_revenue": "float",
        "probability": "float",
        "active": "boolean",
    },
    "res.users": {
        **_COMMON,
        "name": "char",
        "login": "char",
        "email": "char",
        "tz": "selection",
        "partner_id": "many2one",
        "active": "boolean",
    },
    "res.partner": {
        **_COMMON,
        "name": "char",
        "email": "char",
        "phone": "char",
        "is_company": "boolean",
        "parent_id": "many2one",
        "active": "boolean",
    },
}
# Fields that appeared in a later version: (model, field) -> first major version having it.
FIELD_SINCE = {
    ("mail.activity", "date_done"): 17,
    ("mail.activity", "active"): 17,
    ("mail.activity.type", "keep_done"): 17,
}
COMODELS = {
    ("mail.activity", "activity_type_id"): "mail.activity.type",
    ("mail.activity", "user_id"): "res.users",
    ("mail.message", "author_id"): "res.partner",
    ("mail.message", "mail_activity_type_id"): "mail.activity.type",
    ("crm.lead", "partner_id"): "res.partner",
    ("crm.lead", "user_id"): "res.users",
    ("res.users", "partner_id"): "res.partner",
    ("res.partner", "parent_id"): "res.partner",
}
DEFAULT_ORDERS = {
    "mail.activity": "date_deadline asc, id asc",
    "mail.activity.type": "id asc",
    "mail.message": "id desc",
    "crm.lead": "id desc",
    "res.users": "name asc, id asc",
    "res.partner": "name asc, id desc",
}

ACTIVITY_TYPES = [
    (1, "Email", "default"),
    (2, "Call", "phonecall"),
    (3, "Meeting", "meeting"),
    (4, "To-Do", "default"),
    (5, "Upload Document", "upload_file"),
    (6, "WhatsApp Message", "default"),
    (7, "Note", "default"),
    (8, "Event", "default"),
]
# Types whose done activities Odoo 17+ keeps archived; the others are deleted once done.
KEEP_DONE_TYPES = frozenset({2, 3})
STAGES = [[1, "New"], [2, "Qualified"], [3, "Proposition"], [4, "Won"]]
SUBTYPES = {
    "discussion": [1, "Discussions"],
    "note": [2, "Note"],
    "activity": [3, "Activities"],
    "stage": [4, "Stage Changed"],
}
FIRST_NAMES = ["Zakariya", "Mitchell", "Aisha", "Omar", "Lena", "Marc", "Priya", "Chen", "Sara",
               "Yusuf", "Elena", "Tom", "Fatima", "Noah", "Mei", "Ivan"]  # fmt: skip
LAST_NAMES = ["Admin", "Haddad", "Khan", "Dubois", "Schmidt", "Rossi", "Tanaka", "Nguyen",
              "Garcia", "Okafor", "Silva", "Novak"]  # fmt: skip
COMPANY_WORDS = ["Deco", "Azure", "Gemini", "Ready", "Supreme", "Lumber", "Atlas", "Nova",
                 "Falcon", "Cedar", "Harbor", "Summit"]  # fmt: skip
COMPANY_SUFFIXES = ["Addict", "Interior", "Furniture", "Mat", "Judiciary Council", "Inc",
                    "LLC", "Trading", "Group", "Systems"]  # fmt: skip
TIMEZONES = ["Asia/Dubai", "Europe/Brussels", "America/New_York", "UTC", False]
SUMMARIES = ["Follow up call", "Send proposal", "Schedule demo", "Document", "Check contract",
             "Prepare quote", "Meeting with buyer", "WhatsApp the client", False,
             False]  # fmt: skip
BODIES = [
    "<p>Customer interested in the premium package.</p>",
    "<p>Hello {name},</p><p>Please find our <b>quotation</b> attached.</p><p>Best regards</p>",
    "<p>Call summary:</p><ul><li>budget approved</li><li>decision in <em>March</em></li></ul>",
    '<p>See <a href="https://example.com/offer?x=1&amp;y=2" title="offer">the offer</a></p>',
    "<div><p>Stage changed</p><span>New</span> &rarr; <span>Qualified</span></div>",
    "<p>Lead/Opportunity created</p>",
    '<p><img src="https://example.com/logo.png" alt="logo"> Logo attached</p>',
    "<blockquote>On Monday {name} wrote:<br>Can we meet?</blockquote><p>Sure, Tuesday.</p>",
    "<table><tr><th>Item</th><th>Qty</th></tr><tr><td>Desk</td><td>4</td></tr></table>",
    "<p>Caf&eacute; meeting &amp; lunch &lt;confirmed&gt;</p>",
    "",
]
HOSTILE_BODIES = [
    "<p>Hello</p><script>alert('xss')</script>",
    '<img src="x" onerror="alert(1)"><p>image</p>',
    '<a href="javascript:alert(document.cookie)">click me</a>',
    '<svg onload="alert(1)"><circle r="4"/></svg><p>vector</p>',
    '<iframe src="https://evil.example/frame"></iframe><p>framed</p>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>',
    "<style>body { display: none }</style><p>styled</p>",
    '<p onclick="steal()">Malformed <b>bold <i>unclosed <div><a href="jav&#x09;ascript:x()">x',
]


# -- errors Odoo raises, rendered per protocol ---------------------------------------------------


class SimOdooError(Exception):
    """An exception as Odoo would raise it server-side."""

    name = "builtins.Exception"
    xmlrpc_code = 1  # 1 = application error: the fault string is a whole traceback
    json_status = 500

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.name


class SimUserError(SimOdooError):
    name = "odoo.exceptions.UserError"
    xmlrpc_code = 2
    json_status = 422


class SimMissingError(SimUserError):
    name = "odoo.exceptions.MissingError"
    json_status = 404


class SimAccessDenied(SimOdooError):
    name = "odoo.exceptions.AccessDenied"
    xmlrpc_code = 3
    json_status = 403


class SimAccessError(SimOdooError):
    name = "odoo.exceptions.AccessError"
    xmlrpc_code = 4
    json_status = 403


class SimValueError(SimOdooError):
    name = "builtins.ValueError"


class SimTypeError(SimOdooError):
    name = "builtins.TypeError"
    json_status = 422  # JSON-2 answers a bad signature with UnprocessableEntity


class SimNotFound(SimOdooError):
    name = "werkzeug.exceptions.NotFound"
    json_status = 404


ERRORS_BY_NAME: dict[str, type[SimOdooError]] = {
    cls.name: cls
    for cls in (
        SimOdooError,
        SimUserError,
        SimMissingError,
        SimAccessDenied,
        SimAccessError,
        SimValueError,
        SimTypeError,
    )
}
ERRORS_BY_NAME["odoo.exceptions.ValidationError"] = SimUserError


def _traceback_text(error: SimOdooError) -> str:
    short = error.name.removeprefix("builtins.")
    return (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/service/model.py", line 156, in execute_cr\n'
        "    result = method(recs, *args, **kwargs)\n"
        f"{short}: {error.message}\n"
    )


# -- fault injection ------------------------------------------------------------------------------


@dataclass
class InjectedFault:
    """One scheduled misbehaviour: fires on the ``on_call``-th matching call, ``times`` times."""

    kind: str  # status | drop | delay | rpc_fault | bomb | oversized
    on_call: int = 1
    times: int = 1
    protocol: str | None = None
    model: str | None = None
    method: str | None = None
    status: int = 502
    delay_seconds: float = 0.0
    message: str = "Simulated failure"
    exception: str = "odoo.exceptions.UserError"
    size_bytes: int = 0
    declare_length: bool = False
    # only calls whose domain, as text, contains this (e.g. "'id', '>'": id pages only)
    domain_contains: str | None = None
    seen: int = 0
    fired: int = 0

    def matches(self, call: SimCall) -> bool:
        return (
            (self.protocol is None or self.protocol == call.protocol)
            and (self.model is None or self.model == call.model)
            and (self.method is None or self.method == call.method)
            and (
                self.domain_contains is None
                or self.domain_contains in str(call.params.get("domain"))
            )
        )


@dataclass
class SimCall:
    """One RPC as the simulator received it, and the rows it made the server examine."""

    seq: int
    protocol: str  # xmlrpc | json2
    model: str | None
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    fault: str | None = None
    examined: int = 0


# -- tables, domains, ordering --------------------------------------------------------------------


class Table:
    """Rows by id plus a sorted ``(write_date, id)`` index for watermark pagination."""

    def __init__(self, model: str, fields: dict[str, str]) -> None:
        self.model = model
        self.fields = fields
        self.rows: dict[int, dict[str, Any]] = {}
        self.index: list[tuple[str, int]] = []
        self.next_id = 1
        # rows (a dict) iterate in insertion order; while ids arrive increasing that is id order
        self.in_id_order = True
        self._ids: list[int] | None = None  # the primary key index, built when first needed
        self._by_record: dict[tuple[Any, Any], list[int]] | None = None  # (model, res_id)

    @property
    def by_record(self) -> dict[tuple[Any, Any], list[int]]:
        """Ids by (model, res_id): the index Odoo keeps on mail_message and mail_activity."""
        if self._by_record is None:
            field_name = "model" if "model" in self.fields else "res_model"
            index: dict[tuple[Any, Any], list[int]] = {}
            for rid in self.ids:
                row = self.rows[rid]
                index.setdefault((row.get(field_name), row.get("res_id")), []).append(rid)
            self._by_record = index
        return self._by_record

    @property
    def ids(self) -> list[int]:
        """Every id in order: the primary key (an index range scan is a slice of it)."""
        if self._ids is None:
            self._ids = sorted(self.rows)
        return self._ids

    def add(self, row: dict[str, Any], *, indexed: bool = True) -> None:
        if row["id"] not in self.rows:
            if row["id"] < self.next_id - 1:
                self.in_id_order = False
            self._ids = None
        self._by_record = None
        self.rows[row["id"]] = row
        self.next_id = max(self.next_id, row["id"] + 1)
        if indexed:
            bisect.insort(self.index, (row["write_date"], row["id"]))

    def rebuild_index(self) -> None:
        self.index = sorted((row["write_date"], rid) for rid, row in self.rows.items())

    def unindex(self, row: dict[str, Any]) -> None:
        key = (row["write_date"], row["id"])
        position = bisect.bisect_left(self.index, key)
        if position < len(self.index) and self.index[position] == key:
            del self.index[position]

    def remove(self, record_id: int) -> dict[str, Any]:
        row = self.rows.pop(record_id)
        self.unindex(row)
        self._ids = None
        self._by_record = None
        return row


Node = tuple[Any, ...]
Predicate = Callable[[dict[str, Any]], bool]


def _norm_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, str):
        text = value.strip().replace("T", " ").removesuffix("Z")
        if len(text) == 10:
            return text + " 00:00:00"
        return text[:19]
    return value


def _like_regex(pattern: str, *, wrap: bool, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    if wrap:
        body = f".*{body}.*"
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


class Query:
    """A compiled domain over one table."""

    def __init__(self, table: Table, visible: Mapping[str, str], domain: Any) -> None:
        self.table = table
        self.visible = visible
        self.mentions_active = False
        self.node = self._parse(domain)
        self.predicate = self._compile(self.node)

    def _invalid_field(self, name: Any) -> SimValueError:
        return SimValueError(f"Invalid field {name!r} on model {self.table.model!r}")

    def _parse(self, domain: Any) -> Node:
        if not isinstance(domain, list | tuple):
            raise SimValueError(f"Invalid domain: {domain!r}")
        stack: list[Node] = []
        for item in reversed(domain):
            if isinstance(item, str) and item in ("&", "|"):
                if len(stack) < 2:
                    raise SimValueError(f"Domain {domain!r} is syntactically not correct.")
                first, second = stack.pop(), stack.pop()
                stack.append((item, first, second))
            elif isinstance(item, str) and item == "!":
                if not stack:
                    raise SimValueError(f"Domain {domain!r} is syntactically not correct.")
                stack.append(("!", stack.pop()))
            elif isinstance(item, list | tuple) and len(item) == 3:
                stack.append(self._leaf(*item))
            else:
                raise SimValueError(f"Invalid leaf {item!r}")
        if not stack:
            return ("true",)
        node = stack.pop()
        while stack:
            node = ("&", node, stack.pop())
        return node

    def _leaf(self, name: Any, operator: Any, value: Any) -> Node:
        if (name, operator, value) in ((1, "=", 1), (True, "=", True)):
            return ("true",)
        if (name, operator, value) in ((0, "=", 1), (False, "=", True)):
            return ("false",)
        if isinstance(name, str) and name.endswith(".name"):
            # a many2one's name through its path (`subtype_id.name`): compared by name
            base = name.removesuffix(".name")
            if self.visible.get(base) == "many2one" and isinstance(value, str):
                name = base
        if not isinstance(name, str) or name not in self.visible:
            raise self._invalid_field(name)
        if not isinstance(operator, str):
            raise SimValueError(f"Invalid leaf {(name, operator, value)!r}")
        operator = operator.lower()
        known = ("=", "!=", "<>", "<", "<=", ">", ">=", "in", "not in", "like", "ilike",
                 "not like", "not ilike", "=like", "=ilike")  # fmt: skip
        if operator not in known:
            raise SimValueError(f"Invalid leaf {(name, operator, value)!r}")
        if name == "active":
            self.mentions_active = True
        kind = self.visible[name]
        if kind == "datetime":
            value = (
                [_norm_datetime(v) for v in value]
                if isinstance(value, list)
                else (_norm_datetime(value))
            )
        elif kind == "date" and isinstance(value, str):
            value = value[:10]
        return ("leaf", name, "!=" if operator == "<>" else operator, value)

    def _compile(self, node: Node) -> Predicate:
        tag = node[0]
        if tag == "true":
            return lambda row: True
        if tag == "false":
            return lambda row: False
        if tag == "!":
            inner = self._compile(node[1])
            return lambda row: not inner(row)
        if tag in ("&", "|"):
            left, right = self._compile(node[1]), self._compile(node[2])
            if tag == "&":
                return lambda row: left(row) and right(row)
            return lambda row: left(row) or right(row)
        _, name, operator, value = node
        return self._compile_leaf(name, operator, value, self.visible[name])

    def _compile_leaf(self, name: str, operator: str, value: Any, kind: str) -> Predicate:
        text_ops = ("like", "ilike", "not like", "not ilike", "=like", "=ilike")
        by_name = kind == "many2one" and (operator in text_ops or isinstance(value, str))
        default: Any = True if name == "active" else False

        def get(row: dict[str, Any]) -> Any:
            raw = row.get(name, default)
            if kind == "many2one":
                if isinstance(raw, list):
                    return raw[1] if by_name else raw[0]
                return False
            return raw

        if operator in ("=", "!="):
            if value is False or value is None:
                if kind == "boolean":
                    test: Predicate = lambda row: get(row) is False  # noqa: E731
                else:
                    test = lambda row: get(row) in (False, None)  # noqa: E731
            else:
                test = lambda row: get(row) == value  # noqa: E731
            if operator == "!=":
                positive = test
                return lambda row: not positive(row)
            return test
        if operator in ("in", "not in"):
            if not isinstance(value, list | tuple):
                value = [value]
            wanted = {False if v is None else v for v in value}
            if operator == "in":
                return lambda row: get(row) in wanted
            return lambda row: get(row) not in wanted
        if operator in ("<", "<=", ">", ">="):
            if value is False or value is None:
                return lambda row: False
            compare = {
                "<": lambda a, b: a < b,
                "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b,
                ">=": lambda a, b: a >= b,
            }[operator]

            def ordered(row: dict[str, Any]) -> bool:
                current = get(row)
                if current is False or current is None:
                    return False
                try:
                    return bool(compare(current, value))
                except TypeError:
                    return False

            return ordered
        # like family: Odoo wraps like/ilike in %...%; =like/=ilike take the pattern as is.
        negative = operator.startswith("not ")
        base = operator.removeprefix("not ")
        regex = _like_regex(
            str(value if value is not False else ""),
            wrap=not base.startswith("="),
            ignore_case="ilike" in base,
        )

        def like(row: dict[str, Any]) -> bool:
            current = get(row)
            if current is False or current is None:
                return negative
            return bool(regex.match(str(current))) != negative

        return like

    def conjuncts(self) -> list[Node]:
        out: list[Node] = []
        pending = [self.node]
        while pending:
            node = pending.pop()
            if node[0] == "&":
                pending.extend((node[1], node[2]))
            else:
                out.append(node)
        return out

    def watermark_start(self) -> int:
        """Where in the (write_date, id) index the matches can start (0 = unknown)."""
        index = self.table.index
        start = 0
        for node in self.conjuncts():
            start = max(start, self._bound(node, index))
        return start

    @staticmethod
    def _bound(node: Node, index: list[tuple[str, int]]) -> int:
        if node[0] == "leaf" and node[1] == "write_date" and isinstance(node[3], str):
            if node[2] == ">":
                return bisect.bisect_right(index, (node[3], MAX_ID))
            if node[2] == ">=":
                return bisect.bisect_left(index, (node[3], -1))
        if node[0] == "|":
            for after, tie in ((node[1], node[2]), (node[2], node[1])):
                if (
                    after[0] == "leaf"
                    and after[1:3] == ("write_date", ">")
                    and tie[0] == "&"
                    and isinstance(after[3], str)
                ):
                    leaves = {(n[1], n[2]): n[3] for n in tie[1:] if n[0] == "leaf"}
                    stamp, last_id = leaves.get(("write_date", "=")), leaves.get(("id", ">"))
                    if stamp == after[3] and isinstance(last_id, int):
                        return bisect.bisect_right(index, (stamp, last_id))
        return 0


@dataclass(frozen=True)
class AccessPath:
    """How PostgreSQL would find a domain's rows: by primary key (an `id` list or range), by
    the (model, res_id) index of mail.message / mail.activity (values or lists of them), or by
    scanning the table
    (`write_date`, `create_date` and every other field are unindexed)."""

    ids: tuple[int, ...] | None = None
    after: int | None = None
    strict: bool = True
    records: tuple[str, frozenset[Any], frozenset[Any]] | None = None

    @classmethod
    def of(cls, query: Query) -> AccessPath:
        ids: tuple[int, ...] | None = None
        after: int | None = None
        strict = True
        model_leaf: tuple[str, Any] | None = None
        res_ids: frozenset[Any] | None = None
        for node in query.conjuncts():
            if node[0] != "leaf":
                continue
            _, name, operator, value = node
            if name == "id":
                if operator == "in" and isinstance(value, list | tuple):
                    ids = tuple(v for v in value if isinstance(v, int))
                elif operator == "=" and isinstance(value, int):
                    ids = (value,)
                elif operator in (">", ">=") and isinstance(value, int):
                    after, strict = value, operator == ">"
            elif name in ("model", "res_model") and operator in ("=", "in"):
                model_leaf = (name, value)
            elif name == "res_id" and operator in ("=", "in"):
                res_ids = frozenset(value if isinstance(value, list | tuple) else [value])
        records = None
        if model_leaf is not None and res_ids is not None:
            name, value = model_leaf
            models = frozenset(value if isinstance(value, list | tuple) else [value])
            records = (name, models, res_ids)
        return cls(ids=ids, after=after, strict=strict, records=records)

    def record_ids(self, table: Table) -> list[int] | None:
        """Ids the (model, res_id) index finds, in id order (None: not that access path)."""
        if self.records is None or self.ids is not None or self.after is not None:
            return None
        _, models, res_ids = self.records
        index = table.by_record
        return sorted(i for m in models for r in res_ids for i in index.get((m, r), ()))

    def cost(
        self, table: Table, keys: list[tuple[str, bool]], *, limit: int | None, last_id: int | None
    ) -> int:
        """Rows examined: ``last_id`` is where an id-ordered walk stopped with its limit met."""
        if self.ids is not None:
            return len(set(self.ids))
        if self.after is not None:
            ids = table.ids
            first = (
                bisect.bisect_right(ids, self.after)
                if self.strict
                else bisect.bisect_left(ids, self.after)
            )
            if keys == [("id", False)] and last_id is not None:
                return bisect.bisect_right(ids, last_id) - first
            return len(ids) - first
        found = self.record_ids(table)
        if found is not None:
            return len(found)
        return len(table.rows)


def _parse_order(model: str, visible: Mapping[str, str], order: Any) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in str(order).split(","):
        words = part.split()
        if not words:
            continue
        direction = words[1].lower() if len(words) > 1 else "asc"
        if words[0] not in visible or direction not in ("asc", "desc") or len(words) > 2:
            raise SimValueError(
                f'Invalid "order" specified ({order}). A valid "order" specification is a '
                "comma-separated list of valid field names (optionally followed by asc/desc "
                "for the direction)"
            )
        keys.append((words[0], direction == "desc"))
    return keys


# -- the simulator --------------------------------------------------------------------------------


class SimTransaction:
    """Writes stamped with the transaction's start, applied (visible) only at `commit`."""

    def __init__(self, sim: OdooSim) -> None:
        self.sim = sim
        self.stamp = sim.now
        self._pending: list[Callable[[], None]] = []

    def create(self, model: str, vals: Mapping[str, Any]) -> int:
        table = self.sim.tables[model]
        record_id = int(vals.get("id") or table.next_id)
        table.next_id = max(table.next_id, record_id + 1)  # the sequence moves at once
        values = {**vals, "id": record_id}
        self._pending.append(lambda: self.sim.create(model, values, stamp=self.stamp))
        return record_id

    def edit(self, model: str, record_id: int, **vals: Any) -> None:
        self._pending.append(lambda: self.sim._write(model, record_id, vals, self.stamp))

    def commit(self) -> None:
        for apply in self._pending:
            apply()
        self._pending.clear()


class OdooSim:
    """In-memory Odoo with realistic data, mutations, call counters and fault injection."""

    def __init__(
        self,
        *,
        version: int = 17,
        db: str = DEFAULT_DB,
        login: str = DEFAULT_LOGIN,
        password: str = DEFAULT_PASSWORD,
        api_key: str | None = DEFAULT_API_KEY,
        clock: datetime = DEFAULT_CLOCK,
        subsecond: bool = False,
    ) -> None:
        if version not in (16, 17, 18, 19):
            raise ValueError("the simulator plays Odoo 16, 17, 18 or 19")
        self.version = version
        self.db = db
        self.login = login
        self.password = password
        self.api_key = api_key
        # PostgreSQL keeps microseconds in write_date/create_date and compares domains with
        # them, while Odoo shows whole seconds: `subsecond=True` plays that (stored values carry
        # `.ffffff`, read values do not; `write_date = "<second>"` then matches nothing written
        # within that second, and `>` matches all of it).
        self.subsecond = subsecond
        self.clock = clock if subsecond else clock.replace(microsecond=0)
        self.tables = {model: Table(model, dict(fields)) for model, fields in SCHEMAS.items()}
        self.calls: Counter[tuple[str, str | None, str]] = Counter()
        self.rows_examined: Counter[tuple[str, str | None, str]] = Counter()
        self._serving: SimCall | None = None
        self.call_log: list[SimCall] = []
        self.faults: list[InjectedFault] = []
        self._closing = asyncio.Event()

    # -- data --------------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        *,
        activities: int = 200,
        messages: int = 500,
        leads: int | None = None,
        users: int = 6,
        partners: int | None = None,
        seed: int = 1,
        version: int = 17,
        **options: Any,
    ) -> OdooSim:
        """A simulator filled with deterministic, realistic data (same seed, same data)."""
        sim = cls(version=version, **options)
        _Generator(sim, random.Random(seed)).run(
            activities=activities,
            messages=messages,
            leads=leads if leads is not None else max(10, activities // 4),
            users=users,
            partners=partners if partners is not None else max(20, activities // 8),
        )
        return sim

    def visible_fields(self, model: str) -> dict[str, str]:
        """The fields ``model`` has on the simulated version."""
        return {
            name: kind
            for name, kind in self.tables[model].fields.items()
            if FIELD_SINCE.get((model, name), 0) <= self.version
        }

    def table(self, model: str) -> Mapping[int, dict[str, Any]]:
        """The raw rows of ``model`` by id (do not mutate: use edit/create/unlink)."""
        return self.tables[model].rows

    @property
    def now(self) -> str:
        """The simulated clock as Odoo stores it (with microseconds when `subsecond`)."""
        if self.subsecond:
            return self.clock.strftime(DATETIME_FORMAT) + f".{self.clock.microsecond:06d}"
        return self.clock.strftime(DATETIME_FORMAT)

    def advance(self, seconds: float = 1.0) -> str:
        """Move the clock forward; returns the new ``now``."""
        self.clock += timedelta(seconds=seconds)
        if not self.subsecond:
            self.clock = self.clock.replace(microsecond=0)
        return self.now

    def _m2o(self, model: str, field_name: str, value: Any) -> Any:
        comodel = COMODELS.get((model, field_name))
        if comodel and isinstance(value, int) and not isinstance(value, bool):
            row = self.tables[comodel].rows.get(value)
            return [value, row.get("name", "") if row else f"#{value}"]
        return value

    def create(self, model: str, vals: Mapping[str, Any], *, stamp: str | None = None) -> int:
        """Create a record stamped with the clock (or a transaction's start, ``stamp``);
        many2one values may be bare ids."""
        table = self.tables[model]
        record_id = int(vals.get("id") or table.next_id)
        when = stamp or self.now
        row: dict[str, Any] = {name: False for name in table.fields}
        if "active" in table.fields:
            row["active"] = True
        row.update({k: self._m2o(model, k, v) for k, v in vals.items()})
        row.update(id=record_id, create_date=when, write_date=when)
        if model == "mail.message" and not row.get("date"):
            row["date"] = when
        table.add(row)
        return record_id

    def edit_many(self, model: str, record_ids: Iterable[int], **vals: Any) -> None:
        """One ``write()`` on many records: one transaction, so one ``write_date`` for all."""
        for record_id in record_ids:
            self.edit(model, record_id, **vals)

    def edit(self, model: str, record_id: int, **vals: Any) -> None:
        """Write values and bump ``write_date`` to the clock, as Odoo's write() does.

        Renaming a record touches only that record: activities and messages that show its name
        keep their stored ``res_name`` / ``record_name`` (many2one names are read live)."""
        self._write(model, record_id, vals, self.now)

    def _write(self, model: str, record_id: int, vals: Mapping[str, Any], stamp: str) -> None:
        table = self.tables[model]
        row = table.rows[record_id]
        table.unindex(row)
        row.update({k: self._m2o(model, k, v) for k, v in vals.items()})
        row["write_date"] = stamp
        table.add(row)

    def transaction(self) -> SimTransaction:
        """A transaction that starts now: what it writes is stamped with this moment (as
        PostgreSQL's ``now()``) but invisible until `SimTransaction.commit`, however late."""
        return SimTransaction(self)

    def archive(self, model: str, record_id: int) -> None:
        """Archive a record; for mail.activity this is "mark done" (`mark_done`)."""
        if model == "mail.activity":
            self.mark_done(record_id)
            return
        self.edit(model, record_id, active=False)

    def mark_done(self, activity_id: int, feedback: str | None = None) -> int:
        """``action_feedback``: post the "done" message on the activity's record, then archive
        the activity (Odoo 17+, its type has ``keep_done``) or delete it (every other type, and
        every type on Odoo 16). Returns the message id."""
        activity = self.tables["mail.activity"].rows[activity_id]
        type_id, type_name = activity["activity_type_id"] or [False, "Activity"]
        summary = activity.get("summary")
        body = f"<p>{type_name} done</p>"
        if summary:
            body += f'<div class="o_mail_note_title"><strong>{summary}</strong></div>'
        if feedback:
            body += f'<div class="fw-bold">Feedback:</div><p>{feedback}</p>'
        admin_partner = self.tables["res.users"].rows.get(self.uid, {}).get("partner_id")
        message_id = self.create(
            "mail.message",
            {
                "model": activity["res_model"],
                "res_id": activity["res_id"],
                "record_name": activity["res_name"],
                "message_type": "notification",
                "subtype_id": list(SUBTYPES["activity"]),
                "mail_activity_type_id": type_id,
                "author_id": admin_partner[0] if isinstance(admin_partner, list) else False,
                "body": body,
            },
        )
        activity_type = self.tables["mail.activity.type"].rows.get(type_id) or {}
        if self.version >= 17 and activity_type.get("keep_done"):
            self.edit("mail.activity", activity_id, active=False, date_done=self.now[:10])
        else:
            self.tables["mail.activity"].remove(activity_id)
        return message_id

    def unlink(self, model: str, record_id: int) -> None:
        """Delete a record; its activities and chatter go with it, their write_date untouched."""
        self.tables[model].remove(record_id)
        for dependent, field_name in (("mail.activity", "res_model"), ("mail.message", "model")):
            if model == dependent:
                continue
            table = self.tables[dependent]
            gone = [
                rid
                for rid, row in table.rows.items()
                if row.get(field_name) == model and row.get("res_id") == record_id
            ]
            for rid in gone:
                table.remove(rid)

    # -- credentials, counters, faults -----------------------------------------------------------

    @property
    def uid(self) -> int:
        for row in self.tables["res.users"].rows.values():
            if row.get("login") == self.login:
                return int(row["id"])
        return ADMIN_UID

    def count(
        self, *, protocol: str | None = None, model: str | None = None, method: str | None = None
    ) -> int:
        """How many calls matched (None = any)."""
        return sum(
            n
            for (p, m, meth), n in self.calls.items()
            if (protocol is None or p == protocol)
            and (model is None or m == model)
            and (method is None or meth == method)
        )

    def reset_calls(self) -> None:
        self.calls.clear()
        self.call_log.clear()
        self.rows_examined.clear()

    def clear_faults(self) -> None:
        self.faults.clear()

    def inject(self, kind: str, **options: Any) -> InjectedFault:
        fault = InjectedFault(kind=kind, **options)
        self.faults.append(fault)
        return fault

    def fail_status(self, status: int = 502, **target: Any) -> InjectedFault:
        """Answer an HTTP error (e.g. a proxy's 502) instead of the call."""
        return self.inject("status", status=status, **target)

    def drop_connection(self, **target: Any) -> InjectedFault:
        """Close the connection without any response."""
        return self.inject("drop", **target)

    def delay(self, seconds: float, **target: Any) -> InjectedFault:
        """Answer normally, but only after ``seconds``."""
        return self.inject("delay", delay_seconds=seconds, **target)

    def rpc_fault(
        self,
        message: str = "Simulated server error",
        exception: str = "odoo.exceptions.UserError",
        **target: Any,
    ) -> InjectedFault:
        """Raise ``exception`` server-side: an XML-RPC Fault, or a JSON-2 error body."""
        return self.inject("rpc_fault", message=message, exception=exception, **target)

    def xml_bomb(self, **target: Any) -> InjectedFault:
        """Answer an entity-expansion bomb (XML-RPC) or absurdly nested JSON (JSON-2)."""
        return self.inject("bomb", **target)

    def oversized(
        self, size_bytes: int, *, declare_length: bool = False, **target: Any
    ) -> InjectedFault:
        """Stream a well-formed-looking response of ``size_bytes`` bytes."""
        return self.inject(
            "oversized", size_bytes=size_bytes, declare_length=declare_length, **target
        )

    def _record(self, call: SimCall) -> InjectedFault | None:
        self.calls[(call.protocol, call.model, call.method)] += 1
        self.call_log.append(call)
        self._serving = call
        for fault in self.faults:
            if not fault.matches(call):
                continue
            fault.seen += 1
            if fault.seen >= fault.on_call and fault.fired < fault.times:
                fault.fired += 1
                call.fault = fault.kind
                return fault
        return None

    # -- ORM methods -------------------------------------------------------------------------

    def _query(self, model: str, domain: Any, context: Mapping[str, Any]) -> Query:
        query = Query(self.tables[model], self.visible_fields(model), domain)
        return query

    def _active_filter(self, model: str, query: Query, context: Mapping[str, Any]) -> bool:
        return (
            "active" in self.visible_fields(model)
            and context.get("active_test", True) is not False
            and not query.mentions_active
        )

    def _matching(
        self,
        model: str,
        domain: Any,
        *,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        context: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """The matching rows in order; charges what PostgreSQL would examine to find them."""
        table = self.tables[model]
        visible = self.visible_fields(model)
        query = self._query(model, domain, context)
        predicate = query.predicate
        if self._active_filter(model, query, context):
            inner = predicate

            def predicate(row: dict[str, Any]) -> bool:
                return row.get("active", True) is not False and inner(row)

        keys = _parse_order(model, visible, order or DEFAULT_ORDERS[model])
        offset = max(int(offset or 0), 0)
        stop = offset + int(limit) if limit else None
        path = AccessPath.of(query)

        rows: Iterator[dict[str, Any]]
        by_id = table.rows
        indexed = path.record_ids(table)
        if indexed is not None and keys in ([("id", False)], [("id", True)]):
            rows = (by_id[i] for i in (reversed(indexed) if keys[0][1] else indexed))
        elif path.ids is not None and keys in ([("id", False)], [("id", True)]):
            ordered = sorted((i for i in set(path.ids) if i in by_id), reverse=keys[0][1])
            rows = (by_id[i] for i in ordered)
        elif path.after is not None and keys == [("id", False)]:
            ids = table.ids
            first = (
                bisect.bisect_right(ids, path.after)
                if path.strict
                else (bisect.bisect_left(ids, path.after))
            )
            rows = (by_id[ids[i]] for i in range(first, len(ids)))
        elif keys in ([("write_date", False), ("id", False)], [("write_date", False)]):
            start = query.watermark_start()
            index = table.index
            rows = (by_id[index[i][1]] for i in range(start, len(index)))
        elif keys in ([("write_date", True), ("id", True)], [("write_date", True)]):
            index = table.index
            rows = (by_id[index[i][1]] for i in range(len(index) - 1, -1, -1))
        elif keys == [("id", False)]:
            rows = (by_id[i] for i in table.ids)
        elif keys == [("id", True)]:
            rows = (by_id[i] for i in reversed(table.ids))
        else:
            candidates: Iterable[dict[str, Any]] = (
                (by_id[i] for i in set(path.ids) if i in by_id)
                if path.ids is not None
                else table.rows.values()
            )
            matched = [row for row in candidates if predicate(row)]
            _sort_rows(matched, keys, visible)
            self._charge(path.cost(table, keys, limit=None, last_id=None))
            return matched[offset:stop]
        out: list[dict[str, Any]] = []
        taken = 0
        for row in rows:
            if not predicate(row):
                continue
            taken += 1
            if taken <= offset:
                continue
            out.append(row)
            if stop is not None and taken >= stop:
                break
        filled = stop is not None and taken >= stop
        self._charge(
            path.cost(table, keys, limit=stop, last_id=out[-1]["id"] if filled and out else None)
        )
        return out

    def _charge(self, rows: int) -> None:
        """Count rows the server examined for the call being served."""
        call = self._serving
        key = (call.protocol, call.model, call.method) if call else ("direct", None, "direct")
        self.rows_examined[key] += rows
        if call is not None:
            call.examined += rows

    def examined(
        self, *, protocol: str | None = None, model: str | None = None, method: str | None = None
    ) -> int:
        """Rows the server examined in the matching calls (None = any), as PostgreSQL would:
        the whole table for an unindexed domain or order, the returned (or walked) rows for an
        `id` range, an `id in` list, a `read`, or a (model, res_id) lookup."""
        return sum(
            n
            for (p, m, meth), n in self.rows_examined.items()
            if (protocol is None or p == protocol)
            and (model is None or m == model)
            and (method is None or meth == method)
        )

    def _project(self, model: str, rows: Iterator[dict[str, Any]], fields: Any) -> list[dict]:
        visible = self.visible_fields(model)
        if not fields:
            names = list(visible)
        else:
            if not isinstance(fields, list | tuple):
                raise SimValueError(f"Invalid fields {fields!r}")
            for name in fields:
                if name not in visible:
                    raise SimValueError(f"Invalid field {name!r} on model {model!r}")
            names = ["id", *(name for name in fields if name != "id")]
        out = []
        shown = {n for n in names if visible.get(n) == "datetime"} if self.subsecond else set()
        # many2one display names are read live from the target record, as Odoo does
        live = {
            n: self.tables[comodel].rows
            for n in names
            if (comodel := COMODELS.get((model, n))) is not None
        }
        for row in rows:
            record = {}
            for name in names:
                value = row.get(name, True if name == "active" else False)
                if name in shown and isinstance(value, str):
                    value = value[:19]  # Odoo reads datetimes in whole seconds
                elif name in live and isinstance(value, list) and value:
                    target = live[name].get(value[0])
                    if target is not None:
                        value = [value[0], target.get("name", value[1])]
                record[name] = value
            out.append(record)
        return out

    def search_read(
        self,
        model: str,
        domain: Any = None,
        fields: Any = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        *,
        context: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        rows = self._matching(
            model, domain or [], offset=offset, limit=limit, order=order, context=context
        )
        return self._project(model, iter(rows), fields)

    def search(
        self,
        model: str,
        domain: Any,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        count: bool = False,
        *,
        context: Mapping[str, Any],
    ) -> list[int] | int:
        if count:
            return self.search_count(model, domain, context=context)
        rows = self._matching(
            model, domain, offset=offset, limit=limit, order=order, context=context
        )
        return [row["id"] for row in rows]

    def search_count(
        self, model: str, domain: Any, limit: int | None = None, *, context: Mapping[str, Any]
    ) -> int:
        table = self.tables[model]
        query = self._query(model, domain, context)
        predicate = query.predicate
        active_only = self._active_filter(model, query, context)
        path = AccessPath.of(query)
        if path.ids is not None:
            candidates: Iterable[dict[str, Any]] = (
                table.rows[i] for i in set(path.ids) if i in table.rows
            )
        else:
            candidates = table.rows.values()
        total = 0
        for row in candidates:
            if (not active_only or row.get("active", True) is not False) and predicate(row):
                total += 1
        self._charge(path.cost(table, [], limit=None, last_id=None))
        return min(total, int(limit)) if limit else total

    def read(
        self,
        model: str,
        ids: Sequence[int],
        fields: Any = None,
        load: str = "_classic_read",
        *,
        context: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        table = self.tables[model]
        missing = [i for i in ids if i not in table.rows]
        if missing:
            raise SimMissingError(
                "Record does not exist or has been deleted.\n"
                f"(Record: {model}({missing[0]},), User: {self.uid})"
            )
        self._charge(len(ids))
        return self._project(model, (table.rows[i] for i in ids), fields)

    def fields_get(
        self,
        model: str,
        allfields: Any = None,
        attributes: Any = None,
        *,
        context: Mapping[str, Any],
    ) -> dict[str, dict[str, Any]]:
        out = {}
        for name, kind in self.visible_fields(model).items():
            if allfields and name not in allfields:
                continue
            info = {"type": kind, "string": name.replace("_", " ").title()}
            if attributes:
                info = {k: v for k, v in info.items() if k in attributes}
            out[name] = info
        return out

    def context_get(self, model: str, *, context: Mapping[str, Any]) -> dict[str, Any]:
        if model != "res.users":
            raise SimNotFound(f"The method 'context_get' does not exist on the model '{model}'")
        user = self.tables["res.users"].rows.get(self.uid, {})
        result: dict[str, Any] = {"lang": "en_US", "tz": user.get("tz", False)}
        if self.version >= 19:
            result["uid"] = self.uid
        return result

    def _dispatch(
        self,
        model: Any,
        method: Any,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        ids_given: bool = False,
    ) -> Any:
        """Call ``model.method`` as Odoo's RPC layer would, binding args like the ORM."""
        if not isinstance(model, str) or model not in self.tables:
            raise SimUserError(f"Object {model} doesn't exist")
        kwargs = dict(kwargs)
        context = kwargs.pop("context", None) or {}
        if not isinstance(context, dict):
            raise SimTypeError("context must be a dictionary")
        signatures = {
            "search_read": ("domain", "fields", "offset", "limit", "order"),
            "search": ("domain", "offset", "limit", "order", "count"),
            "search_count": ("domain", "limit"),
            "read": ("ids", "fields", "load"),
            "fields_get": ("allfields", "attributes"),
            "context_get": (),
        }
        if self.version == 16 and method in ("search", "search_count"):
            # Odoo 16 still names search's first parameter "args".
            signatures[method] = ("args", *signatures[method][1:])
        if method not in signatures:
            raise SimValueError(f"The method '{method}' does not exist on the model '{model}'")
        params = signatures[method]
        if len(args) > len(params):
            raise SimTypeError(
                f"{method}() takes {len(params) + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        bound = dict(zip(params, args, strict=False))
        for name, value in kwargs.items():
            if name not in params:
                raise SimTypeError(f"{method}() got an unexpected keyword argument '{name}'")
            if name in bound:
                raise SimTypeError(f"{method}() got multiple values for argument '{name}'")
            bound[name] = value
        if "args" in bound:
            bound["domain"] = bound.pop("args")
        if method in ("search", "search_count") and "domain" not in bound:
            raise SimTypeError(f"{method}() missing 1 required positional argument: 'domain'")
        if method == "read":
            bound.setdefault("ids", [])
            if not isinstance(bound["ids"], list):
                bound["ids"] = [bound["ids"]]
        elif ids_given:
            raise SimTypeError(f"cannot call {model}.{method} with ids")
        handler = getattr(self, method)
        return handler(model, **bound, context=context)

    # -- HTTP ---------------------------------------------------------------------------------

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path = scope["path"]
        if path in ("/xmlrpc/2/common", "/xmlrpc/2/object") and request.method == "POST":
            await self._serve_xmlrpc(request, path.rsplit("/", 1)[-1], send)
        elif path == "/sim/stats":
            # the simulator's own counters, for a benchmark running it in another process
            if request.method == "POST":
                self.reset_calls()
            stats = {"calls": sum(self.calls.values()), "examined": self.examined()}
            await _json_response(stats, 200)(scope, receive, send)
        elif path.startswith("/json/2/") and self.version >= 19:
            await self._serve_json2(request, send)
        elif path == "/web/version" and self.version >= 19:
            call = SimCall(
                seq=len(self.call_log) + 1, protocol="json2", model=None, method="version"
            )
            fault = self._record(call)
            if fault is None or not await self._misbehave(fault, "json2", send, scope):
                body = {"version_info": self._version_info(), "version": f"{self.version}.0"}
                await _json_response(body, 200)(scope, receive, send)
        else:
            await Response("Not Found", status_code=404, media_type="text/html")(
                scope, receive, send
            )

    def _version_info(self) -> list[Any]:
        return [self.version, 0, 0, "final", 0, ""]

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _misbehave(self, fault: InjectedFault, protocol: str, send: Any, scope: Any) -> bool:
        """Play ``fault``; True when the response is fully handled (nothing else to send)."""
        if fault.kind == "delay":
            await self._sleep(fault.delay_seconds)
            return False

        async def no_receive() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        if fault.kind == "status":
            await Response(
                f"<html><body><h1>{fault.status}</h1></body></html>",
                status_code=fault.status,
                media_type="text/html",
            )(scope, no_receive, send)
            return True
        if fault.kind == "drop":
            cycle = getattr(send, "__self__", None)
            transport = getattr(cycle, "transport", None)
            if transport is None:
                raise RuntimeError("simulated dropped connection")
            transport.abort()
            cycle.disconnected = True  # type: ignore[union-attr]
            return True
        if fault.kind == "bomb":
            body = _xml_bomb() if protocol == "xmlrpc" else b"[" * 200_000 + b"]" * 200_000
            media = "text/xml" if protocol == "xmlrpc" else "application/json"
            await Response(body, media_type=media)(scope, no_receive, send)
            return True
        if fault.kind == "oversized":
            await _oversized_response(fault, protocol)(scope, no_receive, send)
            return True
        return False  # rpc_fault is rendered by the protocol handler

    async def _serve_xmlrpc(self, request: Request, service: str, send: Any) -> None:
        scope, receive = request.scope, request.receive
        body = await request.body()
        try:
            params, method = xmlrpc.client.loads(body, use_builtin_types=True)
        except Exception:  # anything unparsable is the client's fault: answer a Fault
            params, method = (), "<malformed>"
        model = None
        call_params: dict[str, Any] = {}
        if service == "object" and method == "execute_kw" and len(params) >= 5:
            model = params[3]
            args = params[5] if len(params) > 5 and isinstance(params[5], list) else []
            call_params = _summarize(args, params[6:7])
            method_name = str(params[4])
        else:
            method_name = str(method)
        call = SimCall(
            seq=len(self.call_log) + 1,
            protocol="xmlrpc",
            model=model if isinstance(model, str) else None,
            method=method_name,
            params=call_params,
        )
        fault = self._record(call)
        if fault is not None and await self._misbehave(fault, "xmlrpc", send, scope):
            return
        try:
            if fault is not None and fault.kind == "rpc_fault":
                error_cls = ERRORS_BY_NAME.get(fault.exception, SimOdooError)
                raise error_cls(fault.message)
            self._serving = call  # dispatch is synchronous: its charges are this call's
            result = self._xmlrpc_call(service, str(method), params)
            payload = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)
        except SimOdooError as error:
            text = _traceback_text(error) if error.xmlrpc_code == 1 else error.message
            payload = xmlrpc.client.dumps(
                xmlrpc.client.Fault(error.xmlrpc_code, text), allow_none=True
            )
        await Response(payload, media_type="text/xml")(scope, receive, send)

    def _xmlrpc_call(self, service: str, method: str, params: Sequence[Any]) -> Any:
        if service == "common":
            if method == "version":
                return {
                    "server_version": f"{self.version}.0",
                    "server_version_info": self._version_info(),
                    "server_serie": f"{self.version}.0",
                    "protocol_version": 1,
                }
            if method in ("authenticate", "login") and len(params) >= 3:
                self._check_db(params[0])
                user = next(
                    (
                        row
                        for row in self.tables["res.users"].rows.values()
                        if row.get("login") == params[1] and row.get("active", True)
                    ),
                    None,
                )
                if user is None or params[2] not in self._secrets():
                    return False
                return user["id"]
            raise SimOdooError(f"Method not found: {method}")
        if method == "execute_kw" and len(params) >= 6:
            db, uid, secret, model, model_method = params[:5]
            args = params[5]
            kwargs = params[6] if len(params) > 6 else {}
        elif method == "execute" and len(params) >= 5:
            db, uid, secret, model, model_method = params[:5]
            args, kwargs = list(params[5:]), {}
        else:
            raise SimOdooError(f"Method not found: {method}")
        self._check_db(db)
        if uid != self.uid or secret not in self._secrets():
            raise SimAccessDenied("Access Denied")
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise SimTypeError("execute_kw expects a list of args and a dict of kwargs")
        return self._dispatch(model, model_method, args, kwargs)

    def _check_db(self, db: Any) -> None:
        if db != self.db:
            raise SimOdooError(
                f'psycopg2.OperationalError: connection to server failed: FATAL:  database "{db}" '
                "does not exist"
            )

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.api_key) if s)

    async def _serve_json2(self, request: Request, send: Any) -> None:
        scope, receive = request.scope, request.receive
        parts = request.url.path.split("/")
        model = parts[3] if len(parts) == 5 else None
        method = parts[4] if len(parts) == 5 else ""
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        call = SimCall(
            seq=len(self.call_log) + 1,
            protocol="json2",
            model=model,
            method=method,
            params=_summarize([], [body]) if isinstance(body, dict) else {},
        )
        fault = self._record(call)
        if fault is not None and await self._misbehave(fault, "json2", send, scope):
            return
        authorization = request.headers.get("authorization", "")
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not self.api_key or key.strip() != self.api_key:
            response = _json_error("werkzeug.exceptions.Unauthorized", "Invalid apikey", 401, [401])
            await response(scope, receive, send)
            return
        database = request.headers.get("x-odoo-database")
        if request.method != "POST" or model is None or (database and database != self.db):
            await Response("Not Found", status_code=404, media_type="text/html")(
                scope, receive, send
            )
            return
        try:
            if fault is not None and fault.kind == "rpc_fault":
                error_cls = ERRORS_BY_NAME.get(fault.exception, SimOdooError)
                raise error_cls(fault.message)
            if not isinstance(body, dict):
                raise SimOdooError("could not parse the body, expecting a json object")
            kwargs = dict(body)
            ids = kwargs.pop("ids", None)
            self._serving = call  # dispatch is synchronous: its charges are this call's
            if model not in self.tables:
                raise SimNotFound(f"the model {model!r} does not exist")
            if method == "read":
                result = self._dispatch(model, method, [ids or []], kwargs)
            else:
                result = self._dispatch(model, method, [], kwargs, ids_given=bool(ids))
            response = _json_response(result, 200)
        except SimOdooError as error:
            response = _json_error(error.name, error.message, error.json_status)
        await response(scope, receive, send)


def _summarize(args: Sequence[Any], kwargs_list: Sequence[Any]) -> dict[str, Any]:
    kwargs = kwargs_list[0] if kwargs_list and isinstance(kwargs_list[0], dict) else {}
    summary = {k: kwargs[k] for k in ("domain", "fields", "offset", "limit", "order", "context")
               if k in kwargs}  # fmt: skip
    if args:
        summary.setdefault("domain", args[0])
    return summary


def _sort_rows(
    rows: list[dict[str, Any]], keys: list[tuple[str, bool]], visible: Mapping[str, str]
) -> None:
    # Stable sorts from the last key to the first; NULLs last ascending, first descending
    # (PostgreSQL's default).
    for name, descending in reversed(keys):
        kind = visible[name]

        def key(row: dict[str, Any], name: str = name, kind: str = kind) -> tuple[int, Any]:
            value = row.get(name, False)
            if kind == "boolean":
                return (0, bool(value))
            if kind == "many2one":
                value = value[1] if isinstance(value, list) else False
            if value is False or value is None:
                return (1, 0)
            return (0, value)

        rows.sort(key=key, reverse=descending)


def _json_response(body: Any, status: int) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), default=str),
        status_code=status,
        media_type="application/json",
    )


def _json_error(name: str, message: str, status: int, extra: Sequence[Any] = ()) -> Response:
    error = SimOdooError(message)
    body = {
        "name": name,
        "message": message,
        "arguments": [message, *extra],
        "context": {},
        "debug": _traceback_text(error).replace("Exception:", f"{name}:"),
    }
    return _json_response(body, status)


def _xml_bomb() -> bytes:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n'
        + "\n".join(entities)
        + "\n]>\n<methodResponse><params><param><value><string>&lol9;</string></value>"
        "</param></params></methodResponse>"
    ).encode()


def _oversized_response(fault: InjectedFault, protocol: str) -> Response:
    if protocol == "xmlrpc":
        head = b"<?xml version='1.0'?><methodResponse><params><param><value><string>"
        tail = b"</string></value></param></params></methodResponse>"
    else:
        head, tail = b'["', b'"]'
    filler = max(fault.size_bytes - len(head) - len(tail), 0)
    chunk = b"A" * 65536

    async def stream() -> AsyncIterator[bytes]:
        yield head
        remaining = filler
        while remaining > 0:
            piece = chunk[: min(remaining, len(chunk))]
            remaining -= len(piece)
            yield piece
        yield tail

    headers = (
        {"content-length": str(len(head) + filler + len(tail))} if fault.declare_length else {}
    )
    media = "text/xml" if protocol == "xmlrpc" else "application/json"
    return StreamingResponse(stream(), media_type=media, headers=headers)


# -- data generation ------------------------------------------------------------------------------


class _Generator:
    def __init__(self, sim: OdooSim, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng
        self.span_end = sim.clock - timedelta(minutes=5)
        self.span_start = sim.clock - timedelta(days=90)
        self.done_messages: list[tuple[dict[str, Any], datetime]] = []

    def stamps(self, count: int) -> list[datetime]:
        """Increasing timestamps within the last 90 days, in import batches: many rows share
        one second, so pagination boundaries fall inside a second."""
        rng = self.rng
        batch_sizes = [1, 1, 1, 1, 2, 3, 5, 8, 20, 50]
        offsets: list[int] = []
        moment = 0
        while len(offsets) < count:
            size = rng.choice(batch_sizes)
            offsets.extend([moment] * min(size, count - len(offsets)))
            moment += rng.randint(1, 100)
        span = int((self.span_end - self.span_start).total_seconds())
        scale = span / max(moment, 1)
        return [self.span_start + timedelta(seconds=int(offset * scale)) for offset in offsets]

    def run(self, *, activities: int, messages: int, leads: int, users: int, partners: int) -> None:
        self.partners(partners, users)
        self.users(users)
        self.activity_types()
        self.leads(leads)
        self.activities(activities)
        self.messages(messages)
        for table in self.sim.tables.values():
            table.rebuild_index()

    @staticmethod
    def fmt(moment: datetime) -> str:
        return moment.strftime(DATETIME_FORMAT)

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}"

    def partners(self, count: int, users: int) -> None:
        table, rng = self.sim.tables["res.partner"], self.rng
        base = self.fmt(self.span_start - timedelta(days=30))
        fixed = [(1, "My Company", True), (2, "OdooBot", False)]
        for i in range(users):
            fixed.append((3 + i, "Mitchell Admin" if i == 0 else self.person(), False))
        for pid, name, company in fixed:
            table.add(
                {"id": pid, "name": name, "email": f"p{pid}@example.com", "phone": False,
                 "is_company": company, "parent_id": False, "active": True,
                 "create_date": base, "write_date": base},
                indexed=False,
            )  # fmt: skip
        stamps = self.stamps(count)
        companies: list[list[Any]] = []
        for n, stamp in enumerate(stamps):
            pid = table.next_id
            is_company = n % 3 == 0 or not companies
            if is_company:
                name = f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"
                parent: Any = False
            else:
                name = self.person()
                parent = list(rng.choice(companies)) if rng.random() < 0.7 else False
            slug = re.sub(r"\W+", ".", name.lower())
            table.add(
                {
                    "id": pid,
                    "name": name,
                    "email": f"{slug}@example.com" if rng.random() < 0.8 else False,
                    "phone": f"+971 4 {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
                    if rng.random() < 0.6
                    else False,
                    "is_company": is_company,
                    "parent_id": parent,
                    "active": rng.random() > 0.05,
                    "create_date": self.fmt(stamp),
                    "write_date": self.fmt(stamp),
                },
                indexed=False,
            )
            if is_company:
                companies.append([pid, name])
        self.customer_ids = [pid for pid in table.rows if pid > 2 + users]

    def users(self, count: int) -> None:
        table = self.sim.tables["res.users"]
        partners = self.sim.tables["res.partner"].rows
        base = self.fmt(self.span_start - timedelta(days=30))
        table.add(
            {"id": 1, "name": "OdooBot", "login": "__system__", "email": False, "tz": False,
             "partner_id": [2, "OdooBot"], "active": False, "create_date": base,
             "write_date": base},
            indexed=False,
        )  # fmt: skip
        for i in range(count):
            uid = ADMIN_UID + i
            partner = partners[3 + i]
            login = self.sim.login if i == 0 else f"user{uid}@example.com"
            table.add(
                {
                    "id": uid,
                    "name": partner["name"],
                    "login": login,
                    "email": partner["email"],
                    "tz": TIMEZONES[i % len(TIMEZONES)],
                    "partner_id": [partner["id"], partner["name"]],
                    "active": True,
                    "create_date": base,
                    "write_date": base,
                },
                indexed=False,
            )
        self.user_refs = [[row["id"], row["name"]] for row in table.rows.values() if row["active"]]

    def activity_types(self) -> None:
        table = self.sim.tables["mail.activity.type"]
        base = self.fmt(self.span_start - timedelta(days=30))
        for type_id, name, category in ACTIVITY_TYPES:
            table.add(
                {"id": type_id, "name": name, "category": category, "active": True,
                 "keep_done": type_id in KEEP_DONE_TYPES, "create_date": base,
                 "write_date": base},
                indexed=False,
            )  # fmt: skip

    def leads(self, count: int) -> None:
        table, rng = self.sim.tables["crm.lead"], self.rng
        partners = self.sim.tables["res.partner"].rows
        for stamp in self.stamps(count):
            lid = table.next_id
            partner = partners[rng.choice(self.customer_ids)] if self.customer_ids else None
            has_partner = partner is not None and rng.random() < 0.8
            label = partner["name"] if partner else "Website"
            table.add(
                {
                    "id": lid,
                    "name": rng.choice(
                        [f"{label}'s opportunity", f"{label} - renewal", "Website inquiry"]
                    ),
                    "partner_id": [partner["id"], partner["name"]]
                    if partner and has_partner
                    else False,
                    "partner_name": partner["name"] if partner and not has_partner else False,
                    "email_from": partner["email"] if partner else False,
                    "user_id": list(rng.choice(self.user_refs)) if rng.random() < 0.9 else False,
                    "stage_id": list(rng.choice(STAGES)),
                    "type": "opportunity" if rng.random() < 0.7 else "lead",
                    "expected_revenue": float(rng.choice([0, 1500, 12000, 48000, 250000])),
                    "probability": float(rng.choice([10, 20, 50, 90, 100])),
                    "active": rng.random() > 0.05,
                    "create_date": self.fmt(stamp),
                    "write_date": self.fmt(stamp),
                },
                indexed=False,
            )

    def records(self) -> list[tuple[str, int, str]]:
        leads = [
            ("crm.lead", lid, row["name"]) for lid, row in self.sim.tables["crm.lead"].rows.items()
        ]
        partners = [("res.partner", pid, self.sim.tables["res.partner"].rows[pid]["name"])
                    for pid in self.customer_ids[:200]]  # fmt: skip
        return leads + partners

    def activities(self, count: int) -> None:
        table, rng, sim = self.sim.tables["mail.activity"], self.rng, self.sim
        records = self.records()
        keeps_done = sim.version >= 17
        for stamp in self.stamps(count):
            aid = table.next_id
            type_id, type_name, _ = rng.choice(ACTIVITY_TYPES)
            res_model, res_id, res_name = (
                rng.choice(records[: len(records) * 4 // 5])
                if rng.random() < 0.8
                else rng.choice(records)
            )
            written = stamp
            if rng.random() < 0.3:
                written = min(stamp + timedelta(seconds=rng.randint(60, 86400 * 5)), self.span_end)
            deadline = (stamp + timedelta(days=rng.randint(-3, 40))).date()
            row: dict[str, Any] = {
                "id": aid,
                "activity_type_id": [type_id, type_name],
                "summary": rng.choice(SUMMARIES),
                "note": rng.choice(BODIES).format(name=res_name) if rng.random() < 0.6 else False,
                "date_deadline": deadline.isoformat() if rng.random() > 0.1 else False,
                "user_id": list(rng.choice(self.user_refs)) if rng.random() < 0.97 else False,
                "res_model": res_model,
                "res_id": res_id,
                "res_name": res_name,
                "create_date": self.fmt(stamp),
                "write_date": self.fmt(written),
            }
            done = rng.random() < 0.12
            if keeps_done:
                row["active"] = True
                row["date_done"] = False
            if done:
                # Marked done: Odoo posted the done message; it kept the activity archived only
                # on 17+ for a type with keep_done, and deleted it otherwise.
                self.done_messages.append((row, written))
                if keeps_done and type_id in KEEP_DONE_TYPES:
                    row["active"] = False
                    row["date_done"] = written.date().isoformat()
                else:
                    table.next_id = aid + 1
                    continue
            table.add(row, indexed=False)

    def messages(self, count: int) -> None:
        table, rng = self.sim.tables["mail.message"], self.rng
        partners = self.sim.tables["res.partner"].rows
        records = self.records()
        user_partners = [row["partner_id"] for row in self.sim.tables["res.users"].rows.values()]
        for stamp in self.stamps(count):
            mid = table.next_id
            res_model, res_id, res_name = rng.choice(records)
            roll = rng.random()
            subject: Any = False
            email_from: Any = False
            if roll < 0.45:
                message_type, subtype = (
                    "comment",
                    rng.choice([SUBTYPES["discussion"], SUBTYPES["note"]]),
                )
                author: Any = list(rng.choice(user_partners))
            elif roll < 0.55:
                # automated mails (auto_comment) show in the chatter; user_notification
                # messages go to a person's inbox only
                message_type = "auto_comment" if roll < 0.5 else "user_notification"
                subtype = SUBTYPES["discussion"]
                author = list(rng.choice(user_partners))
            elif roll < 0.8:
                message_type = "notification"
                subtype = rng.choice([SUBTYPES["stage"], SUBTYPES["activity"]])
                author = list(rng.choice(user_partners)) if rng.random() < 0.5 else False
            else:
                message_type, subtype = "email", SUBTYPES["discussion"]
                customer = partners[rng.choice(self.customer_ids)] if self.customer_ids else None
                author = (
                    [customer["id"], customer["name"]] if customer and rng.random() < 0.7 else False
                )
                email_from = (
                    f'"{customer["name"]}" <{customer["email"] or "unknown@example.com"}>'
                    if customer
                    else False
                )
                subject = f"Re: {res_name}"
            if rng.random() < 0.03:
                body = rng.choice(HOSTILE_BODIES)
            else:
                body = rng.choice(BODIES).format(name=res_name)
            written = stamp
            if rng.random() < 0.05:
                written = min(stamp + timedelta(seconds=rng.randint(1, 3600)), self.span_end)
            table.add(
                {
                    "id": mid,
                    "model": res_model,
                    "res_id": res_id,
                    "record_name": res_name,
                    "date": self.fmt(stamp),
                    "message_type": message_type,
                    "subtype_id": list(subtype),
                    "author_id": author,
                    "email_from": email_from,
                    "subject": subject,
                    "body": body,
                    "mail_activity_type_id": False,
                    "create_date": self.fmt(stamp),
                    "write_date": self.fmt(written),
                },
                indexed=False,
            )
        for activity, done_at in self.done_messages:
            type_id, type_name = activity["activity_type_id"]
            table.add(
                {
                    "id": table.next_id,
                    "model": activity["res_model"],
                    "res_id": activity["res_id"],
                    "record_name": activity["res_name"],
                    "date": self.fmt(done_at),
                    "message_type": "notification",
                    "subtype_id": list(SUBTYPES["activity"]),
                    "author_id": list(rng.choice(user_partners)),
                    "email_from": False,
                    "subject": False,
                    "body": f"<p>{type_name} done</p>"
                    + (
                        f'<div class="o_mail_note_title"><strong>{activity["summary"]}</strong>'
                        "</div>"
                        if activity["summary"]
                        else ""
                    )
                    + f'<div class="fw-bold">Feedback:</div><p>Done by {activity["id"]}</p>',
                    "mail_activity_type_id": [type_id, type_name],
                    "create_date": self.fmt(done_at),
                    "write_date": self.fmt(done_at),
                },
                indexed=False,
            )


# -- serving --------------------------------------------------------------------------------------


class _TestServer(uvicorn.Server):
    """uvicorn without signal capture, woken by an event instead of 0.1 s ticks."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.exit_event = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        await self.exit_event.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        # uvicorn offers no event for "all connections closed": poll briefly, for 2 s at most
        for _ in range(1000):
            if not (self.server_state.connections or self.server_state.tasks):
                break
            await asyncio.sleep(0.002)
        for task in list(self.server_state.tasks):
            task.cancel()
        for server in self.servers:
            await server.wait_closed()


def _listening_socket(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP, and without it every response waits for a delayed ACK (40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def running_sim(
    sim: OdooSim, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Serve ``sim`` over HTTP in the current event loop; yields its base URL."""
    sock = _listening_socket(host, port)
    config = uvicorn.Config(
        sim,
        lifespan="off",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=5,
    )
    server = _TestServer(config)
    sim._closing = asyncio.Event()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the Odoo simulator did not start")
            await asyncio.sleep(0.001)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        sim._closing.set()
        server.should_exit = True
        server.exit_event.set()
        await task
        sock.close()


def connector_config(sim: OdooSim, base_url: str, **overrides: Any) -> Any:
    """An ``OdooConfig`` for the connector pointing at this simulator."""
    from app.connectors.odoo.config import OdooConfig

    values: dict[str, Any] = {
        "url": base_url,
        "db": sim.db,
        "username": sim.login,
        "password": sim.password,
        "api_key": sim.api_key,
    }
    values.update(overrides)
    return OdooConfig(**values)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a simulated Odoo over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--leads", type=int, default=None)
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--partners", type=int, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--version", type=int, default=17, choices=(16, 17, 18, 19))
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--login", default=DEFAULT_LOGIN)
    parser.add_argument("--password", default=DEFAULT_PASSWORD)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args(argv)
    sim = OdooSim.generate(
        activities=args.activities,
        messages=args.messages,
        leads=args.leads,
        users=args.users,
        partners=args.partners,
        seed=args.seed,
        version=args.version,
        db=args.db,
        login=args.login,
        password=args.password,
        api_key=args.api_key,
    )
    sock = _listening_socket(args.host, args.port)
    print(f"Odoo {args.version}.0 simulator on http://{args.host}:{sock.getsockname()[1]}")
    print(f"  db={sim.db} login={sim.login} password={sim.password} api_key={sim.api_key}")
    print(
        "  "
        + ", ".join(f"{model}: {len(table.rows)}" for model, table in sim.tables.items())
        + "  (Ctrl-C to stop)",
        flush=True,
    )
    config = uvicorn.Config(sim, lifespan="off", log_level="info", proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
