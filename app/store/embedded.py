"""The embedded store: mongomock behind the PyMongo async API, with an `_id` fast path.

This is the only module that knows about mongomock (docs/STORE.md says why).
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

The sync's write (a `bulk_write` of `UpdateOne({"_id": key}, {"$set": fields}, upsert=True)`) has
a second fast path (`_install_bulk_set_fast_path`). It is not a scan but mongomock's bookkeeping,
~150 us per upsert: it converts the update document's datetimes three times over (recursively,
through `isinstance` chains), BSON-encodes each field and then the whole document, deep-copies
every updated document as a snapshot to tell whether it changed, and builds a closure per op.
When every op of a bulk is such an `$set` on one plain `_id` and the collection has no unique or
TTL index, the fast path applies the ops itself with the same effects: the same stored documents
(fresh copies, never the caller's objects; datetimes naive UTC at milliseconds; an upserted
document is an OrderedDict `{_id, ...fields}`, dotted fields expanded), the same counts and
`upserted` entries. Every check that could fail (types, paths, BSON encoding) runs before
anything is written; a bulk that fails one, or that has any other shape, takes mongomock's path,
which raises exactly its own errors.

Limited finds copy only what they return (`_bound_cursor_copies`): mongomock's
`Cursor._compute_results(with_limit_and_skip)` materialises `list(self._factory())` (every
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering
from mongomock.collection import BulkOperationBuilder, Cursor
from mongomock.filtering import filter_applies
from mongomock.helpers import make_datetime_timezone_aware_in_document
from mongomock.results import BulkWriteResult
from pymongo.operations import UpdateOne
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


_AGGREGATE_INSTALLED = "_embedded_match_first_aggregate"


def _install_match_first_aggregate(collection: Any) -> None:
    """Start a pipeline that opens with `$match` from a find with that filter.

    mongomock's `aggregate` copies EVERY document of the collection (`list(self.find())`) and
    only then runs the stages, `$match` first: a dashboard summary over one tenant's activities
    copied all 120,000 envelopes of the bench's collection. A find with the same filter selects
    the same documents in the same (natural) order with the same copies, through the scan and
    `_id` fast paths; the remaining stages then run exactly as before. (`$match` evaluates the
    filter on the copies with their datetimes made naive again, i.e. on the stored values, as
    find does.)
    """
    if getattr(collection, _AGGREGATE_INSTALLED, False):
        return
    plain = collection.aggregate

    def aggregate(pipeline: Any, session: Any = None, **kwargs: Any) -> Any:
        first = pipeline[0] if isinstance(pipeline, list | tuple) and pipeline else None
        if (
            session is not None
            or not isinstance(first, dict)
            or len(first) != 1
            or not isinstance(first.get("$match"), dict)
            or collection._store.is_empty  # O(1) either way; keeps plain's (lack of) errors
        ):
            return plain(pipeline, session=session, **kwargs)
        matched = list(collection.find(first["$match"]))
        return mongomock_aggregate.process_pipeline(
            matched, collection.database, list(pipeline[1:]), session
        )

    collection.aggregate = aggregate
    setattr(collection, _AGGREGATE_INSTALLED, True)


_SORT_INSTALLED = "_embedded_native_sort"
_NATIVE_SORT_TYPES = (str, datetime, int, float)  # exact types (no bool, Int64, subclasses)


def _install_native_sort(collection: Any) -> None:
    """Sort by plain Python values when mongomock's BSON comparison would agree with them.

    mongomock sorts a find with one stable `sorted()` pass per sort key (last key first), keyed by
    `resolve_sort_key` (a `BsonComparable` per document per key, compared through `bson_compare`:
    type order first, then Python's operator). When every document has a value for the key (by
    dict lookups along the dotted path) and all those values have the same exact type, among
    str, datetime (all naive or all aware), int/float, every comparison `bson_compare` would make
    is Python's own `<` on the values: sorting by the values themselves takes the same passes and
    gives the same order, at a fraction of the cost. Any other pass (a missing value, arrays,
    subdocuments, mixed types) is mongomock's own.
    """
    if getattr(collection, _SORT_INSTALLED, False):
        return

    def get_dataset(spec: Any, sort: Any, fields: Any, as_class: Any) -> Iterator[Any]:
        if isinstance(sort, dict):
            sort = list(sort.items())
        if not sort or any(str(key).startswith("$") for key, _ in sort):
            yield from plain(spec, sort, fields, as_class)
            return
        dataset = list(collection._iter_documents(spec))
        for key, direction in reversed(sort):
            values = _native_values(str(key).split("."), dataset)
            if values is None:
                dataset = sorted(dataset, key=_bson_sort_key(key), reverse=direction < 0)
            else:
                order = sorted(range(len(dataset)), key=values.__getitem__, reverse=direction < 0)
                dataset = [dataset[i] for i in order]
        for document in dataset:
            yield collection._copy_only_fields(document, fields, as_class)

    plain = collection._get_dataset
    collection._get_dataset = get_dataset
    setattr(collection, _SORT_INSTALLED, True)


def _bson_sort_key(key: str) -> Callable[[Any], Any]:
    def sort_key(document: Any) -> Any:
        return filtering.resolve_sort_key(key, document)

    return sort_key


def _native_values(path: list[str], documents: list[Any]) -> list[Any] | None:
    """Each document's value at `path` if all are plain values of one exact native type."""
    values = []
    kind: type | None = None
    aware: bool | None = None
    for document in documents:
        value = document
        for part in path:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        if kind is None:
            kind = type(value)
            if kind not in _NATIVE_SORT_TYPES:
                return None
            if kind is datetime:
                aware = value.tzinfo is not None
        elif type(value) is not kind:
            if not (kind in (int, float) and type(value) in (int, float)):
                return None
        if kind is datetime and (value.tzinfo is not None) is not aware:
            return None
        if kind is float or type(value) is float:
            if value != value:  # NaN: mongomock's sort of NaN is its own
                return None
        values.append(value)
    return values


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
        _install_bulk_set_fast_path(collection)
        _install_native_sort(collection)
        _install_match_first_aggregate(collection)
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
        if store.is_empty:
            # O(1) anyway, and keeps mongomock's validation of the filter.
            return plain(filter)
        if ids is None:
            screen = _screen(filter) if isinstance(filter, dict) else None
            if screen is None:
                return plain(filter)
            # The plain path's scan, with documents the screen rules out skipped unevaluated.
            return (
                doc
                for doc in list(store.documents)
                if _passes(screen, doc) and filter_applies(filter, doc)
            )
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
        rest = _rest_when_id_matches(filter)
        # Lazy like the plain path: `_update` mutates each document as it is yielded.
        if rest is None:
            return (doc for doc in (found[key] for key in keys) if filter_applies(filter, doc))
        return (doc for key in keys if _applies(filter, rest, key, doc := found[key]))

    collection._iter_documents = iter_documents
    setattr(collection, _INSTALLED, True)


