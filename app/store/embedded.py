"""The embedded store: mongomock behind the PyMongo async API, with an `_id` fast path.

This is the only module that knows about mongomock (see /work/shared/STORE.md for the why).
mongomock has no indexes: every filtered operation evaluates the filter against every document
in the collection, so a sync of N records keyed by `_id` costs O(N^2). Yet mongomock keeps each
collection's documents in a dict keyed by `_id`. When a filter pins `_id` to a value or an `$in`
list, we fetch those few documents by key and evaluate the FULL filter on them only, with
mongomock's own `filter_applies`: same documents, same order, O(pinned ids) instead of O(N).

Relies on mongomock==4.3.0 internals (pinned in pyproject.toml; re-check on any upgrade):
- `Collection._iter_documents(filter)` is the single choke point every filtered operation goes
  through: find/find_one/count_documents/distinct (via `Cursor` -> `_get_dataset`),
  update_*/replace_one/upserts (`_update`), delete_* (`_delete` -> `find`), find_one_and_*
  (`find_one` + `_update`/`delete_one`), bulk_write (its ops call `_update`/`delete_*`/`insert_one`)
  and unique-index checks (`_ensure_uniques`). It returns the stored dicts themselves (`_update`
  mutates them in place) in the store's insertion order, filtered lazily.
- `Collection._store` is a `CollectionStore`: `store[_id]` looks a document up by its `_id` (the
  raw value, for the scalar types we accept); its documents live in `store._documents`, an
  OrderedDict in insertion order that mongomock only ever mutates by item assignment and `del`
  (and replaces on drop()).
Inserts need no fast path: with no unique secondary index, `_insert` checks the `_id` with a dict
lookup and `_ensure_uniques` skips non-unique indexes, so an insert or upsert never scans.

- `Cursor._compute_results(with_limit_and_skip)` materialises `list(self._factory())` (every
  matching document, sorted, each deep-copied and made tz-aware) and only then slices skip and
  limit; `_factory()` is a generator over the sorted stored dicts that copies each one as it is
  yielded (`_get_dataset`).

Also works around a pymongo-async-mock==0.1.3 bug that breaks bulk_write in long test runs
(`_repair_bulk_update_compat`).
"""

from __future__ import annotations

import inspect
import itertools
import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from bson import ObjectId
from mongomock.collection import BulkOperationBuilder, Cursor
from mongomock.filtering import filter_applies
from mongomock.helpers import make_datetime_timezone_aware_in_document
from pymongo_async_mock import (
    AsyncMongoMockClient,
    AsyncMongoMockCollection,
    AsyncMongoMockDatabase,
)

__all__ = ["create_embedded_client"]

# `_id` values we look up by key. For these, Python `==`/`hash` agree with mongomock's equality
# match and the store key is the `_id` itself. Everything else takes the plain path: None (matches
# a missing field), regexes (pattern match), datetimes (mongomock keys the store by the value
# *before* truncating it to milliseconds/UTC, so the key may differ from the stored `_id`),
# subdocuments (keyed by a `hashdict`), lists, NaN (never equal to itself).
_KEY_TYPES = (str, int, float, ObjectId)  # int includes bool and bson.Int64

_INSTALLED = "_embedded_id_fast_path"


def create_embedded_client() -> AsyncMongoMockClient:
    """An in-memory client with the PyMongo async API, tz_aware=True, with the _id fast path
    installed."""
    _repair_bulk_update_compat()
    _bound_cursor_copies()
    return _EmbeddedClient(tz_aware=True)


