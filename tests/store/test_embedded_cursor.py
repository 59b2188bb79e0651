"""The embedded client's finds: a limited find copies only the documents it returns and returns
what mongomock's full path returns once sliced; sorting by native values gives mongomock's order.

About the embedded engine itself (it counts mongomock's copies), so it never runs against MongoDB.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import mongomock.collection
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo_async_mock import AsyncMongoMockClient

from app.store.embedded import create_embedded_client

documents = st.lists(
    st.fixed_dictionaries(
        {"n": st.integers(0, 3), "s": st.sampled_from("xyz")},
        optional={"k": st.integers(0, 2), "sub": st.fixed_dictionaries({"a": st.integers(0, 2)})},
    ),
    max_size=12,
)
filters = st.sampled_from([{}, {"n": {"$gte": 1}}, {"s": "x"}, {"k": {"$exists": True}}])
sorts = st.sampled_from([None, [("n", 1)], [("n", -1), ("s", 1)], [("sub.a", 1), ("_id", -1)]])
projections = st.sampled_from([None, {"n": 1}, {"s": 0}])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    docs=documents,
    filter=filters,
    sort=sorts,
    skip=st.integers(0, 4),
    limit=st.integers(-3, 5),
    projection=projections,
)
async def test_limited_find_is_the_full_result_sliced(
    docs: list[dict[str, Any]],
    filter: dict[str, Any],
    sort: list[tuple[str, int]] | None,
    skip: int,
    limit: int,
    projection: dict[str, int] | None,
) -> None:
    collection = create_embedded_client()["db"]["things"]
    if docs:
        await collection.insert_many([{"_id": i, **doc} for i, doc in enumerate(docs)])

    def find() -> Any:
        cursor = collection.find(filter, projection)
        return cursor.sort(sort) if sort else cursor

    everything = await find().to_list()  # no limit: mongomock's own path
    expected = everything[skip:][: abs(limit)] if limit else everything[skip:]
    got = await find().skip(skip).limit(limit).to_list()
    assert got == expected
    # Copies, as before: changing what a find returned never changes the store.
    for doc in got:
        doc["n"] = "changed"
        if "sub" in doc:
            doc["sub"]["a"] = "changed"
    assert await find().to_list() == everything


async def test_a_limited_find_copies_only_what_it_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    collection = create_embedded_client()["db"]["things"]
    await collection.insert_many([{"_id": i, "n": i % 7} for i in range(500)])
    copied = 0
    plain = mongomock.collection.Collection._copy_only_fields

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal copied
        copied += 1
        return plain(self, *args, **kwargs)

    monkeypatch.setattr(mongomock.collection.Collection, "_copy_only_fields", counting)
    page = (
        await collection.find({"n": {"$gte": 1}}).sort([("n", -1), ("_id", 1)]).limit(5).to_list()
    )
    assert [d["_id"] for d in page] == [6, 13, 20, 27, 34]
    assert copied == 5
    copied = 0
    await collection.find({}).skip(10).limit(3).to_list()
    assert copied == 13  # skipped documents are produced (and copied) on the way, as in mongomock


# --- sorting by native values gives mongomock's order --------------------------------------------

scalars = st.one_of(
    st.text(alphabet="abAB_-é", max_size=3),
    st.integers(-3, 3),
    st.floats(-2, 2),
    st.just(float("nan")),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 3)),
    st.lists(st.integers(0, 2), max_size=2),
)
# Most draws keep one type per field (the native path); some mix types or drop the field.
typed = st.sampled_from(
    [
        st.text(alphabet="abAB", max_size=2),
        st.integers(-2, 2),
        st.one_of(st.integers(-2, 2), st.floats(-2, 2)),
        st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 1, 2)),
    ]
)


@st.composite
def sortable_documents(draw: Any) -> list[dict[str, Any]]:
    kinds = {name: draw(typed) for name in ("a", "b", "c")}
    docs = []
    for _ in range(draw(st.integers(0, 12))):
        doc: dict[str, Any] = {}
        for name, kind in kinds.items():
            choice = draw(st.integers(0, 9))
            if choice == 0:
                continue  # missing
            doc[name] = draw(scalars) if choice == 1 else draw(kind)
        doc["sub"] = {"a": doc["a"]} if "a" in doc and draw(st.booleans()) else draw(scalars)
        docs.append(doc)
    return docs


sort_specs = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "sub.a", "_id"]), st.sampled_from([1, -1])),
    min_size=1,
    max_size=3,
    unique_by=lambda key: key[0],
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=sortable_documents(), sort=sort_specs, limit=st.integers(0, 4))
async def test_native_sort_gives_mongomocks_order(
    docs: list[dict[str, Any]], sort: list[tuple[str, int]], limit: int
) -> None:
    ours = create_embedded_client()["db"]["things"]
    plain = AsyncMongoMockClient(tz_aware=True)["db"]["things"]
    # Inserted in a shuffled _id order: ties keep the insertion order on both sides.
    rows = [{"_id": (i * 7) % 13, **doc} for i, doc in enumerate(docs)]
    for collection in (ours, plain):
        if rows:
            await collection.insert_many([dict(row) for row in rows])
    for filter in ({}, {"a": {"$exists": True}}):
        expected = await plain.find(filter).sort(sort).limit(limit).to_list()
        assert await ours.find(filter).sort(sort).limit(limit).to_list() == expected


# --- a pipeline opening with $match starts from a find ------------------------------------------

matches = st.sampled_from(
    [
        {},
        {"a": {"$exists": True}},
        {"b": {"$gte": 0}},
        {"c": {"$lt": datetime(2026, 1, 2)}},
        {"$or": [{"a": "a"}, {"b": 1}]},
        {"sub.a": {"$in": ["a", 1]}},
        {"a": {"$bad": 1}},  # an error: raised the same way
    ]
)
later_stages = st.sampled_from(
    [
        [],
        [{"$group": {"_id": "$a", "n": {"$sum": 1}}}, {"$sort": {"n": -1, "_id": 1}}],
        [{"$project": {"a": 1, "c": 1}}],
        [{"$match": {"b": {"$ne": None}}}, {"$count": "n"}],
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=sortable_documents(), match=matches, stages=later_stages)
async def test_match_first_pipelines_give_mongomocks_results(
    docs: list[dict[str, Any]], match: dict[str, Any], stages: list[dict[str, Any]]
) -> None:
    ours = create_embedded_client()["db"]["things"]
    plain = AsyncMongoMockClient(tz_aware=True)["db"]["things"]
    rows = [{"_id": i, **doc} for i, doc in enumerate(docs)]

    async def run(collection: Any) -> Any:
        if rows:
            await collection.insert_many([dict(row) for row in rows])
        try:
            cursor = await collection.aggregate([{"$match": match}, *stages])
            return await cursor.to_list(None)
        except Exception as error:
            return type(error).__name__, str(error)

    assert await run(ours) == await run(plain)