# ---------------------------------------------------------------------------- scans

# A screen: per top-level condition, in the filter's order, (field, rule, operand).
_Screen = list[tuple[str, str, Any]]
_REJECT, _PASS, _UNSURE = 0, 1, 2
# Types mongomock's `$gte` compares with an int without raising, and False unless both are
# numbers (its type bracketing); missing fields never match `$gte`.
_BRACKETED = (type(None), bool, float, str, dict, ObjectId, datetime, bytes)


def _screen(filter: dict[str, Any]) -> _Screen | None:
    """Cheap exact checks that rule documents out of a scan before mongomock evaluates them.

    Only for filters whose every top-level condition is on a plain field and is one of:
    a str/int/bool value, `$in` of strs, `$not: {$gte: int}` (the sync's sweep is the last;
    the others are its companions). A document is ruled out only when mongomock, evaluating
    the conditions in order, would return False at one of them having raised at none before
    (`_passes`): the same documents, and the same errors, as the plain scan.
    """
    screen: _Screen = []
    for field, condition in filter.items():
        if type(field) is not str or not field or field[0] == "$" or "." in field:
            return None
        kind = type(condition)
        if kind is str or kind is int or kind is bool:
            screen.append((field, "eq", condition))
        elif kind is dict and len(condition) == 1:
            ((operator, operand),) = condition.items()
            if operator == "$in" and type(operand) is list and all(type(v) is str for v in operand):
                screen.append((field, "in", frozenset(operand)))
            elif (
                operator == "$not"
                and type(operand) is dict
                and len(operand) == 1
                and type(operand.get("$gte")) is int
            ):
                screen.append((field, "not_gte", operand["$gte"]))
            else:
                return None
        else:
            return None
    return screen or None


