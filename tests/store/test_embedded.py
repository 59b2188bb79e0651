"""The embedded client's `_id` fast path: same results as mongomock's plain path, O(pinned ids).

These tests are about the embedded engine itself (they compare it with plain mongomock and count
mongomock's filter evaluations), so unlike the rest of the suite they never run against MongoDB.
"""

from __future__ import annotations

import asyncio
import copy
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import mongomock.filtering
import pytest
from bson import Decimal128, ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import DeleteOne, InsertOne, ReplaceOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo_async_mock import AsyncMongoMockClient

from app.store.embedded import create_embedded_client

# --- the fast path returns exactly what the plain path returns -------------------------------

STORED_IDS: list[Any] = ["a", "b", "c", "d", "e", "f", 1, 2]
# Filters also name missing ids, and values equal to a stored int under Python/mongomock equality.
QUERY_IDS: list[Any] = [*STORED_IDS, "zz", 99, 1.0, True]

ids = st.sampled_from(STORED_IDS) | st.sampled_from(QUERY_IDS)  # mostly ids that exist
fields = st.fixed_dictionaries(
    {"n": st.integers(0, 4), "s": st.sampled_from("xy")},
    optional={"k": st.integers(0, 2), "tags": st.lists(st.sampled_from(["t1", "t2"]))},
)
# Inserted in a random order: the plain path yields documents in insertion order, not `_id` order.
documents = st.builds(
    lambda order, values: [
        {"_id": key, **value} for key, value in zip(order, values, strict=False)
    ],
    st.permutations(STORED_IDS),
    st.lists(fields, max_size=len(STORED_IDS)),
)
pins = st.one_of(
    st.builds(lambda v: {"_id": v}, ids),
    st.builds(lambda v: {"_id": {"$eq": v}}, ids),
    st.builds(lambda vs: {"_id": {"$in": vs}}, st.lists(ids, max_size=5)),
    st.builds(lambda vs: {"_id": {"$in": vs}}, st.lists(ids, min_size=2, max_size=5)),
    st.builds(lambda vs, v: {"_id": {"$in": vs, "$ne": v}}, st.lists(ids, max_size=4), ids),
)
conditions = st.one_of(
    st.builds(lambda n: {"n": {"$gte": n}}, st.integers(0, 4)),
    st.builds(lambda s: {"s": s}, st.sampled_from("xy")),
    st.builds(lambda b: {"k": {"$exists": b}}, st.booleans()),
    st.just({"tags": "t1"}),
)
filters = st.one_of(
    pins,
    st.builds(lambda p, c: {**p, **c}, pins, conditions),
    st.builds(lambda p, c: {**c, **p}, pins, conditions),
    st.builds(lambda p, c: {"$and": [p, c]}, pins, conditions),
    st.builds(lambda p, c: {"$and": [c, p]}, pins, conditions),
    st.builds(lambda p, c: {**c, "$and": [{"$and": [p]}]}, pins, conditions),
    # Filters that do not pin `_id` take the plain path on both sides.
    conditions,
    st.builds(lambda p, c: {"$or": [p, c]}, pins, conditions),
    st.just({}),
)
updates = st.one_of(
    st.builds(lambda n: {"$set": {"n": n}}, st.integers(0, 4)),
    st.just({"$inc": {"n": 1}}),
    st.just({"$set": {"s": "y"}}),
    st.just({"$unset": {"k": ""}}),
    st.just({"$push": {"tags": "t2"}}),
)
replacements = st.fixed_dictionaries({"n": st.integers(0, 4), "s": st.sampled_from("xy")})
sorts = st.sampled_from([None, [("n", 1)], [("n", -1), ("s", 1)], [("_id", 1)], [("s", -1)]])
projections = st.sampled_from([None, {"n": 1}, {"s": 0}])
# Upserts pin `_id` by equality so both engines insert the same `_id` (not a random ObjectId).
upsert_filters = st.builds(lambda v, c: {"_id": v, **c}, ids, st.sampled_from([{}, {"s": "x"}]))
bulk_ops = st.one_of(
    st.builds(lambda f, u: UpdateOne(f, u, upsert=True), upsert_filters, updates),
    st.builds(UpdateOne, filters, updates),
    st.builds(UpdateMany, filters, updates),
    st.builds(lambda f, r: ReplaceOne(f, r, upsert=True), upsert_filters, replacements),
    st.builds(DeleteOne, filters),
    st.builds(lambda v: InsertOne({"_id": v, "n": 0}), ids),
)
operations = st.one_of(
    st.tuples(st.just("find"), filters, sorts, st.integers(0, 3), projections),
    st.tuples(st.just("find_one"), filters, sorts),
    st.tuples(st.just("count_documents"), filters),
    st.tuples(st.just("update_one"), filters, updates),
    st.tuples(st.just("upsert_one"), upsert_filters, updates),
    st.tuples(st.just("update_many"), filters, updates),
    st.tuples(st.just("replace_one"), filters, replacements),
    st.tuples(st.just("delete_one"), filters),
    st.tuples(st.just("delete_many"), filters),
    st.tuples(st.just("find_one_and_update"), filters, updates, sorts),
    st.tuples(st.just("find_one_and_delete"), filters, sorts),
    st.tuples(st.just("bulk_write"), st.lists(bulk_ops, min_size=1, max_size=5), st.booleans()),
    st.tuples(st.just("drop")),
)