def _repair_bulk_update_compat() -> None:
    """Keep bulk_write working however many collections a process creates.

    pymongo-async-mock 0.1.3 wraps mongomock's `BulkOperationBuilder.add_update` class-wide (to drop
    the `sort` argument mongomock does not take) once more for every NEW collection: its
    "already wrapped" guard looks for the name `add_update_compat`, which its own
    `functools.wraps` overwrites. Past ~1,000 collections in one process (a test suite opens a
    store per test) every bulk_write update raises RecursionError. One wrapper under that name,
    over mongomock's own method, makes the guard hold from then on.
    """
    if BulkOperationBuilder.add_update.__name__ == "add_update_compat":
        return
    original = inspect.unwrap(BulkOperationBuilder.add_update)

    def add_update_compat(self: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("sort", None)  # what pymongo-async-mock's wrapper does
        return original(self, *args, **kwargs)

    BulkOperationBuilder.add_update = add_update_compat  # type: ignore[method-assign]


def _bound_cursor_copies() -> None:
    """Copy only the documents a limited cursor returns, not every document that matches.

    mongomock's cursor deep-copies all matches before applying skip and limit: a 50-item page of
    a 20,000-activity tenant copied 20,000 documents and freed 19,950 again, costing store time
    and, through the allocator churn it leaves behind, time in the code that runs next. The
    matches are still all evaluated and sorted (by the stored dicts, as mongomock does); only the
    copying stops at skip + limit. Same documents, same order, same copies; any other use of the
    cursor (no limit, `count(with_limit_and_skip=False)`, `distinct`, ...) takes mongomock's path.
    """
    if getattr(Cursor._compute_results, _INSTALLED, False):
        return
    plain = Cursor._compute_results

    def compute_results(self: Any, with_limit_and_skip: bool = False) -> Any:
        if not with_limit_and_skip or not self._limit:
            return plain(self, with_limit_and_skip)
        key = (self._factory, self._skip, self._limit)
        cached = self.__dict__.get("_bounded_results")
        if cached is None or cached[0] != key:
            stop = self._skip + abs(self._limit)
            results = list(itertools.islice(self._factory(), self._skip, stop))
            if self.collection.codec_options.tz_aware:
                results = [make_datetime_timezone_aware_in_document(r) for r in results]
            cached = self._bounded_results = (key, results)
        return cached[1]

    setattr(compute_results, _INSTALLED, True)
    Cursor._compute_results = compute_results  # type: ignore[method-assign]


class _EmbeddedClient(AsyncMongoMockClient):
    def get_database(self, *args: Any, **kwargs: Any) -> AsyncMongoMockDatabase:
        # `client[name]` and attribute access both go through get_database. No custom build info
        # is ever passed to this client, so the default one (None) is kept.
        database = super().get_database(*args, **kwargs)
        return _FastPathDatabase(self, database.delegate)


class _FastPathDatabase(AsyncMongoMockDatabase):
    def get_collection(self, *args: Any, **kwargs: Any) -> AsyncMongoMockCollection:
        collection = self.delegate.get_collection(*args, **kwargs)
        # Installed before AsyncMongoMockCollection wraps `_iter_documents` with its own filter
        # normalisation, so the fast path sees the same filter the plain path would.
        _install_id_fast_path(collection)
        return AsyncMongoMockCollection(self, collection)


def _install_id_fast_path(collection: Any) -> None:
    """Route this mongomock collection's `_iter_documents` through the fast path.

    Once per collection: mongomock caches one Collection object per name and hands it out again.
    """
    if getattr(collection, _INSTALLED, False):
        return
    plain = collection._iter_documents

    def iter_documents(filter: Any) -> Iterator[dict[str, Any]]:
        ids = _pinned_ids(filter) if isinstance(filter, dict) else None
        # Re-read on every call, as mongomock does: rename() gives this name a new store.
        store = collection._store
        if ids is None or store.is_empty:
            # The empty case is O(1) anyway and keeps mongomock's validation of the filter.
            return plain(filter)
        found: dict[Any, dict[str, Any]] = {}  # keyed like the store: `$in` may repeat an id
        for value in ids:
            if value not in found:
                try:
                    found[value] = store[value]
                except KeyError:
                    continue
        keys = list(found)
        if len(keys) > 1:
            # Yield in the store's insertion order, as the plain path does: it decides which
            # document update_one/delete_one/find_one pick and how sort ties fall.
            keys.sort(key=_ranked(store).rank.__getitem__)
        candidates = [found[key] for key in keys]
        # Lazy like the plain path: `_update` mutates each document as it is yielded.
        return (doc for doc in candidates if filter_applies(filter, doc))

    collection._iter_documents = iter_documents
    setattr(collection, _INSTALLED, True)


class _RankedDocuments(OrderedDict[Any, Any]):
    """mongomock's per-collection document dict that also records each key's insertion rank, so
    `$in` candidates can be put in the store's order without walking all N documents (measured:
    a walk costs 50-100 ms per `$in` at 120,000 documents; the rank, under 1 ms)."""

    def __init__(self, documents: Mapping[Any, Any]) -> None:
        super().__init__()
        self.rank: dict[Any, int] = {}
        self._next_rank = itertools.count()
        for key, document in documents.items():
            self[key] = document

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self.rank:  # overwriting a key keeps its place, as in the OrderedDict
            self.rank[key] = next(self._next_rank)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        del self.rank[key]  # a re-insert goes to the end, as in the OrderedDict


def _ranked(store: Any) -> _RankedDocuments:
    documents = store._documents
    if not isinstance(documents, _RankedDocuments):
        # O(N) once per collection (and again after a drop(), which starts a new plain dict).
        with store._rwlock.writer():
            documents = store._documents = _RankedDocuments(store._documents)
    return documents


def _pinned_ids(filter: dict[str, Any]) -> list[Any] | None:
    """The `_id` values a filter restricts its matches to, or None if it does not pin `_id`.

    A filter's top-level keys and a top-level `$and`'s clauses are all conjunctions, so any one
    `_id` condition among them bounds the matches; the smallest is used. The full filter is still
    evaluated on the candidates, so the other conditions (and other `_id` conditions) hold.
    """
    best: list[Any] | None = None
    for ids in _id_conditions(filter):
        if best is None or len(ids) < len(best):
            best = ids
    return best


def _id_conditions(filter: dict[str, Any]) -> Iterator[list[Any]]:
    if "_id" in filter:
        ids = _ids_of(filter["_id"])
        if ids is not None:
            yield ids
    clauses = filter.get("$and")
    if isinstance(clauses, list | tuple):
        for clause in clauses:
            if isinstance(clause, dict):
                yield from _id_conditions(clause)


def _ids_of(condition: Any) -> list[Any] | None:
    if isinstance(condition, dict):
        if not condition or not all(str(key).startswith("$") for key in condition):
            return None  # `{}` or a subdocument equality
        # An operator document: its operators are ANDed, so `$eq` or `$in` bounds the match.
        if "$eq" in condition:
            values = [condition["$eq"]]
        elif isinstance(condition.get("$in"), list | tuple):
            values = list(condition["$in"])
        else:
            return None
    else:
        values = [condition]
    return values if all(_is_key(value) for value in values) else None


def _is_key(value: Any) -> bool:
    return isinstance(value, _KEY_TYPES) and not (isinstance(value, float) and math.isnan(value))