def _passes(screen: _Screen, document: dict[str, Any]) -> bool:
    """False only if mongomock's `filter_applies` would return False without raising."""
    for field, rule, operand in screen:
        value = document.get(field, _MISSING)
        kind = type(value)
        if rule == "eq":
            # mongomock: `value == operand`, or `operand in value` for an array; never raises.
            if kind is type(operand) and value != operand:
                return False
        elif rule == "in":
            if kind is str and value not in operand:
                return False
        elif kind is int:  # `$not: {$gte: operand}` on an int: plain int comparison
            if value >= operand:
                return False
        elif value is not _MISSING and kind not in _BRACKETED:
            return True  # an array or an exotic type: mongomock decides (and may raise)
    return True


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


def _rest_when_id_matches(filter: dict[str, Any]) -> dict[str, Any] | None:
    """The filter without its top-level `_id` condition when that condition is a plain value,
    `$eq` or a lone `$in` (else None): for a document found under one of its values, that
    condition holds (`_is_stored_key`) and only the rest needs evaluating. A `$in` of 500 ids
    evaluated on each of 500 documents costs 250,000 comparisons in mongomock."""
    condition = filter.get("_id", _MISSING)
    if condition is _MISSING or _ids_of(condition) is None:
        return None
    if isinstance(condition, dict) and len(condition) != 1:
        return None  # `$in` with `$ne`, ...: evaluated whole
    return {key: value for key, value in filter.items() if key != "_id"}


def _applies(filter: dict[str, Any], rest: dict[str, Any], key: Any, document: Any) -> bool:
    if _is_stored_key(key, document):
        return not rest or filter_applies(rest, document)
    return filter_applies(filter, document)


def _is_stored_key(key: Any, document: Mapping[str, Any]) -> bool:
    """The document found under `key` has `key` as its `_id`, by mongomock's equality: the same
    exact type (no bool/int/float conflation), equal by construction (a dict hit)."""
    return type(key) in _BULK_KEY_TYPES and type(document.get("_id")) is type(key)


def _is_key(value: Any) -> bool:
    return isinstance(value, _KEY_TYPES) and not (isinstance(value, float) and math.isnan(value))


# ---------------------------------------------------------------------------- bulk `$set` by `_id`

_BULK_INSTALLED = "_embedded_bulk_set_fast_path"
# `_id` values of the bulk fast path: exact types whose dict key is the stored `_id` and whose
# Python equality is mongomock's (no bool/1/1.0 conflation, no str subclasses).
_BULK_KEY_TYPES = (str, int, ObjectId)
# Immutable values that mongomock stores as they are and BSON always encodes. `str` and `int`
# are stored as they are too, after the checks BSON would make (UTF-8, 64 bits).
_ATOMS = (float, bool, type(None), ObjectId)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MISSING = object()


class _Ineligible(Exception):
    """This bulk takes mongomock's own path."""