async def run(collection: Any, op: tuple[Any, ...]) -> Any:
    """One operation's observable outcome (results, counts, or the error raised)."""
    name, *args = op
    try:
        if name == "find":
            filter, sort, limit, projection = args
            cursor = collection.find(filter, projection)
            if sort:
                cursor = cursor.sort(sort)
            return await cursor.limit(limit).to_list()
        if name == "find_one":
            return await collection.find_one(args[0], sort=args[1])
        if name == "count_documents":
            return await collection.count_documents(args[0])
        if name in ("update_one", "upsert_one", "update_many", "replace_one"):
            method = "update_one" if name == "upsert_one" else name
            result = await getattr(collection, method)(*args, upsert=name == "upsert_one")
            return result.matched_count, result.modified_count, result.upserted_id
        if name in ("delete_one", "delete_many"):
            return (await getattr(collection, name)(args[0])).deleted_count
        if name == "find_one_and_update":
            filter, update, sort = args
            return await collection.find_one_and_update(
                filter, update, sort=sort, return_document=ReturnDocument.AFTER
            )
        if name == "find_one_and_delete":
            return await collection.find_one_and_delete(args[0], sort=args[1])
        if name == "bulk_write":
            requests, ordered = args
            return (await collection.bulk_write(requests, ordered=ordered)).bulk_api_result
        if name == "drop":
            return await collection.drop()
    except Exception as error:  # the error itself is the outcome both engines must share
        return type(error).__name__, str(error), getattr(error, "details", None)
    raise AssertionError(f"unknown operation {name}")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=documents, ops=st.lists(operations, min_size=1, max_size=8))
def test_fast_path_matches_the_plain_path(docs: list[dict[str, Any]], ops: list[Any]) -> None:
    async def scenario() -> None:
        fast = create_embedded_client()["db"]["things"]
        plain = AsyncMongoMockClient(tz_aware=True)["db"]["things"]
        for collection in (fast, plain):
            if docs:
                await collection.insert_many([dict(doc) for doc in docs])
        for op in ops:
            assert await run(fast, op) == await run(plain, op), op
            # Natural order too: it is the order the plain path scans and yields.
            assert await fast.find({}).to_list() == await plain.find({}).to_list(), op

    asyncio.run(scenario())


