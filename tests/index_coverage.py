"""Every query the app issues during the test session, held against the declared indexes.

No MongoDB runs here, so this is what shows that production queries are served by an index.
A pytest plugin (registered in tests/conftest.py): from the session's start it observes every
store command (`app.store.timing.observe_commands`), keeps the shape of each query the app
issued (tests' own reads of raw documents are left out), and at the session's end checks every
shape against the indexes `Store.ensure_indexes()` creates; a shape no index serves fails the
run, listing the shape and the code that issued it.

A shape is one conjunction of the filter (each `$or` branch is planned on its own, so a filter
with `$or` gives one shape per branch): its equality fields (a value, `$eq`, `$in`), its sort
keys and its range fields (every other operator: `$gt`, `$lte`, `$ne`, `$nin`, `$regex`,
`$exists`, `$type`, `$not`). An index serves a shape by the ESR rule when
1. its first key is an equality field of the shape (a range field when it has none), so the
   scan is bounded: no collection scan;
2. after a run of equality fields, the sort keys follow in order (equality fields may stand
   between them; a sort key pinned by equality needs no place), all in the index's direction
   or all reversed: no in-memory sort;
3. range fields only come after that: anything the index holds beyond is filtered in the scan.
Further equality fields the index lacks (optional narrowing filters such as `type` or `state`)
are checked on the documents the index walk returns. Every collection has the `_id` index.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from app.config import Settings
from app.store import open_store
from app.store.timing import Command, observe_commands

HERE = Path(__file__).resolve()
APP_DIR = HERE.parent.parent / "app"
STORE_DIR = APP_DIR / "store"
# Store modules that only carry a repository's command: the issuer is the repository method
# that called them (a shared claim in repository.py is issued by notifications.claim_due).
STORE_PLUMBING = (STORE_DIR / "collection.py", STORE_DIR / "timing.py", STORE_DIR / "repository.py")
# Commands issued from here are the tests' and benchmarks' own (raw reads, fixtures).
ISSUED_OUTSIDE = (HERE.parent, HERE.parent.parent / "bench")
EQUALITY_OPERATORS = frozenset({"$eq", "$in"})
ID_INDEX = (("_id", 1),)
# A filter whose `$or`s multiply out to more conjunctions than this is refused as a shape.
MAX_CONJUNCTIONS = 512

IndexKeys = tuple[tuple[str, int], ...]
Indexes = Mapping[str, Mapping[str, IndexKeys]]  # collection → index name → keys


@dataclass(frozen=True)
class Shape:
    collection: str
    equality: frozenset[str]
    sort: tuple[tuple[str, int], ...]
    range: frozenset[str]

    def __str__(self) -> str:
        sort = ", ".join(f"{f} {'asc' if d > 0 else 'desc'}" for f, d in self.sort)
        return (
            f"{self.collection}: equality {sorted(self.equality)}, sort [{sort}], "
            f"range {sorted(self.range)}"
        )


# ---------------------------------------------------------------------------- shapes


def _kind(value: Any) -> str:
    if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
        return "equality" if set(value) <= EQUALITY_OPERATORS else "range"
    if hasattr(value, "pattern"):  # a compiled regex matches like `$regex`
        return "range"
    return "equality"


def _merge(a: Mapping[str, str], b: Mapping[str, str]) -> dict[str, str]:
    merged = dict(a)
    for name, kind in b.items():
        # A field pinned by equality in one part of a conjunction is pinned in all of it.
        merged[name] = "equality" if "equality" in (kind, merged.get(name)) else kind
    return merged


def _product(
    left: Sequence[Mapping[str, str]], right: Sequence[Mapping[str, str]]
) -> list[dict[str, str]]:
    out = [_merge(a, b) for a, b in itertools.product(left, right)]
    if len(out) > MAX_CONJUNCTIONS:
        raise ValueError(f"a filter with more than {MAX_CONJUNCTIONS} conjunctions")
    return out


def conjunctions(filter: Mapping[str, Any]) -> list[dict[str, str]]:
    """The filter in disjunctive normal form: per conjunction, field → equality | range."""
    result: list[dict[str, str]] = [{}]
    for key, value in filter.items():
        if key == "$and":
            for part in value:
                result = _product(result, conjunctions(part))
        elif key == "$or":
            branches = [c for part in value for c in conjunctions(part)]
            result = _product(result, branches)
        elif key == "$nor":
            fields = {f: "range" for part in value for c in conjunctions(part) for f in c}
            result = _product(result, [fields])
        elif key.startswith("$"):
            continue  # $expr, $comment: nothing an index bounds
        else:
            result = _product(result, [{key: _kind(value)}])
    return result


def shapes_of(
    collection: str, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = ()
) -> list[Shape]:
    found = []
    for conjunction in conjunctions(filter):
        equality = frozenset(f for f, kind in conjunction.items() if kind == "equality")
        ranges = frozenset(f for f, kind in conjunction.items() if kind == "range")
        found.append(Shape(collection, equality, tuple(sort), ranges))
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------------------- the ESR rule


def serves(index: IndexKeys, shape: Shape) -> bool:
    """Whether an index with these keys serves the shape by the ESR rule (module docstring)."""
    if not index or not all(isinstance(d, int) for _, d in index):
        return False  # text, hashed or geo indexes answer other questions
    first = index[0][0]
    if first not in shape.equality and (shape.equality or first not in shape.range):
        return False
    position = 0
    while position < len(index) and index[position][0] in shape.equality:
        position += 1
    sign = 0
    for name, direction in shape.sort:
        if name in shape.equality:
            continue
        while position < len(index) and index[position][0] in shape.equality:
            position += 1
        if position == len(index) or index[position][0] != name:
            return False
        same = 1 if index[position][1] == direction else -1
        if sign and same != sign:
            return False
        sign = same
        position += 1
    return True


def serving(shape: Shape, indexes: Indexes) -> list[str]:
    """The names of the indexes that serve the shape (`_id_` included: every collection has it)."""
    declared = {"_id_": ID_INDEX, **indexes.get(shape.collection, {})}
    return [name for name, keys in declared.items() if serves(keys, shape)]


def unserved(shapes: Iterable[Shape], indexes: Indexes) -> list[Shape]:
    return [shape for shape in shapes if not serving(shape, indexes)]


# ---------------------------------------------------------------------------- recording


def _where(path: Path, frame: FrameType) -> str:
    return f"{path.relative_to(APP_DIR.parent)}:{frame.f_code.co_name}"


def _issuer() -> str | None:
    """Where the command being observed comes from: the store method that built it and the
    service code that called that (`app/store/notifications.py:due_for <- app/services/...`);
    None when a test or a benchmark issued it directly."""
    frame = sys._getframe(1)
    built_by = None
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if any(path.is_relative_to(outside) for outside in ISSUED_OUTSIDE):
            if path != HERE:
                return built_by  # a test calling a store method directly: still the app's query
        elif path.is_relative_to(STORE_DIR):
            if built_by is None and path not in STORE_PLUMBING:
                built_by = _where(path, frame)
        elif path.is_relative_to(APP_DIR):
            here = _where(path, frame)
            return here if built_by is None else f"{built_by} <- {here}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


class QueryRecorder:
    """Collects the shapes of the queries the app issues, each with the code that issued it."""

    def __init__(self) -> None:
        self.shapes: dict[Shape, set[str]] = defaultdict(set)
        self.indexes: dict[str, dict[str, IndexKeys]] = defaultdict(dict)

    def __call__(self, command: Command) -> None:
        if command.operation == "create_indexes":
            for index in command.indexes:
                keys = tuple((str(f), d) for f, d in dict(index["key"]).items())
                self.indexes[command.collection][str(index["name"])] = keys
            return
        issuer = _issuer()
        if issuer is None:
            return
        filters = command.filters or ({},)  # no filter at all: a collection scan, recorded
        for filter in filters:
            for shape in shapes_of(command.collection, filter, command.sort):
                self.shapes[shape].add(issuer)

    def table(self, indexes: Indexes) -> str:
        """Every shape with the indexes that serve it and who issued it (for the README)."""
        rows = sorted(self.shapes.items(), key=lambda item: str(item[0]))
        return "".join(
            f"{shape} | {', '.join(serving(shape, indexes)) or 'NONE'} | "
            f"{', '.join(sorted(issuers))}\n"
            for shape, issuers in rows
        )

    def report(self, indexes: Indexes) -> list[str]:
        """One line per shape no declared index serves, with who issued it."""
        return [
            f"{shape}  <- {', '.join(sorted(self.shapes[shape]))}"
            for shape in unserved(self.shapes, indexes)
        ]


async def declared_indexes(settings: Settings) -> dict[str, dict[str, IndexKeys]]:
    """The indexes `Store.ensure_indexes()` creates, per collection, as it creates them."""
    recorder = QueryRecorder()
    store = open_store(settings)
    stop = observe_commands(recorder)
    try:
        await store.ensure_indexes()
    finally:
        stop()
        await store.close()
    return dict(recorder.indexes)


@dataclass
class _Session:
    recorder: QueryRecorder
    stop: Callable[[], None]
    problems: list[str] = field(default_factory=list)


_SESSION = pytest.StashKey[_Session]()


def pytest_sessionstart(session: pytest.Session) -> None:
    recorder = QueryRecorder()
    session.config.stash[_SESSION] = _Session(recorder, observe_commands(recorder))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_SESSION, None)
    if state is None:
        return
    state.stop()
    if not state.recorder.shapes:
        return
    from tests.conftest import make_settings

    indexes = asyncio.run(declared_indexes(make_settings(mongodb_uri=None)))
    state.problems = state.recorder.report(indexes)
    if target := os.environ.get("INDEX_COVERAGE_REPORT"):
        Path(target).write_text(state.recorder.table(indexes), encoding="utf-8")
    if state.problems and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_SESSION, None)
    if state is None or not state.recorder.shapes:
        return
    total = len(state.recorder.shapes)
    terminalreporter.write_line(
        f"index coverage: {total - len(state.problems)} of {total} query shapes the app issued "
        "are served by a declared index (tests/index_coverage.py)"
    )
    if state.problems:
        terminalreporter.write_sep("=", "queries no declared index serves (ESR)", red=True)
        for line in state.problems:
            terminalreporter.write_line(line, red=True)