def _install_bulk_set_fast_path(collection: Any) -> None:
    """Route this mongomock collection's `bulk_write` through the `$set`-by-`_id` fast path."""
    if getattr(collection, _BULK_INSTALLED, False):
        return
    plain = collection.bulk_write

    def bulk_write(
        requests: Any,
        ordered: bool = True,
        bypass_document_validation: bool = False,
        session: Any = None,
    ) -> Any:
        if not bypass_document_validation and session is None and type(requests) is list:
            store = collection._store  # re-read, as mongomock does (rename, drop)
            try:
                planned = _plan_set_by_id(store, requests)
            except Exception:  # any check failing (types, encoding, depth): mongomock decides
                planned = None
            finally:
                _CONVERTED.clear()
            if planned is not None:
                return BulkWriteResult(_apply_set_by_id(store, planned), True)
        return plain(
            requests,
            ordered=ordered,
            bypass_document_validation=bypass_document_validation,
            session=session,
        )

    collection.bulk_write = bulk_write
    setattr(collection, _BULK_INSTALLED, True)


@dataclass(slots=True)
class _SetOp:
    key: Any
    existing: dict[str, Any] | None  # the stored document; None: upsert a new one
    fields: dict[str, Any]  # `$set` field -> the value as stored (a fresh copy)
    dotted: list[tuple[list[str], Any]] | None  # (path, value) per field when any is dotted


def _plan_set_by_id(store: Any, requests: list[Any]) -> list[_SetOp] | None:
    """Check every op without writing anything; None (or an exception) = mongomock's path."""
    if not requests or store._ttl_indexes:
        return None
    if any(index.get("unique") for index in store.indexes.values()):
        return None  # mongomock would scan the collection for each write to check it
    documents = store._documents
    planned: list[_SetOp] = []
    seen: set[Any] = set()
    for op in requests:
        if type(op) is not UpdateOne:
            return None
        if (
            op._collation is not None
            or op._array_filters is not None
            or op._hint is not None
            or getattr(op, "_sort", None) is not None
        ):
            return None
        filter, update = op._filter, op._doc
        if type(filter) is not dict or len(filter) != 1 or "_id" not in filter:
            return None
        key = filter["_id"]
        # A falsy `_id` would be counted as matched, not upserted, by mongomock's bulk.
        if type(key) not in _BULK_KEY_TYPES or not key or key in seen:
            return None
        _stored_value(key)  # BSON's checks (an upsert stores it)
        seen.add(key)
        if type(update) is not dict or len(update) != 1 or "$set" not in update:
            return None
        fields = update["$set"]
        if type(fields) is not dict or not fields:
            return None
        existing = documents.get(key)
        if existing is not None and type(existing.get("_id")) is not type(key):
            return None
        dotted = _dotted_paths(fields)
        values = _stored_dict(fields, dict)
        if dotted is not None:
            dotted = [(parts, values[".".join(parts)]) for parts, _ in dotted]
            if existing is not None:
                for parts, _ in dotted:
                    _check_parents(existing, parts)
        if existing is None and not op._upsert:
            continue  # matches nothing, inserts nothing (its checks above still hold)
        planned.append(_SetOp(key, existing, values, dotted))
    return planned


def _dotted_paths(fields: dict[Any, Any]) -> list[tuple[list[str], None]] | None:
    """Check the `$set` field names; their paths when any is dotted, else None.

    Only plain, disjoint field paths: no operators or positional `$`, no empty parts, not
    `_id`; `a` and `a.b` in one update conflict in MongoDB (mongomock applies both in turn).
    """
    any_dotted = False
    for name in fields:
        if type(name) is not str or "$" in name or "\0" in name or name == "_id":
            raise _Ineligible
        if "." in name:
            any_dotted = True
    if not any_dotted:
        return None
    paths: list[tuple[list[str], None]] = []
    for name in fields:
        parts = name.split(".")
        if "" in parts or parts[0] == "_id":
            raise _Ineligible
        for end in range(1, len(parts)):
            if ".".join(parts[:end]) in fields:
                raise _Ineligible
        paths.append((parts, None))
    return paths


def _check_parents(document: Any, parts: list[str]) -> None:
    """Each parent of a dotted path is a subdocument or missing (then created empty)."""
    node = document
    for part in parts[:-1]:
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return
        if not isinstance(node, dict):
            raise _Ineligible  # arrays and scalars: mongomock and MongoDB differ; plain path