async def test_in_follows_insertion_order_after_deletes_and_reinserts() -> None:
    fast = create_embedded_client()["db"]["things"]
    plain = AsyncMongoMockClient(tz_aware=True)["db"]["things"]
    pinned = {"_id": {"$in": ["e", "c", "a"]}}
    for collection in (fast, plain):
        await collection.insert_many([{"_id": key, "n": 0} for key in "abcde"])
        assert [d["_id"] for d in await collection.find(pinned).to_list()] == ["a", "c", "e"]
        await collection.delete_one({"_id": "a"})
        await collection.insert_one({"_id": "a", "n": 1})  # goes to the end of the scan order
        await collection.update_one({"_id": "c"}, {"$set": {"n": 1}})  # stays in place
    for collection in (fast, plain):
        assert [d["_id"] for d in await collection.find(pinned).to_list()] == ["c", "e", "a"]
        assert (await collection.find_one({"_id": {"$in": ["a", "c"]}, "n": 1}))["_id"] == "c"
    await fast.drop()  # a drop starts a fresh store: the order is tracked again from scratch
    await fast.insert_many([{"_id": key} for key in "edcba"])
    assert [d["_id"] for d in await fast.find(pinned).to_list()] == ["e", "c", "a"]


async def test_bulk_write_survives_many_collections_in_one_process() -> None:
    # pymongo-async-mock wrapped mongomock's bulk update once more per new collection, class-wide,
    # until a bulk_write raised RecursionError (a test suite opens a store per test).
    create_embedded_client()
    for i in range(1_500):
        client = create_embedded_client() if i % 2 else AsyncMongoMockClient(tz_aware=True)
        client["db"][f"things_{i}"]
    collection = create_embedded_client()["db"]["things"]
    result = await collection.bulk_write([UpdateOne({"_id": "a"}, {"$set": {"n": 1}}, upsert=True)])
    assert result.upserted_ids == {0: "a"}


# --- the fast path is taken: count mongomock's filter evaluations (never time them) -----------


class CountingFilterer:
    """Stands in for mongomock's filter engine and counts top-level filter evaluations, one per
    (filter, document) pair, whichever path asked for it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    def apply(self, search_filter: Any, document: Any) -> bool:
        self.calls += 1
        return bool(self.inner.apply(search_filter, document))

    def take(self) -> int:
        calls, self.calls = self.calls, 0
        return calls


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingFilterer]:
    # mongomock 4.3.0: both its `_iter_documents` and ours call `filter_applies`, which delegates
    # to the module-level `_filterer_inst`.
    counter = CountingFilterer(mongomock.filtering._filterer_inst)
    monkeypatch.setattr(mongomock.filtering, "_filterer_inst", counter)
    yield counter


SIZE = 5_000


async def test_id_filters_evaluate_only_the_pinned_documents(
    evaluations: CountingFilterer,
) -> None:
    collection = create_embedded_client()["db"]["things"]
    await collection.insert_many([{"_id": f"k{i}", "n": i % 7} for i in range(SIZE)])
    assert evaluations.take() == 0  # inserts never evaluate a filter (no unique index scan)

    assert await collection.find_one({"_id": "k123"}) == {"_id": "k123", "n": 123 % 7}
    assert evaluations.take() <= 1
    cursor = collection.find({"_id": {"$in": ["k4000", "k9", "missing"]}, "n": {"$gte": 0}})
    assert [doc["_id"] for doc in await cursor.to_list()] == ["k9", "k4000"]  # insertion order
    assert evaluations.take() <= 3
    assert await collection.count_documents({"$and": [{"n": 123 % 7}, {"_id": "k123"}]}) == 1
    assert evaluations.take() <= 1
    assert (await collection.update_one({"_id": {"$eq": "k7"}}, {"$inc": {"n": 1}})).modified_count
    assert evaluations.take() <= 1
    upsert = await collection.update_one({"_id": "new"}, {"$set": {"n": 1}}, upsert=True)
    assert upsert.upserted_id == "new"
    assert evaluations.take() <= 1
    # Three pinned queries: the find, the update, the read-back.
    await collection.find_one_and_update(
        {"_id": "k8"}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER
    )
    assert evaluations.take() <= 3
    assert (await collection.delete_many({"_id": {"$in": ["k1", "k2"]}})).deleted_count == 2
    assert evaluations.take() <= 2

    # A scan screens out what plain checks rule out: only the documents with n == 3 are
    # evaluated by mongomock; any other filter takes its path and evaluates every document.
    assert await collection.count_documents({"n": 3}) > 0
    assert evaluations.take() == len([i for i in range(SIZE) if i % 7 == 3]) - 1 + 1
    assert await collection.count_documents({"n": {"$gt": 5}}) > 0
    assert evaluations.take() == SIZE - 2 + 1


async def test_paged_upserts_by_id_evaluate_linearly(evaluations: CountingFilterer) -> None:
    collection = create_embedded_client()["db"]["things"]
    records, distinct, page = 20_000, 10_000, 500
    # The second half re-upserts the first half's ids: half inserts, half updates.
    keys = [f"acme:rec_{i % distinct}" for i in range(records)]
    for start in range(0, records, page):
        result = await collection.bulk_write(
            [
                UpdateOne({"_id": key}, {"$inc": {"n": 1}}, upsert=True)
                for key in keys[start : start + page]
            ],
            ordered=False,
        )
        assert result.upserted_count + result.matched_count == page
    assert evaluations.take() <= records  # at most one candidate per upsert: O(N), not O(N^2)
    assert await collection.count_documents({"n": 2}) == distinct


# --- bulk `$set` by `_id`: the same stored documents, counts and errors as mongomock ----------

UTC_PLUS_2 = timezone(timedelta(hours=2))
BULK_IDS: list[Any] = ["a", "b", "c", 7, ObjectId("65a000000000000000000001")]
# Keys the fast path leaves to mongomock: falsy, bool, float, or equal to a stored int.
ODD_IDS: list[Any] = ["", 0, True, 7.0, 8.5]
# Most generated bulks are of the fast path's shape; the rest (rarer) must take mongomock's path:
# odd keys, odd paths, values that are not BSON or overflow, other operators, repeated keys.
good_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.datetimes(timezones=st.sampled_from([None, UTC, UTC_PLUS_2])),
    st.just(ObjectId("65a000000000000000000002")),
)
odd_scalars = st.one_of(
    st.sampled_from([2**64, -(2**63) - 1]),  # beyond int64: a BSON error
    st.sampled_from(["\ud800", "x\x00y"]),  # not encodable / a null character in a value
    st.just(datetime(1, 1, 1, tzinfo=UTC_PLUS_2)),  # overflows when moved to UTC
    st.just({1, 2}),  # not BSON at all
)


def containers(inner: st.SearchStrategy[Any], keys: st.SearchStrategy[Any]) -> Any:
    return st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner),
        st.dictionaries(keys, inner, max_size=3),
        st.builds(OrderedDict, st.dictionaries(keys, inner, max_size=2)),
    )


good_values = st.recursive(
    good_scalars, lambda inner: containers(inner, st.sampled_from(["p", "q"])), max_leaves=6
)
odd_values = st.recursive(
    st.one_of(good_scalars, odd_scalars),
    lambda inner: containers(inner, st.sampled_from(["p", "r.s", "$t", "\x00", 1])),
    max_leaves=6,
)
good_paths = st.sampled_from(["n", "s", "data.x", "data.y", "data.sub.z", "m.k", "tags"])
# Parents that are scalars or arrays, `_id`, operators, empty parts, conflicts with the above.
odd_paths = st.sampled_from(
    ["data", "tags.0", "n.m", "_id", "_id.x", "x.$", "$bad", "a..b", "", "data.x.w"]
)
good_sets = st.dictionaries(good_paths, good_values, min_size=1, max_size=4)
odd_sets = st.builds(
    lambda good, path, value: {**good, path: value}, good_sets, odd_paths | good_paths, odd_values
)
odd_updates = st.one_of(
    st.builds(lambda d: {"$set": d}, odd_sets),
    st.just({"$set": {}}),
    st.builds(lambda d: {"$set": d, "$inc": {"n": 1}}, good_sets),
    st.builds(lambda d: {"$setOnInsert": d}, good_sets),
)
good_keys = st.sampled_from(BULK_IDS)
# Falsy, bool, float, equal to a stored int, or not BSON: the fast path leaves them to mongomock.
odd_keys = st.sampled_from(["", 0, True, 7.0, 8.5, 2**64, "\ud800"])


def set_op(key: Any, update: dict[str, Any], upsert: bool) -> UpdateOne:
    return UpdateOne({"_id": key}, update, upsert=upsert)


good_ops = st.builds(set_op, good_keys, st.builds(lambda d: {"$set": d}, good_sets), st.booleans())
odd_ops = st.one_of(
    st.builds(set_op, odd_keys, st.builds(lambda d: {"$set": d}, good_sets), st.booleans()),
    st.builds(set_op, good_keys, odd_updates, st.booleans()),
    st.builds(lambda key: UpdateOne({"_id": key, "n": 1}, {"$set": {"n": 2}}), good_keys),
    st.builds(lambda key: InsertOne({"_id": key}), good_keys),
    st.builds(lambda key: DeleteOne({"_id": key}), good_keys),
)
good_bulks = st.lists(good_ops, min_size=1, max_size=5, unique_by=lambda op: op._filter["_id"])
odd_bulks = st.builds(
    lambda bulk, position, op: [*bulk[:position], op, *bulk[position:]],
    good_bulks,
    st.integers(0, 5),
    odd_ops | good_ops,  # a good op may repeat a key of the bulk
)
set_bulks = st.one_of(good_bulks, good_bulks, good_bulks, odd_bulks, st.just([]))
seed_documents = st.lists(
    st.fixed_dictionaries(
        {"_id": st.sampled_from([*BULK_IDS, True, 7.0])},
        optional={
            "n": st.integers(0, 2),
            "data": st.one_of(
                st.fixed_dictionaries({}, optional={"x": st.integers(0, 1), "sub": st.just({})}),
                st.fixed_dictionaries({}, optional={"x": st.integers(0, 1), "sub": st.just({})}),
                st.just("text"),  # a dotted `$set` into a scalar or an array: the plain path
                st.just([1, 2]),
            ),
            "tags": st.just(["t"]),
        },
    ),
    max_size=4,
    unique_by=lambda doc: doc["_id"],
)


def typed(value: Any) -> Any:
    """A value with every container's and scalar's exact type, in stored order."""
    if isinstance(value, dict):
        return type(value).__name__, [(key, typed(item)) for key, item in value.items()]
    if isinstance(value, list):
        return "list", [typed(item) for item in value]
    return type(value).__name__, value


def mutate(value: Any) -> None:
    """Change the caller's containers after the write: stored documents must not see it."""
    if isinstance(value, list):
        for item in value:
            mutate(item)
        value.append("mutated")
    elif isinstance(value, dict):
        for item in list(value.values()):
            mutate(item)
        value["mutated"] = True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=seed_documents, bulks=st.lists(set_bulks, min_size=1, max_size=3), ordered=st.booleans()
)
def test_bulk_set_by_id_matches_the_plain_path(
    docs: list[dict[str, Any]], bulks: list[list[Any]], ordered: bool
) -> None:
    async def scenario() -> None:
        fast = create_embedded_client()["db"]["things"]
        plain = AsyncMongoMockClient(tz_aware=True)["db"]["things"]
        for collection in (fast, plain):
            if docs:
                await collection.insert_many(copy.deepcopy(docs))
        for bulk in bulks:
            outcomes = []
            for collection in (fast, plain):
                # Each engine gets its own copy of the ops, which the test then mutates.
                ops = copy.deepcopy(bulk)
                outcomes.append(await run(collection, ("bulk_write", ops, ordered)))
                for op in ops:
                    mutate(getattr(op, "_doc", None))
            assert outcomes[0] == outcomes[1], bulk
            # What a client reads, and what mongomock holds (types, order, aliasing).
            assert await fast.find({}).to_list() == await plain.find({}).to_list(), bulk
            stored = [
                [(key, typed(doc)) for key, doc in collection._store._documents.items()]
                for collection in (fast, plain)
            ]
            assert stored[0] == stored[1], bulk

    asyncio.run(scenario())