# Field names already checked (a str without NUL): documents repeat the same few names.
_CHECKED_NAMES: set[str] = set()
# Datetimes already converted in the current bulk, by identity (`now` is in every envelope, a
# message's `date` is its `occurred_at`): id -> (the datetime, kept alive; its stored value).
_CONVERTED: dict[int, tuple[datetime, datetime]] = {}


def _stored_dict(source: dict[Any, Any], container: type[dict[str, Any]]) -> dict[str, Any]:
    """A copy of `source` as mongomock stores it (`patch_datetime_awareness_in_document`), with
    the checks of BSON encoding (mongomock encodes each update): see `_stored_value`."""
    copy = container()
    for name, value in source.items():
        if name not in _CHECKED_NAMES:
            if type(name) is not str or "\0" in name:
                raise _Ineligible
            if len(_CHECKED_NAMES) < 10_000:
                _CHECKED_NAMES.add(name)
        kind = type(value)
        if kind is str:
            if not value.isascii():
                value.encode()  # lone surrogates are no UTF-8: BSON refuses them
        elif kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise _Ineligible
        elif kind not in _ATOMS:
            value = _stored_value(value)
        copy[name] = value
    return copy


def _stored_value(value: Any) -> Any:
    """`value` as mongomock stores it: containers copied (lists and tuples as lists,
    OrderedDicts kept, other dicts as dicts), datetimes naive UTC truncated to milliseconds,
    immutable scalars as they are. Any other type, or what BSON cannot encode: _Ineligible."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is str:
        if not value.isascii():
            value.encode()
        return value
    if kind is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise _Ineligible
        return value
    if kind is datetime:
        seen = _CONVERTED.get(id(value))
        if seen is not None and seen[0] is value:
            return seen[1]
        mongo_us = (value.microsecond // 1000) * 1000
        offset = value.utcoffset()
        if offset is not None:
            stored = (value - offset).replace(tzinfo=None, microsecond=mongo_us)
        else:
            stored = value.replace(microsecond=mongo_us)
        if len(_CONVERTED) < 10_000:
            _CONVERTED[id(value)] = (value, stored)
        return stored
    if kind is dict:
        return _stored_dict(value, dict)
    if kind is list or kind is tuple:
        return [_stored_value(item) for item in value]
    if kind is OrderedDict:
        return _stored_dict(value, OrderedDict)
    raise _Ineligible


def _apply_set_by_id(store: Any, planned: list[_SetOp]) -> dict[str, Any]:
    """Apply checked ops; the result is what mongomock's `BulkOperationBuilder.execute` gives."""
    upserted: list[dict[str, Any]] = []
    matched = modified = 0
    with store._rwlock.writer():  # what each of mongomock's store writes takes
        documents = store._documents
        for op in planned:
            existing = op.existing
            if existing is None:
                document: dict[str, Any] = OrderedDict(_id=op.key)
                if op.dotted is None:
                    document.update(op.fields)
                else:
                    for parts, value in op.dotted:
                        _parent(document, parts)[parts[-1]] = value
                documents[op.key] = document
                # mongomock numbers upserts among upserts, not among the bulk's ops.
                upserted.append({"index": len(upserted), "_id": op.key})
                continue
            matched += 1
            changed = False
            sets = op.dotted or [([name], value) for name, value in op.fields.items()]
            for parts, value in sets:
                parent = _parent(existing, parts)
                name = parts[-1]
                if not changed:
                    old = parent.get(name, _MISSING)
                    # As mongomock's whole-document comparison: identity first, then equality.
                    changed = old is _MISSING or [old] != [value]
                parent[name] = value
            modified += changed
    return {
        "nModified": modified,
        "nUpserted": len(upserted),
        "nMatched": matched,
        "writeErrors": [],
        "upserted": upserted,
        "writeConcernErrors": [],
        "nRemoved": 0,
        "nInserted": 0,
    }


def _parent(document: dict[str, Any], parts: list[str]) -> dict[str, Any]:
    node = document
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    return node