async def test_bulk_set_by_id_takes_the_fast_path(evaluations: CountingFilterer) -> None:
    collection = create_embedded_client()["db"]["things"]
    when = datetime(2026, 1, 20, 9, 30, 15, 123456, tzinfo=UTC_PLUS_2)
    page = [
        UpdateOne({"_id": f"k{i}"}, {"$set": {"n": i, "data": {"at": when}}}, upsert=True)
        for i in range(500)
    ]
    result = await collection.bulk_write(page, ordered=False)
    assert (result.upserted_count, result.matched_count) == (500, 0)
    assert result.upserted_ids[499] == "k499"
    result = await collection.bulk_write(
        [*page[:2], UpdateOne({"_id": "k2"}, {"$set": {"n": 3, "data.more": [1]}})]
    )
    assert (result.upserted_count, result.matched_count, result.modified_count) == (0, 3, 1)
    assert evaluations.take() == 0  # no filter evaluated: neither a scan nor a lookup
    assert await collection.find_one({"_id": "k2"}) == {
        "_id": "k2",
        "n": 3,
        "data": {"at": datetime(2026, 1, 20, 7, 30, 15, 123000, tzinfo=UTC), "more": [1]},
    }


# --- scans: documents screened out are exactly those mongomock rejects, errors included -----

# Field values of every kind a scan condition meets, including ones mongomock's `$gte` cannot
# compare (Decimal128 raises NotImplementedError) and arrays (matched element-wise).
field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 3),
    st.sampled_from([1.0, 2.5, float("nan")]),
    st.sampled_from(["x", "y", "z"]),
    st.just(datetime(2026, 1, 1)),
    st.just(Decimal128("2")),
    st.lists(st.one_of(st.integers(-2, 3), st.sampled_from(["x", "y"]), st.just(Decimal128("1")))),
    st.just({"x": 1}),
)
scan_documents = st.lists(
    st.fixed_dictionaries(
        {}, optional={"a": field_values, "b": field_values, "seq": field_values}
    ).map(lambda d: {"_id": ObjectId(), **d}),
    max_size=8,
)
screened_conditions = st.one_of(
    st.tuples(st.sampled_from("ab"), st.sampled_from(["x", "y", 1, 2, True, False])),
    st.tuples(st.sampled_from("ab"), st.lists(st.sampled_from("xyz")).map(lambda v: {"$in": v})),
    st.tuples(st.just("seq"), st.integers(-1, 3).map(lambda n: {"$not": {"$gte": n}})),
)
other_conditions = st.one_of(  # not screened: the whole filter takes mongomock's path
    st.tuples(st.sampled_from("ab"), st.just({"$in": ["x", 1]})),
    st.tuples(st.just("seq"), st.just({"$gte": 1})),
    st.tuples(st.just("a.x"), st.just(1)),
)
scan_filters = st.lists(
    st.one_of(screened_conditions, screened_conditions, screened_conditions, other_conditions),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(dict)
scans = st.one_of(
    st.tuples(st.just("find"), scan_filters, st.just(None), st.just(0), st.just(None)),
    st.tuples(st.just("count_documents"), scan_filters),
    st.tuples(st.just("update_many"), scan_filters, st.just({"$set": {"hit": True}})),
    st.tuples(st.just("delete_many"), scan_filters),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=scan_documents, ops=st.lists(scans, min_size=1, max_size=4))
def test_screened_scans_match_the_plain_path(docs: list[dict[str, Any]], ops: list[Any]) -> None:
    async def scenario() -> None:
        fast = create_embedded_client()["db"]["things"]
        plain = AsyncMongoMockClient(tz_aware=True)["db"]["things"]
        for collection in (fast, plain):
            if docs:
                await collection.insert_many(copy.deepcopy(docs))
        for op in ops:
            assert repr(await run(fast, op)) == repr(await run(plain, op)), op
            assert repr(await fast.find({}).to_list()) == repr(await plain.find({}).to_list())

    asyncio.run(scenario())
